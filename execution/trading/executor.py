"""The intraday executor: one parent order worked decision by decision on the bars as they close.

At decision ``k`` (exchange time ``t_k = start + k * tau``, session minute ``j_k``) the executor reads
today's bars that have closed (:mod:`execution.data.live`), builds the market as known then
(:class:`~execution.trading.live_market.LiveMarket`: minutes from ``j_k`` on are NaN), steps the
strategy's one-slot batch to decision ``k`` (:class:`~execution.trading.decisions.DecisionBatch`), and
sends the child to the broker. After the ``N``-th decision whatever is left goes out as the forced
market order at ``start + T`` (decision index ``N``), as in the simulator.

**Restart safety.** All state is in the database (:mod:`execution.trading.ledger`); an executor holds
nothing a new one could not rebuild:

1. a decision is written first (``child_orders``, status ``pending``; ``skipped`` for 0 lots), in a
   transaction that locks the order's ``order_executions`` row and refuses when the order was
   cancelled -- ``UNIQUE (order_id, decision_index)`` makes a second write of the same decision
   impossible;
2. then it is sent, and its broker id recorded (``sent``);
3. fills are recorded when the broker reports them (``filled`` ...), idempotently.

A process killed anywhere in between resumes with :meth:`OrderExecutor.advance`: a ``pending`` child is
first looked up at the broker by its tag (Kite) and sent only if the broker has not got it (the paper
broker sends nothing anywhere, so sending again is harmless), ``sent`` children are polled, and the
next decision is the first index without a row, its state rebuilt by stepping the recorded actions
again. No decision index is ever sent twice; a killed and re-run day ends in the same rows as an
uninterrupted one. One process works an order at a time (a session-level advisory lock).

The executor never sleeps: :meth:`OrderExecutor.advance` does what is due at ``now`` and says when to
come back (:class:`Progress`); the caller waits (the CLI's clock, or an Airflow deferral).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from execution.config import Settings
from execution.data.exchange_calendar import BARS_PER_SESSION
from execution.data.live import LiveBars
from execution.db import connect
from execution.models.champion import PolicyCache
from execution.sim.episode import decision_minutes
from execution.trading import ledger
from execution.trading.brokers.base import Broker, Market, OrderRejected
from execution.trading.decisions import DecisionBatch, OrderStrategy, pinned_strategy, resolve_strategy_for
from execution.trading.ledger import ChildOrder, OrderExecution
from execution.trading.live_market import LiveMarket, bar_start
from execution.trading.orders import ParentOrder
from execution.trading.schedules import planned_times

log = logging.getLogger(__name__)

FORCED_REASON = "forced order at the horizon: what is left"


class OrderBusy(ValueError):
    """Another process is working the order right now (a user error: the CLI says so in one line)."""


@dataclass(frozen=True)
class Progress:
    """Where an order stands after :meth:`OrderExecutor.advance`."""

    order_id: int
    status: str  # waiting | done | cancelled | stopped
    next_due: datetime | None = None  # waiting: when to call advance() again (exchange time)
    decisions: int = 0  # decisions this executor has taken so far

    @property
    def finished(self) -> bool:
        """Nothing more to do for this order."""
        return self.status in ("done", "cancelled")


class OrderExecutor:
    """Works one parent order (see the module docstring). Close it (or use it as a context manager)."""

    def __init__(
        self,
        settings: Settings,
        order: ParentOrder,
        broker: Broker,
        bars: LiveBars,
        *,
        replay: bool = False,
        stop_after: int | None = None,
    ) -> None:
        self.settings, self.order, self.broker, self.bars = settings, order, broker, bars
        self.replay, self.stop_after, self.made = replay, stop_after, 0
        self.params = order.params(settings.order)
        self.lot = self.params.lot_size
        self.times = planned_times(order.trading_day, self.params)  # N + 1 decision times
        self.minutes = decision_minutes(self.params)
        self.grace = timedelta(seconds=settings.execution.bar_grace_seconds)
        self.poll = timedelta(seconds=settings.execution.poll_seconds)
        self.conn = connect(settings)
        if not ledger.try_lock_order(self.conn, order.id):
            self.conn.close()
            raise OrderBusy(f"order #{order.id} is being worked by another process")
        try:
            self._check_execution(ledger.get_execution(self.conn, order.id))
            self.live = LiveMarket(self.conn, order.symbol, order.trading_day, self.params)
            self.conn.commit()
        except BaseException:
            self.close()
            raise
        self.policies = PolicyCache(self.conn, settings)
        self.strategy: OrderStrategy | None = None

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Release the order and the connection."""
        if not self.conn.closed:
            self.conn.rollback()
            ledger.unlock_order(self.conn, self.order.id)
            self.conn.close()

    def __enter__(self) -> OrderExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_execution(self, execution: OrderExecution | None) -> None:
        if execution is None or execution.status == "cancelled" or execution.strategy is None:
            return
        if execution.broker != self.broker.name or execution.fill_model != self.broker.fill_model:
            was = f"{execution.broker}" + (f" ({execution.fill_model} fill)" if execution.fill_model else "")
            now = f"{self.broker.name}" + (f" ({self.broker.fill_model} fill)" if self.broker.fill_model else "")
            raise ValueError(f"order #{self.order.id} is being worked on the {was} broker; it cannot go on on {now}")

    # ------------------------------------------------------------ reading

    def _children(self) -> list[ChildOrder]:
        found = ledger.children(self.conn, self.order.id)
        self.conn.commit()
        return found

    def _execution(self) -> OrderExecution | None:
        found = ledger.get_execution(self.conn, self.order.id)
        self.conn.commit()
        return found

    def _next(self, kids: list[ChildOrder]) -> tuple[int, datetime] | None:
        """The next decision index and when it is due, or None when every decision is taken."""
        n = self.params.intervals
        decided = [c.decision_index for c in kids if c.decision_index < n]
        if decided != list(range(len(decided))):
            raise RuntimeError(f"order #{self.order.id}: decisions {decided} have a gap")
        if sum(c.sent_qty for c in kids) >= self.params.quantity:
            return None
        if len(decided) < n:
            return len(decided), self.times[len(decided)]
        if not any(c.decision_index == n for c in kids):
            return n, self.times[n]
        return None

    def next_due(self) -> datetime | None:
        """When this order next has something to do (None: finished)."""
        execution = self._execution()
        kids = self._children()
        if execution is not None and execution.status == "done":
            return None
        return self._due(kids, execution, self.times[0])

    def _due(self, kids: list[ChildOrder], execution: OrderExecution | None, now: datetime) -> datetime | None:
        cancelled = execution is not None and execution.status == "cancelled"
        following = None if cancelled else self._next(kids)
        if following is not None:
            return following[1]
        open_children = [c for c in kids if c.is_open]
        if not open_children:
            return None
        if not self.broker.needs_market:
            return now + self.poll
        return max(min(c.fill_bar + timedelta(minutes=1) for c in open_children), now)

    # ------------------------------------------------------------ the market

    def _market_now(self, now: datetime) -> Market | None:
        """Today as known at ``now`` (a bar late by more than the grace counts as a hole); None before 09:16."""
        today = self.bars.bars_so_far(self.order.symbol, self.order.trading_day, now)
        if today.empty:
            return None
        visible = self.live.visible_minutes(today)
        while visible < BARS_PER_SESSION and bar_start(self.order.trading_day, visible + 1) + self.grace <= now:
            visible += 1  # bar `visible` closed more than the grace ago and never came: a hole
        return Market(self.live.market(today, visible), visible)

    # ------------------------------------------------------------ deciding

    def _strategy_for(self, market: Any) -> OrderStrategy:
        if self.strategy is not None:
            return self.strategy
        execution = self._execution()
        if execution is not None and execution.strategy is not None:
            self.strategy = pinned_strategy(
                self.conn, self.settings, execution.strategy, execution.model_id, execution.mdp, execution.reason,
                self.params,
            )  # fmt: skip
        else:
            self.strategy = resolve_strategy_for(
                self.conn, self.settings, self.order, self.params, market, self.policies
            )
            ledger.start_execution(
                self.conn,
                OrderExecution(
                    self.order.id, self.broker.name, self.broker.fill_model, self.replay, self.strategy.label,
                    self.strategy.model_id, self.strategy.mdp, self.strategy.reason, "working",
                ),
            )  # fmt: skip
            log.info("order #%s %s: worked by %s (%s)", self.order.id, self.order.symbol, self.strategy.label,
                     self.strategy.reason)  # fmt: skip
        self.conn.commit()
        return self.strategy

    def _decision_values(self, k: int, kids: list[ChildOrder], now: datetime) -> dict[str, Any] | None:
        """The row of decision ``k < N`` (None: its bars are late, wait)."""
        j = int(self.minutes[k])
        today = self.bars.bars_so_far(self.order.symbol, self.order.trading_day, now)
        visible = self.live.visible_minutes(today)
        reason = None
        if visible < j:
            if now < self.times[k] + self.grace:
                return None
            reason = f"{j - visible} bar(s) before the decision had not arrived: filled with the last close"
            log.warning("order #%s decision %s: %s", self.order.id, k, reason)
        market = self.live.market(today, j)
        strategy = self._strategy_for(market)
        batch = DecisionBatch(strategy, market, self.params)
        batch.replay([(c.action, c.sent_qty // self.lot) for c in kids if c.decision_index < k])
        decision = batch.decide()
        order_type = self.broker.order_type()
        last_close = float(market.close[0, j - 1])
        return {
            "decision_index": k,
            "action": decision.action,
            "intended_qty": decision.intended_lots * self.lot,
            "sent_qty": decision.lots * self.lot,
            "strategy": strategy.label,
            "model_id": strategy.model_id,
            "reason": reason,
            "order_type": order_type,
            "limit_price": self.broker.limit_price(self.order.side, last_close, self.order.trading_day),
        }

    def _forced_values(self, kids: list[ChildOrder]) -> dict[str, Any]:
        left = self.params.quantity - sum(c.sent_qty for c in kids)
        strategy = self.strategy.label if self.strategy else (kids[0].strategy if kids else "twap_seed")
        model_id = self.strategy.model_id if self.strategy else (kids[0].model_id if kids else None)
        return {
            "decision_index": self.params.intervals,
            "action": None,
            "intended_qty": left,
            "sent_qty": left,
            "strategy": strategy,
            "model_id": model_id,
            "reason": FORCED_REASON,
            "order_type": "MARKET",  # the horizon is reached: whatever is left must go
            "limit_price": None,
        }

    def _claim(self, values: dict[str, Any]) -> ChildOrder | None:
        """Write the decision (``pending``) unless the order was cancelled; None when cancelled."""
        k = values["decision_index"]
        values = {
            **values,
            "order_id": self.order.id,
            "decision_time": self.times[k],
            "fill_bar": bar_start(self.order.trading_day, int(self.minutes[k])),
            "broker": self.broker.name,
            "status": "pending" if values["sent_qty"] > 0 else "skipped",
            "broker_order_id": None,
            "status_detail": None,
        }
        try:
            execution = ledger.get_execution(self.conn, self.order.id, for_update=True)
            if execution is not None and execution.status == "cancelled":
                self.conn.rollback()
                return None
            child = ledger.insert_child(self.conn, values)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        if child is None:
            raise RuntimeError(f"order #{self.order.id}: decision {k} was already written by another process")
        self.made += 1
        return child

    def _take(self, k: int, kids: list[ChildOrder], now: datetime) -> str:
        """Take decision ``k`` and send its child: ``made``, ``late`` (bars not there yet) or ``cancelled``."""
        if k < self.params.intervals:
            values = self._decision_values(k, kids, now)
            if values is None:
                return "late"
        else:
            values = self._forced_values(kids)
        child = self._claim(values)
        if child is None:
            return "cancelled"
        when = self.times[k].strftime("%H:%M")
        log.info(
            "order #%s %s %s: decision %d/%d at %s: %d shares%s",
            self.order.id, self.order.symbol, self.order.side, k, self.params.intervals, when, child.sent_qty,
            f" ({child.reason})" if child.reason else "",
        )  # fmt: skip
        self._send(child)
        return "made"

    # ------------------------------------------------------------ sending and settling

    def _send(self, child: ChildOrder, *, resuming: bool = False) -> None:
        if child.status != "pending":
            return
        broker_id = self.broker.find(child) if resuming else None
        if broker_id is None:
            try:
                broker_id = self.broker.send(child, self.order.symbol, self.order.side)
            except OrderRejected as exc:
                ledger.settle_child(self.conn, child, "rejected", str(exc), [])
                self.conn.commit()
                log.error("order #%s decision %s rejected: %s", self.order.id, child.decision_index, exc)
                return
        ledger.mark_sent(self.conn, child.id, broker_id)
        self.conn.commit()

    def _settle(self, now: datetime) -> None:
        """Send the decisions written but not sent (after a crash); record what the broker reports of the others."""
        market: Market | None = None
        for child in self._children():
            if child.status == "pending":
                self._send(child, resuming=True)
        for child in self._children():
            if child.status != "sent":
                continue
            if self.broker.needs_market and market is None:
                market = self._market_now(now)
            report = self.broker.poll(child, self.order.side, market)
            if report.final:
                ledger.settle_child(self.conn, child, report.status, report.detail, report.fills)
                self.conn.commit()

    # ------------------------------------------------------------ the step

    def advance(self, now: datetime) -> Progress:
        """Do everything due by ``now`` (exchange time, tz-aware); say what is next."""
        execution = self._execution()
        if execution is not None and execution.status == "done":
            return Progress(self.order.id, "done", None, self.made)
        self._settle(now)
        late = None
        while execution is None or execution.status != "cancelled":
            following = self._next(self._children())
            if following is None or following[1] > now:
                break
            if self.stop_after is not None and self.made >= self.stop_after:
                return Progress(self.order.id, "stopped", following[1], self.made)
            outcome = self._take(following[0], self._children(), now)
            if outcome == "late":
                late = now + self.poll
                break
            execution = self._execution()
        self._settle(now)
        return self._progress(now, late)

    def _progress(self, now: datetime, late: datetime | None) -> Progress:
        execution = self._execution()
        kids = self._children()
        due = late or self._due(kids, execution, now)
        if due is not None:
            return Progress(self.order.id, "waiting", due, self.made)
        status = "cancelled" if execution is not None and execution.status == "cancelled" else "done"
        ledger.finish_execution(self.conn, self.order.id, status)
        self.conn.commit()
        if status == "done":
            shares = sum(c.sent_qty for c in kids)
            log.info("order #%s %s: done, %d shares in %d child orders", self.order.id, self.order.symbol, shares,
                     sum(1 for c in kids if c.sent_qty))  # fmt: skip
        return Progress(self.order.id, status, None, self.made)
