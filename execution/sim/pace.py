"""The production MDP ("pace"): actions as multiples of the TWAP pace, a scale-free state, reward relative to TWAP.

The seed's MDP (:mod:`execution.sim.execution_env`) stays, exactly, for the seed's experiment. This one
is built for learning and for any order: any quantity, lot size, side, start and horizon give the same
spaces, so one policy serves every order.

**The order's TWAP** spreads its ``M`` lots evenly over ``n = min(N, M)`` intervals from the start:
over all ``N`` when the order has at least one lot per interval (``twap_even``; every order in
1-share lots), and one lot per interval when it has fewer lots than intervals -- the seed's order (20
lots, 50 intervals) is then exactly the seed's base case, ``twap_seed``, the TWAP the service trades
it with.

**Action** ``a`` indexes :attr:`PaceSpec.multipliers` (default ``0, 1/2, 1, 3/2, 2, 3``): a multiple
of the TWAP pace for what is left. At decision ``k``, with ``R`` lots still *planned* (real-valued,
starts at ``M``), the planned child is ``c_k = min(m_a * R / L_k, R)`` with ``L_k = n - k`` the TWAP's
intervals left (``N - k`` once past them, for what a slower pace left over), and ``R <- R - c_k``.
Whole child lots carry the fraction to the next interval: after the decision the lots done are
``min(floor(M - R + 1/2), M)`` and the child is the difference. Multiplier ``1`` at every decision is
exactly the order's TWAP (same whole lots), so random exploration stays near sensible schedules and
episodes reach the horizon. Whatever is left after the ``N``-th decision is the forced market order at
``start + T``, as in the seed's MDP.

**State** (float32, :data:`PACE_FEATURES`, each clipped to ``+-clip``), from bars before the decision
minute ``j`` only, price features multiplied by the side (+1 buy, -1 sell) so that one policy serves
both: with ``l = log close`` and ``sigma`` the trailing 1-minute volatility,

=================  ==========================================================================
``ret_1m``         ``side * (l[j-1] - l[j-2]) / sigma``
``ret_5m``         ``side * (l[j-1] - l[j-6]) / (sigma sqrt 5)``
``ret_15m``        ``side * (l[j-1] - l[j-16]) / (sigma sqrt 15)``
``dev_15m``        ``side * (l[j-1] - mean(l[j-15 .. j-1])) / sigma`` (price against its recent mean)
``vs_arrival``     ``side * (l[j-1] - l[s-1]) / (sigma sqrt(max(1, j - s)))`` (against the arrival price)
``volume_ratio``   volume of bar ``j-1`` over the trailing average of that minute of the session
``size_vs_volume`` ``log10(quantity / expected volume over the horizon)`` (trailing minute profile)
``inventory_left`` shares left / order
``time_left``      decisions left / ``N``
=================  ==========================================================================

(a bar index before 09:15 reads the 09:15 bar).

**Reward** ``"pa"`` (default; Qlib's price-advantage-with-penalty form): per step
``side * (P_twap - p_k) / P_arrival * 1e4 * x_k - beta * n * (c_k / M)**2``, plus ``+beta`` when the
episode ends, where ``p_k`` is the step's fill price, ``x_k`` its executed share of the order, and
``P_twap`` the average fill price of the order's TWAP on the same day and fill model; whatever
is still planned when the episode ends (inventory done early, or sent by the forced order) counts as
one more planned child. The return is
the advantage over the order's TWAP in bps of the arrival price minus ``beta * (n * sum (c_k/M)^2 - 1)``,
a quadratic penalty on the planned pace that is 0 for TWAP and grows with any departure from the TWAP
pace. Each step also pays a **tracking risk** ``-lambda * (h_k - h_k^twap)^2 * (1e4 sigma)^2 * tau``:
``lambda`` times the variance of the advantage over TWAP that being ahead of (or behind) the TWAP's
holdings adds over the next interval (``h`` the fraction of the order done), the Almgren-Chriss
variance term relative to the benchmark. TWAP (multiplier 1 throughout) earns exactly 0, so the agent
is paid only for deviations that help, net of the risk they add.

Defaults (measured, ``bench/learning.py``): ``lambda = 0.05`` per bps and ``beta = 0``. Qlib's pace
penalty settles its ``-1`` only when the episode ends, so a slower step looks free to a learner that
sees mostly immediate rewards: with ``beta = 1`` the DQN family learnt to slow down on a martingale
market and lost 2-5 bps to TWAP on the test year even in-sample; the tracking term charges a deviation
when it is taken, and with it every agent stays within 1 bp of TWAP on the martingale market while
keeping most of the planted edge.
The seed's ``"vr"`` and ``"acr"`` (:mod:`execution.sim.rewards`) are available too, on executed fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from execution.config import OrderParams
from execution.sim.batch import BatchStep
from execution.sim.episode import side_sign, start_minute
from execution.sim.fills import IMPACT_ETA, check_fill, fill_terms
from execution.sim.market import MarketData
from execution.sim.rewards import BPS, DEFAULT_RISK_AVERSION_PER_BPS, vanilla_reward

PACE_FEATURES: tuple[str, ...] = (
    "ret_1m",
    "ret_5m",
    "ret_15m",
    "dev_15m",
    "vs_arrival",
    "volume_ratio",
    "size_vs_volume",
    "inventory_left",
    "time_left",
)
PACE_REWARDS: tuple[str, ...] = ("pa", "vr", "acr")
DEFAULT_MULTIPLIERS: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
TWAP_ACTION = DEFAULT_MULTIPLIERS.index(1.0)
_MEAN_WINDOW = 15
_EPS = 1e-9


@dataclass(frozen=True)
class PaceSpec:
    """The pace MDP's constants."""

    multipliers: tuple[float, ...] = DEFAULT_MULTIPLIERS
    pace_penalty_bps: float = 0.0  # beta of the "pa" reward's pace penalty (Qlib's form); see the module docstring
    tracking_aversion: float = 0.05  # lambda (1/bps) of the "pa" reward's tracking-risk term
    clip: float = 10.0  # every feature is clipped to +-clip

    @property
    def twap_action(self) -> int:
        """The action whose multiplier is 1 (the TWAP pace)."""
        return self.multipliers.index(1.0)


@dataclass(frozen=True)
class PaceOrders:
    """One order per slot (``[n]`` arrays): what each episode executes."""

    side: np.ndarray  # +1 buy, -1 sell
    lots: np.ndarray  # M, whole lots in the order
    lot_size: np.ndarray  # shares per lot
    start: np.ndarray  # s, session minute of the first decision
    interval: np.ndarray  # tau, minutes between decisions
    intervals: np.ndarray  # N, decisions

    @classmethod
    def repeat(cls, order: OrderParams, n: int) -> PaceOrders:
        """``order`` in each of ``n`` slots."""
        full = np.full
        return cls(
            full(n, side_sign(order)),
            full(n, order.lots),
            full(n, order.lot_size),
            full(n, start_minute(order)),
            full(n, order.interval_min),
            full(n, order.intervals),
        )

    def take(self, index: np.ndarray) -> PaceOrders:
        """The orders of some slots."""
        return PaceOrders(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


def twap_intervals(lots: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """The intervals an order's TWAP spreads over: all of them, or one per lot when there are fewer lots."""
    return np.minimum(intervals, lots)


def pace_intervals_left(lots: np.ndarray, intervals: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``L_k``: the intervals the TWAP pace spreads what is left over at decision ``k`` (at least 1)."""
    spread = twap_intervals(lots, intervals)
    return np.maximum(np.where(k < spread, spread - k, intervals - k), 1)


def twap_lots(lots: np.ndarray, intervals: np.ndarray, n_max: int) -> np.ndarray:
    """The TWAP's lots per decision of orders of ``lots`` in ``intervals`` decisions, ``[n, n_max]``, 0-padded."""
    k = np.arange(n_max + 1)[None, :]
    n = twap_intervals(lots, intervals)[:, None].astype(float)
    done = np.floor(lots[:, None] * np.minimum(k, n) / n + 0.5 + _EPS)
    return np.diff(done, axis=1).astype(np.int64)


class PaceBatch:
    """``n_envs`` episodes of the pace MDP on the days of ``market`` (see the module docstring).

    ``orders`` gives each slot's order (default: ``order`` in every slot); :meth:`begin` may pass new
    ones, so that episodes of one batch execute different orders (sides, sizes, starts, horizons).
    """

    def __init__(
        self,
        market: MarketData,
        order: OrderParams,
        n_envs: int,
        reward: str = "pa",
        fill: str = "seed",
        spec: PaceSpec | None = None,
        risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
        eta: float = IMPACT_ETA,
    ) -> None:
        if market.n_days == 0:
            raise ValueError("the market data holds no episode day")
        if reward not in PACE_REWARDS:
            raise ValueError(f"unknown reward {reward!r} for the pace MDP; choose one of {PACE_REWARDS}")
        check_fill(fill)
        self.market, self.base_order, self.spec = market, order, spec or PaceSpec()
        self.n_envs, self.n_days, self.reward_name = int(n_envs), market.n_days, reward
        self.risk_aversion, self.beta_impact, self.beta_timestep = float(risk_aversion), *_vr_constants(order)
        self._tables(fill, eta)
        self.multipliers = np.asarray(self.spec.multipliers, dtype=float)
        clip = self.spec.clip
        self.observation_space = spaces.Box(-clip, clip, (len(PACE_FEATURES),), np.float32)
        self.action_space = spaces.Discrete(len(self.spec.multipliers))
        self.orders = PaceOrders.repeat(order, self.n_envs)
        zeros = np.zeros(self.n_envs)
        self.day = zeros.astype(np.int64)
        self.k = zeros.astype(np.int64)
        self.done_lots = zeros.astype(np.int64)
        self.planned = zeros.copy()  # R, planned lots left
        self.twap_price, self.arrival, self.size_feature = zeros.copy(), zeros.copy(), zeros.copy()
        self.running = np.zeros(self.n_envs, dtype=bool)

    # ------------------------------------------------------------ per-window tables

    def _tables(self, fill: str, eta: float) -> None:
        """Arrays over every minute of every day, computed once: fill terms and the state's inputs."""
        market = self.market
        minutes = np.arange(market.close.shape[1])
        terms = fill_terms(market, minutes, fill, +1, eta)  # the side is applied per slot
        self.base, self.coef, self.spread = terms.base, terms.coef, terms.spread[:, 0]
        self.log_close = np.log(market.close)
        zero = np.zeros((market.n_days, 1))
        self.cum_log_close = np.concatenate([zero, np.cumsum(self.log_close, axis=1)], axis=1)
        self.sigma = np.maximum(market.sigma_1m, 1e-6)
        profile = np.maximum(market.volume_profile, 1.0)
        self.volume_ratio = market.volume / profile
        self.cum_profile = np.concatenate([zero, np.cumsum(profile, axis=1)], axis=1)
        self.open = market.open_price

    # ------------------------------------------------------------ episodes

    def begin(self, slots: np.ndarray, days: np.ndarray, orders: PaceOrders | None = None) -> None:
        """Start episodes in ``slots`` on ``days`` (and, optionally, with new orders for those slots)."""
        slots, days = np.asarray(slots), np.asarray(days)
        if orders is not None:
            for name in PaceOrders.__dataclass_fields__:
                getattr(self.orders, name)[slots] = getattr(orders, name)
        o = self.orders.take(slots)
        self.day[slots], self.k[slots], self.done_lots[slots] = days, 0, 0
        self.planned[slots] = o.lots
        self.arrival[slots] = self.market.close[days, o.start - 1]
        self.twap_price[slots] = self._twap_price(days, o)
        self.size_feature[slots] = _size_feature(self.cum_profile, days, o)
        self.running[slots] = True

    def _fill_price(self, days: np.ndarray, minute: np.ndarray, side: np.ndarray, qty: np.ndarray) -> np.ndarray:
        return self.base[days, minute] + side * (self.spread[days] + self.coef[days, minute] * np.sqrt(qty))

    def _twap_price(self, days: np.ndarray, o: PaceOrders) -> np.ndarray:
        """Average fill price of ``twap_even`` for each slot's order and day."""
        n_max = int(o.intervals.max()) if len(days) else 0
        lots = twap_lots(o.lots, o.intervals, n_max)  # [n, n_max]
        k = np.arange(n_max)[None, :]
        minute = np.minimum(o.start[:, None] + k * o.interval[:, None], self.base.shape[1] - 1)
        qty = lots * o.lot_size[:, None]
        price = self._fill_price(days[:, None], minute, o.side[:, None], qty)
        return (price * qty).sum(axis=1) / np.maximum(qty.sum(axis=1), 1)

    def live(self) -> np.ndarray:
        """Slots whose episode is running."""
        return self.running.copy()

    # ------------------------------------------------------------ state

    def observe(self, slots: np.ndarray | None = None) -> np.ndarray:
        """The pace state of ``slots`` (default: all) at their current decision (:data:`PACE_FEATURES`)."""
        slots = np.arange(self.n_envs) if slots is None else np.asarray(slots)
        o, days = self.orders.take(slots), self.day[slots]
        k = np.minimum(self.k[slots], o.intervals)
        j = o.start + k * o.interval  # decision minute; the state reads bars < j

        def lc(index: np.ndarray) -> np.ndarray:
            return self.log_close[days, np.maximum(index, 0)]

        sigma, side, last = self.sigma[days], o.side, lc(j - 1)
        lo = np.maximum(j - _MEAN_WINDOW, 0)
        mean = (self.cum_log_close[days, j] - self.cum_log_close[days, lo]) / np.maximum(j - lo, 1)
        elapsed = np.maximum(j - o.start, 1)
        features = np.stack(
            [
                side * (last - lc(j - 2)) / sigma,
                side * (last - lc(j - 6)) / (sigma * math.sqrt(5)),
                side * (last - lc(j - 16)) / (sigma * math.sqrt(15)),
                side * (last - mean) / sigma,
                side * (last - lc(o.start - 1)) / (sigma * np.sqrt(elapsed)),
                self.volume_ratio[days, np.maximum(j - 1, 0)],
                self.size_feature[slots],
                (o.lots - self.done_lots[slots]) / o.lots,
                (o.intervals - k) / o.intervals,
            ],
            axis=1,
        )
        return np.clip(features, -self.spec.clip, self.spec.clip).astype(np.float32)

    # ------------------------------------------------------------ dynamics

    def step(self, actions: np.ndarray) -> BatchStep:
        """Apply one pace action per live slot; the forced order at the horizon ends the rest."""
        live = self.running
        actions = np.asarray(actions, dtype=np.int64).reshape(self.n_envs)
        if np.any(live & ((actions < 0) | (actions >= len(self.multipliers)))):
            raise ValueError(f"actions outside 0..{len(self.multipliers) - 1}")
        o, days, k = self.orders, self.day, self.k
        left_decisions = pace_intervals_left(o.lots, o.intervals, k)
        child = np.minimum(self.multipliers[np.where(live, actions, 0)] * self.planned / left_decisions, self.planned)
        planned = self.planned - child
        target = np.minimum(np.floor(o.lots - planned + 0.5 + _EPS), o.lots).astype(np.int64)
        sent = np.where(live, np.maximum(target - self.done_lots, 0), 0)
        minute = o.start + k * o.interval
        reward = self._reward(days, minute, sent, child, k, live)
        done_lots = self.done_lots + sent
        if self.reward_name == "pa" and self.spec.tracking_aversion:
            reward = reward - np.where(live, self._tracking_risk(days, done_lots, k + 1), 0.0)
        k_next = k + 1
        forced = live & (k_next >= o.intervals) & (done_lots < o.lots)
        if forced.any():
            rest = np.where(forced, o.lots - done_lots, 0)
            horizon = o.start + o.intervals * o.interval
            reward = reward + np.where(forced, self._reward(days, horizon, rest, planned, k_next, forced), 0.0)
            planned = np.where(forced, 0.0, planned)
            done_lots = np.where(forced, o.lots, done_lots)
        ended = live & ((done_lots >= o.lots) | (k_next >= o.intervals))
        if self.reward_name == "pa":  # the rest of the plan counts as planned now; TWAP's penalty sums to beta
            rest = np.where(ended, planned, 0.0) / o.lots
            spread = twap_intervals(o.lots, o.intervals)
            reward = reward + np.where(ended, self.spec.pace_penalty_bps * (1.0 - spread * rest * rest), 0.0)
            planned = np.where(ended, 0.0, planned)
        decision = k.copy()
        self.k = np.where(live, k_next, k)
        self.done_lots = np.where(live, done_lots, self.done_lots)
        self.planned = np.where(live, planned, self.planned)
        self.running = live & ~ended
        return BatchStep(self.observe(), np.where(live, reward, 0.0), ended, sent, decision)

    def _tracking_risk(self, days: np.ndarray, done_lots: np.ndarray, decisions_taken: np.ndarray) -> np.ndarray:
        """``lambda * Var`` of the advantage over TWAP the holdings gap adds over the next interval (bps).

        ``(h - h_twap)^2 * (1e4 sigma)^2 * tau``: the price risk of being ahead of or behind the TWAP's
        holdings ``h_twap`` after the same decision (fractions of the order done, in its whole lots).
        """
        o = self.orders
        spread = twap_intervals(o.lots, o.intervals)
        twap_done = np.floor(o.lots * np.minimum(decisions_taken, spread) / spread + 0.5 + _EPS)
        gap = (done_lots - twap_done) / o.lots
        return self.spec.tracking_aversion * gap * gap * (BPS * self.sigma[days]) ** 2 * o.interval

    def _reward(
        self,
        days: np.ndarray,
        minute: np.ndarray,
        lots: np.ndarray,
        planned_child: np.ndarray,
        k: np.ndarray,
        live: np.ndarray,
    ) -> np.ndarray:
        """The step reward of ``lots`` filled at ``minute`` (``planned_child`` lots planned), for each slot."""
        o = self.orders
        qty = lots * o.lot_size
        price = self._fill_price(days, minute, o.side, qty)
        x = lots / o.lots
        if self.reward_name == "pa":
            advantage = o.side * (self.twap_price - price) / self.arrival * BPS * x
            pace = planned_child / o.lots
            spread = twap_intervals(o.lots, o.intervals)
            return np.where(live, advantage - self.spec.pace_penalty_bps * spread * pace * pace, 0.0)
        if self.reward_name == "vr":
            previous = np.where(k == 0, o.start - 1, minute - o.interval)
            close = self.market.close
            delta = o.side * (close[days, previous] - close[days, minute]) / self.open[days] * BPS
            step_bonus = np.where(k < o.intervals, self.beta_timestep, 0.0)
            return np.where(live, vanilla_reward(delta, x, self.beta_impact, step_bonus), 0.0)
        shortfall = o.side * (price - self.arrival) / self.arrival * BPS * x
        held = (o.lots - self.done_lots - lots) / o.lots
        variance = (BPS * self.sigma[days]) ** 2 * o.interval * held * held
        variance = np.where(k < o.intervals, variance, 0.0)
        return np.where(live, -(shortfall + self.risk_aversion * variance), 0.0)


def _size_feature(cum_profile: np.ndarray, days: np.ndarray, o: PaceOrders) -> np.ndarray:
    """``log10(quantity / volume expected over the horizon)``, from the trailing profile of each minute."""
    horizon = o.start + o.interval * o.intervals
    expected = cum_profile[days, horizon] - cum_profile[days, o.start]
    return np.log10(np.maximum(o.lots * o.lot_size, 1) / np.maximum(expected, 1.0))


def size_vs_volume(market: MarketData, order: OrderParams) -> np.ndarray:
    """The state's ``size_vs_volume`` of ``order`` on every day of ``market``, ``[n_days]``."""
    profile = np.maximum(market.volume_profile, 1.0)
    cum = np.concatenate([np.zeros((market.n_days, 1)), np.cumsum(profile, axis=1)], axis=1)
    return _size_feature(cum, np.arange(market.n_days), PaceOrders.repeat(order, market.n_days))


def pace_states(
    inventory_left: np.ndarray, time_left: np.ndarray, volume_ratio: float = 1.0, size: float = 0.0
) -> np.ndarray:
    """Pace states of a flat, average market (every price feature 0) at given inventory and time left fractions."""
    n = len(inventory_left)
    obs = np.zeros((n, len(PACE_FEATURES)), dtype=np.float32)
    obs[:, PACE_FEATURES.index("volume_ratio")] = volume_ratio
    obs[:, PACE_FEATURES.index("size_vs_volume")] = size
    obs[:, PACE_FEATURES.index("inventory_left")] = inventory_left
    obs[:, PACE_FEATURES.index("time_left")] = time_left
    return obs


def _vr_constants(order: OrderParams) -> tuple[float, float]:
    return float(order.beta_impact), float(order.beta_timestep)
