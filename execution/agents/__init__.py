"""RL agents of the seed (DQN-SL, DQN-3L, DDQN-3L, A3C-SL, A3C-3L) and PPO on stable-baselines3.

:mod:`~execution.agents.catalog` names them, :mod:`~execution.agents.training` trains one,
:mod:`~execution.models.retrain` trains, registers, evaluates and promotes.
"""
