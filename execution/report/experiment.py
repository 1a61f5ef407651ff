"""The seed's experiment as a report: agents trained on 2018-2019, tested on 2020, against the baselines.

It reports on the models in the registry (it trains nothing). For every configured symbol, agent
(the seed's five, and PPO when trained) and MDP (the seed's, and the pace MDP) it picks the newest
model whose training window ends before the test window (a model trained into the test window is
used only when no other exists, and flagged as not out of sample); a pace-MDP model is shown as
``AGENT·pace``. It shows:

* **the whole test period** (the headline, never a single day), one table per MDP: every agent and
  baseline over every published day of the test window, both fill models, with the mean advantage
  over ``twap_seed`` and its seeded bootstrap 95 % CI (:func:`execution.sim.backtest.run_backtest`,
  aggregated by :func:`execution.sim.metrics.summarize`, per symbol and over all symbols);
* **sim to real**: the same models (trained on the synthetic years) on the real NSE samples
  published from the landing folder (2021), against ``twap_seed`` on the same days;
* **the seed's figures**: average reward per episode and steps per episode of each agent (the
  learning curves recorded at training), the executed price and the inventory over time of each
  agent on the test date (31 Jan 2020) for each symbol, and the DQN-SL state-action map (lots by
  inventory left x time left, :func:`execution.trading.schedules.decision_table`);
* which data it ran on (synthetic or real, and where from) and which agents have no model.
"""

from __future__ import annotations

import csv
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from execution import __version__
from execution.agents.catalog import AGENTS, SEED_AGENTS
from execution.config import OrderParams, Settings
from execution.data.exchange_calendar import trading_days
from execution.data.files import write_text
from execution.data.store import real_days
from execution.db import connection
from execution.json_values import json_safe
from execution.models import registry
from execution.models.artifacts import artifact_file, load_model
from execution.report import charts
from execution.report.common import bar_sources, heat_table, inline_svg, render, write_json
from execution.report.daily import SUMMARY_COLUMNS, replay_charts, replay_strategies
from execution.report.index import write_index
from execution.sim.backtest import run_backtest
from execution.sim.baselines import BASELINES
from execution.sim.fills import FILL_MODELS
from execution.sim.market import load
from execution.sim.mdp import MDPS
from execution.sim.metrics import DEFAULT_BOOTSTRAP, summarize
from execution.sim.policy import Policy, policy_strategy
from execution.trading.schedules import decision_table

log = logging.getLogger(__name__)

SEED_TEST_DAY = date(2020, 1, 31)
EXPERIMENT_NAME = "experiment"
STATE_ACTION_AGENT = "dqn_sl"
CURVE_WINDOW = 20


def strategy_label(agent: str, mdp: str) -> str:
    """How a model of ``agent`` on ``mdp`` is named in the report: ``dqn_sl`` (seed MDP), ``dqn_sl·pace``."""
    return agent if mdp == "seed" else f"{agent}·{mdp}"


def pick_models(conn: Any, settings: Settings, symbols: list[str]) -> tuple[dict, list[dict[str, Any]]]:
    """The model of each (symbol, agent label) to report on, and the seed-MDP (symbol, agent) pairs without one.

    Per MDP: the newest model trained before the test window; else the newest at all, flagged ``in_sample``.
    """
    test_start = settings.windows.test_start
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    missing = []
    for symbol in symbols:
        records = registry.list_models(conn, symbol)
        for mdp in MDPS:
            for agent in AGENTS:
                mine = [r for r in records if (r.agent, r.mdp) == (agent, mdp)]
                clean = [r for r in mine if r.train_end < test_start]
                record = (clean or mine)[-1] if mine else None
                if record is None:
                    if agent in SEED_AGENTS and mdp == "seed":
                        missing.append({"symbol": symbol, "agent": agent})
                    continue
                chosen[(symbol, strategy_label(agent, mdp))] = {"record": record, "in_sample": not clean}
    return chosen, missing


def learning_curve(conn: Any, settings: Settings, record: Any) -> pd.DataFrame:
    """``episode, reward, steps`` of a model: the ``training_episodes`` rows, else the CSV beside the artifact."""
    rows = registry.learning_curve(conn, record.model_id)
    if not rows and record.curve_path:
        path = artifact_file(settings, record.curve_path)
        if path.is_file():
            with path.open() as fh:
                rows = [(int(r["episode"]), float(r["reward"]), int(r["steps"])) for r in csv.DictReader(fh)]
    return pd.DataFrame(rows, columns=["episode", "reward", "steps"])


def _load_policies(settings: Settings, chosen: dict, order: OrderParams) -> tuple[dict, list[dict[str, Any]]]:
    policies, problems = {}, []
    for key, entry in chosen.items():
        try:
            policies[key] = (load_model(settings, entry["record"], order), entry["record"].mdp)
        except ValueError as exc:  # ModelLoadError: missing / corrupt / incompatible artifact
            problems.append({"symbol": key[0], "agent": key[1], "error": str(exc)})
    return policies, problems


def whole_period(
    conn: Any, symbols: list[str], start: date, end: date, order: OrderParams, policies: dict
) -> dict[str, Any]:
    """Every agent and baseline over the published days of ``start..end``: per-day rows and the summary."""
    frames, coverage = [], []
    expected = len(trading_days(start, end))
    for symbol in symbols:
        try:
            market = load(conn, symbol, start, end, order)
        except ValueError as exc:
            coverage.append({"symbol": symbol, "days": 0, "expected": expected, "note": str(exc)})
            continue
        named = [
            *[(agent, policy_strategy(*loaded)) for (sym, agent), loaded in policies.items() if sym == symbol],
            *[(name, BASELINES[name]) for name in BASELINES],
        ]
        frames.append(run_backtest([market], order, named, FILL_MODELS).per_day)
        coverage.append(
            {
                "symbol": symbol,
                "days": market.n_days,
                "expected": expected,
                "first_day": market.day(0),
                "last_day": market.day(market.n_days - 1),
                "note": f"{len(market.dropped_days)} day(s) dropped" if market.dropped_days else "",
            }
        )
    if not frames:
        return {"coverage": coverage, "summary": pd.DataFrame(), "per_day": pd.DataFrame()}
    per_day = pd.concat(frames, ignore_index=True)
    return {"coverage": coverage, "summary": summarize(per_day), "per_day": per_day}


def summary_table(summary: pd.DataFrame, order_of: list[str]) -> list[dict[str, Any]]:
    """One row per (symbol, strategy) with the summary columns of each fill model (page layout)."""
    if summary.empty:
        return []
    rows = []
    symbols = [s for s in dict.fromkeys(summary["symbol"]) if s != "ALL"] + (
        ["ALL"] if "ALL" in set(summary["symbol"]) else []
    )
    for symbol in symbols:
        mine = summary[summary["symbol"] == symbol]
        for strategy in [s for s in order_of if s in set(mine["strategy"])]:
            per_fill = mine[mine["strategy"] == strategy].set_index("fill")
            rows.append(
                {
                    "symbol": symbol,
                    "strategy": strategy,
                    "days": int(per_fill["days"].iloc[0]),
                    "fills": {
                        fill: {k: per_fill.at[fill, k] for k in SUMMARY_COLUMNS}
                        for fill in FILL_MODELS
                        if fill in per_fill.index
                    },
                }
            )
    return rows


def _model_row(symbol: str, agent: str, entry: dict[str, Any], loaded: bool, curve: pd.DataFrame) -> dict[str, Any]:
    """The row of the models table for the model ``entry`` of (``symbol``, ``agent``) and its learning ``curve``."""
    record = entry["record"]
    return {
        "symbol": symbol,
        "agent": agent,
        "model_id": record.model_id,
        "status": record.status,
        "train_start": record.train_start,
        "train_end": record.train_end,
        "train_days": record.train_days,
        "episodes": record.episodes,
        "timesteps": record.timesteps,
        "reward": record.reward,
        "fill": record.fill,
        "seed": record.seed,
        "wall_s": record.wall_s,
        "code_version": record.code_version,
        "sha256": record.sha256,
        "in_sample": entry["in_sample"],
        "loaded": loaded,
        "curve_episodes": len(curve),
        "final_reward_mean": float(curve["reward"].tail(100).mean()) if len(curve) else None,
        "final_steps_mean": float(curve["steps"].tail(100).mean()) if len(curve) else None,
    }


def _models_and_curves(
    conn: Any, settings: Settings, chosen: dict, policies: dict
) -> tuple[list[dict[str, Any]], dict[str, dict[str, pd.DataFrame]]]:
    """The models table (one row per chosen model) and the learning curves by symbol, then agent."""
    models = []
    curves: dict[str, dict[str, pd.DataFrame]] = {}
    for (symbol, agent), entry in chosen.items():
        curve = learning_curve(conn, settings, entry["record"])
        curves.setdefault(symbol, {})[agent] = curve
        models.append(_model_row(symbol, agent, entry, (symbol, agent) in policies, curve))
    return models, curves


REWARD_UNITS = {"seed": "vanilla reward units", "pace": "bps over TWAP, net of tracking risk"}


def _curve_figures(symbol: str, symbol_curves: dict[str, pd.DataFrame], order: OrderParams) -> dict[str, Any]:
    """The seed's learning-curve figures of one symbol, per MDP: reward and steps per episode of each agent."""
    figures: dict[str, Any] = {}
    for mdp in MDPS:
        mine = {label: c for label, c in symbol_curves.items() if _mdp_of(label) == mdp}
        if not mine:
            continue
        suffix = "" if mdp == "seed" else f"_{mdp}"
        figures["reward" + suffix] = inline_svg(
            charts.learning_curves(
                {a: c["reward"].to_numpy() for a, c in mine.items()},
                f"{symbol}, {mdp} MDP: average reward per episode",
                f"Episode reward ({REWARD_UNITS[mdp]})",
                CURVE_WINDOW,
            )
        )
        figures["steps" + suffix] = inline_svg(
            charts.learning_curves(
                {a: c["steps"].to_numpy() for a, c in mine.items()},
                f"{symbol}, {mdp} MDP: steps taken per episode",
                f"Steps per episode (of {order.intervals})",
                CURVE_WINDOW,
            )
        )
    return figures


def _mdp_of(label: str) -> str:
    return label.rpartition("·")[2] if "·" in label else "seed"


def sim_to_real(
    conn: Any, symbols: list[str], order: OrderParams, policies: dict, n_resamples: int = DEFAULT_BOOTSTRAP
) -> dict[str, Any]:
    """The models against twap_seed on each symbol's real published days (sources other than the generator)."""
    frames, coverage = [], []
    for symbol in symbols:
        days = real_days(conn, symbol)
        named = [(label, policy_strategy(*loaded)) for (sym, label), loaded in policies.items() if sym == symbol]
        if not days or not named:
            coverage.append({"symbol": symbol, "days": 0, "note": "no real days" if not days else "no model"})
            continue
        try:
            market = load(conn, symbol, days[0], days[-1], order)
        except ValueError as exc:
            coverage.append({"symbol": symbol, "days": 0, "note": str(exc)})
            continue
        market = market.subset(np.isin(market.days.astype(object), days))
        frames.append(
            run_backtest([market], order, [*named, "twap_seed"], FILL_MODELS, n_resamples=n_resamples).per_day
        )
        coverage.append({"symbol": symbol, "days": market.n_days, "first_day": days[0], "last_day": days[-1]})
    if not frames:
        return {"coverage": coverage, "summary": pd.DataFrame()}
    return {"coverage": coverage, "summary": summarize(pd.concat(frames, ignore_index=True), n_resamples)}


def _replay_test_day(
    conn: Any, symbol: str, test_day: date, order: OrderParams, policies: dict
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The agents and baselines of ``symbol`` replayed on ``test_day`` (or ``{"error": ...}``) and their charts.

    The charts draw the agents and ``twap_seed`` only.
    """
    named = [
        *[(agent, policy_strategy(*loaded)) for (sym, agent), loaded in policies.items() if sym == symbol],
        ("twap_seed", BASELINES["twap_seed"]),
        *[(n, BASELINES[n]) for n in BASELINES if n != "twap_seed"],
    ]
    try:
        replayed = replay_strategies(conn, symbol, test_day, order, named)
    except ValueError as exc:
        return {"error": str(exc)}, {}
    drawn = [name for name, _ in named if name not in BASELINES or name == "twap_seed"]
    return replayed, replay_charts(replayed, order, symbol, {}, only=drawn)


def _state_action_map(
    symbol: str, loaded: tuple[Policy, str], model_id: Any, order: OrderParams
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The DQN-SL state-action map of ``symbol`` (lots by inventory left x time left) and its two figures."""
    policy, mdp = loaded
    table = decision_table(policy, order, mdp=mdp)
    entry = {
        "model_id": model_id,
        "inventory_left_lots": list(table.index),
        "time_left_min": list(table.columns),
        "lots": table.to_numpy(),
    }
    figs = {
        "state_action_heat": heat_table(table.to_numpy(), list(table.index), list(table.columns)),
        "state_action": inline_svg(
            charts.decision_heatmap(
                table.to_numpy(),
                list(table.index),
                list(table.columns),
                f"{symbol}: DQN-SL state–action map (lots sent by inventory left × time left)",
            )
        ),
    }
    return entry, figs


def _per_symbol_figures(
    conn: Any,
    symbols: list[str],
    test_day: date,
    order: OrderParams,
    chosen: dict,
    policies: dict,
    curves: dict[str, dict[str, pd.DataFrame]],
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Per symbol: the seed's figures, the test-day replay and the DQN-SL state-action map (when that model loaded)."""
    figures: dict[str, dict[str, Any]] = {}
    test_days: dict[str, Any] = {}
    state_action: dict[str, Any] = {}
    for symbol in symbols:
        figs = _curve_figures(symbol, curves.get(symbol, {}), order)
        test_days[symbol], replay_figs = _replay_test_day(conn, symbol, test_day, order, policies)
        figs.update(replay_figs)
        loaded = policies.get((symbol, STATE_ACTION_AGENT))
        if loaded is not None:
            model_id = chosen[(symbol, STATE_ACTION_AGENT)]["record"].model_id
            state_action[symbol], map_figs = _state_action_map(symbol, loaded, model_id, order)
            figs.update(map_figs)
        figures[symbol] = figs
    return figures, test_days, state_action


def _label_rank(label: str) -> tuple[int, int]:
    agent = label.partition("·")[0]
    return MDPS.index(_mdp_of(label)), list(AGENTS).index(agent) if agent in AGENTS else len(AGENTS)


def _test_day_metrics(test_days: dict[str, Any]) -> dict[str, Any]:
    """Per symbol, the run id and metrics of the test-day replay, or its error."""
    return {
        symbol: ({"error": r["error"]} if "error" in r else {"run_id": r["run_id"], "metrics": r["metrics"]})
        for symbol, r in test_days.items()
    }


def build_experiment(conn: Any, settings: Settings, symbols: list[str], test_day: date) -> dict[str, Any]:
    """Every number and chart of the experiment report."""
    order = settings.order
    windows = settings.windows
    chosen, missing = pick_models(conn, settings, symbols)
    policies, problems = _load_policies(settings, chosen, order)
    labels = list(dict.fromkeys(label for _, label in sorted(policies, key=lambda k: _label_rank(k[1]))))
    models, curves = _models_and_curves(conn, settings, chosen, policies)

    period = whole_period(conn, symbols, windows.test_start, windows.test_end, order, policies)
    real = sim_to_real(conn, symbols, order, policies)
    figures, test_days, state_action = _per_symbol_figures(conn, symbols, test_day, order, chosen, policies, curves)

    data = {
        "kind": "experiment",
        "generated_at": datetime.now().astimezone(),
        "code_version": __version__,
        "symbols": symbols,
        "windows": {
            "train": [windows.train_start, windows.train_end],
            "validation": [windows.validation_start, windows.validation_end],
            "test": [windows.test_start, windows.test_end],
        },
        "test_day": test_day,
        "order": order.__dict__,
        "data": {
            "test": bar_sources(conn, symbols, windows.test_start, windows.test_end),
            "train": bar_sources(conn, symbols, windows.train_start, windows.train_end),
        },
        "models": models,
        "missing": missing,
        "load_problems": problems,
        "coverage": period["coverage"],
        "summary": period["summary"],
        "sim_to_real": real,
        "test_day_metrics": _test_day_metrics(test_days),
        "state_action": state_action,
    }
    return {
        "data": data,
        "tables": {
            mdp: summary_table(period["summary"], [*[a for a in labels if _mdp_of(a) == mdp], *BASELINES])
            for mdp in MDPS
            if any(_mdp_of(a) == mdp for a in labels) or mdp == "seed"
        },
        "real_table": summary_table(real["summary"], [*labels, "twap_seed"]),
        "figures": figures,
        "test_days": test_days,
    }


def render_experiment_report(
    settings: Settings,
    out_dir: Path | None = None,
    *,
    symbols: list[str] | None = None,
    test_day: date = SEED_TEST_DAY,
) -> Path:
    """Write ``experiment.html`` and ``experiment.json`` into ``out_dir`` (default ``reports_dir/experiment``)."""
    out_dir = Path(out_dir) if out_dir is not None else settings.reports_dir / EXPERIMENT_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    symbols = list(symbols or settings.symbols)
    with connection(settings) as conn:
        built = build_experiment(conn, settings, symbols, test_day)
    html_path = out_dir / f"{EXPERIMENT_NAME}.html"
    json_path = html_path.with_suffix(".json")
    write_json(json_path, json_safe(built["data"]))
    html = render(
        "experiment.html.j2",
        data=built["data"],
        tables=built["tables"],
        real_table=built["real_table"],
        figures=built["figures"],
        test_days=built["test_days"],
        fill_models=FILL_MODELS,
        seed_agents=SEED_AGENTS,
        json_name=json_path.name,
        np=np,
    )
    write_text(html_path, html)
    write_index(out_dir)
    log.info("experiment report: %s", html_path)
    return html_path
