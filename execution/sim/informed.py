"""``informed``: the strategy that knows the planted deviation -- the achievable causal edge.

The synthetic source can plant a transient deviation ``d`` of the log price around its efficient
(martingale) path: an AR(1) per minute with ``phi = 2 ** (-1 / half_life)`` and stationary sd
``strength`` times the 1-minute sd (:mod:`execution.data.sources.synthetic`, section 4). This
strategy knows that model and its parameters, and sees what any strategy sees at decision ``k``
(minute ``j_k``): the bars that started before ``j_k`` and the trailing statistics of previous days.
It is the limit agents are measured against: what knowing the component is worth, causally.

1. **Filter.** A Kalman filter on the observed 1-minute log closes ``y_t = e_t + d_t + v_t``
   (``e`` the efficient random walk, ``v`` bid/ask bounce and tick rounding), per day, all days at
   once. Per-day variances come from the trailing statistics: ``r = half_spread^2`` for ``v``, and
   ``sigma_e^2 = (sigma_1m^2 - 2 r) / (1 + 2 (1 - phi) strength^2)`` (the observed 1-minute
   variance less what the bounce and the deviation add), ``sd_d = strength * sigma_e``; the
   efficient variance of minute ``t`` is ``sigma_e^2`` times the intraday variance profile of the
   window's previous days (:func:`variance_profile`; flat on a window's first day), since a minute
   at 09:30 moves more than one at noon. It starts at the day's open with ``e = log(open)`` and
   ``d = 0`` (the opening auction prices the efficient value) and reads the closes up to ``j_k - 1``.
2. **Forecast**, closed form: the expected log close of the bar that fills slot ``i`` (minute
   ``m_i >= j_k``) is ``e_hat + phi^(m_i - j_k + 1) d_hat``, the filtered values after bar ``j_k - 1``.
3. **Plan**: the project's dynamic program over (slot, inventory left) -- as the oracle's
   (:func:`execution.sim.baselines.oracle`) but on expected costs: the forecast price plus, under
   the impact fill, the half-spread and the square-root impact with the trailing volume profile
   (smoothed over 5 minutes, so that the plan does not chase one noisy minute) as the expected
   volume -- plus a **tracking penalty** ``lambda * (1e4 sigma_1m)^2 * tau * (y_i - y_i^TWAP)^2``
   bps of the notional for holding ``y_i`` (fraction of the order) instead of ``twap_seed``'s
   ``y_i^TWAP`` over the interval after slot ``i``: the variance of the advantage over
   ``twap_seed``, the very number the strategy is judged on.
   ``lambda`` (per bps, default :data:`DEFAULT_TRACKING_AVERSION_PER_BPS` = 0.01) trades expected
   edge for its reliability: on the planted market (strength 3, synthetic 2020, impact fill) the
   risk-neutral plan (``lambda = 0.001``) gains ~+6.7 bps a day over ``twap_seed`` with a day-to-day
   sd of ~40 bps in ~12 child orders, ``lambda = 0.01`` ~+2.4 bps with an sd of ~11 bps in ~17
   (the best mean / sd, and the kind of deviation from TWAP a pace policy can make). A flat
   forecast gives ``twap_seed`` back: at strength 0 under the seed fill every schedule costs the
   same and ``informed`` *is* ``twap_seed``.
4. **Receding horizon**: the plan is re-solved at every decision with the new forecast; only its
   first step is sent. The forced order at ``t_N`` takes what is left.

The dynamic program: ``V_N(L) = c_N(L)``, ``W_i(L) = V_{i+1}(L) + penalty_i(L)``,
``V_i(L) = min_{a <= L} c_i(a) + W_i(L - a)``. Every cost is convex in the lots (linear price,
``q^{3/2}`` impact, quadratic penalty), so ``V_i`` is the min-plus convolution of two convex
sequences, computed exactly by merging their sorted increments: ``O(L log L)`` per slot and day
instead of ``O(L^2)``. **Coarse grid**: an order of more than ``max_levels`` (200) lots is planned
on ``max_levels + 1`` equally spaced inventory levels (costs evaluated at the real quantities);
the level plan is turned back into whole lots at each decision (lots left after the decision =
the planned level times ``lots / max_levels``, rounded), so every schedule still sums to the
order in whole lots, and orders of up to 200 lots are planned exactly.
"""

from __future__ import annotations

import math

import numpy as np

from execution.config import OrderParams
from execution.data.sources.synthetic import PLANTED_HALF_LIFE_MIN, PlantedComponent
from execution.sim.baselines import Schedule, twap_seed
from execution.sim.episode import decision_minutes, side_sign
from execution.sim.fills import IMPACT_ETA, VOLUME_FLOOR_FRACTION, check_fill
from execution.sim.market import MarketData
from execution.sim.rewards import BPS
from execution.sim.strategies import Resolvers

__all__ = [
    "DEFAULT_TRACKING_AVERSION_PER_BPS",
    "INFORMED_NAME",
    "MAX_LEVELS",
    "filter_deviation",
    "first_action",
    "informed_resolvers",
    "informed_schedule",
    "informed_strategy",
    "min_plus_convex",
    "variance_profile",
]

INFORMED_NAME = "informed"
MAX_LEVELS = 200  # inventory levels of the dynamic program's grid at most (coarser above)
DEFAULT_TRACKING_AVERSION_PER_BPS = 0.01  # lambda of the tracking penalty (module docstring, 3.)
MIN_EFFICIENT_SHARE = 0.25  # floor of sigma_e^2 / sigma_1m^2 when the bounce estimate eats the variance
PROFILE_LOOKBACK_DAYS = 20  # previous days of the window behind the intraday variance profile
SMOOTHING_MIN = 5  # centred moving average (minutes) of the trailing volume and variance profiles


def _smooth(profile: np.ndarray, width: int = SMOOTHING_MIN) -> np.ndarray:
    """Centred moving average of each row over ``width`` minutes (edges padded with the edge values)."""
    half = width // 2
    padded = np.pad(profile, ((0, 0), (half, half)), mode="edge")
    cumulative = np.concatenate([np.zeros((profile.shape[0], 1)), np.cumsum(padded, axis=1)], axis=1)
    return (cumulative[:, width:] - cumulative[:, :-width]) / width


def variance_profile(market: MarketData, lookback: int = PROFILE_LOOKBACK_DAYS) -> np.ndarray:
    """Relative variance of each session minute's log return, from the window's previous days ``[n_days, 375]``.

    Row ``d`` averages the squared returns (minute 0: open to close of the first bar) of the up to
    ``lookback`` rows before it, smooths them over :data:`SMOOTHING_MIN` minutes and scales them to
    mean 1; a day with no earlier row in the window gets a flat profile (ones).
    """
    first = np.log(market.close[:, :1] / market.open_price[:, None])
    squares = np.concatenate([first, np.diff(np.log(market.close), axis=1)], axis=1) ** 2
    cumulative = np.concatenate([np.zeros((1, squares.shape[1])), np.cumsum(squares, axis=0)])
    rows = np.arange(market.n_days)
    lo = np.maximum(rows - lookback, 0)
    total = _smooth(cumulative[rows] - cumulative[lo])
    mean = total.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(mean > 0, total / np.where(mean > 0, mean, 1.0), 1.0)
    return np.maximum(profile, 0.05)  # never a minute without variance


# ---------------------------------------------------------------- filter


def filter_deviation(market: MarketData, planted: PlantedComponent, last_minute: int) -> tuple[np.ndarray, np.ndarray]:
    """Filtered efficient log price and deviation after each bar ``t = 0..last_minute``, ``[n_days, last_minute+1]``.

    Column ``t`` uses the closes of bars ``0..t`` only (and the day's open and trailing statistics).
    """
    phi, strength = planted.phi, planted.strength
    r = market.half_spread**2
    observed_var = market.sigma_1m**2
    efficient_var = np.maximum(observed_var - 2.0 * r, MIN_EFFICIENT_SHARE * observed_var)
    efficient_var = efficient_var / (1.0 + 2.0 * (1.0 - phi) * strength**2)
    deviation_innovation = strength**2 * efficient_var * (1.0 - phi**2)

    efficient_by_minute = efficient_var[:, None] * variance_profile(market)[:, : last_minute + 1]

    n_days = market.n_days
    e = np.log(market.open_price)
    d = np.zeros(n_days)
    p_ee, p_ed, p_dd = np.zeros(n_days), np.zeros(n_days), np.zeros(n_days)
    log_close = np.log(market.close[:, : last_minute + 1])
    e_hat = np.empty((n_days, last_minute + 1))
    d_hat = np.empty((n_days, last_minute + 1))
    for t in range(last_minute + 1):
        d = phi * d
        p_ee, p_ed, p_dd = p_ee + efficient_by_minute[:, t], phi * p_ed, phi**2 * p_dd + deviation_innovation
        innovation = log_close[:, t] - e - d
        total = p_ee + 2.0 * p_ed + p_dd + r
        gain_e, gain_d = (p_ee + p_ed) / total, (p_ed + p_dd) / total
        e, d = e + gain_e * innovation, d + gain_d * innovation
        p_ee, p_ed, p_dd = p_ee - gain_e**2 * total, p_ed - gain_e * gain_d * total, p_dd - gain_d**2 * total
        e_hat[:, t], d_hat[:, t] = e, d
    return e_hat, d_hat


# ---------------------------------------------------------------- dynamic program


def min_plus_convex(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``out[..., L] = min_{a <= L} first[..., a] + second[..., L - a]`` for convex sequences, ``L = 0..n-1``.

    Both ``[..., n]`` arrays must be convex along the last axis; the result is convex too.
    """
    n = first.shape[-1]
    steps = np.sort(np.concatenate([np.diff(first, axis=-1), np.diff(second, axis=-1)], axis=-1), axis=-1)
    start = first[..., :1] + second[..., :1]
    return np.concatenate([start, start + np.cumsum(steps[..., : n - 1], axis=-1)], axis=-1)


def first_action(costs: np.ndarray, penalties: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The optimal levels to send now: ``costs [D, S, G+1]`` of slots now..forced, ``penalties [D, S-1, G+1]``.

    ``penalties[:, i, L]`` is the cost of holding ``L`` levels over the interval after slot ``i``;
    ``level [D]`` is the inventory now. Ties go to the smaller order (as the oracle's).
    """
    value = costs[:, -1]
    for i in range(costs.shape[1] - 2, 0, -1):
        value = min_plus_convex(costs[:, i], value + penalties[:, i])
    after_now = value + penalties[:, 0]  # [D, G+1]: cost-to-go of holding L after this slot
    n_levels = costs.shape[2]
    sent = np.arange(n_levels)[None, :]
    rest = level[:, None] - sent
    candidates = costs[:, 0] + np.take_along_axis(after_now, np.clip(rest, 0, n_levels - 1), axis=1)
    candidates = np.where(rest >= 0, candidates, np.inf)
    return candidates.argmin(axis=1)


# ---------------------------------------------------------------- the strategy


def _expected_impact(
    market: MarketData, order: OrderParams, fill: str, eta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per day: half-spread (INR) and impact coefficient per slot (INR per sqrt(share)) on expected volumes.

    Also the reference price (the day's open). The seed fill has neither spread nor impact.
    """
    minutes = decision_minutes(order)
    open_price = market.open_price
    if fill == "seed":
        return np.zeros(market.n_days), np.zeros((market.n_days, minutes.shape[0])), open_price
    expected_volume = np.maximum(
        _smooth(market.volume_profile)[:, minutes], VOLUME_FLOOR_FRACTION * market.avg_volume_1m[:, None]
    )
    spread = open_price * market.half_spread
    coef = (open_price * eta * market.sigma_1m)[:, None] / np.sqrt(expected_volume)
    return spread, coef, open_price


class _Plan:
    """What stays fixed over a window while the strategy re-plans: grid, costs' static parts, penalties."""

    def __init__(
        self,
        market: MarketData,
        order: OrderParams,
        fill: str,
        eta: float,
        tracking: tuple[float, Schedule],
        max_levels: int,
    ) -> None:
        tracking_aversion, benchmark = tracking
        self.minutes = decision_minutes(order)
        self.side = side_sign(order)
        self.levels = min(order.lots, max_levels)
        self.lots_per_level = order.lots / self.levels
        shares = order.lot_size * self.lots_per_level * np.arange(self.levels + 1)
        self.shares = shares
        spread, coef, reference = _expected_impact(market, order, fill, eta)
        # spread and impact cost of a child of each grid size in each slot, INR [D, N+1, G+1]
        self.friction = spread[:, None, None] * shares + coef[:, :, None] * shares**1.5
        twap_left = order.lots - np.cumsum(benchmark(market, order, fill), axis=1)  # lots left after decision i
        held = (np.arange(self.levels + 1) * self.lots_per_level)[None, None, :] - twap_left[:, :, None]
        notional_inr = order.quantity * reference
        variance_bps2 = (BPS * market.sigma_1m) ** 2 * order.interval_min
        scale = tracking_aversion * variance_bps2 * notional_inr / BPS
        self.penalty = scale[:, None, None] * (held / order.lots) ** 2  # [D, N, G+1]

    def send(self, k: int, expected_price: np.ndarray, lots_left: np.ndarray) -> np.ndarray:
        """Whole lots to send at decision ``k`` given the expected fill prices of slots ``k..N`` ``[D, N+1-k]``."""
        relative = expected_price - expected_price[:, :1]  # a common shift changes no choice
        costs = self.side * relative[:, :, None] * self.shares + self.friction[:, k:]
        level = np.clip(np.rint(lots_left / self.lots_per_level).astype(np.int64), 0, self.levels)
        send_levels = first_action(costs, self.penalty[:, k:], level)
        left_after = np.rint((level - send_levels) * self.lots_per_level).astype(np.int64)
        return np.clip(lots_left - left_after, 0, lots_left)


def informed_schedule(
    market: MarketData,
    order: OrderParams,
    fill: str,
    planted: PlantedComponent,
    *,
    eta: float = IMPACT_ETA,
    tracking_aversion: float = DEFAULT_TRACKING_AVERSION_PER_BPS,
    benchmark: Schedule = twap_seed,
    max_levels: int = MAX_LEVELS,
) -> np.ndarray:
    """Lots per decision ``[n_days, N]`` of the informed strategy (module docstring), all days at once.

    ``benchmark`` is the schedule the tracking penalty measures against (``twap_seed``, as the advantage).
    """
    check_fill(fill)
    plan = _Plan(market, order, fill, eta, (tracking_aversion, benchmark), max_levels)
    minutes = plan.minutes
    e_hat, d_hat = filter_deviation(market, planted, int(minutes[order.intervals - 1]) - 1)
    lots = np.zeros((market.n_days, order.intervals), dtype=np.int64)
    left = np.full(market.n_days, order.lots, dtype=np.int64)
    for k in range(order.intervals):
        seen = int(minutes[k]) - 1  # the last bar known at decision k
        ahead = minutes[k:] - seen  # minutes from that close to each remaining fill
        expected = np.exp(e_hat[:, seen, None] + d_hat[:, seen, None] * planted.phi ** ahead[None, :])
        lots[:, k] = plan.send(k, expected, left)
        left -= lots[:, k]
    return lots


def informed_strategy(
    strength: float,
    half_life_min: float = PLANTED_HALF_LIFE_MIN,
    *,
    tracking_aversion: float = DEFAULT_TRACKING_AVERSION_PER_BPS,
    benchmark: Schedule = twap_seed,
    max_levels: int = MAX_LEVELS,
) -> Schedule:
    """The ``informed`` strategy for a planted component of ``strength`` and ``half_life_min``.

    ``tracking_aversion`` (per bps) weighs the variance of the advantage over ``benchmark``
    (module docstring, 3.); ``max_levels`` bounds the dynamic program's inventory grid.
    """
    planted = PlantedComponent(strength, half_life_min)
    if not (tracking_aversion >= 0 and max_levels >= 1):
        raise ValueError(f"tracking_aversion must be >= 0 and max_levels >= 1, not {tracking_aversion}, {max_levels}")

    def informed(
        market: MarketData, order: OrderParams, fill: str = "seed", *, eta: float = IMPACT_ETA, **_: float
    ) -> np.ndarray:
        return informed_schedule(
            market,
            order,
            fill,
            planted,
            eta=eta,
            tracking_aversion=tracking_aversion,
            benchmark=benchmark,
            max_levels=max_levels,
        )

    return informed


def informed_resolvers(strength: float, half_life_min: float = PLANTED_HALF_LIFE_MIN) -> Resolvers:
    """``{"informed": factory}`` for :func:`execution.sim.strategies.resolve_strategy`.

    ``informed`` knows the component given here (the configured planted parameters);
    ``informed:S`` and ``informed:S:H`` name another strength ``S`` (and half-life ``H`` minutes).
    """

    def factory(rest: str) -> Schedule:
        if not rest:
            return informed_strategy(strength, half_life_min)
        parts = rest.split(":")
        try:
            values = [float(p) for p in parts]
            if len(values) > 2 or not all(math.isfinite(v) for v in values):
                raise ValueError(rest)
            return informed_strategy(values[0], values[1] if len(values) == 2 else half_life_min)
        except ValueError as exc:
            raise KeyError(
                f"strategy 'informed:{rest}': expected informed, informed:STRENGTH or informed:STRENGTH:HALF_LIFE_MIN"
            ) from exc

    return {INFORMED_NAME: factory}
