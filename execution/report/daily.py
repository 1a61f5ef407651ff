"""The daily execution report: one self-contained HTML page per trading day, and a JSON of the same numbers.

For every parent order of day ``D`` (the configured order of each configured symbol when the
day has none), the page shows:

* **the replay of D**: every baseline and the champion executed on the day's published bars
  through the backtester (:func:`execution.sim.backtest.run_backtest` on
  :func:`execution.sim.market.load` -- exactly what ``backtest --start D --end D`` runs), under
  both fill models: average price, shortfall against arrival and advantage over ``twap_seed``
  in bps, child orders, completion, peak participation; the price path with every strategy's
  fills marked and the inventory over time;
* **performance since the champion's promotion**: the champion's daily advantage over TWAP,
  its cumulative sum and the bootstrap 95 % CI of the mean, from the first trading day it served
  (the promotion day; when the promotion is later than ``D`` -- a report on past data -- from the
  first day after the data it was trained and validated on, i.e. its out-of-sample period). Without
  a champion, the baselines over the last 20 trading days;
* **data quality** of the day (the Great Expectations verdict, any quarantine) with links to the
  Data Docs;
* **models in use** with their registry versions, and any fallback with its reason;
* **tomorrow's schedule**: the next trading day's plans (:mod:`execution.trading.schedules`, computed
  when missing), the nominal path they assume and the policy's decision table.

A fallback to ``twap_seed`` is stated on the page. When a registered champion cannot be loaded at
all (not even the previous one), the page and JSON are written and then
:class:`~execution.models.champion.ChampionUnavailable` is raised, so that the reports DAG fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from execution import __version__
from execution.config import OrderParams, Settings
from execution.data.exchange_calendar import next_trading_day, trading_days
from execution.data.files import write_text
from execution.db import connection
from execution.json_values import json_safe
from execution.models.champion import (
    CHAMPION_NAME,
    PolicyCache,
    PolicyChoice,
    raise_if_failed,
)
from execution.report import charts
from execution.report.common import (
    bar_sources,
    data_docs_link,
    heat_table,
    inline_svg,
    minute_label,
    quality_status,
    render,
    write_json,
)
from execution.report.execution import executed_orders
from execution.report.index import write_index
from execution.sim.backtest import METRIC_COLUMNS, run_backtest
from execution.sim.baselines import BASELINES
from execution.sim.episode import start_minute
from execution.sim.fills import FILL_MODELS, IMPACT_ETA, execute_schedule
from execution.sim.market import load, lookback_start
from execution.sim.rewards import DEFAULT_RISK_AVERSION_PER_BPS
from execution.trading.orders import ParentOrder, check_trading_day, list_orders
from execution.trading.schedules import SCHEDULE_BASELINES, load_schedules, read_decision_table

log = logging.getLogger(__name__)

DAILY_PREFIX = "daily-"
TRAILING_DAYS_WITHOUT_CHAMPION = 20
CHART_MARGIN_MIN = 10  # minutes shown after the forced order
SUMMARY_COLUMNS = [
    "days",
    "shortfall_mean_bps",
    "advantage_mean_bps",
    "advantage_median_bps",
    "advantage_ci95_low_bps",
    "advantage_ci95_high_bps",
    "share_beating_twap",
    "gain_loss_ratio",
    "oracle_gap_captured",
]


def daily_report_path(out_dir: Path, day: date) -> Path:
    """``out_dir/daily-YYYY-MM-DD.html``."""
    return Path(out_dir) / f"{DAILY_PREFIX}{day.isoformat()}.html"


@dataclass
class OrderSection:
    """One parent order of the day: its numbers (JSON) and its charts (SVG)."""

    data: dict[str, Any]
    charts: dict[str, Any]


# ---------------------------------------------------------------- the replay of D


def _strategies(choice: PolicyChoice) -> list[tuple[str, Any]]:
    named = [(name, BASELINES[name]) for name in BASELINES]
    if choice.uses_model:
        named.insert(0, (CHAMPION_NAME, choice.schedule()))
    return named


def replay(conn: Any, symbol: str, day: date, order: OrderParams, choice: PolicyChoice) -> dict[str, Any]:
    """Every baseline and the champion on day ``day``: see :func:`replay_strategies`."""
    return replay_strategies(conn, symbol, day, order, _strategies(choice))


def replay_strategies(
    conn: Any, symbol: str, day: date, order: OrderParams, named: list[tuple[str, Any]]
) -> dict[str, Any]:
    """Strategies ``named`` on day ``day`` under both fill models: backtester metrics and per-step fills.

    ``ValueError`` when the day has no usable published bars.
    """
    market = load(conn, symbol, day, day, order)
    result = run_backtest([market], order, named, FILL_MODELS)
    rows = result.per_day
    s = start_minute(order)
    last_minute = s + order.horizon_min
    window_end = min(last_minute + CHART_MARGIN_MIN, market.close.shape[1] - 1)
    fills: dict[str, dict[str, Any]] = {}
    for name, strategy in named:
        fills[name] = {}
        for fill in FILL_MODELS:
            lots = strategy(market, order, fill, eta=IMPACT_ETA, risk_aversion=DEFAULT_RISK_AVERSION_PER_BPS)
            execution = execute_schedule(market, order, lots, fill)
            done = execution.qty[0] > 0
            fills[name][fill] = {
                "minute": execution.minutes[done].tolist(),
                "time": [minute_label(m) for m in execution.minutes[done]],
                "qty": execution.qty[0][done].astype(int).tolist(),
                "price": execution.price[0][done].tolist(),
            }
    metrics: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows.to_dict(orient="records"):
        metrics.setdefault(row["strategy"], {})[row["fill"]] = {k: row[k] for k in METRIC_COLUMNS}
    return {
        "run_id": result.run_id,
        "strategies": [name for name, _ in named],
        "metrics": metrics,
        "per_day": rows,
        "fills": fills,
        "window": {"first_minute": 0, "last_minute": int(window_end), "start_minute": s, "forced_minute": last_minute},
        "closes": market.close[0, : window_end + 1].tolist(),
        "open_price": float(market.open_price[0]),
        "day_high": float(market.high[0, s : last_minute + 1].max()),
        "day_low": float(market.low[0, s : last_minute + 1].min()),
    }


def _inventory_paths(replayed: dict[str, Any], order: OrderParams, fill: str = "seed") -> dict[str, np.ndarray]:
    n = replayed["window"]["last_minute"] + 1
    paths = {}
    for name, per_fill in replayed["fills"].items():
        done = np.zeros(n)
        for minute, qty in zip(per_fill[fill]["minute"], per_fill[fill]["qty"], strict=True):
            if minute < n:
                done[minute] += qty
        paths[name] = order.quantity - np.cumsum(done)
    return paths


def replay_charts(
    replayed: dict[str, Any],
    order: OrderParams,
    symbol: str,
    labels: dict[str, str],
    only: list[str] | None = None,
) -> dict[str, str]:
    """Price path with fills, inventory over time, advantage bars (SVG); ``only`` limits the strategies drawn."""
    window = replayed["window"]
    times = [minute_label(m) for m in range(window["last_minute"] + 1)]
    names = [n for n in replayed["strategies"] if only is None or n in only]
    fills = {
        labels.get(name, name): (
            np.array(replayed["fills"][name]["seed"]["minute"]),
            np.array(replayed["fills"][name]["seed"]["price"]),
            np.array(replayed["fills"][name]["seed"]["qty"]),
        )
        for name in names
    }
    arrival = replayed["metrics"][names[0]]["seed"]["arrival_price"]
    inventory = {labels.get(k, k): v for k, v in _inventory_paths(replayed, order).items() if k in names}
    advantage = {fill: [replayed["metrics"][name][fill]["advantage_bps"] for name in names] for fill in FILL_MODELS}
    return {
        "price": inline_svg(
            charts.price_with_fills(
                times,
                np.array(replayed["closes"]),
                arrival,
                fills,
                f"{symbol}: price path and fills (seed fill: the close of each child's minute)",
                horizon=(window["start_minute"], window["forced_minute"]),
            )
        ),
        "inventory": inline_svg(
            charts.inventory_over_time(times, inventory, f"{symbol}: inventory left ({order.side} {order.quantity:,})")
        ),
        "advantage": inline_svg(
            charts.advantage_bars(
                [labels.get(n, n) for n in names], advantage, f"{symbol}: advantage over twap_seed, both fill models"
            )
        ),
    }


# ---------------------------------------------------------------- since the promotion


def performance_window(choice: PolicyChoice, day: date) -> tuple[date, str]:
    """First day of the champion's track record up to ``day`` and how it was chosen."""
    record = choice.record
    if record is None:
        start = lookback_start(day, TRAILING_DAYS_WITHOUT_CHAMPION - 1)
        return start, f"the last {TRAILING_DAYS_WITHOUT_CHAMPION} trading days (no champion yet)"
    promoted = record.promoted_at.date() if record.promoted_at else None
    if promoted is not None and promoted <= day:
        start = promoted if trading_days(promoted, promoted) else next_trading_day(promoted)
        return start, f"since its promotion on {promoted}"
    start = next_trading_day(record.train_end)
    when = f"on {promoted}, after {day}" if promoted else "not recorded"
    return start, (
        f"out of sample: from the first trading day after its training window ({record.train_end}); "
        f"its promotion ({when}) gives no live record for this day"
    )


def performance(conn: Any, symbol: str, day: date, order: OrderParams, choice: PolicyChoice) -> dict[str, Any]:
    """Daily advantage over TWAP of every strategy (the champion first) from :func:`performance_window` to ``day``."""
    start, how = performance_window(choice, day)
    out: dict[str, Any] = {"start": start, "end": day, "how": how, "days": 0, "focus": None, "table": []}
    if start > day:
        return out
    market = load(conn, symbol, start, day, order)
    named = _strategies(choice)
    result = run_backtest([market], order, named, FILL_MODELS)
    per_day = result.per_day.sort_values("day", kind="stable")
    summary = result.summary[result.summary["symbol"] == symbol]
    series = {
        name: {
            fill: per_day[(per_day["strategy"] == name) & (per_day["fill"] == fill)]["advantage_bps"].tolist()
            for fill in FILL_MODELS
        }
        for name, _ in named
    }
    table = []
    for name, _ in named:
        rows = summary[summary["strategy"] == name].set_index("fill")
        table.append(
            {
                "strategy": name,
                "days": int(rows["days"].iloc[0]),
                "fills": {fill: {k: rows.at[fill, k] for k in SUMMARY_COLUMNS} for fill in FILL_MODELS},
            }
        )
    contenders = [row for row in table if row["strategy"] not in ("twap_seed", "oracle")]
    best = max(contenders, key=lambda row: row["fills"]["seed"]["advantage_mean_bps"])
    out.update(
        days=market.n_days,
        focus=CHAMPION_NAME if choice.uses_model else None,
        best_baseline=None if choice.uses_model else best["strategy"],
        run_id=result.run_id,
        series_days=sorted(per_day["day"].unique().tolist()),
        series=series,
        table=table,
        summary=summary[["strategy", "fill", *SUMMARY_COLUMNS]],
    )
    return out


def performance_chart(perf: dict[str, Any], symbol: str, champion_label: str) -> str:
    """The champion's cumulative advantage (both fills, daily bars), else every baseline's (seed fill)."""
    if perf["focus"] == CHAMPION_NAME:
        series = {f"{champion_label}, {fill} fill": perf["series"][CHAMPION_NAME][fill] for fill in FILL_MODELS}
        colours = {f"{champion_label}, {fill} fill": charts.FILL_COLOURS[fill] for fill in FILL_MODELS}
        title = f"{symbol}: {champion_label}, advantage over twap_seed per day and cumulative"
        return charts.cumulative_advantage(perf["series_days"], series, title, next(iter(series)), colours)
    series = {name: values["seed"] for name, values in perf["series"].items() if name not in ("twap_seed", "oracle")}
    title = f"{symbol}: baselines, cumulative advantage over twap_seed (seed fill)"
    return charts.cumulative_advantage(perf["series_days"], series, title)


# ---------------------------------------------------------------- tomorrow


def tomorrow(conn: Any, settings: Settings, day: date) -> dict[str, Any]:
    """The next trading day's stored schedules, per order, with decision tables (the report never plans).

    Schedules are written before the report (the reports DAG's ``write_next_day_schedules``, or
    ``python -m execution schedule --date D``); when there are none yet, the section says so.
    """
    next_day = next_trading_day(day)
    rows = load_schedules(conn, next_day)
    if rows.empty:
        return {
            "trading_day": next_day,
            "error": f"no schedules written for {next_day} yet (python -m execution schedule --date {next_day})",
            "orders": [],
            "unplanned": [],
        }
    orders = {o.id: o for o in list_orders(conn, next_day)}
    out = []
    for order_id, group in rows.groupby("order_id", sort=True):
        order = orders.get(int(order_id))
        if order is None:
            continue
        params = order.params(settings.order)
        lots = {
            str(name): g.sort_values("interval")["planned_lots"].to_numpy(dtype=int)
            for name, g in group.groupby("strategy", sort=False)
        }
        primary_rows = group[group["is_primary"]]
        primary = str(primary_rows["strategy"].iloc[0]) if len(primary_rows) else CHAMPION_NAME
        order_of = [primary, CHAMPION_NAME, *SCHEDULE_BASELINES]
        names = [n for n in order_of if n in lots] + sorted(n for n in lots if n not in order_of)
        names = list(dict.fromkeys(names))
        primary_plan = group[group["strategy"] == primary].sort_values("interval")
        times = [t.strftime("%H:%M") for t in primary_plan["planned_time"]]
        notes = {str(r["strategy"]): r["note"] for r in group.drop_duplicates("strategy").to_dict(orient="records")}
        model_ids = primary_plan["model_id"].dropna()
        model_id = int(model_ids.iloc[0]) if len(model_ids) else None
        table = read_decision_table(settings, order) if model_id is not None else None
        out.append(
            {
                "order": order,
                "params": params,
                "primary": primary,
                "primary_label": _plan_label(primary, notes.get(primary)),
                "names": names,
                "lots": {n: lots[n] for n in names},
                "times": times,
                "notes": notes,
                "model_id": model_id,
                "nominal_path": str(group["nominal_path"].iloc[0]),
                "decision_table": table,
                "child_orders": [
                    {"time": t, "lots": int(n), "qty": int(n) * order.lot_size, "forced": i == len(times) - 1}
                    for i, (t, n) in enumerate(zip(times, lots[primary], strict=True))
                    if n
                ],
            }
        )
    planned = {entry["order"].id for entry in out}
    unplanned = [o.describe() for o in orders.values() if o.id not in planned]
    return {"trading_day": next_day, "orders": out, "error": None, "unplanned": unplanned}


def _plan_label(name: str, note: str | None) -> str:
    if name == CHAMPION_NAME:
        return note or name
    return f"{name} ({note})" if note else name


def tomorrow_charts(entry: dict[str, Any]) -> dict[str, str]:
    """The planned schedule and the decision table of one order (SVG)."""
    order: ParentOrder = entry["order"]
    out = {
        "plan": inline_svg(
            charts.planned_schedule(
                entry["times"],
                entry["lots"],
                entry["primary"],
                f"{order.symbol} {order.side} {order.quantity:,} on {order.trading_day}: planned lots per interval",
            )
        )
    }
    table = entry["decision_table"]
    if table is not None:
        out["decision"] = inline_svg(
            charts.decision_heatmap(
                table.to_numpy(),
                list(table.index),
                list(table.columns),
                f"{order.symbol}: the policy's decision table (flat price, average volume)",
            )
        )
        out["decision_heat"] = heat_table(table.to_numpy(), list(table.index), list(table.columns))
    return out


# ---------------------------------------------------------------- assembling


def _orders_of(conn: Any, settings: Settings, day: date) -> list[tuple[str, ParentOrder | None, OrderParams]]:
    stored = list_orders(conn, day)
    if stored:
        return [(o.symbol, o, o.params(settings.order)) for o in stored]
    return [(symbol, None, settings.order) for symbol in settings.symbols]


def models_in_use(choices: list[PolicyChoice]) -> list[dict[str, Any]]:
    """One row per symbol: the model serving it (registry version), or twap_seed, and why."""
    rows = []
    for choice in choices:
        record = choice.record
        rows.append(
            {
                "symbol": choice.symbol,
                "used": choice.strategy_label,
                "source": choice.source,
                "note": choice.note,
                "reasons": choice.reasons,
                "registered_champion": None if choice.champion_record is None else choice.champion_record.model_id,
                "model": None if record is None else record.as_json(),
            }
        )
    return rows


def build_daily(conn: Any, settings: Settings, day: date, out_dir: Path) -> tuple[dict[str, Any], PolicyCache]:
    """Every number and chart of the report of ``day`` (``data`` is what the JSON holds)."""
    check_trading_day(day)
    policies = PolicyCache(conn, settings)
    sections = []
    choices: dict[str, PolicyChoice] = {}
    for symbol, order, params in _orders_of(conn, settings, day):
        choice = policies.get(symbol, params)
        choices.setdefault(symbol, choice)
        labels = {CHAMPION_NAME: f"champion ({choice.strategy_label})"}
        section: dict[str, Any] = {
            "symbol": symbol,
            "order": order.to_json() if order else {"id": None, "symbol": symbol, **params.__dict__},
            "order_text": order.describe() if order else _describe_params(symbol, day, params),
            "champion": {"used": choice.strategy_label, "note": choice.note, "source": choice.source},
            "quality": {
                **quality_status(conn, symbol, day),
                "data_docs": data_docs_link(settings, out_dir, symbol, day),
            },
        }
        svgs: dict[str, Any] = {}
        try:
            replayed = replay(conn, symbol, day, params, choice)
        except ValueError as exc:
            section["replay"] = {"error": str(exc)}
        else:
            section["replay"] = replayed
            section["headline"] = headline(replayed, choice)
            svgs.update(replay_charts(replayed, params, symbol, labels))
        try:
            perf = performance(conn, symbol, day, params, choice)
        except ValueError as exc:
            perf = {"error": str(exc), "focus": None, "days": 0, "table": []}  # a symbol without data
        section["performance"] = perf
        if perf.get("series_days"):
            svgs["performance"] = inline_svg(performance_chart(perf, symbol, labels[CHAMPION_NAME]))
        sections.append(OrderSection(section, svgs))
    next_plans = tomorrow(conn, settings, day)
    plan_charts = [tomorrow_charts(entry) for entry in next_plans["orders"]]
    symbols = sorted({s.data["symbol"] for s in sections})
    data = {
        "kind": "daily",
        "trading_day": day,
        "generated_at": datetime.now().astimezone(),
        "code_version": __version__,
        "data": bar_sources(conn, symbols, day, day),
        "orders": [s.data for s in sections],
        "models_in_use": models_in_use(list(choices.values())),
        "tomorrow": next_plans,
    }
    return {"data": data, "sections": sections, "plan_charts": plan_charts}, policies


def _describe_params(symbol: str, day: date, params: OrderParams) -> str:
    return (
        f"{day} {symbol} {params.side} {params.quantity:,} ({params.lots} lots of {params.lot_size}) at "
        f"{params.start_time} over {params.horizon_min} min in {params.intervals} intervals (configured order)"
    )


def headline(replayed: dict[str, Any], choice: PolicyChoice) -> dict[str, Any]:
    """The numbers at the top: the champion's (or twap_seed's) shortfall and advantage, the day's best strategy."""
    metrics = replayed["metrics"]
    used = CHAMPION_NAME if choice.uses_model else "twap_seed"
    best = {}
    for fill in FILL_MODELS:
        candidates = {n: m[fill]["advantage_bps"] for n, m in metrics.items() if n != "oracle"}
        name = max(candidates, key=candidates.get)
        best[fill] = {"strategy": name, "advantage_bps": candidates[name]}
    return {
        "strategy": used,
        "label": choice.strategy_label,
        "shortfall_bps": {fill: metrics[used][fill]["shortfall_bps"] for fill in FILL_MODELS},
        "advantage_bps": {fill: metrics[used][fill]["advantage_bps"] for fill in FILL_MODELS},
        "avg_price": {fill: metrics[used][fill]["avg_price"] for fill in FILL_MODELS},
        "oracle_gap_bps": {fill: metrics["oracle"][fill]["oracle_gap_bps"] for fill in FILL_MODELS},
        "best": best,
    }


def _json_payload(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON document: frames as records, decision tables as lists, orders as dicts."""
    payload = dict(data)
    payload["orders"] = []
    for section in data["orders"]:
        section = dict(section)
        if "replay" in section and "per_day" in section["replay"]:
            section["replay"] = {k: v for k, v in section["replay"].items() if k != "closes"}
        perf = dict(section["performance"])
        perf.pop("table", None)  # the same numbers as "summary", nested for the page
        section["performance"] = perf
        payload["orders"].append(section)
    plans = dict(data["tomorrow"])
    plans["orders"] = [
        {
            "order": entry["order"].to_json(),
            "primary": entry["primary"],
            "planned_times": entry["times"],
            "lots": entry["lots"],
            "notes": entry["notes"],
            "model_id": entry["model_id"],
            "nominal_path": entry["nominal_path"],
            "child_orders": entry["child_orders"],
            "decision_table": None
            if entry["decision_table"] is None
            else {
                "inventory_left_lots": list(entry["decision_table"].index),
                "time_left_min": list(entry["decision_table"].columns),
                "lots": entry["decision_table"].to_numpy(),
            },
        }
        for entry in data["tomorrow"]["orders"]
    ]
    payload["tomorrow"] = plans
    return json_safe(payload)


def render_daily_report(settings: Settings, day: date, out_dir: Path | None = None, *, strict: bool = True) -> Path:
    """Write ``daily-D.html`` and ``daily-D.json`` into ``out_dir`` (default ``reports_dir/daily``), refresh the index.

    Returns the HTML path. ``ValueError`` when ``day`` is not a trading day. With ``strict``
    (default), :class:`ChampionUnavailable` is raised after writing when a registered champion
    could not be loaded at all (the page says so and used twap_seed).
    """
    out_dir = Path(out_dir) if out_dir is not None else settings.reports_dir / "daily"
    out_dir.mkdir(parents=True, exist_ok=True)
    with connection(settings) as conn:
        built, policies = build_daily(conn, settings, day, out_dir)
        executed = executed_orders(conn, settings, day)  # orders worked intraday: execution/report/execution.py
    html_path = daily_report_path(out_dir, day)
    json_path = html_path.with_suffix(".json")
    payload = {**_json_payload(built["data"]), "executed_intraday": executed.data}
    write_json(json_path, payload)
    html = render(
        "daily.html.j2",
        data=built["data"],
        sections=built["sections"],
        plan_charts=built["plan_charts"],
        json_name=json_path.name,
        fill_models=FILL_MODELS,
        champion=CHAMPION_NAME,
        frame_records=_frame_records,
        executed_html=executed.html,
    )
    write_text(html_path, html)
    write_index(out_dir)
    log.info("daily report of %s: %s", day, html_path)
    if strict:
        raise_if_failed(policies, f"daily report {html_path}")
    return html_path


def _frame_records(frame: pd.DataFrame | list) -> list[dict[str, Any]]:
    if isinstance(frame, pd.DataFrame):
        return frame.to_dict(orient="records")
    return list(frame)
