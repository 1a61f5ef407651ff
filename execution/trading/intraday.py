"""Intraday execution of a trading day's orders: what ``execute`` and the ``nse_intraday_execution`` DAG call.

* :func:`execute_day` -- every order of the day (or some), interleaved on one clock: the wall clock of
  a live session, or a stored day replayed ``speed`` times faster (``--replay --speed 0``: as fast as
  it goes). The broker is built first, so a refused ``kite`` stops everything before anything is
  recorded.
* :func:`run_order` -- one order, until it has to wait (the DAG defers the wait to the triggerer) or
  is finished; in a replay at speed 0 it never waits.
* :func:`cancel_order` -- the kill switch.
* :func:`order_summary` -- children, shares and average price of an order's execution, from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from execution.config import Settings
from execution.data.audit import current_actor
from execution.data.exchange_calendar import EXCHANGE_TZ
from execution.data.live import LiveBars, live_bars
from execution.db import connection
from execution.trading import ledger
from execution.trading.brokers import Broker, make_broker
from execution.trading.clock import ReplayClock, WallClock
from execution.trading.executor import OrderExecutor, Progress
from execution.trading.orders import ParentOrder, check_trading_day, ensure_default_orders, list_orders

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecuteOptions:
    """How a day is executed (the ``execute`` command's options)."""

    day: date
    order_ids: tuple[int, ...] | None = None  # None: every order of the day (the configured ones if none)
    broker: str | None = None  # None: [execution] broker
    replay: bool = False  # the day's stored bars, as if live
    speed: float = 0.0  # replay only: times real time (0 = as fast as possible)
    stop_after: int | None = None  # stop each order after this many decisions (then resume with a new run)
    source: str = "kite"  # live bars (not a replay): kite or landing
    path: str | None = None  # the landing folder

    def check(self) -> None:
        """``ValueError`` for options that do not go together."""
        if self.speed < 0:
            raise ValueError(f"--speed must be >= 0, not {self.speed}")
        if not self.replay and self.speed:
            raise ValueError("--speed is for --replay: a live session runs in real time")
        if self.stop_after is not None and self.stop_after < 0:
            raise ValueError(f"--stop-after-decisions must be >= 0, not {self.stop_after}")
        if not self.replay and self.day < datetime.now(EXCHANGE_TZ).date():
            raise ValueError(f"{self.day} is over: execute a past day with --replay")


@dataclass(frozen=True)
class OrderRun:
    """What :func:`run_order` left: the order's progress and, when it waits, the real instant to come back."""

    progress: Progress
    resume_at: datetime | None  # real time (UTC or exchange), for a deferral
    replay_now: datetime | None  # the replay's instant to resume at (a replay's clock is not the wall clock)


def day_orders(conn: Any, settings: Settings, day: date, order_ids: tuple[int, ...] | None) -> list[ParentOrder]:
    """The orders to execute: those named (``ValueError`` for one not of ``day``), else every order of the day."""
    check_trading_day(day)
    if not order_ids:
        return ensure_default_orders(conn, settings, day)
    found = {o.id: o for o in list_orders(conn, day)}
    missing = [i for i in order_ids if i not in found]
    if missing:
        raise ValueError(f"no order {', '.join(f'#{i}' for i in missing)} on {day} (orders list --date {day})")
    return [found[i] for i in order_ids]


def _bars(settings: Settings, options: ExecuteOptions) -> LiveBars:
    return live_bars("replay" if options.replay else options.source, settings, options.path)


def _executors(settings: Settings, options: ExecuteOptions, broker: Broker) -> list[OrderExecutor]:
    with connection(settings) as conn:
        orders = day_orders(conn, settings, options.day, options.order_ids)
    bars = _bars(settings, options)
    executors: list[OrderExecutor] = []
    try:
        for order in orders:
            executors.append(
                OrderExecutor(settings, order, broker, bars, replay=options.replay, stop_after=options.stop_after)
            )
    except BaseException:
        for executor in executors:
            executor.close()
        raise
    return executors


def execute_day(
    settings: Settings,
    options: ExecuteOptions,
    say: Callable[[str], None] = log.info,
    *,
    broker: Broker | None = None,
) -> list[dict[str, Any]]:
    """Work the orders of ``options.day`` until each is done, cancelled or stopped; one summary per order.

    ``broker``: an already built broker (default: ``options.broker``, else the configured one, built first --
    a refused broker stops everything before anything is recorded).
    """
    options.check()
    broker = broker or make_broker(options.broker or settings.execution.broker, settings)
    executors = _executors(settings, options, broker)
    try:
        due = {e.order.id: e.next_due() for e in executors}
        active = [e for e in executors if due[e.order.id] is not None]
        starts = [d for d in due.values() if d is not None]
        clock = ReplayClock(min(starts), options.speed) if options.replay and starts else WallClock()
        mode = f"replay at speed {options.speed:g}" if options.replay else "live"
        say(f"{options.day}: {len(executors)} order(s), {len(active)} to work, {broker.name} broker, {mode}")
        outcome: dict[int, Progress] = {}
        while active:
            now = clock.now()
            for executor in list(active):
                outcome[executor.order.id] = progress = executor.advance(now)
                if progress.status != "waiting":
                    active.remove(executor)
            if active:
                clock.sleep_until(min(outcome[e.order.id].next_due for e in active))
        with connection(settings) as conn:
            return [order_summary(conn, e.order, outcome.get(e.order.id)) for e in executors]
    finally:
        for executor in executors:
            executor.close()


def run_order(
    settings: Settings, order_id: int, options: ExecuteOptions, replay_now: datetime | None = None
) -> OrderRun:
    """Work one order until it must wait (returned with the instant to come back) or stops; see the module doc."""
    options.check()
    executor = _executors(settings, ExecuteOptions(**{**options.__dict__, "order_ids": (order_id,)}),
                          make_broker(options.broker or settings.execution.broker, settings))[0]  # fmt: skip
    with executor:
        start = replay_now or executor.next_due() or datetime.now(EXCHANGE_TZ)
        clock = ReplayClock(start, options.speed) if options.replay else WallClock()
        while True:
            progress = executor.advance(clock.now())
            if progress.status != "waiting" or progress.next_due is None:
                return OrderRun(progress, None, None)
            if options.replay and options.speed == 0:
                clock.sleep_until(progress.next_due)
                continue
            replay_next = progress.next_due if options.replay else None
            return OrderRun(progress, clock.wall_time(progress.next_due), replay_next)


def order_summary(conn: Any, order: ParentOrder, progress: Progress | None = None) -> dict[str, Any]:
    """Children, shares and the average fill price of ``order``'s execution, from the database."""
    kids = ledger.children(conn, order.id)
    fills = ledger.fills_of(conn, order.id)
    execution = ledger.get_execution(conn, order.id)
    filled = int(fills["quantity"].sum()) if len(fills) else 0
    avg = float((fills["quantity"] * fills["price"]).sum() / filled) if filled else None
    return {
        "order_id": order.id,
        "symbol": order.symbol,
        "side": order.side,
        "quantity": order.quantity,
        "status": progress.status if progress is not None else (execution.status if execution else "not started"),
        "strategy": execution.strategy if execution else None,
        "decisions": sum(1 for c in kids if c.decision_index < order.intervals),
        "children_sent": sum(1 for c in kids if c.sent_qty > 0),
        "shares_sent": sum(c.sent_qty for c in kids),
        "shares_filled": filled,
        "avg_price": avg,
    }


def cancel_order(settings: Settings, order_id: int, reason: str, by: str | None = None) -> dict[str, Any]:
    """The kill switch: no further child of ``order_id`` is decided; who and why are recorded."""
    actor = current_actor(by)
    with connection(settings) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM orders WHERE id = %s", (order_id,))
            if cur.fetchone() is None:
                raise ValueError(f"no order #{order_id}")
        recorded = ledger.record_cancellation(conn, order_id, reason, actor.label)
    log.warning("order #%s cancelled by %s: %s", order_id, actor.label, reason)
    return {**recorded, "requested_by": actor.label, "reason": reason.strip()}
