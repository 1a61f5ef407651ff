"""One model per agent for every order of every symbol: train, register, validate on an order set, promote.

:func:`retrain_universal` is the weekly retrain's task on the pace MDP (the seed's experiment keeps the
per-symbol :func:`execution.models.retrain.retrain` on the seed's MDP):

1. load the training window of every symbol and pool their days (:meth:`MarketData.concat`: the pace
   MDP's state is scale-free, so one policy learns from all of them);
2. train with a new order drawn from the envelope every episode (:class:`~execution.sim.envelope.
   OrderEnvelope`: sizes 0.005-5 % of ADV, both sides, starts across the session, horizons 20-180 min);
   the budget does not grow with the number of symbols;
3. save, register under the universal symbol ``*`` with the symbols and the envelope it was trained for;
4. validate on an **order set**: ``orders_per_day`` orders drawn from the envelope (fixed seed) on every
   validation day of every symbol, against each same order's TWAP and the universal champion; the
   promotion rule decides on the per-day mean advantages (:func:`execution.models.promotion.
   evaluate_order_set`), under the universal lock.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from execution.agents.training import train_agent
from execution.config import PromotionRule, Settings
from execution.db import connection
from execution.models import registry
from execution.models.artifacts import artifact_file
from execution.models.champion import resolve_champion
from execution.models.promotion import evaluate_order_set, load_rule
from execution.models.retrain import (
    fine_tune_base,
    register_candidate,
    save_outputs,
    training_summary,
)
from execution.models.windows import validation_window
from execution.sim.envelope import OrderEnvelope
from execution.sim.market import MarketData, load
from execution.sim.order_set import draw_order_set

UNIVERSAL = registry.UNIVERSAL
DEFAULT_ORDERS_PER_DAY = 4
VALIDATION_SEED = 0


def _training_markets(conn: Any, settings: Settings, symbols: list[str], start: date, end: date) -> MarketData:
    markets = []
    for symbol in symbols:
        try:
            markets.append(load(conn, symbol, start, end, settings.order))
        except ValueError as exc:  # one symbol without bars must not stop the others
            registry.record_event(conn, UNIVERSAL, "symbol_skipped", f"{symbol}: {exc}", None, {"window": "train"})
    if not markets:
        raise ValueError(f"no published bars of {', '.join(symbols)} between {start} and {end} to train on")
    return MarketData.concat(markets)


def retrain_universal(
    settings: Settings,
    symbols: list[str],
    agent: str,
    train_start: date,
    train_end: date,
    episodes: int | None = None,
    seed: int | None = None,
    *,
    envelope: OrderEnvelope | None = None,
    fine_tune: bool = False,
    progress: bool | None = False,
    rule: PromotionRule | None = None,
    overrides: dict[str, Any] | None = None,
    orders_per_day: int = DEFAULT_ORDERS_PER_DAY,
) -> dict[str, Any]:
    """Train one ``agent`` model for every symbol of ``symbols`` and every order of ``envelope``; a JSON summary."""
    rule, envelope = rule or load_rule(settings), envelope or OrderEnvelope()
    with connection(settings) as conn:
        market = _training_markets(conn, settings, symbols, train_start, train_end)
        base, base_note = (
            fine_tune_base(conn, settings, UNIVERSAL, agent, "pace") if fine_tune else (None, "trained from scratch")
        )
        model_id = registry.reserve_model_id(conn)
    run = train_agent(
        agent,
        market,
        settings.order,
        episodes=episodes,
        mdp="pace",
        seed=seed,
        init_from=None if base is None else artifact_file(settings, base.artifact_path),
        progress=progress,
        overrides=overrides,
        envelope=envelope,
    )
    saved = save_outputs(settings, UNIVERSAL, agent, model_id, run)
    summary: dict[str, Any] = {
        "model_id": model_id,
        "agent": agent,
        "symbol": UNIVERSAL,
        "symbols": list(symbols),
        "train_start": train_start.isoformat(),
        "train_end": train_end.isoformat(),
        **training_summary(run),
        "envelope": envelope.as_json(),
        "artifact": str(saved.artifact),
        "sha256": saved.sha256,
        "learning_curve_csv": str(saved.curve),
        "parent_model_id": None if base is None else base.model_id,
        "fine_tune": base_note if fine_tune else None,
    }
    with connection(settings) as conn:
        register_candidate(conn, settings, summary, run, saved, train_start, train_end)
        conn.commit()
        summary.update(_validate_and_promote(conn, settings, summary, run.model, rule, orders_per_day))
    return summary


def _validation_markets(
    conn: Any, settings: Settings, symbols: list[str], train_start: date, train_end: date
) -> tuple[list[MarketData], list[str], tuple[date, date] | None]:
    """Each symbol's validation market (those that have one), the reasons of those left out, and the span."""
    markets, skipped, spans = [], [], []
    for symbol in symbols:
        window = validation_window(conn, settings, symbol, train_start, train_end)
        if window is None:
            skipped.append(f"{symbol}: no published bars to validate on")
            continue
        try:
            markets.append(load(conn, symbol, window.start, window.end, settings.order))
            spans.append((window.start, window.end))
        except ValueError as exc:
            skipped.append(f"{symbol}: {exc}")
    span = (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None
    return markets, skipped, span


def _validate_and_promote(
    conn: Any, settings: Settings, summary: dict[str, Any], challenger: Any, rule: PromotionRule, per_day: int
) -> dict[str, Any]:
    """Validate the registered universal model on an order set and apply the rule (under the universal lock)."""
    model_id, symbols = summary["model_id"], summary["symbols"]
    train_start, train_end = date.fromisoformat(summary["train_start"]), date.fromisoformat(summary["train_end"])
    markets, skipped, span = _validation_markets(conn, settings, symbols, train_start, train_end)
    if not markets or span is None:
        reason = "no validation window with published bars: " + "; ".join(skipped)
        registry.set_validation(conn, model_id, None, None, {"skipped": reason})
        registry.record_event(conn, UNIVERSAL, "kept_candidate", reason, model_id)
        return {"validation": None, "status": "candidate", "decision": {"promote": False, "reason": reason}}
    envelope = OrderEnvelope.from_json(summary["envelope"]) or OrderEnvelope()
    order_set = draw_order_set(markets, envelope, per_day, VALIDATION_SEED)
    registry.lock_symbol(conn, UNIVERSAL)
    has_champion = registry.champion(conn, UNIVERSAL) is not None
    incumbent = resolve_champion(conn, settings, UNIVERSAL, None, record_fallback=has_champion)
    label = "champion" if incumbent.source == "champion" else incumbent.source
    fill = rule.fill or summary["fill"]
    decision, metrics = evaluate_order_set(order_set, challenger, incumbent.policy, rule, fill, label)
    metrics["window"] = {"start": span[0].isoformat(), "end": span[1].isoformat(), "skipped": skipped}
    metrics["incumbent"] = {"model_id": incumbent.model_id, "source": incumbent.source, "reasons": incumbent.reasons}
    registry.set_validation(conn, model_id, span[0], span[1], metrics)
    registry.record_event(conn, UNIVERSAL, "evaluated", decision.reason, model_id, {"window": metrics["window"]})
    if decision.promote:
        registry.promote(conn, model_id, decision.reason)
    else:
        registry.record_event(conn, UNIVERSAL, "kept_candidate", decision.reason, model_id)
    return {
        "validation": {**metrics["window"], "days": metrics["days"], "orders": metrics["orders"], "fill": fill},
        "incumbent": metrics["incumbent"],
        "vs_twap_seed": metrics["vs_twap_seed"],
        "vs_champion": metrics["vs_champion"],
        "decision": metrics["decision"],
        "status": "champion" if decision.promote else "candidate",
    }
