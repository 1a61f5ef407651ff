"""Daily NSE 1-minute bars: fetch -> validate -> publish every configured symbol after the close.

**When it runs.** Mon-Fri at 16:00 Asia/Kolkata, 30 minutes after the 15:30 close
(``CronTriggerTimetable("0 16 * * 1-5")``). With Airflow 3's trigger timetable the logical date
of a run *is* its run time, so the run for trading day D has logical date D 16:00 IST and
processes D: the processed day is the exchange-time calendar date of the logical date (the data
interval is the zero-length instant at the logical date). A manual run may name the day with the
``day`` param instead. A day whose session has not closed yet fails; an NSE holiday is skipped.

**Tasks.** ``check_trading_day`` raises ``AirflowSkipException`` on weekends and NSE holidays
(so every downstream task is skipped) and returns the day; ``resolve_symbols`` lists the symbols;
then, mapped over the symbols, ``fetch_bars`` (retried with exponential back-off when the source
or the database is unavailable) -> ``validate_bars`` (Great Expectations) -> ``publish_bars``,
which publishes passed days atomically, quarantines failed ones and emits the ``nse_bars_1m``
Asset whatever was held back (so a healthy symbol's report never waits on another symbol) ->
``check_held_back``, which then fails for a quarantined or unfetched day, so the failure callback
logs the symbol-day and failed expectations. Every task only calls ``execution/``.

**Configuration.** Source: param ``source`` > Variable ``nse_source`` > ``EXEC_SOURCE`` /
config (default ``synthetic``, runs anywhere). Symbols: param ``symbols`` > Variable
``nse_symbols`` > ``EXEC_SYMBOLS`` / config. Folder of a landing source: param or Variable
``source_path``/``nse_source_path``.

**Backfills.** ``catchup`` is off (a new deployment does not replay years); backfill a range with
``airflow backfill create --dag-id nse_daily_bars --from-date 2020-01-01 --to-date 2020-12-31T23:59``
(the scheduler then runs one run per weekday at 16:00 IST, at most ``max_active_runs`` at once;
holidays are skipped by the first task). ``--to-date`` is an instant: a bare date ends at 00:00
and leaves out that day's 16:00 run. Re-running a day is idempotent (unchanged bars stay as they are).
"""

from __future__ import annotations

import logging
import sys
from datetime import date, timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

# The DAG processor puts dags/ on sys.path; a plain DagBag (or a script) does not: make `common` importable.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BARS_ASSET,
    EXCHANGE_TZ,
    days_of,
    default_args,
    fetch_retry_args,
    label_task,
    run_day,
    run_settings,
    session_closed,
    source_path,
)

log = logging.getLogger(__name__)

DAG_ID = "nse_daily_bars"
SCHEDULE_CRON = "0 16 * * 1-5"


@dag(
    dag_id=DAG_ID,
    schedule=CronTriggerTimetable(SCHEDULE_CRON, timezone=EXCHANGE_TZ),
    start_date=pendulum.datetime(2018, 1, 1, tz=EXCHANGE_TZ),
    catchup=False,
    max_active_runs=2,
    max_active_tasks=4,
    dagrun_timeout=timedelta(hours=3),
    default_args=default_args(),
    params={
        "day": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="Trading day YYYY-MM-DD to process (default: the exchange date of the logical date)",
        ),
        "source": Param(None, type=["null", "string"], description="Bar source (default: Variable nse_source)"),
        "symbols": Param(None, type=["null", "array"], description="Symbols (default: Variable nse_symbols)"),
        "source_path": Param(None, type=["null", "string"], description="Folder of a landing source"),
    },
    tags=["nse", "bars", "data-quality"],
    doc_md=__doc__,
)
def nse_daily_bars() -> None:
    """Fetch, validate and publish one NSE trading day of 1-minute bars for every configured symbol."""

    @task
    def check_trading_day() -> str:
        """The trading day this run processes; skip the whole run on weekends and NSE holidays."""
        from execution.data.exchange_calendar import why_not_trading

        context = get_current_context()
        day = run_day(context)
        reason = why_not_trading(day)
        if reason is not None:
            log.info("%s is not an NSE trading day (%s): nothing to fetch, downstream tasks skipped", day, reason)
            raise AirflowSkipException(f"{day} is not an NSE trading day ({reason})")
        if not session_closed(day, pendulum.now("UTC")):
            raise AirflowFailException(f"the {day} session has not closed yet (15:30 IST): run after the close")
        log.info("processing NSE trading day %s", day)
        return day.isoformat()

    @task
    def resolve_symbols() -> list[str]:
        """The symbols to process (param > Variable nse_symbols > settings)."""
        symbols = list(run_settings(get_current_context()).symbols)
        log.info("symbols: %s", ", ".join(symbols))
        return symbols

    @task(map_index_template="{{ nse_symbol }}", **fetch_retry_args())
    def fetch_bars(symbol: str, day: str) -> dict:
        """Fetch the day's bars of one symbol from the configured source into bars_staging."""
        from execution.data.ingest import fetch_and_stage

        context = get_current_context()
        label_task(context, symbol, day)
        settings = run_settings(context)
        the_day = date.fromisoformat(day)
        who = f"airflow:{context['dag'].dag_id}/{context['run_id']}"
        return fetch_and_stage(settings, settings.source, symbol, the_day, the_day, path=source_path(context), who=who)

    @task(map_index_template="{{ nse_symbol }}")
    def validate_bars(staged: dict) -> dict:
        """Run the Great Expectations suite on the staged day(s) of one symbol."""
        from execution.data.ingest import validate_staged

        context = get_current_context()
        label_task(context, staged["symbol"], days_of(staged))
        return validate_staged(run_settings(context), staged)

    @task(map_index_template="{{ nse_symbol }}", outlets=[BARS_ASSET])
    def publish_bars(validated: dict) -> dict:
        """Publish passed days atomically, quarantine failed ones, emit the bars Asset (whatever was held back)."""
        from execution.data.ingest import publish_validated

        context = get_current_context()
        label_task(context, validated["symbol"], days_of(validated))
        published = publish_validated(run_settings(context), validated)
        context["outlet_events"][BARS_ASSET].extra = {
            "symbol": published["symbol"],
            "day": days_of(validated) or ",".join(str(f["day"]) for f in published["failed"]),
            "published": list(published["published"]),
            "unchanged": list(published["unchanged"]),
            "quarantined": [q["day"] for q in published["quarantined"]],
            "failed": [str(f["day"]) for f in published["failed"]],
        }
        return published

    @task(map_index_template="{{ nse_symbol }}")
    def check_held_back(published: dict) -> dict:
        """Fail (after the publish and its Asset event) when a day was quarantined or not fetched, naming each."""
        from execution.data.ingest import raise_if_held_back

        context = get_current_context()
        label_task(context, published["symbol"], ",".join([*published["published"], *published["unchanged"]]))
        return raise_if_held_back(published)

    day = check_trading_day()
    symbols = resolve_symbols()
    day >> symbols
    staged = fetch_bars.partial(day=day).expand(symbol=symbols)
    validated = validate_bars.expand(staged=staged)
    published = publish_bars.expand(validated=validated)
    check_held_back.expand(published=published)


nse_daily_bars()
