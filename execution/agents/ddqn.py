"""Double DQN (van Hasselt, Guez & Silver 2016) built on stable-baselines3's DQN.

The only difference from DQN is the value of the next state in the TD target
``y = r + gamma * (1 - done) * V(s')``:

* DQN: ``V(s') = max_a Q_target(s', a)`` -- the target network both picks and values the action;
* Double DQN: ``V(s') = Q_target(s', argmax_a Q_online(s', a))`` -- the online network picks the
  action, the target network values it.

:class:`DoubleDQN` reuses ``SeedDQN.train()`` unchanged (sampling, discounts, the TD loss,
gradient clipping, logging) and swaps in, for the duration of the call, a target module whose
``max`` over actions *is* the Double-DQN value: it returns ``Q_target(s', argmax_a Q_online(s', a))``
repeated over the action axis. The online network picks the action in eval mode (no dropout),
as the target network always runs (see :mod:`execution.agents.networks`).
"""

from __future__ import annotations

from typing import Any

import torch as th
from torch import nn

from execution.agents.dqn import SeedDQN


def dqn_next_values(q_target: nn.Module, next_observations: th.Tensor) -> th.Tensor:
    """DQN's next-state values ``max_a Q_target(s', a)``, shape ``[batch]``."""
    with th.no_grad():
        return q_target(next_observations).max(dim=1).values


def double_dqn_next_values(q_online: nn.Module, q_target: nn.Module, next_observations: th.Tensor) -> th.Tensor:
    """Double DQN's next-state values ``Q_target(s', argmax_a Q_online(s', a))``, shape ``[batch]``."""
    with th.no_grad():
        return _double_values(q_online, q_target(next_observations), next_observations)


def _double_values(q_online: nn.Module, target_q_values: th.Tensor, next_observations: th.Tensor) -> th.Tensor:
    """Pick with the online network (in eval mode, mode restored), value with ``target_q_values``."""
    was_training = q_online.training
    q_online.train(False)
    try:
        best_actions = q_online(next_observations).argmax(dim=1, keepdim=True)
    finally:
        q_online.train(was_training)
    return th.gather(target_q_values, dim=1, index=best_actions).squeeze(1)


class DoubleQTarget(nn.Module):
    """Stands in for the target network inside ``DQN.train()``: every action holds the Double-DQN value.

    ``DQN.train()`` takes ``max`` over the actions of ``q_net_target(s')``; a row filled with one
    value ``Q_target(s', argmax_a Q_online(s', a))`` makes that max the Double-DQN value.
    """

    def __init__(self, q_online: nn.Module, q_target: nn.Module) -> None:
        super().__init__()
        self.q_online, self.q_target = q_online, q_target

    def forward(self, next_observations: th.Tensor) -> th.Tensor:
        """``[batch, n_actions]``, each row constant at the Double-DQN next-state value."""
        target_q_values = self.q_target(next_observations)
        values = _double_values(self.q_online, target_q_values, next_observations)
        return values.unsqueeze(1).expand_as(target_q_values)


class DoubleDQN(SeedDQN):
    """The project's DQN (:class:`~execution.agents.dqn.SeedDQN`) whose TD target is Double DQN's; the rest is DQN's."""

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        """``DQN.train()`` with the Double-DQN next-state value in the target."""
        target = self.q_net_target
        self.q_net_target = DoubleQTarget(self.q_net, target)  # type: ignore[assignment]
        try:
            super().train(gradient_steps, batch_size)
        finally:
            self.q_net_target = target

    def next_state_values(self, next_observations: th.Tensor) -> th.Tensor:
        """The next-state values this algorithm puts in its TD target (for inspection and tests)."""
        return double_dqn_next_values(self.q_net, self.q_net_target, next_observations)


def next_state_values(model: Any, next_observations: th.Tensor) -> th.Tensor:
    """The next-state values ``model`` (a DQN or a :class:`DoubleDQN`) uses in its TD target."""
    if isinstance(model, DoubleDQN):
        return model.next_state_values(next_observations)
    return dqn_next_values(model.q_net_target, next_observations)
