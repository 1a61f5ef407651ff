"""The intraday ledger: executions, child orders, fills and cancellations (migration 0010).

Every write is one short transaction that the caller commits (functions take an open connection and
do not commit). The rules that make a restart safe live in the order of the writes
(:mod:`execution.trading.executor`); this module only reads and writes rows:

* a child order is inserted with ``ON CONFLICT (order_id, decision_index) DO NOTHING`` -- the
  idempotency key: a decision index is written once, whoever writes it;
* a fill is inserted with ``ON CONFLICT (child_order_id, broker_fill_id) DO NOTHING``: polling the
  broker again records nothing twice;
* one working process per order: :func:`try_lock_order` takes a session-level advisory lock (released
  when the process's connection ends, also when it is killed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

ORDER_LOCK_CLASS = 74_117_014  # advisory lock class of "an order being worked intraday"
OPEN_STATUSES = ("pending", "sent")
EXECUTION_COLUMNS = (
    "order_id",
    "broker",
    "fill_model",
    "replay",
    "strategy",
    "model_id",
    "mdp",
    "reason",
    "status",
    "started_at",
    "finished_at",
)
CHILD_COLUMNS = (
    "id",
    "order_id",
    "decision_index",
    "decision_time",
    "fill_bar",
    "action",
    "intended_qty",
    "sent_qty",
    "strategy",
    "model_id",
    "reason",
    "broker",
    "order_type",
    "limit_price",
    "broker_order_id",
    "status",
    "status_detail",
    "created_at",
    "sent_at",
)
FILL_COLUMNS = ("id", "child_order_id", "order_id", "quantity", "price", "filled_at", "broker_fill_id", "fill_model")


@dataclass(frozen=True)
class OrderExecution:
    """One row of ``order_executions``: how a parent order is being worked."""

    order_id: int
    broker: str
    fill_model: str | None
    replay: bool
    strategy: str | None
    model_id: int | None
    mdp: str | None
    reason: str | None
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class ChildOrder:
    """One row of ``child_orders``: one decision of a parent order, and what became of it."""

    id: int
    order_id: int
    decision_index: int
    decision_time: datetime
    fill_bar: datetime
    action: int | None
    intended_qty: int
    sent_qty: int
    strategy: str
    model_id: int | None
    reason: str | None
    broker: str
    order_type: str
    limit_price: float | None
    broker_order_id: str | None
    status: str
    status_detail: str | None
    created_at: datetime | None = None
    sent_at: datetime | None = None

    @property
    def tag(self) -> str:
        """The idempotency key as the broker sees it (Kite's ``tag``: at most 20 letters and digits)."""
        return f"nse{self.order_id}d{self.decision_index}"

    @property
    def is_open(self) -> bool:
        """Decided and not yet settled (to send, or sent and waiting for the broker)."""
        return self.status in OPEN_STATUSES


def try_lock_order(conn: Any, order_id: int) -> bool:
    """Take the session-level lock of ``order_id`` (True), or False when another session holds it."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (ORDER_LOCK_CLASS, order_id))
        (locked,) = cur.fetchone()
    conn.commit()
    return bool(locked)


def unlock_order(conn: Any, order_id: int) -> None:
    """Release the lock taken by :func:`try_lock_order`."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s, %s)", (ORDER_LOCK_CLASS, order_id))
    conn.commit()


def get_execution(conn: Any, order_id: int, *, for_update: bool = False) -> OrderExecution | None:
    """The execution row of ``order_id`` (locked for the transaction with ``for_update``), or None."""
    lock = " FOR UPDATE" if for_update else ""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(EXECUTION_COLUMNS)} FROM order_executions WHERE order_id = %s{lock}", (order_id,)
        )
        row = cur.fetchone()
    return None if row is None else OrderExecution(*row)


def start_execution(conn: Any, execution: OrderExecution) -> OrderExecution:
    """Insert the execution row unless one exists; returns the row in force (the first writer's)."""
    values = [getattr(execution, name) for name in EXECUTION_COLUMNS[:9]]
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO order_executions ({', '.join(EXECUTION_COLUMNS[:9])}) VALUES ({', '.join(['%s'] * 9)})"
            " ON CONFLICT (order_id) DO NOTHING",
            values,
        )
    found = get_execution(conn, execution.order_id)
    assert found is not None
    return found


def finish_execution(conn: Any, order_id: int, status: str) -> None:
    """Mark the execution ``done`` or ``cancelled`` (the first time only)."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE order_executions SET status = %s, finished_at = coalesce(finished_at, now()), updated_at = now()"
            " WHERE order_id = %s AND (status = 'working' OR status = %s)",
            (status, order_id, status),
        )


def children(conn: Any, order_id: int) -> list[ChildOrder]:
    """Every child order of ``order_id``, by decision index."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(CHILD_COLUMNS)} FROM child_orders WHERE order_id = %s ORDER BY decision_index",
            (order_id,),
        )
        return [ChildOrder(*row) for row in cur.fetchall()]


def insert_child(conn: Any, values: dict[str, Any]) -> ChildOrder | None:
    """Insert a decision (``values``: the columns of :data:`CHILD_COLUMNS` but id/timestamps); None if it exists."""
    names = [c for c in CHILD_COLUMNS if c not in ("id", "created_at", "sent_at")]
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO child_orders ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
            f" ON CONFLICT (order_id, decision_index) DO NOTHING RETURNING {', '.join(CHILD_COLUMNS)}",
            [values.get(name) for name in names],
        )
        row = cur.fetchone()
    return None if row is None else ChildOrder(*row)


def mark_sent(conn: Any, child_id: int, broker_order_id: str) -> None:
    """The broker accepted the child: its id, status ``sent`` (a settled child keeps its status)."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE child_orders SET broker_order_id = %s, status = 'sent', sent_at = coalesce(sent_at, now()),"
            " updated_at = now() WHERE id = %s AND status = 'pending'",
            (broker_order_id, child_id),
        )


def settle_child(conn: Any, child: ChildOrder, status: str, detail: str | None, fills: list[dict[str, Any]]) -> int:
    """Record the broker's final word on ``child``: its ``fills`` (idempotent) and status; returns fills added."""
    added = 0
    with conn.cursor() as cur:
        for fill in fills:
            cur.execute(
                "INSERT INTO fills (child_order_id, order_id, quantity, price, filled_at, broker_fill_id, fill_model)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (child_order_id, broker_fill_id) DO NOTHING",
                (
                    child.id,
                    child.order_id,
                    fill["quantity"],
                    fill["price"],
                    fill["filled_at"],
                    fill["fill_id"],
                    fill.get("fill_model"),
                ),
            )
            added += cur.rowcount
        cur.execute(
            "UPDATE child_orders SET status = %s, status_detail = %s, updated_at = now() WHERE id = %s",
            (status, detail, child.id),
        )
    return added


def record_cancellation(conn: Any, order_id: int, reason: str, requested_by: str) -> dict[str, Any]:
    """The kill switch: record who stopped ``order_id`` and why; no further child is decided after the commit.

    The execution row is created (or set) ``cancelled`` under its row lock, the lock a decision takes
    before it writes a child, so a decision either committed before this or never happens.
    """
    if not reason or not reason.strip():
        raise ValueError("a cancellation needs a reason (--reason)")
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO order_executions (order_id, broker, status, finished_at)"
            " VALUES (%s, 'paper', 'cancelled', now())"
            " ON CONFLICT (order_id) DO UPDATE SET status = 'cancelled', updated_at = now(),"
            " finished_at = coalesce(order_executions.finished_at, now()) RETURNING (xmax = 0)",
            (order_id,),
        )
        (never_started,) = cur.fetchone()
        cur.execute(
            "SELECT count(*) FILTER (WHERE sent_qty > 0), coalesce(sum(sent_qty), 0) FROM child_orders"
            " WHERE order_id = %s AND status <> 'skipped'",
            (order_id,),
        )
        sent, shares = cur.fetchone()
        cur.execute(
            "INSERT INTO execution_cancellations (order_id, reason, requested_by, children_sent, shares_sent)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id, requested_at",
            (order_id, reason.strip(), requested_by, sent, shares),
        )
        cancel_id, at = cur.fetchone()
    return {
        "id": cancel_id,
        "order_id": order_id,
        "requested_at": at,
        "children_sent": int(sent),
        "shares_sent": int(shares),
        "never_started": bool(never_started),
    }


def cancellations(conn: Any, order_id: int) -> list[dict[str, Any]]:
    """The kill-switch records of ``order_id``, oldest first."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT reason, requested_by, requested_at, children_sent, shares_sent FROM execution_cancellations"
            " WHERE order_id = %s ORDER BY id",
            (order_id,),
        )
        names = ("reason", "requested_by", "requested_at", "children_sent", "shares_sent")
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def fills_of(conn: Any, order_id: int) -> pd.DataFrame:
    """The fills of ``order_id`` with their child's decision index, by fill time."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join('f.' + c for c in FILL_COLUMNS)}, c.decision_index FROM fills f"
            " JOIN child_orders c ON c.id = f.child_order_id WHERE f.order_id = %s ORDER BY f.filled_at, f.id",
            (order_id,),
        )
        return pd.DataFrame(cur.fetchall(), columns=[*FILL_COLUMNS, "decision_index"])
