"""Policies as the simulator sees them: anything that maps a batch of states to actions.

:class:`Policy` is the one type of "something that predicts" in the service (stable-baselines3
models satisfy it, as do the test doubles). :func:`policy_schedule` runs one greedily over every
day of a window through the batch of its MDP (:mod:`execution.sim.mdp`), all days advancing
together (one batched ``predict`` per decision), and :func:`policy_strategy` turns it into a
backtest strategy. A policy's schedule does not depend on the fill model: no state holds a fill price.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from execution.config import OrderParams
from execution.sim.baselines import Schedule
from execution.sim.batch import EpisodeBatch
from execution.sim.market import MarketData
from execution.sim.mdp import make_batch

__all__ = ["Policy", "policy_schedule", "policy_strategy", "rollout_lots"]


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


def rollout_lots(policy: Policy, batch: EpisodeBatch, intervals: int) -> np.ndarray:
    """Lots the policy sends at each decision on every day, greedily: ``[n_days, intervals]``.

    One slot per day (``batch.n_envs == batch.n_days``), all days stepping together with one
    batched ``predict(deterministic=True)`` per decision; slots whose episode ended keep being
    observed (their actions are ignored) so that a recurrent state keeps its shape.
    """
    if batch.n_envs != batch.n_days:
        raise ValueError(f"a rollout needs one slot per day: {batch.n_envs} slots, {batch.n_days} days")
    days = np.arange(batch.n_days)
    batch.begin(days, days)
    lots = np.zeros((batch.n_days, intervals), dtype=np.int64)
    state = None
    while batch.live().any():
        actions, state = policy.predict(batch.observe(), state=state, deterministic=True)
        actions = np.asarray(actions, dtype=np.int64).reshape(-1)
        if actions.shape[0] != batch.n_envs or np.any((actions < 0) | (actions >= batch.action_space.n)):
            raise ValueError(
                f"policy returned {actions.shape[0]} actions, expected {batch.n_envs} in 0..{batch.action_space.n - 1}"
            )
        live = batch.live()
        result = batch.step(actions)
        lots[live, result.decision[live]] = result.lots[live]
    return lots


def policy_schedule(policy: Policy, market: MarketData, order: OrderParams, mdp: str) -> np.ndarray:
    """Lots the policy (trained on ``mdp``) sends on every day of ``market``, greedily, ``[n_days, N]``."""
    return rollout_lots(policy, make_batch(mdp, market, order, market.n_days), order.intervals)


def policy_strategy(policy: Policy, mdp: str) -> Schedule:
    """A strategy that runs ``policy`` (computed once per market window and order, whatever the fill)."""
    cache: dict[str, Any] = {}

    def schedule(market: MarketData, order: OrderParams, fill: str = "seed", **_: float) -> np.ndarray:
        if cache.get("market") is not market or cache.get("order") != order:
            cache.update(market=market, order=order, lots=policy_schedule(policy, market, order, mdp))
        return cache["lots"]

    return schedule
