"""A stable-baselines3 ``VecEnv`` over the simulator's batched episodes: many episodes, one process, numpy.

The simulator steps ``n_envs`` episodes at once (:class:`execution.sim.batch.EpisodeBatch`); this
adapter gives stable-baselines3 what it expects of a vectorised environment: automatic reset of a
finished slot on a newly drawn day (with the ``terminal_observation`` and, like ``Monitor``, the
finished episode's ``{"r", "l"}`` in its info), seeding, and the attribute queries its algorithms
make. Replaces a ``SubprocVecEnv`` of gymnasium environments, whose inter-process round trip per step
cost far more than the step itself (``bench/train.py`` measures both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from execution.sim.batch import EpisodeBatch
from execution.sim.envelope import OrderEnvelope
from execution.sim.pace import PaceBatch

#: ``draw(rng, slots) -> None``: start new episodes in ``slots`` of the batch (day and, for the pace MDP, order).
EpisodeDraw = Callable[[np.random.Generator, np.ndarray], None]


def uniform_days(batch: EpisodeBatch) -> EpisodeDraw:
    """Episodes on days drawn uniformly from the batch's window (the order stays as it is)."""

    def draw(rng: np.random.Generator, slots: np.ndarray) -> None:
        batch.begin(slots, rng.integers(batch.n_days, size=len(slots)))

    return draw


def envelope_orders(batch: PaceBatch, envelope: OrderEnvelope) -> EpisodeDraw:
    """Episodes on uniformly drawn days, each executing a new order drawn from ``envelope`` (universal training)."""

    def draw(rng: np.random.Generator, slots: np.ndarray) -> None:
        days = rng.integers(batch.n_days, size=len(slots))
        batch.begin(slots, days, envelope.sample(rng, batch.market, days))

    return draw


class BatchVecEnv(VecEnv):
    """``batch.n_envs`` environments stepped together by ``batch`` (see the module docstring)."""

    def __init__(self, batch: EpisodeBatch, draw: EpisodeDraw | None = None, seed: int | None = None) -> None:
        self.batch = batch
        self.draw = draw or uniform_days(batch)
        self.render_mode = None
        self._rng = np.random.default_rng(seed)
        self._actions = np.zeros(batch.n_envs, dtype=np.int64)
        self._returns = np.zeros(batch.n_envs)
        self._lengths = np.zeros(batch.n_envs, dtype=np.int64)
        super().__init__(batch.n_envs, batch.observation_space, batch.action_space)

    # ------------------------------------------------------------ stepping

    def reset(self) -> np.ndarray:
        """New episodes in every slot."""
        if self._seeds[0] is not None:
            self._rng = np.random.default_rng(self._seeds[0])
            self._reset_seeds()
        slots = np.arange(self.num_envs)
        self.draw(self._rng, slots)
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return self.batch.observe()

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions (one per slot)."""
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every slot; restart finished ones on a new episode (their terminal state in ``infos``)."""
        result = self.batch.step(self._actions)
        self._returns += result.reward
        self._lengths += 1
        obs = result.obs
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        finished = np.flatnonzero(result.done)
        if finished.size:
            for i in finished:
                infos[i] = {
                    "terminal_observation": obs[i].copy(),
                    "episode": {"r": float(self._returns[i]), "l": int(self._lengths[i])},
                    "TimeLimit.truncated": False,
                }
            self.draw(self._rng, finished)
            obs[finished] = self.batch.observe(finished)
            self._returns[finished] = 0.0
            self._lengths[finished] = 0
        return obs, result.reward.astype(np.float32), result.done.copy(), infos

    def close(self) -> None:
        """Nothing to release: no worker process."""

    # ------------------------------------------------------------ what stable-baselines3 asks of a VecEnv

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed the episode draws (applied at the next reset, as stable-baselines3 expects)."""
        return super().seed(seed)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The adapter's own attribute, once per slot (there are no per-slot environment objects)."""
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the adapter."""
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any) -> list:
        """Per-slot environment methods do not exist here."""
        raise AttributeError(f"BatchVecEnv has no per-environment method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """No slot is wrapped (episode statistics are reported by the adapter itself)."""
        return [False for _ in self._get_indices(indices)]
