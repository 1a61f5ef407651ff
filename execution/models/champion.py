"""Which policy serves a symbol's orders, as schedules and reports need it.

The registry (:func:`execution.models.registry.resolve_champion`) loads the champion, else the previous
champion, else falls back to ``twap_seed``. Here that outcome becomes a :class:`PolicyChoice`
with what a page has to say about it:

* no champion registered (nothing trained or promoted yet) -> ``twap_seed``, stated plainly
  (:data:`NO_MODEL_NOTE`), not an error;
* champion unusable, previous champion loaded -> that model, the reason stated;
* a champion is registered but neither it nor the previous champion can be loaded ->
  ``twap_seed`` is used *and* :attr:`PolicyChoice.failed` is set: schedules and reports are
  still written (the trader has a safe plan), then :class:`ChampionUnavailable` is raised so
  that the reports DAG fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execution.config import OrderParams, Settings
from execution.sim.backtest import policy_strategy
from execution.sim.baselines import Schedule, twap_seed

NO_MODEL_NOTE = "no trained model yet — twap_seed"
TWAP = "twap_seed"
CHAMPION_NAME = "champion"  # strategy name of the champion's plan / replay in schedules and reports


class ChampionUnavailable(RuntimeError):
    """A champion is registered but neither it nor its predecessor could be loaded (twap_seed was used)."""


@dataclass
class PolicyChoice:
    """The policy that serves one symbol (and order shape), and why."""

    symbol: str
    source: str  # "champion", "previous_champion" or "twap_seed"
    model_id: int | None
    policy: Any  # an object with predict(); None for twap_seed
    reasons: list[str] = field(default_factory=list)
    record: Any = None  # registry ModelRecord of the model used
    champion_record: Any = None  # registry ModelRecord of the registered champion (even if unusable)
    trained_models: int = 0  # models of the symbol in the registry, whatever their status

    @property
    def uses_model(self) -> bool:
        """True when a trained policy is used."""
        return self.policy is not None

    @property
    def failed(self) -> bool:
        """A champion is registered, yet twap_seed is used (every load failed)."""
        return self.champion_record is not None and self.policy is None

    @property
    def strategy_label(self) -> str:
        """``dqn_sl #12`` / ``twap_seed``."""
        if self.record is None:
            return TWAP
        return f"{self.record.agent} #{self.model_id}"

    @property
    def note(self) -> str:
        """What the page says about the choice."""
        if self.champion_record is None and self.policy is None:
            if self.trained_models:
                return f"no champion yet ({self.trained_models} trained model(s), none promoted) — twap_seed"
            return NO_MODEL_NOTE
        if self.source == "champion":
            return f"champion {self.strategy_label}"
        why = "; ".join(self.reasons)
        if self.policy is None:
            return f"champion #{self.champion_record.model_id} cannot be loaded, fell back to twap_seed: {why}"
        return f"champion #{self.champion_record.model_id} cannot be loaded, using the previous champion: {why}"

    def schedule(self) -> Schedule:
        """The backtest strategy of this choice (the policy acting greedily, else twap_seed)."""
        return twap_seed if self.policy is None else policy_strategy(self.policy)

    def model_json(self) -> dict[str, Any] | None:
        """The registry record of the model used, JSON-serialisable (None for twap_seed)."""
        return None if self.record is None else self.record.as_json()


def registry_available() -> bool:
    """True when the model registry module is installed."""
    try:
        import execution.models.registry  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def choose_policy(conn: Any, settings: Settings, symbol: str, order: OrderParams) -> PolicyChoice:
    """Resolve the policy of ``symbol`` for orders shaped like ``order`` (records registry events; caller commits)."""
    if not registry_available():
        return PolicyChoice(symbol, TWAP, None, None, ["the model registry is not installed"])
    from execution.models import registry

    resolution = registry.resolve_champion(conn, settings, symbol, order)
    champion = registry.champion(conn, symbol)
    record = registry.get(conn, resolution.model_id) if resolution.model_id is not None else None
    return PolicyChoice(
        symbol=symbol,
        source=resolution.source,
        model_id=resolution.model_id,
        policy=resolution.policy,
        reasons=list(resolution.reasons),
        record=record,
        champion_record=champion,
        trained_models=len(registry.list_models(conn, symbol)),
    )


class PolicyCache:
    """One :func:`choose_policy` per (symbol, order shape) within a run (loading a model takes a moment)."""

    def __init__(self, conn: Any, settings: Settings) -> None:
        self.conn, self.settings = conn, settings
        self._choices: dict[tuple, PolicyChoice] = {}

    def get(self, symbol: str, order: OrderParams) -> PolicyChoice:
        """The choice for ``symbol`` and orders of ``order``'s lot count and history length."""
        key = (symbol, order.lots, order.n_history, order.intervals)
        if key not in self._choices:
            self._choices[key] = choose_policy(self.conn, self.settings, symbol, order)
            self.conn.commit()  # keep the registry's load_failed / fallback events
        return self._choices[key]

    @property
    def failures(self) -> list[PolicyChoice]:
        """Choices where a registered champion could not be loaded at all."""
        return [c for c in self._choices.values() if c.failed]


def raise_if_failed(cache: PolicyCache, what: str) -> None:
    """``ChampionUnavailable`` naming every symbol whose champion could not be loaded (after ``what`` was written)."""
    failed = cache.failures
    if failed:
        lines = "; ".join(f"{c.symbol}: {' / '.join(c.reasons)}" for c in failed)
        raise ChampionUnavailable(
            f"{what} written with the twap_seed fallback, but the champion cannot be loaded: {lines}"
        )


def model_policy(conn: Any, settings: Settings, model_id: int, order: OrderParams) -> tuple[Any, Any]:
    """The registry record and loaded policy of ``model:ID`` (an unusable artifact is an error: it was asked for)."""
    if not registry_available():
        raise ValueError(f"model:{model_id} was asked for, but the model registry is not installed")
    from execution.models import registry

    record = registry.get(conn, model_id)
    return record, registry.load_model(settings, record, order)
