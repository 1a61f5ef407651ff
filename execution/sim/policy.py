"""Policies as the simulator sees them: anything that maps a batch of states to actions.

:class:`Policy` is the one type of "something that predicts" in the service (stable-baselines3
models satisfy it, as do the test doubles); :func:`policy_schedule` runs one greedily over every
day of a window, all days advancing together (one batched ``predict`` per decision), and
:func:`policy_strategy` turns it into a backtest strategy. A policy's schedule does not depend
on the fill model: the state holds no fill price.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from execution.config import OrderParams
from execution.sim.baselines import Schedule
from execution.sim.execution_env import observation_table
from execution.sim.market import MarketData

__all__ = ["Policy", "policy_schedule", "policy_strategy"]


@runtime_checkable
class Policy(Protocol):
    """What the simulator needs of a trained model: stable-baselines3's ``predict``."""

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Actions for a batch of observations, and the recurrent state."""
        ...


def policy_schedule(policy: Policy, market: MarketData, order: OrderParams) -> np.ndarray:
    """Lots the policy sends on every day, acting on the environment's state with ``deterministic=True``.

    All days step together: at decision ``k`` the states of all days are stacked and passed to one
    ``predict`` call (actions of days already done are ignored). The states are those
    :class:`execution.sim.execution_env.ExecutionEnv` returns.
    """
    table = observation_table(market, order)
    inv_col = order.n_history + 1
    left = np.full(market.n_days, order.lots, dtype=np.int64)
    lots = np.zeros((market.n_days, order.intervals), dtype=np.int64)
    state = None
    for k in range(order.intervals):
        if not left.any():
            break
        obs = table[:, k].copy()  # every day, finished ones too, so that a recurrent state keeps its shape
        obs[:, inv_col] = left / order.lots
        actions, state = policy.predict(obs, state=state, deterministic=True)
        actions = np.asarray(actions, dtype=np.int64).reshape(-1)
        if actions.shape[0] != market.n_days or np.any((actions < 0) | (actions > order.lots)):
            raise ValueError(f"policy returned {actions.shape[0]} actions, expected {market.n_days} in 0..{order.lots}")
        sent = np.minimum(actions, left)
        lots[:, k] = sent
        left -= sent
    return lots


def policy_strategy(policy: Policy) -> Schedule:
    """A strategy that runs ``policy`` (computed once per market window and order, whatever the fill)."""
    cache: dict[str, Any] = {}

    def schedule(market: MarketData, order: OrderParams, fill: str = "seed", **_: float) -> np.ndarray:
        if cache.get("market") is not market or cache.get("order") != order:
            cache.update(market=market, order=order, lots=policy_schedule(policy, market, order))
        return cache["lots"]

    return schedule
