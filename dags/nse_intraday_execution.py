"""Intraday execution: every parent order of the day worked decision by decision, on the paper broker by default.

**When it runs.** Mon-Fri at 09:00 Asia/Kolkata (``CronTriggerTimetable("0 9 * * 1-5")``), before the
first decisions; the run whose logical date is D 09:00 IST works trading day D (NSE holidays: skipped).
A manual run names the day with the ``day`` param; ``replay`` (with ``speed``) works a stored day as if
live -- ``{"day": "2020-01-31", "replay": true, "speed": 0}`` runs straight through.

**Tasks.** ``list_orders`` (the day's parent orders; the configured ones for a day without any) ->
``execute_order``, mapped: one task instance per order. Each calls
:func:`execution.trading.intraday.run_order`, which does what is due (decide, send, record fills) and
says when to come back; the task then **defers** to the triggerer with a ``DateTimeTrigger`` until the
next decision (real time, or the replay's instant at ``speed``), so no worker slot is held between
decisions. Every rule is in the library; this file only waits.

**Retries resume.** A retry (or a cleared task) calls the library again, which resumes from the database:
decisions already written are never sent again (``child_orders`` is unique per order and decision
index), a decision written but not sent is looked up at the broker first. ``execute cancel ORDER``
(the kill switch) makes the order's task finish at its next wake-up.
"""

from __future__ import annotations

import logging
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator, CronTriggerTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

# The DAG processor puts dags/ on sys.path; a plain DagBag (or a script) does not: make `common` importable.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import EXCHANGE_TZ, default_args, label_task, run_day, run_settings

log = logging.getLogger(__name__)

DAG_ID = "nse_intraday_execution"
SCHEDULE_CRON = "0 9 * * 1-5"
SESSION_TIMEOUT = timedelta(hours=8)  # a whole session, waits included


def execute_options(context: Any, day: date) -> Any:
    """The library's options of this run, from its params (broker, replay, speed, live source)."""
    from execution.trading.intraday import ExecuteOptions

    params = context.get("params") or {}
    return ExecuteOptions(
        day=day,
        broker=params.get("broker") or None,
        replay=bool(params.get("replay")),
        speed=float(params.get("speed") or 0.0),
        source=params.get("source") or "kite",
        path=params.get("source_path") or None,
    )


class IntradayOrderOperator(BaseOperator):
    """Works one order: calls the library, defers until it has something to do again."""

    template_fields = ("order_id",)

    def __init__(self, *, order_id: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order_id = order_id

    def execute(self, context: Any) -> dict[str, Any]:
        """First call (and every retry): resume the order from the database."""
        return self.work(context, None)

    def resume(self, context: Any, event: Any = None, replay_now: str | None = None) -> dict[str, Any]:
        """After a deferral: the next decision is due."""
        return self.work(context, replay_now)

    def work(self, context: Any, replay_now: str | None) -> dict[str, Any]:
        """Do what is due; defer until the next instant, or return the order's summary when it is finished."""
        from execution.db import connection
        from execution.trading.intraday import order_summary, run_order
        from execution.trading.orders import list_orders

        day = run_day(context)
        label_task(context, f"#{self.order_id}", day.isoformat())
        settings = run_settings(context)
        resume_at = datetime.fromisoformat(replay_now) if replay_now else None
        run = run_order(settings, int(self.order_id), execute_options(context, day), resume_at)
        if run.resume_at is not None:
            log.info("order #%s: waiting until %s", self.order_id, run.progress.next_due)
            kwargs = {"replay_now": run.replay_now.isoformat()} if run.replay_now else {}
            self.defer(trigger=DateTimeTrigger(moment=run.resume_at), method_name="resume", kwargs=kwargs)
        with connection(settings) as conn:
            order = next(o for o in list_orders(conn, day) if o.id == int(self.order_id))
            summary = order_summary(conn, order, run.progress)
        log.info("order #%s %s: %s, %s shares filled at %s", order.id, order.symbol, summary["status"],
                 summary["shares_filled"], summary["avg_price"])  # fmt: skip
        return summary


@dag(
    dag_id=DAG_ID,
    schedule=CronTriggerTimetable(SCHEDULE_CRON, timezone=EXCHANGE_TZ),
    start_date=pendulum.datetime(2018, 1, 1, tz=EXCHANGE_TZ),  # before any day a replay may name
    catchup=False,
    max_active_runs=1,
    max_active_tasks=16,
    dagrun_timeout=timedelta(hours=10),
    default_args={
        **default_args(),
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": SESSION_TIMEOUT,
    },
    params={
        "day": Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}-\d{2}$", description="Trading day"),
        "broker": Param(None, type=["null", "string"], enum=[None, "paper", "kite"], description="Default: paper"),
        "replay": Param(False, type="boolean", description="Replay the day's stored bars as if live"),
        "speed": Param(0, type="number", minimum=0, description="Replay speed (0: as fast as possible)"),
        "source": Param(None, type=["null", "string"], enum=[None, "kite", "landing"], description="Live bars"),
        "source_path": Param(None, type=["null", "string"], description="Landing folder of the live bars"),
        "symbols": Param(None, type=["null", "array"], description="Symbols of a day without orders"),
    },
    tags=["nse", "execution"],
    doc_md=__doc__,
)
def nse_intraday_execution() -> None:
    """List the day's orders, then work each one (mapped, deferrable)."""

    @task(execution_timeout=timedelta(minutes=5))
    def list_orders() -> list[int]:
        """Ids of the day's parent orders (the configured ones for a day without any); skipped on a holiday."""
        from execution.data.exchange_calendar import why_not_trading
        from execution.db import connection
        from execution.trading.orders import ensure_default_orders

        context = get_current_context()
        day = run_day(context)
        holiday = why_not_trading(day)
        if holiday:
            raise AirflowSkipException(f"{day} is not an NSE trading day: {holiday}")
        with connection(run_settings(context)) as conn:
            orders = ensure_default_orders(conn, run_settings(context), day)
        for order in orders:
            log.info("order %s", order.describe())
        return [order.id for order in orders]

    IntradayOrderOperator.partial(task_id="execute_order", map_index_template="{{ nse_symbol }}").expand(
        order_id=list_orders()
    )


nse_intraday_execution()
