"""Many execution episodes stepped at once, in numpy: the simulator's hot path for training and replay.

An :class:`EpisodeBatch` holds ``n_envs`` episodes side by side as arrays (day, decision index,
inventory ...) and advances all of them with one :meth:`~EpisodeBatch.step` call. The two MDPs each
have one: :class:`SeedBatch` here (the seed's MDP, exactly what :class:`~execution.sim.execution_env.
ExecutionEnv` computes, one episode per slot) and :class:`~execution.sim.pace.PaceBatch`. The same
batch serves three uses, so they cannot drift apart:

* training: ``execution.agents.vec_env`` wraps a batch as a stable-baselines3 ``VecEnv`` (auto-reset,
  episode statistics) -- stable-baselines3 itself stays out of the simulator;
* replay: :func:`execution.sim.policy.rollout_lots` runs a policy greedily with one slot per day of a
  window and returns the executed lots per decision, which the backtester turns into fills and metrics;
* tests: the gymnasium environments are checked step for step against it.

Conventions: ``begin(slots, days)`` starts episodes in the given slots on the given day indices;
``observe(slots)`` returns their states; ``step(actions)`` advances every *live* slot (slots whose
episode ended are left as they are until ``begin`` is called again) and returns a
:class:`BatchStep`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from execution.config import OrderParams
from execution.sim.episode import decision_minutes, side_sign, start_minute
from execution.sim.execution_env import observation_table
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


@dataclass
class BatchStep:
    """What one :meth:`EpisodeBatch.step` did, per slot (``[n_envs]`` arrays; dead slots hold zeros)."""

    obs: np.ndarray  # [n_envs, n_features] float32, the state after the step (terminal state when done)
    reward: np.ndarray  # [n_envs] float
    done: np.ndarray  # [n_envs] bool: the episode ended at this step
    lots: np.ndarray  # [n_envs] int: lots executed by the decision (the forced order excluded)
    decision: np.ndarray  # [n_envs] int: index of the decision just taken


class EpisodeBatch(Protocol):
    """``n_envs`` episodes of one MDP advanced together (see the module docstring)."""

    n_envs: int
    n_days: int
    observation_space: spaces.Box
    action_space: spaces.Discrete

    def begin(self, slots: np.ndarray, days: np.ndarray) -> None:
        """Start an episode in each slot of ``slots`` on the matching day index."""
        ...

    def observe(self, slots: np.ndarray | None = None) -> np.ndarray:
        """States of ``slots`` (default: every slot), ``[len(slots), n_features]`` float32."""
        ...

    def step(self, actions: np.ndarray) -> BatchStep:
        """Apply one action per slot (ignored for slots whose episode is over)."""
        ...

    def live(self) -> np.ndarray:
        """``[n_envs]`` bool: slots whose episode is running."""
        ...


class SeedBatch:
    """The seed's MDP (SPEC section 3, :class:`~execution.sim.execution_env.ExecutionEnv`) for ``n_envs`` slots.

    Same state, action, fill, reward and termination as the gymnasium environment, vectorised:
    per-day tables are computed once for the window, a step gathers from them.
    """

    def __init__(
        self,
        market: MarketData,
        order: OrderParams,
        n_envs: int,
        reward: str = "vr",
        fill: str = "seed",
        risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
        eta: float = IMPACT_ETA,
    ) -> None:
        if market.n_days == 0:
            raise ValueError("the market data holds no episode day")
        self.market, self.order, self.n_envs, self.n_days = market, order, int(n_envs), market.n_days
        self.vr, self.risk_aversion = check_reward(reward) == "vr", float(risk_aversion)
        check_fill(fill)
        self.side = side_sign(order)
        minutes = decision_minutes(order)
        self.table = observation_table(market, order)  # [D, N+1, F]
        terms = fill_terms(market, minutes, fill, self.side, eta)
        self.base, self.coef, self.spread = terms.base, terms.coef, terms.spread[:, 0]
        self.delta = price_change_bps(market, order, minutes)
        self.arrival = market.close[:, start_minute(order) - 1]
        self.variance = interval_variance_bps2(market, order)
        self.observation_space = spaces.Box(0.0, np.finfo(np.float32).max, (order.n_history + 3,), np.float32)
        self.observation_space.high[-2:] = 1.0
        self.action_space = spaces.Discrete(order.lots + 1)
        self.day = np.zeros(self.n_envs, dtype=np.int64)
        self.k = np.zeros(self.n_envs, dtype=np.int64)
        self.left = np.zeros(self.n_envs, dtype=np.int64)  # lots; 0 = no running episode

    def begin(self, slots: np.ndarray, days: np.ndarray) -> None:
        """Start episodes in ``slots`` on ``days`` (full inventory, first decision)."""
        self.day[slots], self.k[slots], self.left[slots] = days, 0, self.order.lots

    def live(self) -> np.ndarray:
        """Slots whose episode is running."""
        return self.left > 0

    def observe(self, slots: np.ndarray | None = None) -> np.ndarray:
        """The seed state of ``slots``: the day's table row at the decision, inventory left filled in."""
        slots = np.arange(self.n_envs) if slots is None else slots
        obs = self.table[self.day[slots], np.minimum(self.k[slots], self.order.intervals)].copy()
        obs[:, self.order.n_history + 1] = self.left[slots] / self.order.lots
        return obs

    def _price(self, rows: np.ndarray, slot_index: np.ndarray, lots: np.ndarray) -> np.ndarray:
        qty = lots * self.order.lot_size
        return self.base[rows, slot_index] + self.side * (
            self.spread[rows] + self.coef[rows, slot_index] * np.sqrt(qty)
        )

    def step(self, actions: np.ndarray) -> BatchStep:
        """Send ``actions`` lots in every live slot; the forced order at the horizon ends the rest."""
        order = self.order
        live = self.live()
        actions = np.asarray(actions, dtype=np.int64).reshape(self.n_envs)
        if np.any(live & ((actions < 0) | (actions > order.lots))):
            raise ValueError(f"actions outside 0..{order.lots}")
        rows, k = self.day, np.minimum(self.k, order.intervals - 1)
        sent = np.where(live, np.minimum(actions, self.left), 0)
        left = self.left - sent
        reward = self._reward(rows, k, sent, left, forced=False)
        forced = live & (k + 1 == order.intervals) & (left > 0)
        if forced.any():
            rest = np.where(forced, left, 0)
            reward = reward + np.where(forced, self._reward(rows, k + 1, rest, left - rest, forced=True), 0.0)
            left = left - rest
        decision = k.copy()
        self.k = np.where(live, k + 1, self.k)
        self.left = np.where(live, left, self.left)
        done = live & (self.left == 0)
        return BatchStep(self.observe(), np.where(live, reward, 0.0), done, sent, decision)

    def _reward(
        self, rows: np.ndarray, slot: np.ndarray, lots: np.ndarray, left_after: np.ndarray, *, forced: bool
    ) -> np.ndarray:
        """VR or ACR of ``lots`` executed in fill slot ``slot`` (the forced order: no step bonus, no variance)."""
        order = self.order
        x = lots / order.lots
        if self.vr:
            return vanilla_reward(self.delta[rows, slot], x, order.beta_impact, 0.0 if forced else order.beta_timestep)
        price = self._price(rows, slot, lots)
        shortfall = self.side * (price - self.arrival[rows]) / self.arrival[rows] * BPS * x
        if forced:
            return -shortfall
        held = left_after / order.lots
        return -(shortfall + self.risk_aversion * self.variance[rows] * held * held)


class SingleEpisodeEnv(gym.Env):
    """A gymnasium environment of one slot of a batch: the batch's MDP one episode at a time.

    ``reset()`` draws a day with the environment's seeded RNG (``options={"day_index": i}`` pins one);
    ``info`` of a step holds the executed ``lots`` and the ``decision`` index.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(self, batch: EpisodeBatch, seed: int | None = None) -> None:
        if batch.n_envs != 1:
            raise ValueError(f"a single-episode environment needs a batch of 1 slot, not {batch.n_envs}")
        self.batch = batch
        self.observation_space, self.action_space = batch.observation_space, batch.action_space
        if seed is not None:
            super().reset(seed=seed)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode on a drawn (or pinned) day."""
        super().reset(seed=seed)
        pinned = (options or {}).get("day_index")
        day = int(self.np_random.integers(self.batch.n_days)) if pinned is None else int(pinned)
        if not 0 <= day < self.batch.n_days:
            raise ValueError(f"day_index {day} outside 0..{self.batch.n_days - 1}")
        self.batch.begin(np.array([0]), np.array([day]))
        return self.batch.observe()[0], {"day_index": day}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One decision of the episode."""
        if not self.batch.live()[0]:
            raise RuntimeError("the episode is over (or never started): call reset()")
        result = self.batch.step(np.array([int(action)]))
        info = {"lots": int(result.lots[0]), "decision": int(result.decision[0])}
        return result.obs[0], float(result.reward[0]), bool(result.done[0]), False, info
