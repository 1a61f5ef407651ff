"""Model artifacts: where they are written, their checksums, and loading them back safely.

* An artifact is a stable-baselines3 zip under ``$EXEC_HOME/models/SYMBOL/mNNNNN-AGENT.zip`` with
  its learning curve ``mNNNNN-AGENT-episodes.csv`` beside it; the registry records the path
  relative to ``$EXEC_HOME/models`` and the file's SHA-256.
* **Loading** verifies the checksum first: a missing file raises :class:`ArtifactMissing`, a
  changed or unreadable one :class:`ArtifactCorrupt`, a model built for another order shape
  :class:`IncompatibleModel` (all :class:`ModelLoadError`, a ``ValueError``).
* **Artifacts written before the Layout move** (issue 10) pickle the class path of their policy,
  e.g. ``execution.agents.policies.SeedDQNPolicy``. :data:`LEGACY_MODULES` maps each old module
  name to where its classes live now, and :func:`load_model` makes the old names importable
  while it unpickles, so such artifacts keep loading (``tests/data/legacy_models`` holds two).
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from execution.config import OrderParams, Settings
from execution.models.registry import UNIVERSAL, ModelRecord
from execution.sim.mdp import expected_spaces

if TYPE_CHECKING:  # torch and stable-baselines3 are imported when a model is loaded, not with this module
    from stable_baselines3.common.base_class import BaseAlgorithm

#: Module names pickled into artifacts by earlier versions -> the module that holds those classes now.
LEGACY_MODULES: dict[str, str] = {
    "execution.agents.policies": "execution.agents.networks",
}


class ModelLoadError(ValueError):
    """A registered model cannot be used (the message says which and why)."""


class ArtifactMissing(ModelLoadError):
    """The model's artifact file does not exist."""


class ArtifactCorrupt(ModelLoadError):
    """The artifact's checksum differs from the registered one, or it cannot be read."""


class IncompatibleModel(ModelLoadError):
    """The model's observation or action space does not fit the order being executed."""


# ---------------------------------------------------------------- files


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_artifact(model: BaseAlgorithm, path: Path) -> str:
    """Save ``model`` (stable-baselines3 zip) at ``path`` and return its SHA-256."""
    path = Path(path)
    if path.suffix != ".zip":
        raise ValueError(f"artifact path must end in .zip: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return sha256_file(path)


def write_learning_curve(path: Path, rewards: list[float], steps: list[int]) -> None:
    """CSV ``episode,reward,steps`` (episodes numbered from 1)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["episode", "reward", "steps"])
        for i, (r, s) in enumerate(zip(rewards, steps, strict=True), start=1):
            writer.writerow([i, repr(float(r)), int(s)])


def artifact_paths(settings: Settings, symbol: str, agent: str, model_id: int) -> tuple[Path, Path]:
    """Where model ``model_id``'s artifact and learning-curve CSV are written."""
    folder = "universal" if symbol == UNIVERSAL else symbol
    stem = settings.models_dir / folder / f"m{model_id:05d}-{agent}"
    return stem.with_suffix(".zip"), stem.parent / f"{stem.name}-episodes.csv"


def relative_artifact_path(settings: Settings, path: Path) -> str:
    """How a file is recorded: relative to ``settings.models_dir`` when under it, else absolute."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(settings.models_dir.absolute()))
    except ValueError:
        return str(path)


def artifact_file(settings: Settings, recorded_path: str) -> Path:
    """The file a recorded path names (relative paths are under ``settings.models_dir``)."""
    path = Path(recorded_path)
    return path if path.is_absolute() else settings.models_dir / path


# ---------------------------------------------------------------- loading


def model_label(record: ModelRecord) -> str:
    """``model 12 (dqn_sl, RELIANCE)``: how messages name a registered model."""
    return f"model {record.model_id} ({record.agent}, {record.symbol})"


def verify_artifact(settings: Settings, record: ModelRecord) -> Path:
    """The model's artifact file, after checking it exists and has the registered SHA-256."""
    path = artifact_file(settings, record.artifact_path)
    label = model_label(record)
    if not path.is_file():
        raise ArtifactMissing(f"{label}: artifact {path} is missing")
    digest = sha256_file(path)
    if digest != record.sha256:
        raise ArtifactCorrupt(
            f"{label}: artifact {path} is corrupt (sha256 {digest[:12]}..., registered {record.sha256[:12]}...)"
        )
    return path


def check_compatible(model: BaseAlgorithm, order: OrderParams, label: str, mdp: str = "seed") -> None:
    """``IncompatibleModel`` unless ``model``'s spaces are those ``mdp`` needs for ``order``.

    A seed-MDP model fits one order shape (``n_history + 3`` values, ``V/m + 1`` actions); a pace-MDP
    model fits every order.
    """
    obs_shape = tuple(model.observation_space.shape or ())
    n_actions = int(getattr(model.action_space, "n", -1))
    needed_obs, needed_actions = expected_spaces(mdp, order)
    if obs_shape != needed_obs or n_actions != needed_actions:
        raise IncompatibleModel(
            f"{label} ({mdp} MDP) observes {obs_shape} and has {n_actions} actions; the order needs "
            f"{needed_obs} and {needed_actions}"
        )


@contextmanager
def legacy_module_names() -> Iterator[None]:
    """While active, every name of :data:`LEGACY_MODULES` imports as the module that replaced it."""
    added = []
    for old, new in LEGACY_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
            added.append(old)
    try:
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)


def load_artifact(agent: str, path: Path, label: str) -> BaseAlgorithm:
    """The stable-baselines3 model of agent ``agent`` saved at ``path`` (also one saved before the Layout move)."""
    from execution.agents.families import algorithm_class  # torch: only when a model is loaded

    try:
        with legacy_module_names():
            return algorithm_class(agent).load(path, device="cpu")
    except Exception as exc:  # stable-baselines3 raises many types for a damaged zip
        raise ArtifactCorrupt(f"{label}: artifact {path} cannot be loaded: {type(exc).__name__}: {exc}") from exc


def load_model(settings: Settings, record: ModelRecord, order: OrderParams | None = None) -> BaseAlgorithm:
    """The stable-baselines3 model of ``record``, checksum verified (and checked against ``order`` when given)."""
    path = verify_artifact(settings, record)
    model = load_artifact(record.agent, path, model_label(record))
    if order is not None:
        check_compatible(model, order, model_label(record), record.mdp)
    return model
