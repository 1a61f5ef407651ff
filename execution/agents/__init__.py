"""Agents layer: the RL agents on stable-baselines3 + torch, and nothing else.

* ``catalog`` -- the agents by name (the seed's DQN-SL, DQN-3L, DDQN-3L, A3C-SL, A3C-3L and PPO) with
  their seed hyperparameters; imports neither torch nor stable-baselines3;
* ``families`` -- one table of algorithm families (class, policy, constructor arguments, fine-tune
  resets), as stable-baselines3 keeps its ``policy_aliases``;
* ``networks`` -- the seed's networks; ``dqn``, ``ddqn``, ``a3c``, ``ppo`` -- one module per family;
* ``training`` -- train one agent on a market window (budget, learning curve, determinism).

Knows ``sim`` (the environment it learns on); nothing of the database, the registry or reports.
"""

from execution import lazy_exports

_EXPORTS = {
    "AGENTS": "catalog",
    "SEED_AGENTS": "catalog",
    "AgentSpec": "catalog",
    "agent_spec": "catalog",
    "hyperparameters": "catalog",
    "FAMILIES": "families",
    "AlgorithmFamily": "families",
    "algorithm_class": "families",
    "build": "families",
    "DoubleDQN": "ddqn",
    "SeedDQNPolicy": "networks",
    "ClippedQNetwork": "networks",
    "TrainingRun": "training",
    "train_agent": "training",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
