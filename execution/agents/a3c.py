"""A3C-SL / A3C-3L: stable-baselines3's A2C (the synchronous form of A3C) over 4 worker processes.

Seed (SPEC section 4) -> stable-baselines3:

==========================  ===============================================================
4 worker processes          4 environments in a ``SubprocVecEnv`` (start method
                            ``forkserver``: forking a process that already runs torch threads
                            is unsafe); the gradient is computed in the main process on the
                            workers' transitions, synchronously (A2C), not asynchronously
mini-batch 32               ``n_steps=8`` per worker x 4 workers = 32 transitions per update
Adam, lr 0.001              ``optimizer_class=torch.optim.Adam`` (A2C's default is RMSprop)
actor and critic, 1 (3)     ``net_arch=dict(pi=[20]*k, vf=[20]*k)``,
dense layers of 20 each     ``share_features_extractor=False``: two separate networks
==========================  ===============================================================

Not given by the seed: discount 0.99, entropy bonus 0.01 (A3C paper), value loss weight 0.5,
gradient norm clipped at 0.5 (stable-baselines3 defaults otherwise). No dropout: the seed
lists none for A3C.
"""

from __future__ import annotations

from typing import Any

from execution.agents.networks import actor_critic_kwargs


def a2c_kwargs(hyper: dict[str, Any], layers: int, total_timesteps: int = 1, episode_steps: int = 1) -> dict[str, Any]:
    """stable-baselines3 ``A2C`` constructor arguments from the seed hyperparameters (see the module table)."""
    return {
        "learning_rate": hyper["learning_rate"],
        "n_steps": hyper["n_steps"],
        "gamma": hyper["gamma"],
        "gae_lambda": hyper["gae_lambda"],
        "ent_coef": hyper["ent_coef"],
        "vf_coef": hyper["vf_coef"],
        "max_grad_norm": hyper["max_grad_norm"],
        "use_rms_prop": False,
        "policy_kwargs": actor_critic_kwargs(layers, hyper["hidden_units"]),
    }
