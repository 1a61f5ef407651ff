"""DQN-SL / DQN-3L (and the DQN half of DDQN-3L) on stable-baselines3's DQN with the seed's hyperparameters.

Seed (SPEC section 4) -> stable-baselines3:

=================================  ==========================================================
mini-batch 32                      ``batch_size=32``
replay memory 10,000               ``buffer_size=10_000``
target network every 50 episodes   ``target_update_interval = 50 * N`` environment steps
                                   (an episode is at most N decisions; hard update, ``tau=1``)
Adam, lr 0.001                     ``SeedDQNPolicy`` uses Adam; ``learning_rate=1e-3``
output clipped to [-100, 100]      :class:`execution.agents.networks.ClippedQNetwork`
epsilon 1.0 -> 0.1 over 6,000      ``exploration_fraction = min(1, 6000 / total_timesteps)``
frames                             (stable-baselines3 anneals over a fraction of the budget)
Dense(20) + Dropout                ``net_arch=[20]`` or ``[20, 20, 20]``, tanh, dropout
=================================  ==========================================================

Not given by the seed (Tensorforce's DQN defaults where it had one): one gradient step every 4
environment steps (``train_freq=4``), discount 0.99; learning starts after 100 transitions
(stable-baselines3's default).

What these settings imply on this MDP (measured, ``bench/train.py``): a uniformly random lot
count empties the inventory in about 3 decisions, so the 1000 seed episodes hold only ~3,500
steps -- epsilon is still ~0.5 at the end -- and the target network, refreshed every 2,500
steps, is updated about once. Value information then propagates back from the forced order at
``t_N`` only slowly. Every number is a hyperparameter (``train --hyper KEY=VALUE``).
"""

from __future__ import annotations

from typing import Any


def dqn_kwargs(hyper: dict[str, Any], layers: int, total_timesteps: int = 1, episode_steps: int = 1) -> dict[str, Any]:
    """stable-baselines3 ``DQN`` constructor arguments from the seed hyperparameters (see the module table)."""
    return {
        "learning_rate": hyper["learning_rate"],
        "batch_size": hyper["batch_size"],
        "buffer_size": hyper["buffer_size"],
        "target_update_interval": hyper["target_update_episodes"] * episode_steps,
        "exploration_initial_eps": hyper["exploration_initial_eps"],
        "exploration_final_eps": hyper["exploration_final_eps"],
        "exploration_fraction": min(1.0, hyper["exploration_frames"] / max(total_timesteps, 1)),
        "train_freq": hyper["train_freq"],
        "gradient_steps": hyper["gradient_steps"],
        "learning_starts": hyper["learning_starts"],
        "gamma": hyper["gamma"],
        "max_grad_norm": hyper["max_grad_norm"],
        "tau": 1.0,
        "policy_kwargs": {
            "net_arch": [hyper["hidden_units"]] * layers,
            "dropout": hyper["dropout"],
            "q_clip": hyper["q_clip"],
        },
    }


def fine_tune_overrides(hyper: dict[str, Any], total_timesteps: int, episode_steps: int) -> dict[str, Any]:
    """Attributes to reset on a loaded DQN before fine-tuning (exploration and target schedule of the new budget)."""
    kwargs = dqn_kwargs(hyper, 1, total_timesteps, episode_steps)
    names = ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps", "target_update_interval")
    return {name: kwargs[name] for name in (*names, "learning_starts")}
