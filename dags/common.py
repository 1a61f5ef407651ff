"""Small helpers shared by the DAG files (dags/ only): defaults, the failure callback, run settings.

Nothing here fetches, validates or stores bars -- that is ``execution/``'s job. What lives here
is orchestration glue:

* :data:`BARS_ASSET`, the Airflow Asset updated whenever bars are published (downstream DAGs
  such as the reports DAG schedule on it);
* :func:`default_args` / :func:`fetch_retry_args`, the task defaults (fetch retries with
  exponential back-off, only for errors a retry can cure);
* :func:`log_task_failure`, the ``on_failure_callback`` that logs the failed symbol-day and the
  failed expectations parsed from the exception;
* :func:`run_settings` and :func:`run_day`: which settings, symbols, source and trading day a
  DAG run works on (DAG param > Airflow Variable > ``execution.config.load_settings()``).

Heavy imports (pandas, exchange_calendars, the ``execution`` package) happen inside functions so
that parsing the DAG folder stays fast.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import Asset, ExceptionRetryPolicy, RetryAction, RetryRule

if TYPE_CHECKING:
    from execution.config import Settings

log = logging.getLogger("nse_dags")

EXCHANGE_TZ = pendulum.timezone("Asia/Kolkata")

#: Published, validated 1-minute bars (table ``bars_1m``). Every successful publish of a
#: (symbol, day) emits an event on it with ``extra = {"symbol", "day", "published", "unchanged"}``.
BARS_ASSET = Asset(name="nse_bars_1m", uri="x-nse-exec://bars_1m", group="nse")

#: Airflow connection that receives failure alerts (http/webhook or smtp/email); optional.
ALERT_CONNECTION_ID = "nse_alerts"

#: Airflow Variables that override the configured settings (a DAG param overrides them in turn).
VARIABLE_SOURCE = "nse_source"
VARIABLE_SYMBOLS = "nse_symbols"
VARIABLE_SOURCE_PATH = "nse_source_path"

#: Keys a task adds to its context so that the map-index label and the failure callback can
#: name the symbol-day it was working on.
CONTEXT_SYMBOL = "nse_symbol"
CONTEXT_DAY = "nse_day"

#: Errors a retry can cure: the source could not deliver at all (network, credentials, missing
#: folder) or the database was unreachable. Anything else (a bug, bad input) fails at once.
RETRYABLE_ERRORS = [
    "execution.data.sources.base.SourceError",
    "execution.db.DatabaseUnavailable",
    "psycopg2.OperationalError",
]


def default_args() -> dict[str, Any]:
    """Defaults of every task: no retries (fetch adds its own), failures logged by the callback."""
    return {
        "owner": "data-eng",
        "retries": 0,
        "on_failure_callback": log_task_failure,
    }


def fetch_retry_args(
    retries: int = 4,
    first_delay: timedelta = timedelta(minutes=1),
    backoff: float = 2.0,
    max_delay: timedelta = timedelta(minutes=20),
) -> dict[str, Any]:
    """Task arguments for fetching: ``retries`` tries after the first, delays 1, 2, 4, 8... min.

    Only :data:`RETRYABLE_ERRORS` are retried; other exceptions fail the task immediately.
    """
    policy = ExceptionRetryPolicy(
        rules=[
            RetryRule(
                exception=list(RETRYABLE_ERRORS),
                action=RetryAction.RETRY,
                reason="source or database unavailable; retrying with back-off",
            )
        ],
        default=RetryAction.FAIL,
    )
    return {
        "retries": retries,
        "retry_delay": first_delay,
        "retry_exponential_backoff": backoff,
        "max_retry_delay": max_delay,
        "retry_policy": policy,
    }


# --------------------------------------------------------------------------- run settings


def _param(context: Any, name: str) -> Any:
    params = context.get("params") or {}
    value = params.get(name)
    return None if value in ("", [], None) else value


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def run_settings(context: Any) -> Settings:
    """Settings of this DAG run: ``load_settings()`` with source and symbols overridden.

    Priority, highest first: the DAG params ``source`` / ``symbols``, the Airflow Variables
    ``nse_source`` / ``nse_symbols`` (comma-separated), then ``EXEC_SOURCE`` / ``EXEC_SYMBOLS``
    and the config file as read by :func:`execution.config.load_settings`.
    """
    from execution.config import load_settings, split_symbols

    settings = load_settings()
    source = _param(context, "source") or _variable(VARIABLE_SOURCE)
    symbols = _param(context, "symbols") or _variable(VARIABLE_SYMBOLS)
    return settings.with_overrides(source=source, symbols=split_symbols(symbols) if symbols else None)


def source_path(context: Any) -> str | None:
    """Folder or file the source reads (landing sources), from param ``source_path`` or Variable."""
    return _param(context, "source_path") or _variable(VARIABLE_SOURCE_PATH)


def run_day(context: Any) -> date:
    """The NSE trading day a DAG run processes.

    The DAG uses a cron *trigger* timetable (Airflow 3 default semantics): the run for trading day
    D fires at 16:00 IST on D, and its logical date is that instant, so the processed day is the
    exchange-time (Asia/Kolkata) calendar date of the logical date. A manual run without a logical
    date uses its ``run_after``; the DAG param ``day`` (YYYY-MM-DD) overrides both.
    """
    override = _param(context, "day")
    if override:
        return date.fromisoformat(str(override))
    stamp = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(stamp).in_timezone(EXCHANGE_TZ).date()


def session_closed(day: date, now: datetime) -> bool:
    """True once ``day``'s regular session has ended (15:30 IST) at the instant ``now`` (tz-aware)."""
    from execution.data.exchange_calendar import SESSION_CLOSE

    close = pendulum.datetime(day.year, day.month, day.day, SESSION_CLOSE.hour, SESSION_CLOSE.minute, tz=EXCHANGE_TZ)
    return now >= close


def days_of(result: dict[str, Any]) -> str:
    """The day(s) of an ingest result (``{"days": [{"day": ...}, ...]}``), comma-separated."""
    return ",".join(str(d["day"]) for d in result.get("days", ()))


def label_task(context: Any, symbol: str, day: str) -> None:
    """Record the symbol-day a mapped task works on (its map-index label and the failure log)."""
    context[CONTEXT_SYMBOL] = symbol
    context[CONTEXT_DAY] = day


# --------------------------------------------------------------------------- failure callback


@dataclass(frozen=True)
class FailedDay:
    """One (symbol, day) named by a failure: the expectations it failed, or why it could not be fetched."""

    symbol: str | None
    day: str | None
    expectations: tuple[str, ...] = ()
    fetch_error: str | None = None


# The message of execution.data.ingest.DaysQuarantined: "; "-joined parts, each either
# "SYMBOL YYYY-MM-DD: quarantined, failed name1, name2" or "SYMBOL YYYY-MM-DD: fetch failed: why".
_QUARANTINED = re.compile(r"(?P<symbol>[A-Z0-9&._-]+) (?P<day>\d{4}-\d{2}-\d{2}): quarantined, failed (?P<names>[^;]*)")
_FETCH_FAILED = re.compile(r"(?P<symbol>[A-Z0-9&._-]+) (?P<day>\d{4}-\d{2}-\d{2}): fetch failed: (?P<error>[^;]*)")


def failed_days(exc: BaseException | str | None, symbol: str | None = None, day: str | None = None) -> list[FailedDay]:
    """The symbol-days a failure names, with the expectations each failed (parsed from the message).

    Understands the message of ``execution.data.ingest.DaysQuarantined``; any other failure is
    attributed to the task's own ``symbol`` and ``day`` (from its context) with no expectations.
    """
    message = "" if exc is None else str(exc)
    found = [
        FailedDay(m["symbol"], m["day"], tuple(n.strip() for n in m["names"].split(",") if n.strip()))
        for m in _QUARANTINED.finditer(message)
    ]
    found += [FailedDay(m["symbol"], m["day"], fetch_error=m["error"].strip()) for m in _FETCH_FAILED.finditer(message)]
    return found or [FailedDay(symbol, day)]


def describe_failure(context: Any) -> list[str]:
    """One log line per symbol-day of a failed task (what :func:`log_task_failure` logs)."""
    ti = context.get("ti") or context.get("task_instance")
    where = f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} (run {context.get('run_id', '?')})"
    exc = context.get("exception")
    symbol = context.get(CONTEXT_SYMBOL) or getattr(ti, "rendered_map_index", None)
    lines = []
    for failed in failed_days(exc, symbol, context.get(CONTEXT_DAY)):
        symbol_day = f"{failed.symbol or '?'} {failed.day or '?'}"
        if failed.expectations:
            lines.append(f"{where}: {symbol_day} quarantined; failed expectations: {', '.join(failed.expectations)}")
        elif failed.fetch_error:
            lines.append(f"{where}: {symbol_day} not fetched: {failed.fetch_error}")
        else:
            error = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)
            lines.append(f"{where}: failed for {symbol_day}: {error.strip()[:1000]}")
    return lines


def log_task_failure(context: Any) -> None:
    """``on_failure_callback``: log each failed symbol-day and its failed expectations at ERROR,
    then alert the Airflow connection ``nse_alerts`` (webhook or e-mail) when it exists."""
    lines = describe_failure(context)
    for line in lines:
        log.error("%s", line)
    send_failure_alert(context, lines)


def send_failure_alert(context: Any, lines: list[str]) -> bool:
    """Send ``lines`` to the ``nse_alerts`` connection, if one is defined; never raises."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    from execution.ops.alerts import send_alert, target_from_connection

    try:
        conn = Connection.get(ALERT_CONNECTION_ID)
    except AirflowNotFoundException:
        log.debug("no %s connection: failure not sent anywhere but the log", ALERT_CONNECTION_ID)
        return False
    except Exception as exc:  # a callback must not fail the callback machinery
        log.warning("cannot read the %s connection: %s", ALERT_CONNECTION_ID, exc)
        return False
    ti = context.get("ti") or context.get("task_instance")
    subject = f"[nse-execution] {getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} failed"
    try:
        target = target_from_connection(
            conn.conn_type, conn.host, conn.port, conn.schema, conn.login, conn.password, conn.extra_dejson
        )
        send_alert(target, subject, lines)
    except Exception as exc:
        log.warning("alert to %s not sent: %s", ALERT_CONNECTION_ID, exc)
        return False
    log.info("alert sent to %s (%s)", ALERT_CONNECTION_ID, target.kind)
    return True
