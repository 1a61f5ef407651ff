"""Which policy serves a symbol's orders: the champion, with its fallbacks.

:func:`resolve_champion` loads the symbol's champion, else the previous champion (the one it
replaced), else falls back to ``twap_seed``, recording in ``model_events`` each load failure
(``load_failed``) and the fallback (``fallback``) with the reasons, in the caller's transaction.
A symbol's own champion (the seed's experiment trains per symbol) comes first; else the **universal
champion** (registered under ``*``: one pace-MDP model for every order of every symbol). An order
is asked of a model only inside the envelope it was trained for (:meth:`PolicyChoice.for_order`:
MDP, side, size as % of ADV, horizon); outside it the plan is TWAP with the reason, recorded as an
``outside_envelope`` event -- never an error that takes down other orders' plans.

The outcome is a :class:`PolicyChoice` with what a page or a log line has to say about it:

* no champion registered (nothing trained or promoted yet) -> ``twap_seed``, stated plainly
  (:data:`NO_MODEL_NOTE`), not an error;
* champion unusable, previous champion loaded -> that model, the reason stated;
* a champion is registered but neither it nor the previous champion can be loaded ->
  ``twap_seed`` is used *and* :attr:`PolicyChoice.failed` is set: schedules and reports are
  still written (the trader has a safe plan), then :class:`ChampionUnavailable` is raised so
  that the reports DAG fails loudly (:func:`raise_if_failed`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from execution.config import OrderParams, Settings
from execution.db import connection
from execution.models import registry
from execution.models.artifacts import ModelLoadError, load_model
from execution.models.registry import ModelRecord
from execution.sim.baselines import Schedule, twap_seed
from execution.sim.envelope import OrderEnvelope
from execution.sim.policy import Policy, policy_strategy

log = logging.getLogger(__name__)

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
    policy: Policy | None  # None for twap_seed
    reasons: list[str] = field(default_factory=list)
    record: ModelRecord | None = None  # the model used
    champion_record: ModelRecord | None = None  # the registered champion (even if unusable)
    trained_models: int = 0  # models of the symbol in the registry, whatever their status
    outside: str | None = None  # why the champion was not asked for this order (outside its envelope)

    @property
    def uses_model(self) -> bool:
        """True when a trained policy is used."""
        return self.policy is not None

    @property
    def failed(self) -> bool:
        """A champion is registered and the order is one it serves, yet twap_seed is used (every load failed)."""
        return self.champion_record is not None and self.policy is None and self.outside is None

    @property
    def strategy_label(self) -> str:
        """``dqn_sl #12`` / ``twap_seed``."""
        if self.record is None:
            return TWAP
        return f"{self.record.agent} #{self.model_id}"

    @property
    def note(self) -> str:
        """What the page says about the choice."""
        if self.outside is not None:
            return f"{self.strategy_label} not asked: {self.outside} — twap_seed"
        if self.champion_record is None and self.policy is None:
            if self.trained_models:
                return f"no champion yet ({self.trained_models} trained model(s), none promoted) — twap_seed"
            return NO_MODEL_NOTE
        if self.source == "champion":
            return f"champion {self.strategy_label}"
        why = "; ".join(self.reasons)
        champion_id = self.champion_record.model_id if self.champion_record else None
        if self.policy is None:
            return f"champion #{champion_id} cannot be loaded, fell back to twap_seed: {why}"
        return f"champion #{champion_id} cannot be loaded, using the previous champion: {why}"

    @property
    def mdp(self) -> str:
        """The MDP the policy acts on (``seed`` for twap_seed, which needs none)."""
        return "seed" if self.record is None else self.record.mdp

    def for_order(self, order: OrderParams, adv_shares: float | None) -> PolicyChoice:
        """This choice for one order: itself inside the model's envelope, else twap_seed with the reason."""
        if self.policy is None or self.record is None:
            return self
        envelope = OrderEnvelope.from_json(self.record.envelope)
        if envelope is None and self.record.mdp == "seed":  # registered before envelopes: its one order shape
            envelope = OrderEnvelope.of_order(OrderParams(**self.record.order_params))
        if envelope is None:
            return self
        reason = envelope.reason_outside(order, adv_shares)
        if reason is None:
            return self
        return replace(self, policy=None, outside=f"model {self.model_id} {reason}")

    def describe(self) -> str:
        """One line: what is used, and why when it is not the champion."""
        used = TWAP if self.model_id is None else f"model {self.model_id} ({self.source})"
        return f"{self.symbol}: {used}" + (f" -- {'; '.join(self.reasons)}" if self.reasons else "")

    def schedule(self) -> Schedule:
        """The backtest strategy of this choice (the policy acting greedily, else twap_seed)."""
        return twap_seed if self.policy is None else policy_strategy(self.policy, self.mdp)

    def model_json(self) -> dict[str, Any] | None:
        """The registry record of the model used, JSON-serialisable (None for twap_seed)."""
        return None if self.record is None else self.record.as_json()


def _candidates(current: ModelRecord | None) -> list[tuple[str, int]]:
    if current is None:
        return []
    found = [("champion", current.model_id)]
    if current.replaced_model_id is not None:
        found.append(("previous_champion", current.replaced_model_id))
    return found


def resolve_champion(
    conn: Any, settings: Settings, symbol: str, order: OrderParams | None = None, record_fallback: bool = True
) -> PolicyChoice:
    """Load the champion of ``symbol``, else the previous champion, else fall back to ``twap_seed``.

    Every load failure is recorded as a ``load_failed`` event and, with ``record_fallback``, any
    fallback as a ``fallback`` event with the reasons (in the caller's transaction).
    """
    reasons: list[str] = []
    current = registry.champion(conn, symbol)
    if current is None and symbol != registry.UNIVERSAL:
        current = registry.champion(conn, registry.UNIVERSAL)
    if current is None:
        reasons.append(f"{symbol} has no champion")
    choice = None
    for source, model_id in _candidates(current):
        record = registry.get(conn, model_id)
        try:
            policy = load_model(settings, record, order)
        except ModelLoadError as exc:
            reasons.append(str(exc))
            registry.record_event(conn, symbol, "load_failed", str(exc), model_id, {"as": source})
            log.warning("%s", exc)
            continue
        choice = PolicyChoice(symbol, source, model_id, policy, reasons, record)
        break
    if choice is None:
        if current is not None and current.replaced_model_id is None:
            reasons.append(f"model {current.model_id} replaced no earlier champion")
        choice = PolicyChoice(symbol, TWAP, None, None, reasons)
    choice.champion_record = current
    choice.trained_models = len(registry.list_models(conn, symbol))
    if choice.source != "champion" and record_fallback:
        used = TWAP if choice.model_id is None else f"model {choice.model_id}"
        registry.record_event(
            conn,
            symbol,
            "fallback",
            f"using {used}: " + "; ".join(reasons),
            choice.model_id,
            {"source": choice.source, "champion": None if current is None else current.model_id},
        )
        log.warning("champion fallback for %s", choice.describe())
    return choice


class PolicyCache:
    """One :func:`resolve_champion` per symbol and MDP shape within a run (loading a model takes a moment).

    The registry is read, and the ``load_failed`` / ``fallback`` events written, on a connection of
    the cache's own, committed at once: the events are kept whatever becomes of the caller's
    transaction, and the caller's transaction (``conn``, kept for the callers' use) is never
    committed behind its back.
    """

    def __init__(self, conn: Any, settings: Settings) -> None:
        self.conn, self.settings = conn, settings
        self._choices: dict[tuple, PolicyChoice] = {}

    def get(self, symbol: str, order: OrderParams, adv_shares: float | None = None) -> PolicyChoice:
        """The choice for ``order`` of ``symbol`` (``adv_shares``: the symbol's average daily volume, for the envelope).

        An order outside the champion's envelope gets twap_seed and an ``outside_envelope`` event.
        """
        if symbol not in self._choices:  # loaded once; whether it serves the order is asked per order
            with connection(self.settings) as own:
                self._choices[symbol] = resolve_champion(own, self.settings, symbol)
        choice = self._choices[symbol].for_order(order, adv_shares)
        if choice.outside is not None:
            self._record_outside(symbol, choice, order)
        return choice

    def _record_outside(self, symbol: str, choice: PolicyChoice, order: OrderParams) -> None:
        log.warning("%s: %s", symbol, choice.note)
        with connection(self.settings) as own:
            registry.record_event(
                own, symbol, "outside_envelope", choice.outside or "", choice.model_id, {"order": order.__dict__}
            )

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


def model_policy(conn: Any, settings: Settings, model_id: int, order: OrderParams) -> tuple[ModelRecord, Policy]:
    """The registry record and loaded policy of ``model:ID`` (an unusable artifact is an error: it was asked for)."""
    record = registry.get(conn, model_id)
    return record, load_model(settings, record, order)
