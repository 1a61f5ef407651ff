"""The seed's execution MDP (SPEC section 3) as a gymnasium environment.

* Action: ``Discrete(V/m + 1)``, the number of lots to send now as a market order; an order
  larger than the inventory left is cut to it.
* State (float32, ``n_history + 3`` values): the closes of the ``n_history`` bars before the
  decision minute divided by the day's open (a bar before 09:15 counts as the open); the
  volume of the last completed bar divided by the trailing average 1-minute volume; inventory
  left / V; time left / T. Decision ``k`` is at minute ``j_k = s + k*tau`` and reads bars
  ``< j_k`` only.
* Fill: the child order of decision ``k`` fills at the close of bar ``j_k`` (``fill="seed"``)
  or through the impact-aware model (``fill="impact"``), see :mod:`execution.sim.fills`.
* Reward: ``reward="vr"`` (vanilla) or ``"acr"`` (Almgren-Chriss), formulas in
  :mod:`execution.sim.rewards`.
* Termination: the inventory is empty, or the N-th decision has been taken -- then whatever
  is left is executed at once as a market order at the close of bar ``s + T`` (``t_N``), and
  its cost is part of that last step's reward. There is no truncation.
* ``reset()`` samples a day of the window with the environment's RNG (seeded by ``seed`` or
  ``reset(seed=...)``); ``day_index`` (constructor) or ``options={"day_index": i}`` pins it.
* ``info`` of a step: ``minute`` (session minute index of the fill), ``qty`` (shares executed),
  ``price`` (their fill price; the close when nothing was executed), and when the horizon forced
  an order, ``forced_minute``, ``forced_qty``, ``forced_price``. ``info`` of a reset:
  ``day_index`` and ``day`` (ISO date).

Everything an episode needs is precomputed for every day at construction, so ``reset`` and
``step`` only index Python lists.
"""

from __future__ import annotations

from math import sqrt
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from execution.config import OrderParams
from execution.sim.episode import decision_minutes, side_sign, start_minute
from execution.sim.fills import IMPACT_ETA, check_fill, fill_terms
from execution.sim.market import MarketData
from execution.sim.rewards import (
    BPS,
    DEFAULT_RISK_AVERSION_PER_BPS,
    check_reward,
    interval_variance_bps2,
    price_change_bps,
    vanilla_reward,
)

_DRAW_BATCH = 64


def observation_table(market: MarketData, order: OrderParams) -> np.ndarray:
    """State of every day and decision slot with a full inventory, ``[n_days, N + 1, n_history + 3]`` float32.

    Column ``n_history + 1`` (inventory left / V) is 1 here; the environment overwrites it.
    """
    minutes = decision_minutes(order)
    n_hist = order.n_history
    hist = minutes[:, None] - n_hist + np.arange(n_hist)[None, :]  # [N+1, n_hist] bars before the decision
    open_price = market.open_price[:, None, None]
    closes = np.where(hist[None] >= 0, market.close[:, np.maximum(hist, 0)], open_price)
    table = np.empty((market.n_days, minutes.shape[0], n_hist + 3), dtype=np.float32)
    table[:, :, :n_hist] = closes / open_price
    table[:, :, n_hist] = market.volume[:, minutes - 1] / market.avg_volume_1m[:, None]
    table[:, :, n_hist + 1] = 1.0
    table[:, :, n_hist + 2] = 1.0 - np.arange(minutes.shape[0]) / order.intervals
    return table


class ExecutionEnv(gym.Env):
    """Buy (or sell) ``order.quantity`` shares over ``order.horizon_min`` minutes of one sampled day."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(
        self,
        market: MarketData,
        order: OrderParams | None = None,
        reward: str = "vr",
        fill: str = "seed",
        seed: int | None = None,
        day_index: int | None = None,
        risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
        eta: float = IMPACT_ETA,
    ) -> None:
        order = order or OrderParams()
        if market.n_days == 0:
            raise ValueError("the market data holds no episode day")
        self.market, self.order = market, order
        self.reward_name, self.fill_name = check_reward(reward), check_fill(fill)
        self.risk_aversion = float(risk_aversion)
        self._pinned_day = None if day_index is None else self._check_day(day_index)
        self._max_lots = order.lots
        self._side = side_sign(order)

        self.action_space = spaces.Discrete(order.lots + 1)
        high = np.full(order.n_history + 3, np.finfo(np.float32).max, dtype=np.float32)
        high[-2:] = 1.0
        self.observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)

        self._day_labels = [str(d) for d in market.days]
        self._consts = (  # unpacked once per step: cheaper than attribute look-ups
            order.intervals,
            order.lots,
            order.lot_size,
            1.0 / order.lots,
            self._side,
            reward == "vr",
            order.beta_impact,
            order.beta_timestep,
            order.n_history + 1,
            decision_minutes(order).tolist(),
        )
        self._episodes = self._precompute(eta)
        self._draws: list[int] = []
        self._ep: tuple = ()
        self._k, self._left, self.day_index = 0, 0, -1
        if seed is not None:
            super().reset(seed=seed)

    # ------------------------------------------------------------ setup

    def _check_day(self, day_index: int) -> int:
        day_index = int(day_index)
        if not 0 <= day_index < self.market.n_days:
            raise ValueError(f"day_index {day_index} outside 0..{self.market.n_days - 1}")
        return day_index

    def _precompute(self, eta: float) -> list[tuple]:
        """Per day: (obs rows, closes, price deltas, impact coefs, spread, arrival, variance) as lists."""
        market, order = self.market, self.order
        minutes = decision_minutes(order)
        table = observation_table(market, order)
        terms = fill_terms(market, minutes, self.fill_name, self._side, eta)
        delta = price_change_bps(market, order, minutes).tolist()
        base, coef = terms.base.tolist(), terms.coef.tolist()
        spread = terms.spread[:, 0].tolist()
        arrival = market.close[:, start_minute(order) - 1].tolist()
        variance = interval_variance_bps2(market, order).tolist()
        return [
            (list(table[d]), base[d], delta[d], coef[d], spread[d], arrival[d], variance[d])
            for d in range(market.n_days)
        ]

    # ------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode on a sampled (or pinned) day; returns the first state and ``{day_index, day}``."""
        if seed is not None:  # gymnasium's Env.reset only (re)seeds the RNG
            super().reset(seed=seed)
            self._draws = []
        if options and options.get("day_index") is not None:
            day = self._check_day(options["day_index"])
        elif self._pinned_day is not None:
            day = self._pinned_day
        else:
            if not self._draws:
                self._draws = self.np_random.integers(self.market.n_days, size=_DRAW_BATCH).tolist()
            day = self._draws.pop()
        self.day_index, self._ep = day, self._episodes[day]
        self._k, self._left = 0, self._max_lots
        return self._ep[0][0].copy(), {"day_index": day, "day": self._day_labels[day]}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Send ``action`` lots now; see the module docstring for the fill, reward and termination."""
        k, left = self._k, self._left
        if left <= 0:
            raise RuntimeError("the episode is over (or never started): call reset()")
        n, max_lots, lot, inv_lots, side, vr, beta_impact, beta_timestep, inv_col, minutes = self._consts
        lots = int(action)
        if lots < 0 or lots > max_lots:
            raise ValueError(f"action {action} outside 0..{max_lots}")
        rows, base, delta, coef, spread, arrival, variance = self._ep
        q = lots if lots < left else left
        left -= q
        qty = q * lot
        price = base[k] + side * (spread + coef[k] * sqrt(qty)) if q else base[k]
        x = q * inv_lots
        if vr:
            reward = vanilla_reward(delta[k], x, beta_impact, beta_timestep)
        else:
            held = left * inv_lots
            reward = -(side * (price - arrival) / arrival * BPS * x + self.risk_aversion * variance * held * held)
        info = {"minute": minutes[k], "qty": qty, "price": price}
        k += 1
        if k == n and left:
            forced_qty = left * lot
            forced_price = base[k] + side * (spread + coef[k] * sqrt(forced_qty))
            x = left * inv_lots
            if vr:
                reward += vanilla_reward(delta[k], x, beta_impact, 0.0)
            else:
                reward -= side * (forced_price - arrival) / arrival * BPS * x
            info["forced_minute"], info["forced_qty"], info["forced_price"] = minutes[k], forced_qty, forced_price
            left = 0
        self._k, self._left = k, left
        obs = rows[k].copy()
        obs[inv_col] = left * inv_lots
        return obs, reward, left == 0, False, info
