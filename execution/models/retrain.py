"""Train, register, evaluate and promote: one retrain of one agent on one symbol (the weekly DAG's task).

1. Load the symbol's published bars of the training window once (:func:`execution.sim.market.load`).
2. Train (:func:`execution.agents.training.train_agent`); with ``fine_tune``, start from the
   symbol's champion when it is the same agent, else from the latest model of that agent that was
   ever champion, else from scratch (said in the summary).
3. Save the artifact ``$EXEC_HOME/models/SYMBOL/mNNNNN-AGENT.zip`` and the learning curve
   ``mNNNNN-AGENT-episodes.csv`` beside it; register the model (``candidate``) with its
   per-episode rewards and steps (``training_episodes``).
4. Evaluate on the validation window (:func:`execution.models.windows.validation_window`) against
   the current champion (with the registry's fallback) and ``twap_seed``, store the metrics, and
   apply the promotion rule (:mod:`execution.models.promotion`); decisions for one symbol are
   serialised by a lock.

:func:`summary_row` is the one line per trained model that the weekly DAG logs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from execution.agents.training import TrainingRun, train_agent
from execution.config import Settings
from execution.db import connection
from execution.models import registry
from execution.models.artifacts import (
    ModelLoadError,
    artifact_file,
    artifact_paths,
    relative_artifact_path,
    save_artifact,
    verify_artifact,
    write_learning_curve,
)
from execution.models.champion import resolve_champion
from execution.models.promotion import PromotionRule, evaluate, load_rule
from execution.models.windows import ValidationWindow, validation_window
from execution.sim.market import MarketData, load
from execution.sim.mdp import DEFAULT_FILL, check_mdp
from execution.sim.policy import policy_strategy


def fine_tune_base(
    conn: Any, settings: Settings, symbol: str, agent: str, mdp: str = "pace"
) -> tuple[registry.ModelRecord | None, str]:
    """The model a fine-tune of ``agent`` on ``mdp`` for ``symbol`` starts from (verified), and a sentence why."""
    current = registry.champion(conn, symbol)
    if current is not None and (current.agent, current.mdp) == (agent, mdp):
        base, which = current, "the champion"
    else:
        former = [
            m
            for m in registry.list_models(conn, symbol)
            if (m.agent, m.mdp) == (agent, mdp) and m.promoted_at is not None
        ]
        if not former:
            held = "no champion" if current is None else f"the champion is a {current.agent} {current.mdp}-MDP model"
            return None, f"no {agent} {mdp}-MDP model of {symbol} was ever champion ({held}): trained from scratch"
        base, which = former[-1], "the latest former champion of this agent"
    try:
        verify_artifact(settings, base)
    except ModelLoadError as exc:
        registry.record_event(conn, symbol, "load_failed", str(exc), base.model_id, {"as": "fine-tune base"})
        return None, f"cannot fine-tune from model {base.model_id} ({exc}): trained from scratch"
    return base, f"fine-tuned from model {base.model_id} ({which})"


def training_summary(run: TrainingRun) -> dict[str, Any]:
    last = run.episode_rewards[-min(len(run.episode_rewards), 100) :]
    return {
        "episodes": run.episodes,
        "timesteps": run.timesteps,
        "wall_s": round(run.wall_s, 3),
        "steps_per_s": round(run.steps_per_s, 1),
        "seed": run.seed,
        "mdp": run.mdp,
        "reward": run.reward,
        "fill": run.fill,
        "train_days": run.train_days,
        "mean_reward_last_100": float(np.mean(last)) if last else None,
        "mean_steps": float(np.mean(run.episode_steps)) if run.episode_steps else None,
    }


class SavedModel(NamedTuple):
    """Where a trained model was saved."""

    artifact: Path  # the model artifact (.zip)
    curve: Path  # the learning curve CSV beside it
    sha256: str  # of the artifact


def _training_inputs(
    settings: Settings, symbol: str, agent: str, window: tuple[date, date], fine_tune: bool, mdp: str
) -> tuple[MarketData, registry.ModelRecord | None, str, int]:
    """The training window's market data, the fine-tune base (None: from scratch) and why, and a reserved model id."""
    with connection(settings) as conn:
        market = load(conn, symbol, *window, settings.order)
        scratch = (None, "trained from scratch")
        base, base_note = fine_tune_base(conn, settings, symbol, agent, mdp) if fine_tune else scratch
        model_id = registry.reserve_model_id(conn)
    return market, base, base_note, model_id


def save_outputs(settings: Settings, symbol: str, agent: str, model_id: int, run: TrainingRun) -> SavedModel:
    """Save the trained model's artifact and, beside it, its learning curve (per-episode rewards and steps)."""
    artifact, curve = artifact_paths(settings, symbol, agent, model_id)
    sha256 = save_artifact(run.model, artifact)
    write_learning_curve(curve, run.episode_rewards, run.episode_steps)
    return SavedModel(artifact, curve, sha256)


def register_candidate(
    conn: Any,
    settings: Settings,
    summary: dict[str, Any],
    run: TrainingRun,
    saved: SavedModel,
    train_start: date,
    train_end: date,
) -> None:
    """Register the model ``summary`` describes (``candidate``) with its per-episode rewards and steps.

    The model id, agent, symbol and parent come from ``summary``; the rows go to ``models`` and ``training_episodes``.
    """
    model_id = summary["model_id"]
    registry.register(
        conn,
        model_id=model_id,
        agent=summary["agent"],
        symbol=summary["symbol"],
        train_start=train_start,
        train_end=train_end,
        train_days=run.train_days,
        episodes=run.episodes,
        timesteps=run.timesteps,
        seed=run.seed,
        reward=run.reward,
        fill=run.fill,
        mdp=run.mdp,
        symbols=summary.get("symbols"),
        envelope=run.envelope.as_json(),
        hyperparameters=run.hyperparameters,
        order=settings.order,
        artifact_path=relative_artifact_path(settings, saved.artifact),
        sha256=saved.sha256,
        curve_path=relative_artifact_path(settings, saved.curve),
        wall_s=run.wall_s,
        parent_model_id=summary["parent_model_id"],
    )
    registry.record_episodes(conn, model_id, run.episode_rewards, run.episode_steps)


def retrain(
    settings: Settings,
    symbol: str,
    agent: str,
    train_start: date,
    train_end: date,
    episodes: int | None = None,
    seed: int | None = None,
    *,
    mdp: str = "pace",
    reward: str | None = None,
    fill: str | None = None,
    fine_tune: bool = False,
    progress: bool | None = False,
    rule: PromotionRule | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``agent`` on ``symbol`` over ``train_start..train_end``, register, evaluate, promote; a JSON summary.

    ``mdp`` defaults to the production MDP (``pace``); the seed experiment passes ``"seed"``. ``reward``
    and ``fill`` default to the MDP's (:data:`execution.sim.mdp.DEFAULT_REWARD`, ``DEFAULT_FILL``).
    """
    fill = fill or DEFAULT_FILL[check_mdp(mdp)]
    rule = rule or load_rule(settings)
    window = (train_start, train_end)
    market, base, base_note, model_id = _training_inputs(settings, symbol, agent, window, fine_tune, mdp)
    base_path = None if base is None else artifact_file(settings, base.artifact_path)
    run = train_agent(
        agent,
        market,
        settings.order,
        episodes=episodes,
        mdp=mdp,
        reward=reward,
        fill=fill,
        seed=seed,
        init_from=base_path,
        progress=progress,
        overrides=overrides,
    )
    saved = save_outputs(settings, symbol, agent, model_id, run)

    summary: dict[str, Any] = {
        "model_id": model_id,
        "agent": agent,
        "symbol": symbol,
        "train_start": train_start.isoformat(),
        "train_end": train_end.isoformat(),
        **training_summary(run),
        "artifact": str(saved.artifact),
        "sha256": saved.sha256,
        "learning_curve_csv": str(saved.curve),
        "parent_model_id": None if base is None else base.model_id,
        "fine_tune": base_note if fine_tune else None,
    }
    with connection(settings) as conn:
        register_candidate(conn, settings, summary, run, saved, train_start, train_end)
        conn.commit()
        summary.update(_validate_and_promote(conn, settings, model_id, run, rule, train_start, train_end))
    return summary


def _validation_market(
    conn: Any, settings: Settings, symbol: str, train_start: date, train_end: date
) -> tuple[ValidationWindow | None, MarketData | None, str | None]:
    """The validation window of the model and its market data; without them, why validation is skipped."""
    window = validation_window(conn, settings, symbol, train_start, train_end)
    if window is None:
        return None, None, f"no published bars to validate {symbol} on (configured window nor after {train_end})"
    try:
        return window, load(conn, symbol, window.start, window.end, settings.order), None
    except ValueError as exc:
        return window, None, f"validation window {window.start}..{window.end} unusable: {exc}"


def _validate_and_promote(
    conn: Any,
    settings: Settings,
    model_id: int,
    run: TrainingRun,
    rule: PromotionRule,
    train_start: date,
    train_end: date,
) -> dict[str, Any]:
    """Evaluate the registered ``model_id`` and apply the rule (in ``conn``'s transaction, under the symbol lock)."""
    symbol, order = registry.get(conn, model_id).symbol, settings.order
    window, market, skip_reason = _validation_market(conn, settings, symbol, train_start, train_end)
    if market is None:
        registry.set_validation(conn, model_id, None, None, {"skipped": skip_reason})
        registry.record_event(conn, symbol, "kept_candidate", skip_reason, model_id)
        return {"validation": None, "status": "candidate", "decision": {"promote": False, "reason": skip_reason}}

    registry.lock_symbol(conn, symbol)
    has_champion = registry.champion(conn, symbol) is not None
    resolution = resolve_champion(conn, settings, symbol, order, record_fallback=has_champion)
    label = "champion" if resolution.source == "champion" else resolution.source
    challenger = policy_strategy(run.model, run.mdp)
    incumbent = None if resolution.policy is None else resolution.schedule()
    decision, metrics = evaluate(market, order, challenger, incumbent, rule, rule.fill or run.fill, label)
    metrics["window"] = {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "source": window.source,
        "note": window.note,
    }
    metrics["incumbent"] = {"model_id": resolution.model_id, "source": resolution.source, "reasons": resolution.reasons}
    registry.set_validation(conn, model_id, window.start, window.end, metrics)
    registry.record_event(conn, symbol, "evaluated", decision.reason, model_id, {"window": metrics["window"]})
    if decision.promote:
        registry.promote(conn, model_id, decision.reason)
    else:
        registry.record_event(conn, symbol, "kept_candidate", decision.reason, model_id)
    return {
        "validation": {**metrics["window"], "days": metrics["days"], "fill": metrics["decision_fill"]},
        "incumbent": metrics["incumbent"],
        "vs_twap_seed": metrics["vs_twap_seed"],
        "vs_champion": metrics["vs_champion"],
        "decision": metrics["decision"],
        "status": "champion" if decision.promote else "candidate",
    }


def summary_row(summary: dict[str, Any]) -> dict[str, Any]:
    """The line a retrain summary is reported as: symbol, agent, model, status, advantage over twap_seed, why."""
    vs_twap = summary.get("vs_twap_seed") or {}
    return {
        "symbol": summary["symbol"],
        "agent": summary["agent"],
        "model_id": summary["model_id"],
        "status": summary["status"],
        "advantage_over_twap_bps": vs_twap.get("mean_bps"),
        "ci_low_bps": vs_twap.get("ci_low_bps"),
        "ci_high_bps": vs_twap.get("ci_high_bps"),
        "reason": (summary.get("decision") or {}).get("reason"),
    }
