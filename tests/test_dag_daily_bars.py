"""The daily bars DAG: it imports, has the promised shape, and runs end to end with ``dag.test()``."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from airflow_support import (
    DAGS_FOLDER,
    asset_event_extras,
    configure_airflow_env,
    migrate_airflow_db,
    rendered_map_indexes,
    task_states,
)

configure_airflow_env()  # no-op under tests/conftest.py; lets the module run on its own too

import pendulum  # noqa: E402
import pytest  # noqa: E402

DAG_ID = "nse_daily_bars"
SYMBOLS = ("RELIANCE", "SAIL")  # the default symbols of execution.config
MAPPED_TASKS = ("fetch_bars", "validate_bars", "publish_bars", "check_held_back")


@pytest.fixture(scope="module")
def dag(dag_bag):
    """The nse_daily_bars DAG object."""
    return dag_bag.dags[DAG_ID]


@pytest.fixture(scope="module")
def common(dag_bag):
    """dags/common.py, as the DAG file imports it (the DAG folder is on sys.path once parsed)."""
    assert str(DAGS_FOLDER) in sys.path
    import common as module

    return module


# --------------------------------------------------------------------------- import and shape


def test_dag_folder_imports_without_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert {"nse_daily_bars", "nse_weekly_retrain", "nse_execution_reports"} <= set(dag_bag.dags)


def test_tasks_and_dependencies(dag):
    assert set(dag.task_ids) == {"check_trading_day", "resolve_symbols", *MAPPED_TASKS}
    upstream = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert upstream == {
        "check_trading_day": set(),
        "resolve_symbols": {"check_trading_day"},
        "fetch_bars": {"check_trading_day", "resolve_symbols"},
        "validate_bars": {"fetch_bars"},
        "publish_bars": {"validate_bars"},
        "check_held_back": {"publish_bars"},
    }


def test_symbol_tasks_are_mapped_over_the_resolved_symbols(dag):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    for task_id in MAPPED_TASKS:
        assert isinstance(dag.get_task(task_id), MappedOperator), task_id
    assert not isinstance(dag.get_task("check_trading_day"), MappedOperator)
    fetch = dag.get_task("fetch_bars")
    # fetch is expanded over "symbol" (resolve_symbols' list) with "day" shared by every instance
    assert set(fetch._get_specified_expand_input().value) == {"symbol"}
    assert "day" in fetch.partial_kwargs["op_kwargs"]


def test_schedule_is_weekdays_at_16_00_in_kolkata(dag):
    from airflow.sdk import CronTriggerTimetable

    timetable = dag.timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert timetable.expression == "0 16 * * 1-5"
    assert str(timetable.timezone.name) == "Asia/Kolkata"
    assert dag.catchup is False
    assert 1 <= dag.max_active_runs <= 4


def test_runs_fire_after_each_weekday_close_and_carry_that_day(dag, common):
    """Run times from Thu 2020-01-30 over a week: Thu, Fri, Mon, Tue at 16:00 IST (10:30 UTC)."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=datetime(2020, 1, 30, tzinfo=UTC), latest=None, catchup=True)
    runs, last = [], None
    for _ in range(4):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        runs.append(info)
        last = info.data_interval
    # 16:00 in Asia/Kolkata (UTC+05:30, no DST) is 10:30 UTC; the weekend is skipped
    expected = [datetime(2020, 1, d, 10, 30, tzinfo=UTC) for d in (30, 31)]
    expected += [datetime(2020, 2, d, 10, 30, tzinfo=UTC) for d in (3, 4)]
    assert [r.logical_date for r in runs] == expected
    for run in runs:  # Airflow 3 trigger semantics: a zero-length interval at the run time
        assert run.data_interval == DataInterval(run.logical_date, run.logical_date)
    # ... and each run processes the exchange-time date of its logical date
    processed = [common.run_day({"params": {}, "logical_date": r.logical_date}) for r in runs]
    assert processed == [date(2020, 1, 30), date(2020, 1, 31), date(2020, 2, 3), date(2020, 2, 4)]


def test_processed_day_is_the_exchange_date_of_the_logical_date(common):
    def day_of(logical_date, **params):
        return common.run_day({"params": params, "logical_date": logical_date})

    # 19:00 UTC on Jan 31 is 00:30 IST on Feb 1: the exchange date, not the UTC date, counts
    assert day_of(datetime(2020, 1, 31, 19, 0, tzinfo=UTC)) == date(2020, 2, 1)
    assert day_of(datetime(2020, 1, 31, 18, 29, tzinfo=UTC)) == date(2020, 1, 31)
    # the "day" param overrides the logical date; a run without a logical date uses run_after
    assert day_of(datetime(2020, 1, 31, tzinfo=UTC), day="2020-01-29") == date(2020, 1, 29)
    run = SimpleNamespace(run_after=datetime(2020, 2, 3, 11, 0, tzinfo=UTC))
    assert common.run_day({"params": {}, "logical_date": None, "dag_run": run}) == date(2020, 2, 3)


def test_source_and_symbols_come_from_param_then_variable_then_settings(common, monkeypatch):
    monkeypatch.setenv("EXEC_SOURCE", "synthetic")
    monkeypatch.setenv("EXEC_SYMBOLS", "RELIANCE,SAIL")
    for name in ("AIRFLOW_VAR_NSE_SOURCE", "AIRFLOW_VAR_NSE_SYMBOLS", "AIRFLOW_VAR_NSE_SOURCE_PATH"):
        monkeypatch.delenv(name, raising=False)

    def chosen(**params):
        settings = common.run_settings({"params": params})
        return settings.source, settings.symbols

    assert chosen() == ("synthetic", ("RELIANCE", "SAIL"))
    assert chosen(source=None, symbols=None) == ("synthetic", ("RELIANCE", "SAIL"))  # the params' defaults
    # Airflow Variables (here from AIRFLOW_VAR_* environment variables) override the settings ...
    monkeypatch.setenv("AIRFLOW_VAR_NSE_SOURCE", "landing")
    monkeypatch.setenv("AIRFLOW_VAR_NSE_SYMBOLS", " sail, infy")
    monkeypatch.setenv("AIRFLOW_VAR_NSE_SOURCE_PATH", "/data/landing")
    assert chosen() == ("landing", ("SAIL", "INFY"))
    assert common.source_path({"params": {}}) == "/data/landing"
    # ... and DAG params override the Variables
    assert chosen(source="synthetic", symbols=["reliance"]) == ("synthetic", ("RELIANCE",))
    assert common.source_path({"params": {"source_path": "/tmp/x"}}) == "/tmp/x"


def test_session_closes_at_15_30_ist(common):
    # 15:30 IST = 10:00 UTC
    assert not common.session_closed(date(2020, 1, 31), datetime(2020, 1, 31, 9, 59, tzinfo=UTC))
    assert common.session_closed(date(2020, 1, 31), datetime(2020, 1, 31, 10, 0, tzinfo=UTC))
    assert not common.session_closed(date(2020, 2, 3), datetime(2020, 1, 31, 10, 30, tzinfo=UTC))


def test_fetch_retries_with_exponential_backoff_only_when_retrying_can_help(dag):
    from airflow.sdk import RetryAction

    from execution.data.ingest import IngestError
    from execution.data.sources.base import SourceError

    fetch = dag.get_task("fetch_bars")
    assert fetch.retries >= 3
    assert fetch.retry_exponential_backoff >= 2
    assert fetch.retry_delay <= timedelta(minutes=5)
    assert fetch.max_retry_delay >= 2 * fetch.retry_delay
    policy = fetch.retry_policy
    assert policy.evaluate(SourceError("network down"), 1, 5).action == RetryAction.RETRY
    assert policy.evaluate(IngestError("unknown symbol"), 1, 5).action == RetryAction.FAIL
    assert policy.evaluate(KeyError("bug"), 1, 5).action == RetryAction.FAIL
    for task_id in ("check_trading_day", "resolve_symbols", "validate_bars", "publish_bars", "check_held_back"):
        assert dag.get_task(task_id).retries == 0, task_id


def test_publish_emits_the_bars_asset(dag, common):
    from airflow.sdk import Asset

    expected = Asset(name="nse_bars_1m", uri="x-nse-exec://bars_1m", group="nse")
    assert expected == common.BARS_ASSET
    assert dag.get_task("publish_bars").outlets == [common.BARS_ASSET]
    for task_id in ("check_trading_day", "resolve_symbols", "fetch_bars", "validate_bars", "check_held_back"):
        assert dag.get_task(task_id).outlets == [], task_id


def test_every_task_has_the_failure_callback(dag, common):
    for t in dag.tasks:
        callbacks = t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
        assert common.log_task_failure in callbacks, t.task_id


def test_failure_callback_logs_symbol_day_and_failed_expectations(common, caplog):
    from execution.data.ingest import DaysQuarantined

    exc = DaysQuarantined(
        "SAIL 2020-01-31: quarantined, failed bar_count_per_day, max_missing_minutes_run; "
        "SAIL 2020-02-03: fetch failed: no file SAIL.csv"
    )
    ti = SimpleNamespace(dag_id=DAG_ID, task_id="publish_bars", rendered_map_index="SAIL")
    with caplog.at_level("ERROR", logger="nse_dags"):
        common.log_task_failure({"ti": ti, "run_id": "manual__x", "exception": exc})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "SAIL 2020-01-31 quarantined" in lines[0]
    assert "failed expectations: bar_count_per_day, max_missing_minutes_run" in lines[0]
    assert "SAIL 2020-02-03 not fetched: no file SAIL.csv" in lines[1]


def test_failure_callback_names_the_symbol_day_of_other_errors(common):
    from execution.data.sources.base import SourceError

    ti = SimpleNamespace(dag_id=DAG_ID, task_id="fetch_bars", rendered_map_index=None)
    context = {"ti": ti, "run_id": "r", "exception": SourceError("HTTP 503"), "nse_symbol": "RELIANCE"}
    context["nse_day"] = "2020-01-31"
    assert common.describe_failure(context) == [
        "nse_daily_bars.fetch_bars (run r): failed for RELIANCE 2020-01-31: SourceError: HTTP 503"
    ]


# --------------------------------------------------------------------------- end to end (dag.test)


def _bars_per_symbol(conn, day: date) -> dict[str, tuple[int, str, str]]:
    """{symbol: (rows, first bar start, last bar start)} of bars_1m on ``day`` (exchange time)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, count(*), to_char(min(ts) AT TIME ZONE 'Asia/Kolkata', 'HH24:MI'),"
            " to_char(max(ts) AT TIME ZONE 'Asia/Kolkata', 'HH24:MI')"
            " FROM bars_1m WHERE (ts AT TIME ZONE 'Asia/Kolkata')::date = %s GROUP BY symbol",
            (day,),
        )
        return {row[0]: tuple(row[1:]) for row in cur.fetchall()}


@pytest.fixture(scope="module")
def airflow_db():
    """A migrated Airflow metadata DB in the session's AIRFLOW_HOME."""
    return migrate_airflow_db()


@pytest.mark.slow
def test_dag_test_publishes_a_trading_day_for_both_symbols(dag, airflow_db, conn):
    run = dag.test(logical_date=pendulum.datetime(2020, 1, 31, 16, 0, tz="Asia/Kolkata"))

    assert run.state == "success"
    states = task_states(run)
    assert states["check_trading_day"] == ["success"]
    for task_id in MAPPED_TASKS:  # one instance per symbol, all successful
        assert states[task_id] == ["success", "success"], task_id
    assert sorted(rendered_map_indexes(run, "publish_bars")) == list(SYMBOLS)
    # a full regular session, 09:15 ... 15:29 = 6 h 15 min = 375 one-minute bars, per symbol
    assert _bars_per_symbol(conn, date(2020, 1, 31)) == {s: (375, "09:15", "15:29") for s in SYMBOLS}
    assert _bars_per_symbol(conn, date(2020, 1, 30)) == {}
    # one event on the bars Asset per symbol, naming the day it published
    extras = asset_event_extras("nse_bars_1m", run.run_id)
    assert sorted((e["symbol"], e["day"], tuple(e["published"])) for e in extras) == [
        (s, "2020-01-31", ("2020-01-31",)) for s in SYMBOLS
    ]


@pytest.mark.slow
def test_dag_test_on_an_nse_holiday_publishes_nothing(dag, airflow_db, conn):
    # Wed 2021-07-21 (Bakri Id) is an NSE holiday on a weekday: the schedule fires, the run skips
    run = dag.test(logical_date=pendulum.datetime(2021, 7, 21, 16, 0, tz="Asia/Kolkata"))

    assert run.state == "success"
    states = task_states(run)
    assert states["check_trading_day"] == ["skipped"]
    for task_id in ("resolve_symbols", *MAPPED_TASKS):  # mapped tasks never expand: one skipped instance
        assert states[task_id] == ["skipped"], task_id
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bars_1m")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM bars_staging")
        assert cur.fetchone()[0] == 0
    assert asset_event_extras("nse_bars_1m", run.run_id) == []


def _write_landing_day(folder, symbol: str, day: date, bad_minute: int) -> None:
    """A vendor CSV of one full session (375 bars at 100.00 INR) whose bar ``bad_minute`` opens below its low."""
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    start = datetime(day.year, day.month, day.day, 9, 15)
    for minute in range(375):
        stamp = (start + timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M:%S")
        if minute == bad_minute:  # open 100.00 < low 100.05: only "open within [low, high]" is broken
            lines.append(f"{stamp},{symbol},100.00,100.50,100.05,100.25,1000")
        else:
            lines.append(f"{stamp},{symbol},100.00,100.00,100.00,100.00,1000")
    (folder / f"{symbol}.csv").write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_dag_test_quarantines_a_bad_day_and_the_callback_names_it(dag, airflow_db, conn, tmp_path, caplog):
    _write_landing_day(tmp_path, "RELIANCE", date(2020, 1, 31), bad_minute=100)
    conf = {"source": "landing", "source_path": str(tmp_path), "symbols": ["RELIANCE"]}
    with caplog.at_level("ERROR", logger="nse_dags"):
        run = dag.test(logical_date=pendulum.datetime(2020, 1, 31, 16, 0, tz="Asia/Kolkata"), run_conf=conf)

    assert run.state == "failed"
    states = task_states(run)
    assert states["fetch_bars"] == ["success"]  # one symbol, from the param
    assert states["validate_bars"] == ["success"]
    assert states["publish_bars"] == ["success"]  # publishes what passed, quarantines the rest, emits the Asset
    assert states["check_held_back"] == ["failed"]  # then DaysQuarantined fails the run loudly
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bars_1m")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT symbol, day::text FROM quarantine")
        assert cur.fetchall() == [("RELIANCE", "2020-01-31")]
    callback_lines = [r.getMessage() for r in caplog.records if r.name == "nse_dags"]
    assert len(callback_lines) == 1
    assert "nse_daily_bars.check_held_back" in callback_lines[0]
    assert "RELIANCE 2020-01-31 quarantined; failed expectations: open_within_range" in callback_lines[0]
    extras = asset_event_extras("nse_bars_1m", run.run_id)  # downstream learns what was held back
    assert [(e["symbol"], e["published"], e["quarantined"]) for e in extras] == [("RELIANCE", [], ["2020-01-31"])]
