"""Which trading day an Airflow DAG run worked on, so that its page can link to that day's report.

The daily DAGs process the exchange-time (Asia/Kolkata) date of a run's logical date (its
``run_after`` when it has none), unless the run was triggered with ``{"day": "YYYY-MM-DD"}`` --
the same rule as ``dags/common.py:run_day``. Read from Airflow's metadata database (this runs in
the API server).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

EXCHANGE_TZ = ZoneInfo("Asia/Kolkata")


def day_of_run_fields(
    conf: dict[str, Any] | None, logical_date: datetime | None, run_after: datetime | None
) -> date | None:
    """The trading day of a run from its conf, logical date and run_after (None when none is known)."""
    override = (conf or {}).get("day")
    if isinstance(override, str) and override:
        try:
            return date.fromisoformat(override)
        except ValueError:
            pass
    stamp = logical_date or run_after
    if stamp is None:
        return None
    return stamp.astimezone(EXCHANGE_TZ).date()


def day_of_run(dag_id: str, run_id: str) -> date | None:
    """The trading day the run ``run_id`` of ``dag_id`` processed; None for an unknown run."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is None:
            return None
        return day_of_run_fields(run.conf, run.logical_date, run.run_after)
