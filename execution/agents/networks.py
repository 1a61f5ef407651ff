"""The seed's networks (SPEC section 4) as stable-baselines3 policies.

DQN family: a stack of ``Dense(20) + Dropout`` blocks (1 for ``-SL``, 3 for ``-3L``) and a linear
output of one Q-value per action. The seed clips the output to ``[-q_clip, q_clip]`` (100): here the
*target* network's output is clamped, so the TD target stays in that range, while the online
network's is not (``clip_online=False`` for every model trained now), so a Q-value beyond the bound
still gets the gradient of its own TD error and greedy actions never tie at the bound. Artifacts
saved before this change clamp both (their saved arguments lack ``clip_online``; its default keeps
them acting as they did).
The seed used Tensorforce, whose dense layers default to ``tanh``; so do these. The dropout rate
is not given by the seed: :data:`DEFAULT_DROPOUT`.

Train / eval mode: stable-baselines3 calls ``policy.set_training_mode(True)`` at the start of
``DQN.train()`` -- which would also switch the *target* network to train mode, so the TD target
would be computed with dropout noise. :class:`SeedDQNPolicy` keeps the target network in eval
mode at all times: dropout acts only on the online network's forward pass of the loss, and
``predict`` (rollouts, evaluation) always runs in eval mode, as in stable-baselines3.

A3C family: stable-baselines3's ``ActorCriticPolicy`` with separate actor and critic networks,
see :func:`actor_critic_kwargs`.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn

from execution.agents.catalog import DEFAULT_DROPOUT, HIDDEN_UNITS, Q_CLIP


def dense_dropout_stack(
    input_dim: int, layer_sizes: list[int], activation_fn: type[nn.Module], dropout: float
) -> list[nn.Module]:
    """``Linear -> activation -> Dropout`` for every hidden layer (no dropout module when the rate is 0)."""
    modules: list[nn.Module] = []
    width = input_dim
    for size in layer_sizes:
        modules += [nn.Linear(width, size), activation_fn()]
        if dropout > 0:
            modules.append(nn.Dropout(dropout))
        width = size
    return modules


class ClippedQNetwork(QNetwork):
    """The seed's Q-network: dense + dropout layers, a linear output, clamped to ``+-q_clip`` if ``clip_output``."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        normalize_images: bool = True,
        dropout: float = DEFAULT_DROPOUT,
        q_clip: float = Q_CLIP,
        clip_output: bool = True,
    ) -> None:
        net_arch = [HIDDEN_UNITS] if net_arch is None else list(net_arch)
        super().__init__(
            observation_space,
            action_space,
            features_extractor=features_extractor,
            features_dim=features_dim,
            net_arch=net_arch,
            activation_fn=activation_fn,
            normalize_images=normalize_images,
        )
        self.dropout, self.q_clip, self.clip_output = float(dropout), float(q_clip), bool(clip_output)
        hidden = dense_dropout_stack(features_dim, net_arch, activation_fn, self.dropout)
        width = net_arch[-1] if net_arch else features_dim
        self.q_net = nn.Sequential(*hidden, nn.Linear(width, int(action_space.n)))

    def forward(self, obs: th.Tensor) -> th.Tensor:
        """Q-values of every action (clamped to ``[-q_clip, q_clip]`` when ``clip_output``)."""
        q_values = self.q_net(self.extract_features(obs, self.features_extractor))
        return th.clamp(q_values, -self.q_clip, self.q_clip) if self.clip_output else q_values

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(dropout=self.dropout, q_clip=self.q_clip)
        return data


class SeedDQNPolicy(DQNPolicy):
    """DQN policy whose online and target networks are :class:`ClippedQNetwork` (target always in eval mode)."""

    q_net: ClippedQNetwork
    q_net_target: ClippedQNetwork

    def __init__(
        self,
        *args: Any,
        dropout: float = DEFAULT_DROPOUT,
        q_clip: float = Q_CLIP,
        clip_online: bool = True,
        activation_fn: type[nn.Module] = nn.Tanh,
        **kwargs: Any,
    ) -> None:
        # read by make_q_net(), which DQNPolicy.__init__ calls through _build()
        self._q_extra = {"dropout": float(dropout), "q_clip": float(q_clip)}
        self.clip_online = bool(clip_online)
        super().__init__(*args, activation_fn=activation_fn, **kwargs)
        self.q_net.clip_output = self.clip_online  # the target network always clamps: the TD target's bound

    def make_q_net(self) -> ClippedQNetwork:
        """A fresh :class:`ClippedQNetwork` (own features extractor)."""
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return ClippedQNetwork(**net_args, **self._q_extra).to(self.device)

    def set_training_mode(self, mode: bool) -> None:
        """Train/eval mode for the online network only; the target network stays in eval mode."""
        self.q_net.set_training_mode(mode)
        self.q_net_target.set_training_mode(False)
        self.training = mode

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._q_extra, clip_online=self.clip_online)
        return data


def actor_critic_kwargs(layers: int, units: int = HIDDEN_UNITS) -> dict[str, Any]:
    """``policy_kwargs`` of the A3C family: separate actor and critic of ``layers`` dense layers of ``units``, Adam."""
    return {
        "net_arch": {"pi": [units] * layers, "vf": [units] * layers},
        "share_features_extractor": False,
        "activation_fn": nn.Tanh,
        "optimizer_class": th.optim.Adam,
    }
