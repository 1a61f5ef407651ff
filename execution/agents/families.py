"""The algorithm families as one table, as stable-baselines3 keeps its ``policy_aliases``.

Each agent of :mod:`execution.agents.catalog` names a family; the family says which
stable-baselines3 class trains and loads it, with which policy, how the agent's hyperparameters
become that class's constructor arguments, and what a fine-tune changes on a loaded model.
Everything that differs between DQN, Double DQN, A2C (the seed's A3C) and PPO is in this table,
so no other module switches on the family's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecEnv

from execution.agents.a3c import a2c_kwargs
from execution.agents.catalog import agent_spec
from execution.agents.ddqn import DoubleDQN
from execution.agents.dqn import SeedDQN, continue_training, dqn_kwargs
from execution.agents.networks import SeedDQNPolicy
from execution.agents.ppo import ppo_kwargs

#: ``(hyperparameters, layers, total_timesteps, episode_steps) -> constructor keyword arguments``
KwargsBuilder = Callable[[dict[str, Any], int, int, int], dict[str, Any]]
#: ``(loaded model, hyperparameters, total_timesteps, episode_steps) -> None``: ready it to train on
FineTune = Callable[[BaseAlgorithm, dict[str, Any], int, int], None]


def _keep_as_loaded(model: BaseAlgorithm, hyper: dict[str, Any], total_timesteps: int, episode_steps: int) -> None:
    """Actor-critic families continue with their weights and optimiser as saved."""


@dataclass(frozen=True)
class AlgorithmFamily:
    """How one family is built, trained and loaded on stable-baselines3."""

    name: str
    algorithm: type[BaseAlgorithm]
    policy: type[BasePolicy] | str
    kwargs: KwargsBuilder
    fine_tune: FineTune = _keep_as_loaded
    weighted_exploration: bool = False  # epsilon-greedy: random actions drawn with the MDP's weights


FAMILIES: dict[str, AlgorithmFamily] = {
    "dqn": AlgorithmFamily("dqn", SeedDQN, SeedDQNPolicy, dqn_kwargs, continue_training, True),
    "ddqn": AlgorithmFamily("ddqn", DoubleDQN, SeedDQNPolicy, dqn_kwargs, continue_training, True),
    "a2c": AlgorithmFamily("a2c", A2C, "MlpPolicy", a2c_kwargs),
    "ppo": AlgorithmFamily("ppo", PPO, "MlpPolicy", ppo_kwargs),
}


def family_of(agent: str) -> AlgorithmFamily:
    """The family of agent ``agent`` (``ValueError`` naming the known agents for an unknown one)."""
    return FAMILIES[agent_spec(agent).family]


def algorithm_class(agent: str) -> type[BaseAlgorithm]:
    """The stable-baselines3 class that saves and loads agent ``agent``'s artifacts."""
    return family_of(agent).algorithm


def sb3_kwargs(agent: str, hyper: dict[str, Any], total_timesteps: int, episode_steps: int) -> dict[str, Any]:
    """The constructor arguments of agent ``agent`` from its hyperparameters and the run's budget."""
    return family_of(agent).kwargs(hyper, agent_spec(agent).layers, total_timesteps, episode_steps)


def build(
    agent: str,
    env: VecEnv,
    hyper: dict[str, Any],
    total_timesteps: int,
    episode_steps: int,
    seed: int | None,
    exploration_weights: np.ndarray | None = None,
) -> BaseAlgorithm:
    """A fresh model of agent ``agent`` on ``env`` for a budget of ``total_timesteps`` steps.

    ``exploration_weights`` (the MDP's, :func:`execution.sim.mdp.exploration_weights`) shape the
    random actions of the epsilon-greedy families; the others explore through their own policy.
    """
    family = family_of(agent)
    kwargs = family.kwargs(hyper, agent_spec(agent).layers, total_timesteps, episode_steps)
    if family.weighted_exploration:
        kwargs["exploration_weights"] = exploration_weights
    return family.algorithm(family.policy, env, seed=seed, device="cpu", verbose=0, **kwargs)
