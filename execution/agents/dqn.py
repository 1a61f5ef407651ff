"""DQN-SL / DQN-3L (and the DQN half of DDQN-3L) on stable-baselines3's DQN, as the seed meant it.

Seed (SPEC section 4) -> stable-baselines3:

=================================  ==========================================================
mini-batch 32                      ``batch_size=32``
replay memory 10,000               ``buffer_size=10_000``
target network every 50 episodes   :class:`SeedDQN` copies the online network into the target
                                   network each time 50 more episodes have finished (counted in
                                   finished episodes, whatever their length; hard update)
Adam, lr 0.001                     ``SeedDQNPolicy`` uses Adam; ``learning_rate=1e-3``
output clipped to [-100, 100]      the *target* network's output is clamped
                                   (:class:`execution.agents.networks.ClippedQNetwork`), so the
                                   TD target stays in +-100; the online network is not clamped,
                                   so every Q-value gets the gradient of its own TD error and
                                   greedy actions have no ties at the bound
epsilon 1.0 -> 0.1 over 6,000      ``exploration_fraction = min(1, 6000 / total_timesteps)``
frames                             (stable-baselines3 anneals over a fraction of the budget)
Dense(20) + Dropout                ``net_arch=[20]`` or ``[20, 20, 20]``, tanh, dropout
=================================  ==========================================================

Not given by the seed (Tensorforce's DQN defaults where it had one): one gradient step every 4
environment steps (``train_freq=4``), discount 0.99; learning starts after 100 transitions; a
**squared TD loss** (``td_loss="mse"``: Tensorforce's default, where stable-baselines3 uses Huber,
whose gradient is capped at 1 -- with the seed's reward scale, where the forced order costs up to
-100, the large errors then learn a hundred times slower and the DQN family learnt to wait).

**Exploration** (beyond the seed): a random action is drawn with ``exploration_weights`` when the
MDP gives them (the seed's MDP: small lot counts are likelier, see
:func:`execution.sim.mdp.exploration_weights`), uniformly otherwise. A uniformly random lot count
empties the seed's order in about 3 decisions, so no training episode reached the horizon with
inventory left and the forced order's cost was never seen.

**Fine-tuning** (:func:`continue_training`) keeps the weights and continues exploring where the
loaded model stopped (its last epsilon) down to the final epsilon, with a fresh replay memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from stable_baselines3 import DQN
from stable_baselines3.common.utils import get_linear_fn, polyak_update

from execution.agents.catalog import TARGET_UPDATE_EPISODES

TD_LOSSES = ("mse", "huber")


class SeedDQN(DQN):
    """stable-baselines3 DQN as the seed meant it (module docstring).

    The target network is synced every ``target_update_episodes`` finished episodes; the TD loss is
    ``td_loss``; random exploration draws actions with ``exploration_weights`` (uniform when None).
    """

    # class defaults: artifacts saved before these attributes existed load with SB3's behaviour
    target_update_episodes: int = TARGET_UPDATE_EPISODES
    synced_at_episode: int = 0
    td_loss: str = "huber"
    exploration_weights: np.ndarray | None = None

    def __init__(
        self,
        *args: Any,
        target_update_episodes: int = TARGET_UPDATE_EPISODES,
        td_loss: str = "mse",
        exploration_weights: np.ndarray | None = None,
        **kwargs: Any,
    ) -> None:
        if td_loss not in TD_LOSSES:
            raise ValueError(f"td_loss must be one of {TD_LOSSES}, not {td_loss!r}")
        self.target_update_episodes = int(target_update_episodes)
        self.synced_at_episode = 0
        self.td_loss = td_loss
        self.exploration_weights = None if exploration_weights is None else np.asarray(exploration_weights, float)
        super().__init__(*args, **kwargs)

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Greedy actions, or with probability epsilon random ones (drawn with ``exploration_weights``)."""
        if deterministic or np.random.rand() >= self.exploration_rate:
            return self.policy.predict(observation, state, episode_start, deterministic)
        batched = self.policy.is_vectorized_observation(observation)
        n = observation.shape[0] if batched else 1
        if self.exploration_weights is None:
            actions = np.array([self.action_space.sample() for _ in range(n)])
        else:
            weights = self.exploration_weights / self.exploration_weights.sum()
            actions = np.random.choice(len(weights), size=n, p=weights)
        return (actions if batched else actions[0]), state

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        """stable-baselines3's DQN update, with this model's ``td_loss`` (and the target ``q_net_target`` gives)."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        loss_of = F.mse_loss if self.td_loss == "mse" else F.smooth_l1_loss
        losses = []
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = data.discounts if data.discounts is not None else self.gamma
            with th.no_grad():
                next_q_values, _ = self.q_net_target(data.next_observations).max(dim=1)
                target_q_values = data.rewards + (1 - data.dones) * discounts * next_q_values.reshape(-1, 1)
            current_q_values = th.gather(self.q_net(data.observations), dim=1, index=data.actions.long())
            loss = loss_of(current_q_values, target_q_values)
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))

    def _on_step(self) -> None:
        """After each environment step: sync the target network per finished episodes, update epsilon."""
        self._n_calls += 1
        if self._episode_num - self.synced_at_episode >= self.target_update_episodes:
            polyak_update(self.q_net.parameters(), self.q_net_target.parameters(), 1.0)
            polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
            self.synced_at_episode = self._episode_num
        self.exploration_rate = self.exploration_schedule(self._current_progress_remaining)
        self.logger.record("rollout/exploration_rate", self.exploration_rate)


def dqn_kwargs(hyper: dict[str, Any], layers: int, total_timesteps: int = 1, episode_steps: int = 1) -> dict[str, Any]:
    """stable-baselines3 ``DQN`` constructor arguments from the seed hyperparameters (see the module table)."""
    return {
        "learning_rate": hyper["learning_rate"],
        "batch_size": hyper["batch_size"],
        "buffer_size": hyper["buffer_size"],
        "target_update_episodes": hyper["target_update_episodes"],
        "td_loss": hyper["td_loss"],
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
            "clip_online": False,
        },
    }


def continue_training(model: DQN, hyper: dict[str, Any], total_timesteps: int, episode_steps: int) -> None:
    """Prepare a loaded DQN for fine-tuning: explore from its last epsilon down to the final one, new budget."""
    kwargs = dqn_kwargs(hyper, 1, total_timesteps, episode_steps)
    start = float(getattr(model, "exploration_rate", kwargs["exploration_initial_eps"]))
    model.exploration_initial_eps = start
    model.exploration_final_eps = min(kwargs["exploration_final_eps"], start)
    model.exploration_fraction = kwargs["exploration_fraction"]
    model.exploration_schedule = get_linear_fn(start, model.exploration_final_eps, model.exploration_fraction)
    model.exploration_rate = start
    model.learning_starts = kwargs["learning_starts"]
    model.target_update_episodes = int(kwargs["target_update_episodes"])
    model.synced_at_episode = 0
