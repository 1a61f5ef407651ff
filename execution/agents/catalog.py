"""The agents by name: the seed's five (SPEC section 4) and PPO, each with its seed hyperparameters.

=========  ====================================  ================  ========  ======
name       network                               algorithm         episodes  envs
=========  ====================================  ================  ========  ======
dqn_sl     Dense(20)+Dropout, Q clipped +-100    DQN               1000      1
dqn_3l     3 x (Dense(20)+Dropout)               DQN               1000      1
ddqn_3l    as dqn_3l                             Double DQN        1000      1
a3c_sl     actor 1 x 20, critic 1 x 20           A2C, 4 workers    2000      4
a3c_3l     actor 3 x 20, critic 3 x 20           A2C, 4 workers    2000      4
ppo        actor 2 x 64, critic 2 x 64           PPO, 4 workers    2000      4
=========  ====================================  ================  ========  ======

How each hyperparameter maps onto stable-baselines3 is documented in :mod:`~execution.agents.dqn`,
:mod:`~execution.agents.a3c` and :mod:`~execution.agents.ppo`. This module imports neither torch nor
stable-baselines3 (the command line lists the agents without loading them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HIDDEN_UNITS = 20  # the seed's dense layers of 20
DEFAULT_DROPOUT = 0.1  # the seed has Dense + Dropout but gives no rate
Q_CLIP = 100.0  # the seed's clip value of the network output
TARGET_UPDATE_EPISODES = 50  # the seed's target-network update, in finished episodes

SEED_DQN_HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "batch_size": 32,
    "buffer_size": 10_000,
    "target_update_episodes": TARGET_UPDATE_EPISODES,
    "td_loss": "mse",  # Tensorforce's squared loss (stable-baselines3's Huber: see execution.agents.dqn)
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.1,
    "exploration_frames": 6_000,
    "train_freq": 4,
    "gradient_steps": 1,
    "learning_starts": 100,
    "gamma": 0.99,
    "max_grad_norm": 10.0,
    "hidden_units": HIDDEN_UNITS,
    "dropout": DEFAULT_DROPOUT,
    "q_clip": Q_CLIP,
    "n_envs": 1,
    "vec_env": "batch",
}

SEED_A3C_HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 1e-3,
    # the seed's 4 workers x 8 steps (a mini-batch of 32) ran as 4 processes; in one process the
    # batched simulator steps 32 episodes at once: 32 x 8 = 256 transitions an update (bench/train.py)
    "n_envs": 32,
    "n_steps": 8,
    "gamma": 0.99,
    "gae_lambda": 1.0,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "hidden_units": HIDDEN_UNITS,
    "vec_env": "batch",  # the simulator's batched episodes in this process ("subproc": 4 worker processes)
    "start_method": "forkserver",
}

PPO_HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "n_envs": 32,  # 32 batched episodes x 25 steps = 800 transitions an update, 4 epochs of one batch
    "n_steps": 25,
    "batch_size": 800,
    "n_epochs": 4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "hidden_units": 64,
    "vec_env": "batch",  # the simulator's batched episodes in this process ("subproc": 4 worker processes)
    "start_method": "forkserver",
}


@dataclass(frozen=True)
class AgentSpec:
    """One named agent: its algorithm family, depth and seed hyperparameters."""

    name: str
    family: str  # "dqn", "ddqn", "a2c" or "ppo"
    layers: int
    default_episodes: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def n_envs(self) -> int:
        """Parallel environments of one training run (1 for the DQN family)."""
        return int(self.hyperparameters.get("n_envs", 1))

    def episodes(self, mdp: str) -> int:
        """Default training episodes: the seed's count on its MDP; on the pace MDP, the production budget."""
        return self.default_episodes if mdp == "seed" else PACE_EPISODES[self.family]


AGENTS: dict[str, AgentSpec] = {
    "dqn_sl": AgentSpec("dqn_sl", "dqn", 1, 1000, SEED_DQN_HYPERPARAMETERS, "DQN, 1 dense layer of 20 + dropout"),
    "dqn_3l": AgentSpec("dqn_3l", "dqn", 3, 1000, SEED_DQN_HYPERPARAMETERS, "DQN, 3 dense layers of 20 + dropout"),
    "ddqn_3l": AgentSpec("ddqn_3l", "ddqn", 3, 1000, SEED_DQN_HYPERPARAMETERS, "Double DQN, as dqn_3l"),
    "a3c_sl": AgentSpec("a3c_sl", "a2c", 1, 2000, SEED_A3C_HYPERPARAMETERS, "A2C (A3C), actor/critic 1 x 20"),
    "a3c_3l": AgentSpec("a3c_3l", "a2c", 3, 2000, SEED_A3C_HYPERPARAMETERS, "A2C (A3C), actor/critic 3 x 20"),
    "ppo": AgentSpec("ppo", "ppo", 2, 2000, PPO_HYPERPARAMETERS, "PPO, actor/critic 2 x 64"),
}

SEED_AGENTS: tuple[str, ...] = ("dqn_sl", "dqn_3l", "ddqn_3l", "a3c_sl", "a3c_3l")

#: Production budget on the pace MDP (episodes of ~20-50 decisions), per family: what bench/learning.py
#: needs for every agent to learn the planted edge and stay within 1 bp of TWAP on a martingale market;
#: 10-100 s each on one core with the batched simulator.
PACE_EPISODES: dict[str, int] = {"dqn": 6000, "ddqn": 6000, "a2c": 20000, "ppo": 12000}


def agent_spec(name: str) -> AgentSpec:
    """The spec of agent ``name``; ``ValueError`` naming the known agents otherwise."""
    try:
        return AGENTS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; known: {', '.join(AGENTS)}") from None


def hyperparameters(name: str, **overrides: Any) -> dict[str, Any]:
    """The agent's hyperparameters with ``overrides`` applied (unknown keys are an error)."""
    spec = agent_spec(name)
    unknown = set(overrides) - set(spec.hyperparameters)
    if unknown:
        raise ValueError(f"unknown hyperparameters for {name}: {sorted(unknown)}")
    return {**spec.hyperparameters, **overrides}
