"""Helpers of the intraday tests: published history, tiny trained models, the backtester's answer, the rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np

from execution.config import ExecutionParams, OrderParams, Settings
from execution.data import store
from execution.data.sources.synthetic import SyntheticSource
from execution.db import connect
from execution.models import registry
from execution.models.strategies import resolve_strategy
from execution.sim.fills import execute_schedule
from execution.sim.market import load

DAY = date(2020, 1, 31)  # a Friday; the replayed day
HISTORY_START = date(2019, 12, 2)
TRAIN = (date(2019, 12, 2), date(2019, 12, 31))


def fresh_world(symbols: tuple[str, ...]) -> Settings:
    """The session's settings, with an emptied database holding only ``symbols``' published bars."""
    from conftest import truncate_all

    from execution.config import load_settings

    settings = load_settings()
    conn = connect(settings)
    truncate_all(conn)
    conn.close()
    publish(settings, symbols)
    return settings


def publish(settings: Settings, symbols: tuple[str, ...], start: date = HISTORY_START, end: date = DAY) -> None:
    """Synthetic bars of ``symbols`` staged and published (no validation run: the generator's bars are clean)."""
    conn = connect(settings)
    try:
        for symbol in symbols:
            bars = SyntheticSource(seed=7).fetch(symbol, start, end).bars
            run_id = store.start_run(conn, "synthetic", [symbol], start, end, "test", {})
            store.publish(conn, store.stage(conn, run_id, "synthetic", bars))
        conn.commit()
    finally:
        conn.close()


def promote(settings: Settings, model_id: int) -> None:
    """Make ``model_id`` the champion of its symbol (``*`` for a universal model)."""
    conn = connect(settings)
    try:
        if registry.get(conn, model_id).status != "champion":
            registry.promote(conn, model_id, "test: the champion")
        conn.commit()
    finally:
        conn.close()


def with_fill(settings: Settings, fill: str, **execution: Any) -> Settings:
    """``settings`` whose paper broker fills with ``fill``."""
    return replace(settings, execution=ExecutionParams(fill=fill, **execution))


def clear_intraday(conn: Any, *, orders: bool = False) -> None:
    """Forget every execution (and, with ``orders``, every parent order)."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM execution_cancellations; DELETE FROM order_executions; DELETE FROM child_orders")
        if orders:
            cur.execute("DELETE FROM schedules; DELETE FROM orders")
    conn.commit()


def backtest_of(
    settings: Settings, conn: Any, symbol: str, params: OrderParams, strategy: str, fill: str
) -> tuple[np.ndarray, float]:
    """What the backtester does with ``strategy`` on DAY: shares per slot (``N + 1``) and the average price."""
    market = load(conn, symbol, DAY, DAY, params)
    lots = resolve_strategy(strategy, settings)(market, params, fill)
    execution = execute_schedule(market, params, lots, fill)
    return execution.qty[0].astype(int), float(execution.avg_price[0])


def executed_of(conn: Any, order_id: int, intervals: int) -> tuple[np.ndarray, float, list[int]]:
    """Shares filled per decision slot, their average price, and every decision index written."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.decision_index, coalesce(sum(f.quantity), 0), sum(f.quantity * f.price)"
            " FROM child_orders c LEFT JOIN fills f ON f.child_order_id = c.id WHERE c.order_id = %s"
            " GROUP BY c.decision_index ORDER BY 1",
            (order_id,),
        )
        rows = cur.fetchall()
        cur.execute("SELECT decision_index FROM child_orders WHERE order_id = %s ORDER BY 1", (order_id,))
        indexes = [r[0] for r in cur.fetchall()]
    conn.commit()
    qty = np.zeros(intervals + 1, dtype=int)
    notional = 0.0
    for k, q, value in rows:
        qty[k] = int(q)
        notional += float(value or 0.0)
    return qty, notional / max(qty.sum(), 1), indexes
