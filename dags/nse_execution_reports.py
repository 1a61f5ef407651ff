"""Next-day schedules and the daily execution report, after each publish of the day's bars.

**When it runs.** On the ``nse_bars_1m`` Asset (``schedule=[BARS_ASSET]``): every
``publish_bars`` of ``nse_daily_bars`` emits an event whose extra names the symbol and the
day(s) it published, left unchanged, quarantined or could not fetch. A run reports the days of
its triggering events at once: a healthy symbol's schedules and report never wait for another
symbol's data (a symbol whose day is quarantined or missing is shown so; the run of its later
event rewrites the page). A manual run names the day with the ``day`` param (``{"day": "2020-01-31"}``).

**Tasks.** ``resolve_days`` -> mapped over the days: ``write_next_day_schedules`` (the champion's
plan beside the baselines for every parent order of the *next* trading day,
:func:`execution.trading.schedules.write_schedules`) -> ``render_report`` (the day's HTML + JSON report,
which includes tomorrow's schedule, :func:`execution.report.daily.render_daily_report`). The
report's path and its URL in the Airflow UI (``/nse-reports/...``, served by the plugin) are
logged, returned as XCom (also under the key ``report_url``) and emitted on the
``nse_daily_report`` Asset; the daily DAG run's "Report" tab opens the same page.

**Failing loudly.** An order that could not be planned (its symbol has no published history)
does not stop the other symbols' schedules and report; ``render_report`` fails after writing the
report (``SchedulesIncomplete``), naming each order. When a symbol's champion is registered but
neither it nor the previous champion can be loaded, the library plans and reports with
``twap_seed`` (so the trader has a safe plan), records why in the registry, and raises
``ChampionUnavailable``: the task fails at once (no retry: a retry cannot repair an artifact) and
the failure callback logs it. Other errors (the database restarting) are retried twice.
"""

from __future__ import annotations

import logging
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Asset, ExceptionRetryPolicy, Param, RetryAction, RetryRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

# The DAG processor puts dags/ on sys.path; a plain DagBag (or a script) does not: make `common` importable.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BARS_ASSET, EXCHANGE_TZ, default_args, label_task, run_settings

log = logging.getLogger(__name__)

DAG_ID = "nse_execution_reports"
REPORT_URL_PREFIX = "/nse-reports"
DEFAULT_BASE_URL = "http://localhost:8080"
TASK_TIMEOUT = timedelta(minutes=30)

#: The daily report of a trading day; extra = {"day", "path", "url", "schedule_day"}.
REPORT_ASSET = Asset(name="nse_daily_report", uri="x-nse-exec://reports/daily", group="nse")

#: A champion that cannot be loaded, a day that is not a trading day or has no data: retrying
#: cannot help, fail at once. Anything else (database restarting) follows the task's retries.
REPORT_RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[
                "execution.models.champion.ChampionUnavailable",
                "execution.trading.schedules.SchedulesIncomplete",
                "builtins.ValueError",
            ],
            action=RetryAction.FAIL,
            reason="champion unusable or bad request: a retry cannot help",
        )
    ],
    default=RetryAction.DEFAULT,
)


def days_from_events(extras: list[dict[str, Any]]) -> list[str]:
    """Sorted distinct days named by bars-asset event extras (published + unchanged days, else ``day``)."""
    days: set[str] = set()
    for extra in extras:
        named = list(extra.get("published") or []) + list(extra.get("unchanged") or [])
        if not named and extra.get("day"):
            named = str(extra["day"]).split(",")
        days.update(d.strip() for d in named if d and d.strip())
    return sorted(days)


def report_url(reports_dir: Any, path: Any, base_url: str = DEFAULT_BASE_URL) -> str:
    """URL of a report file in the Airflow UI (the plugin serves ``reports_dir`` at ``/nse-reports/files/``)."""
    from pathlib import Path

    relative = Path(path).resolve().relative_to(Path(reports_dir).resolve()).as_posix()
    return f"{base_url.rstrip('/')}{REPORT_URL_PREFIX}/files/{relative}"


def airflow_base_url() -> str:
    """The API server's public URL (``[api] base_url``), else ``http://localhost:8080``."""
    from airflow.sdk import conf

    return conf.get("api", "base_url", fallback=None) or DEFAULT_BASE_URL


def pending_symbols(settings: Any, day: date) -> list[str]:
    """Configured symbols whose ``day`` is neither published nor quarantined yet (logged, never waited for)."""
    from execution.data.store import active_quarantine, published_days
    from execution.db import connection

    pending = []
    with connection(settings) as conn:
        for symbol in settings.symbols:
            settled = published_days(conn, symbol, day, day) or active_quarantine(conn, symbol, day)
            if not settled:
                pending.append(symbol)
    return pending


@dag(
    dag_id=DAG_ID,
    schedule=[BARS_ASSET],
    start_date=pendulum.datetime(2018, 1, 1, tz=EXCHANGE_TZ),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=2,
    dagrun_timeout=timedelta(hours=2),
    default_args={
        **default_args(),
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_policy": REPORT_RETRY_POLICY,
        "execution_timeout": TASK_TIMEOUT,
    },
    params={
        "day": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="Published trading day to report (default: the days of the triggering bars events)",
        ),
        "symbols": Param(None, type=["null", "array"], description="Symbols (default: Variable nse_symbols)"),
    },
    tags=["nse", "reports"],
    doc_md=__doc__,
)
def nse_execution_reports() -> None:
    """Write the next trading day's schedules and the published day's report."""

    @task(execution_timeout=timedelta(minutes=5))
    def resolve_days() -> list[str]:
        """The published days to report: the ``day`` param, else the triggering events' days that are settled."""
        context = get_current_context()
        manual = (context.get("params") or {}).get("day")
        if manual:
            log.info("reporting %s (day param)", manual)
            return [str(manual)]
        events = list((context.get("triggering_asset_events") or {}).get(BARS_ASSET, []))
        for event in events:
            log.info("triggered by %s/%s: %s", event.source_dag_id, event.source_run_id, dict(event.extra or {}))
        named = days_from_events([dict(event.extra or {}) for event in events])
        if not named:
            raise AirflowSkipException("no day to report: no `day` param and no bars event naming a day")
        settings = run_settings(context)
        for day in named:  # a healthy symbol's report never waits for another symbol's data
            pending = pending_symbols(settings, date.fromisoformat(day))
            if pending:
                missing = ", ".join(pending)
                log.info("%s: %s not published or quarantined yet; shown as missing until their event", day, missing)
        log.info("reporting %s", ", ".join(named))
        return named

    @task(map_index_template="{{ nse_day }}")
    def write_next_day_schedules(day: str) -> dict[str, Any]:
        """Plan every parent order of the trading day after ``day`` (champion beside the baselines)."""
        from execution.data.exchange_calendar import next_trading_day
        from execution.trading.schedules import write_schedules

        context = get_current_context()
        label_task(context, ",".join(run_settings(context).symbols), day)
        schedule_day = next_trading_day(date.fromisoformat(day))
        summary = write_schedules(run_settings(context), schedule_day)
        log.info("schedules of %s (after %s): %d rows in %s", schedule_day, day, summary["rows"], summary["folder"])
        return {
            "day": day,
            "schedule_day": schedule_day.isoformat(),
            "folder": summary["folder"],
            "unplanned": summary["unplanned"],
            "trading_day": summary["trading_day"],
        }

    @task(map_index_template="{{ nse_day }}", outlets=[REPORT_ASSET])
    def render_report(scheduled: dict[str, Any]) -> dict[str, Any]:
        """Render the day's report (HTML + JSON); log, return and emit its path and URL."""
        from execution.report.daily import render_daily_report
        from execution.trading.schedules import raise_if_unplanned

        context = get_current_context()
        settings = run_settings(context)
        day = scheduled["day"]
        label_task(context, ",".join(settings.symbols), day)
        path = render_daily_report(settings, date.fromisoformat(day))
        url = report_url(settings.reports_dir, path, airflow_base_url())
        log.info("daily report of %s: %s", day, path)
        log.info("open it in the Airflow UI: %s", url)
        link = {"day": day, "path": str(path), "url": url, "schedule_day": scheduled["schedule_day"]}
        context["ti"].xcom_push(key="report_url", value=url)
        context["outlet_events"][REPORT_ASSET].extra = link
        raise_if_unplanned(scheduled)  # orders without a plan fail the run loudly, once the report is out
        return link

    days = resolve_days()
    scheduled = write_next_day_schedules.expand(day=days)
    render_report.expand(scheduled=scheduled)


nse_execution_reports()
