"""Train one agent on one symbol's market window: the episode budget, the learning curve, the artifact.

* **Budget**: ``episodes`` (default: the agent's seed count) -> at most ``episodes * N`` environment
  steps for one environment (plus ``(n_envs - 1) * N`` for parallel workers, whose episodes end
  at staggered times). Episodes can end early (the inventory runs out), so
  :class:`EpisodeRecorder` counts finished episodes and stops training at the count.
* **Learning curve**: the undiscounted reward and the steps of every finished episode, in the
  order they finish (workers' episodes finishing at the same step in worker order).
* **Determinism**: with a seed, the run is reproducible: python, numpy and torch are seeded, torch
  runs on ``threads`` CPU threads (1 by default), environment ``i`` is seeded with ``seed + i``.
  Without a seed one is drawn and recorded, so any run can be repeated.
* **Fine-tuning**: ``init_from`` (an artifact path) continues from those weights with a fresh
  exploration schedule and an empty replay memory.
"""

from __future__ import annotations

import multiprocessing
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from tqdm import tqdm

from execution.agents import catalog, families
from execution.agents.vec_env import BatchVecEnv, envelope_orders
from execution.config import OrderParams
from execution.json_values import json_safe
from execution.sim.envelope import OrderEnvelope
from execution.sim.execution_env import ExecutionEnv
from execution.sim.market import MarketData
from execution.sim.mdp import DEFAULT_FILL, DEFAULT_REWARD, check_mdp, exploration_weights, make_batch
from execution.sim.pace import PaceBatch

WORKER_PRELOAD = (
    "stable_baselines3.common.vec_env.subproc_vec_env",
    "stable_baselines3.common.monitor",
    "execution.sim.execution_env",
)


@dataclass
class TrainingRun:
    """A trained model and how it was trained."""

    agent: str
    model: BaseAlgorithm
    hyperparameters: dict[str, Any]
    episode_rewards: list[float]
    episode_steps: list[int]
    timesteps: int
    wall_s: float
    seed: int
    reward: str
    fill: str
    mdp: str
    envelope: OrderEnvelope  # the orders it was trained for
    train_days: int
    init_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def episodes(self) -> int:
        """Episodes finished."""
        return len(self.episode_rewards)

    @property
    def steps_per_s(self) -> float:
        """Environment steps per second of wall time."""
        return self.timesteps / self.wall_s if self.wall_s > 0 else float("nan")


class EpisodeRecorder(BaseCallback):
    """Records the reward and steps of every finished episode; stops training after ``max_episodes``."""

    def __init__(self, max_episodes: int, progress: bool | None = None, label: str = "train") -> None:
        super().__init__()
        self.max_episodes = max_episodes
        self.rewards: list[float] = []
        self.steps: list[int] = []
        self._progress = progress
        self._label = label
        self._bar: tqdm | None = None

    def _on_training_start(self) -> None:
        disable = None if self._progress is None else not self._progress  # None: only on a terminal
        self._bar = tqdm(total=self.max_episodes, desc=self._label, unit="ep", file=sys.stderr, disable=disable)

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if not done or "episode" not in info or len(self.rewards) >= self.max_episodes:
                continue
            self.rewards.append(float(info["episode"]["r"]))
            self.steps.append(int(info["episode"]["l"]))
            if self._bar is not None:
                self._bar.update(1)
                if len(self.rewards) % 10 == 0:
                    self._bar.set_postfix(reward=f"{np.mean(self.rewards[-10:]):.2f}", refresh=False)
        return len(self.rewards) < self.max_episodes

    def _on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _env_factory(market: MarketData, order: OrderParams, reward: str, fill: str) -> Callable[[], gym.Env]:
    def make() -> gym.Env:
        return Monitor(ExecutionEnv(market, order, reward=reward, fill=fill))

    return make


def make_vec_env(
    market: MarketData,
    order: OrderParams,
    reward: str | None,
    fill: str,
    n_envs: int = 1,
    vec_env: str = "batch",
    start_method: str = "forkserver",
    mdp: str = "seed",
    envelope: OrderEnvelope | None = None,
) -> VecEnv:
    """``n_envs`` environments of ``mdp`` on ``market`` (each episode a new order drawn from ``envelope`` if given).

    ``batch`` (the default): the simulator's batched episodes in this process
    (:class:`~execution.agents.vec_env.BatchVecEnv`). ``dummy`` / ``subproc``: the earlier path, one
    monitored gymnasium :class:`ExecutionEnv` per environment in this process or in worker processes
    (seed MDP only; kept to measure against in ``bench/train.py``).
    """
    if vec_env == "batch":
        batch = make_batch(mdp, market, order, n_envs, reward, fill)
        if envelope is None:
            return BatchVecEnv(batch)
        if not isinstance(batch, PaceBatch):
            raise ValueError("orders drawn from an envelope need the pace MDP (the seed's fits one order shape)")
        return BatchVecEnv(batch, envelope_orders(batch, envelope))
    if check_mdp(mdp) != "seed":
        raise ValueError(f"vec_env {vec_env!r} serves the seed MDP only; use 'batch' for {mdp!r}")
    factories = [_env_factory(market, order, reward or "vr", fill) for _ in range(n_envs)]
    if vec_env == "subproc":
        if start_method == "forkserver":
            # the fork server imports these once; each worker forked from it starts without re-importing torch
            multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_PRELOAD))
        return SubprocVecEnv(factories, start_method=start_method)
    if vec_env == "dummy":
        return DummyVecEnv(factories)
    raise ValueError(f"vec_env must be 'batch', 'dummy' or 'subproc', not {vec_env!r}")


def timestep_budget(episodes: int, episode_steps: int, n_envs: int) -> int:
    """Upper bound of environment steps for ``episodes`` episodes over ``n_envs`` environments."""
    return (episodes + n_envs - 1) * episode_steps


def seed_everything(seed: int, threads: int = 1) -> None:
    """Seed python, numpy and torch, and pin torch to ``threads`` CPU threads (reproducible runs)."""
    th.set_num_threads(threads)
    set_random_seed(seed)


def resolved_hyperparameters(agent: str, hyper: dict[str, Any], total_timesteps: int, episode_steps: int) -> dict:
    """What a run used: the agent's hyperparameters and the stable-baselines3 arguments derived from them."""
    spec = catalog.agent_spec(agent)
    derived = families.sb3_kwargs(agent, hyper, total_timesteps, episode_steps)
    return json_safe(
        {
            "agent": agent,
            "family": spec.family,
            "layers": spec.layers,
            "seed_hyperparameters": hyper,
            "sb3": derived,
            "total_timesteps": total_timesteps,
        }
    )


def train_agent(
    agent: str,
    market: MarketData,
    order: OrderParams,
    *,
    episodes: int | None = None,
    mdp: str = "seed",
    reward: str | None = None,
    fill: str | None = None,
    seed: int | None = None,
    init_from: Path | None = None,
    progress: bool | None = None,
    overrides: dict[str, Any] | None = None,
    threads: int = 1,
    envelope: OrderEnvelope | None = None,
) -> TrainingRun:
    """Train ``agent`` on ``mdp`` over ``market`` for ``episodes`` episodes (default: the seed's count).

    ``reward`` and ``fill`` default to the MDP's (VR and the seed fill for the seed's MDP; the
    TWAP-relative ``pa`` and the impact fill for the pace MDP).
    """
    spec = catalog.agent_spec(agent)
    reward = reward or DEFAULT_REWARD[check_mdp(mdp)]
    fill = fill or DEFAULT_FILL[mdp]
    hyper = catalog.hyperparameters(agent, **(overrides or {}))
    episodes = spec.episodes(check_mdp(mdp)) if episodes is None else int(episodes)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, not {episodes}")
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    n_envs = int(hyper.get("n_envs", 1))
    episode_steps = order.intervals if envelope is None else envelope.horizon_min[1] // envelope.interval_min
    total = timestep_budget(episodes, episode_steps, n_envs)
    seed_everything(seed, threads)
    env = make_vec_env(
        market,
        order,
        reward,
        fill,
        n_envs,
        hyper.get("vec_env", "batch"),
        hyper.get("start_method", "forkserver"),
        mdp,
        envelope,
    )
    try:
        weights = exploration_weights(mdp, order)
        family = families.family_of(agent)
        if init_from is None:
            model = families.build(agent, env, hyper, total, episode_steps, seed, weights)
        else:
            model = family.algorithm.load(init_from, env=env, device="cpu")
            family.fine_tune(model, hyper, total, episode_steps)
            if family.weighted_exploration:
                model.exploration_weights = weights
            model.set_random_seed(seed)
        recorder = EpisodeRecorder(episodes, progress, label=f"{agent} {mdp} {market.symbol}")
        started = time.perf_counter()
        model.learn(total_timesteps=total, callback=recorder, progress_bar=False)
        wall_s = time.perf_counter() - started
    finally:
        env.close()
    model.env = None  # the workers are gone; predict() does not need an environment
    return TrainingRun(
        agent=agent,
        model=model,
        hyperparameters=resolved_hyperparameters(agent, hyper, total, episode_steps),
        episode_rewards=recorder.rewards,
        episode_steps=recorder.steps,
        timesteps=int(model.num_timesteps),
        wall_s=wall_s,
        seed=seed,
        reward=reward,
        fill=fill,
        mdp=mdp,
        envelope=envelope or OrderEnvelope.of_order(order, market),
        train_days=market.n_days,
        init_from=None if init_from is None else str(init_from),
    )
