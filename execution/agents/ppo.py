"""PPO, the sixth agent (Qlib's choice for order execution), on stable-baselines3's PPO.

Not a seed agent, so its settings are stable-baselines3's defaults except where the episode
length calls for a change: 4 worker processes like A3C; each update collects 100 steps per worker
(two full episodes of N = 50 decisions) = 400 transitions, 10 epochs of mini-batches of 100;
separate actor and critic networks of 2 tanh layers of 64; entropy bonus 0.01.
"""

from __future__ import annotations

from typing import Any

from execution.agents.networks import actor_critic_kwargs


def ppo_kwargs(hyper: dict[str, Any], layers: int, total_timesteps: int = 1, episode_steps: int = 1) -> dict[str, Any]:
    """stable-baselines3 ``PPO`` constructor arguments."""
    return {
        "learning_rate": hyper["learning_rate"],
        "n_steps": hyper["n_steps"],
        "batch_size": hyper["batch_size"],
        "n_epochs": hyper["n_epochs"],
        "gamma": hyper["gamma"],
        "gae_lambda": hyper["gae_lambda"],
        "clip_range": hyper["clip_range"],
        "ent_coef": hyper["ent_coef"],
        "vf_coef": hyper["vf_coef"],
        "max_grad_norm": hyper["max_grad_norm"],
        "policy_kwargs": actor_critic_kwargs(layers, hyper["hidden_units"]),
    }
