"""The daily report's intraday section: for every order worked intraday, executed vs planned vs TWAP.

For each parent order of day ``D`` with an execution (``order_executions``, :mod:`execution.trading.executor`):

* **executed** -- the fills the broker reported, per decision (``fills`` / ``child_orders``);
* **planned** -- the order's stored plan (``schedules``, the primary strategy), else the plan computed now
  on the same nominal path (:func:`execution.trading.schedules.plan_order`), executed on D's bars;
* **TWAP** -- ``twap_seed`` executed on D's bars;

the plan and TWAP under the fill model the paper broker used (``impact`` for Kite's real fills), so the
three are comparable: average price, shortfall vs arrival and advantage over TWAP in bps (the
backtester's :func:`~execution.sim.metrics.day_metrics` for all three), the child orders on the price
chart, each child's decision and status, and any kill-switch record. Read only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from execution.config import OrderParams, Settings
from execution.models.champion import PolicyCache
from execution.report import charts
from execution.report.common import inline_svg, minute_label, render
from execution.sim.baselines import twap_seed
from execution.sim.episode import decision_minutes, start_minute
from execution.sim.fills import Execution, execute_schedule
from execution.sim.market import MarketData, load
from execution.sim.metrics import day_metrics
from execution.trading import ledger
from execution.trading.orders import ParentOrder, list_orders
from execution.trading.schedules import load_schedules, plan_order

CHART_MARGIN_MIN = 10
NAMES = ("executed", "planned", "twap_seed")


@dataclass
class ExecutedOrders:
    """The section of the daily report: its numbers (JSON) and its HTML (empty when nothing was worked)."""

    data: list[dict[str, Any]]
    html: Any


def fills_execution(fills: Any, params: OrderParams) -> Execution:
    """The fills as the simulator's :class:`Execution`: shares and average price per decision slot (``N + 1``)."""
    qty = np.zeros((1, params.intervals + 1))
    notional = np.zeros_like(qty)
    for row in fills.itertuples():
        qty[0, row.decision_index] += row.quantity
        notional[0, row.decision_index] += row.quantity * row.price
    price = np.where(qty > 0, notional / np.maximum(qty, 1), np.nan)
    steps = np.array([max(int(fills["decision_index"].max()) + 1, 1) if len(fills) else 1])
    return Execution(qty=qty, price=price, minutes=decision_minutes(params), steps=np.minimum(steps, params.intervals))


def planned_lots(conn: Any, settings: Settings, order: ParentOrder) -> tuple[np.ndarray, str]:
    """Lots per decision of the order's plan (stored, else computed now) and where it comes from."""
    rows = load_schedules(conn, order.trading_day)
    rows = rows[(rows["order_id"] == order.id) & rows["is_primary"]].sort_values("interval")
    if len(rows) == order.intervals + 1:
        return rows["planned_lots"].to_numpy()[: order.intervals], f"stored plan ({rows['strategy'].iloc[0]})"
    plan = plan_order(conn, settings, order, PolicyCache(conn, settings))
    return plan.lots[plan.primary][: order.intervals], f"plan computed now ({plan.primary}; no stored schedule)"


def _metrics(market: MarketData, params: OrderParams, execution: Execution) -> dict[str, float]:
    values = day_metrics(market, params, execution)
    keys = ("avg_price", "arrival_price", "shortfall_bps", "child_orders", "completion_min", "peak_participation")
    return {k: float(values[k][0]) for k in keys}


def _fills_of(execution: Execution) -> dict[str, list]:
    done = execution.qty[0] > 0
    return {
        "minute": execution.minutes[done].tolist(),
        "time": [minute_label(m) for m in execution.minutes[done]],
        "qty": execution.qty[0][done].astype(int).tolist(),
        "price": execution.price[0][done].tolist(),
    }


def compare(market: MarketData, params: OrderParams, fills: Any, plan: np.ndarray, fill: str) -> dict[str, Any]:
    """Executed, planned and TWAP on the day's bars: metrics (advantage over TWAP) and fills per name."""
    executions = {
        "executed": fills_execution(fills, params),
        "planned": execute_schedule(market, params, plan[None, :], fill),
        "twap_seed": execute_schedule(market, params, twap_seed(market, params, fill), fill),
    }
    metrics = {name: _metrics(market, params, e) for name, e in executions.items()}
    for m in metrics.values():
        m["advantage_bps"] = metrics["twap_seed"]["shortfall_bps"] - m["shortfall_bps"]
    return {"metrics": metrics, "fills": {name: _fills_of(e) for name, e in executions.items()}}


def _chart(market: MarketData, params: OrderParams, compared: dict[str, Any], title: str) -> str:
    s = start_minute(params)
    end = min(s + params.horizon_min + CHART_MARGIN_MIN, market.close.shape[1] - 1)
    fills = {
        name: (np.array(f["minute"]), np.array(f["price"]), np.array(f["qty"])) for name, f in compared["fills"].items()
    }
    arrival = compared["metrics"]["twap_seed"]["arrival_price"]
    svg = charts.price_with_fills(
        [minute_label(m) for m in range(end + 1)], market.close[0, : end + 1], arrival, fills, title,
        horizon=(s, s + params.horizon_min),
    )  # fmt: skip
    return inline_svg(svg)


def _children(conn: Any, order: ParentOrder, fills: Any) -> list[dict[str, Any]]:
    price = fills.groupby("decision_index")["price"].mean().to_dict() if len(fills) else {}
    return [
        {
            "decision_index": c.decision_index,
            "time": c.decision_time.strftime("%H:%M"),
            "action": c.action,
            "sent_qty": c.sent_qty,
            "status": c.status,
            "fill_price": price.get(c.decision_index),
            "broker_order_id": c.broker_order_id,
            "reason": c.reason or c.status_detail,
        }
        for c in ledger.children(conn, order.id)
        if c.sent_qty > 0
    ]


def order_section(conn: Any, settings: Settings, order: ParentOrder, execution: Any) -> dict[str, Any]:
    """The numbers and the chart of one order worked intraday."""
    params = order.params(settings.order)
    fills = ledger.fills_of(conn, order.id)
    fill = execution.fill_model or "impact"
    section: dict[str, Any] = {
        "order": order.to_json(),
        "order_text": order.describe(),
        "broker": execution.broker,
        "fill_model": fill,
        "replay": execution.replay,
        "status": execution.status,
        "strategy": execution.strategy,
        "model_id": execution.model_id,
        "reason": execution.reason,
        "shares_filled": int(fills["quantity"].sum()) if len(fills) else 0,
        "children": _children(conn, order, fills),
        "cancellations": ledger.cancellations(conn, order.id),
    }
    try:
        market = load(conn, order.symbol, order.trading_day, order.trading_day, params)
        plan, source = planned_lots(conn, settings, order)
    except ValueError as exc:
        section["error"] = f"planned and TWAP not replayed: {exc}"
        return section
    compared = compare(market, params, fills, plan, fill)
    section.update(plan_source=source, metrics=compared["metrics"], fills=compared["fills"])
    title = f"#{order.id} {order.symbol} {order.side}: executed, planned and TWAP child orders ({fill} fill)"
    section["chart"] = _chart(market, params, compared, title)
    return section


def executed_orders(conn: Any, settings: Settings, day: date) -> ExecutedOrders:
    """Every order of ``day`` worked intraday, as report sections (and their HTML)."""
    sections = []
    for order in list_orders(conn, day):
        execution = ledger.get_execution(conn, order.id)
        if execution is None or execution.strategy is None:
            continue  # never worked (or cancelled before its first decision)
        sections.append(order_section(conn, settings, order, execution))
    html = inline_svg(render("intraday.html.j2", sections=sections, day=day)) if sections else inline_svg("")
    data = [{k: v for k, v in s.items() if k != "chart"} for s in sections]
    return ExecutedOrders(data, html)
