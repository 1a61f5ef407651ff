"""The reports DAG: it imports, runs on the bars Asset, writes schedules and the report, fails loudly."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path

from airflow_support import (
    DAGS_FOLDER,
    asset_event_extras,
    configure_airflow_env,
    migrate_airflow_db,
    task_states,
)

configure_airflow_env()  # no-op under tests/conftest.py; lets the module run on its own too

import pendulum  # noqa: E402
import pytest  # noqa: E402

from execution.data import store  # noqa: E402
from execution.data.sources.synthetic import SyntheticSource  # noqa: E402
from execution.db import connect  # noqa: E402
from execution.models import registry  # noqa: E402

DAG_ID = "nse_execution_reports"
HISTORY = (date(2019, 11, 1), date(2020, 1, 31))
REPORT_DAY = date(2020, 1, 31)  # a Friday
NEXT_DAY = date(2020, 2, 3)  # the following Monday, the next NSE trading day
SEED_ORDER_LOTS = 10_000 // 500  # the seed's order: 10,000 shares in lots of 500


@pytest.fixture(scope="module")
def dag(dag_bag):
    """The nse_execution_reports DAG object."""
    return dag_bag.dags[DAG_ID]


@pytest.fixture(scope="module")
def module(dag_bag):
    """dags/nse_execution_reports.py as a module (its pure functions)."""
    assert str(DAGS_FOLDER) in sys.path
    import nse_execution_reports

    return nse_execution_reports


# --------------------------------------------------------------------------- import and shape


def test_scheduled_on_the_published_bars_asset(dag):
    import common
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    assert isinstance(dag.timetable, AssetTriggeredTimetable)
    assert list(dag.timetable.asset_condition.objects) == [common.BARS_ASSET]
    assert common.BARS_ASSET.name == "nse_bars_1m"
    assert dag.max_active_runs == 1


def test_tasks_dependencies_and_mapping_over_days(dag):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    upstream = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert upstream == {
        "resolve_days": set(),
        "write_next_day_schedules": {"resolve_days"},
        "render_report": {"write_next_day_schedules"},
    }
    assert isinstance(dag.get_task("write_next_day_schedules"), MappedOperator)
    assert isinstance(dag.get_task("render_report"), MappedOperator)


def test_every_task_has_retries_a_timeout_and_the_failure_callback(dag):
    import common

    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
        assert t.execution_timeout is not None and t.execution_timeout > timedelta(0), t.task_id
        callbacks = t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
        assert common.log_task_failure in callbacks, t.task_id


def test_an_unloadable_champion_fails_at_once_other_errors_are_retried(dag):
    from airflow.sdk import RetryAction

    from execution.models.champion import ChampionUnavailable

    for task_id in ("write_next_day_schedules", "render_report"):
        policy = dag.get_task(task_id).partial_kwargs["retry_policy"]
        assert policy.evaluate(ChampionUnavailable("RELIANCE: artifact corrupt"), 1, 3).action == RetryAction.FAIL
        assert policy.evaluate(ValueError("not a trading day"), 1, 3).action == RetryAction.FAIL
        assert policy.evaluate(ConnectionError("database restarting"), 1, 3).action == RetryAction.DEFAULT


def test_report_task_emits_the_report_asset(dag, module):
    assert dag.get_task("render_report").outlets == [module.REPORT_ASSET]
    assert module.REPORT_ASSET.name == "nse_daily_report"
    for task_id in ("resolve_days", "write_next_day_schedules"):
        assert dag.get_task(task_id).outlets == [], task_id


# --------------------------------------------------------------------------- pure helpers


def test_days_come_from_the_published_and_unchanged_days_of_the_events(module):
    extras = [
        {"symbol": "RELIANCE", "day": "2020-01-31", "published": ["2020-01-31"], "unchanged": []},
        {"symbol": "SAIL", "day": "2020-01-30,2020-01-31", "published": ["2020-01-31"], "unchanged": ["2020-01-30"]},
        {"symbol": "INFY", "day": "2020-01-29"},  # an older event without the lists: its "day"
    ]
    assert module.days_from_events(extras) == ["2020-01-29", "2020-01-30", "2020-01-31"]
    assert module.days_from_events([]) == []


def test_report_url_is_the_plugin_route_of_the_file(module, tmp_path):
    path = tmp_path / "daily" / "daily-2020-01-31.html"
    url = module.report_url(tmp_path, path, "http://airflow.example:8080/")
    assert url == "http://airflow.example:8080/nse-reports/files/daily/daily-2020-01-31.html"


# --------------------------------------------------------------------------- end to end (dag.test)


@pytest.fixture(scope="module")
def history():
    """RELIANCE bars of Nov 2019 - Jan 2020 published; SAIL has none."""
    from conftest import truncate_all

    from execution.config import load_settings

    settings = load_settings()
    conn = connect(settings)
    try:
        truncate_all(conn)
        start, end = HISTORY
        bars = SyntheticSource(seed=7).fetch("RELIANCE", start, end).bars
        run_id = store.start_run(conn, "synthetic", ["RELIANCE"], start, end, "test", {})
        store.publish(conn, store.stage(conn, run_id, "synthetic", bars))
        conn.commit()
    finally:
        conn.close()
    return settings


@pytest.fixture(scope="module")
def airflow_db():
    """A migrated Airflow metadata DB in the session's AIRFLOW_HOME."""
    return migrate_airflow_db()


def test_pending_symbols_are_named_but_never_waited_for(dag, module, history):
    """SAIL has nothing for the day (its fetch failed): RELIANCE's event still reports the day at once."""
    from types import SimpleNamespace

    import common
    from airflow.sdk.execution_time.context import set_current_context

    both = history.with_overrides(symbols=("RELIANCE", "SAIL"))
    assert module.pending_symbols(both, REPORT_DAY) == ["SAIL"]
    assert module.pending_symbols(history.with_overrides(symbols=("RELIANCE",)), REPORT_DAY) == []
    event = SimpleNamespace(
        source_dag_id="nse_daily_bars",
        source_run_id="scheduled__2020-01-31",
        extra={"symbol": "RELIANCE", "day": REPORT_DAY.isoformat(), "published": [REPORT_DAY.isoformat()]},
    )
    context = {"params": {"symbols": ["RELIANCE", "SAIL"]}, "triggering_asset_events": {common.BARS_ASSET: [event]}}
    with set_current_context(context):
        days = dag.get_task("resolve_days").python_callable()
    assert days == [REPORT_DAY.isoformat()]


def _schedule_rows(settings, day: date) -> dict[str, int]:
    """{strategy: planned lots} of the stored schedules of ``day``."""
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT strategy, sum(planned_lots) FROM schedules WHERE trading_day = %s AND symbol = 'RELIANCE'"
                " GROUP BY strategy",
                (day,),
            )
            return {row[0]: int(row[1]) for row in cur.fetchall()}
    finally:
        conn.close()


@pytest.mark.slow
def test_dag_test_writes_the_next_day_schedules_and_the_report(dag, airflow_db, history):
    conf = {"day": REPORT_DAY.isoformat(), "symbols": ["RELIANCE"]}
    run = dag.test(logical_date=pendulum.datetime(2020, 1, 31, 16, 30, tz="Asia/Kolkata"), run_conf=conf)

    assert run.state == "success"
    states = task_states(run)
    assert states == {
        "resolve_days": ["success"],
        "write_next_day_schedules": ["success"],
        "render_report": ["success"],
    }
    # schedules of the next trading day: every plan is the whole order in whole lots
    planned = _schedule_rows(history, NEXT_DAY)
    assert "twap_seed" in planned
    assert set(planned.values()) == {SEED_ORDER_LOTS}
    assert _schedule_rows(history, REPORT_DAY) == {}
    assert any((history.reports_dir / "schedules" / NEXT_DAY.isoformat()).glob("*.csv"))
    # the report of the published day, HTML and JSON, linked from the run (XCom + Asset event)
    extras = asset_event_extras("nse_daily_report", run.run_id)
    assert len(extras) == 1
    report = Path(extras[0]["path"])
    assert report.is_file() and report.parent == history.reports_dir / "daily"
    assert REPORT_DAY.isoformat() in report.name
    assert json.loads(report.with_suffix(".json").read_text())
    assert extras[0]["day"] == REPORT_DAY.isoformat()
    assert extras[0]["schedule_day"] == NEXT_DAY.isoformat()
    assert extras[0]["url"].endswith(f"/nse-reports/files/daily/{report.name}")


@pytest.mark.slow
def test_dag_test_fails_loudly_when_the_champion_cannot_be_loaded(dag, airflow_db, history, caplog):
    from execution.models.retrain import retrain

    summary = retrain(history, "RELIANCE", "dqn_sl", date(2019, 12, 2), date(2019, 12, 31), episodes=2, seed=1)
    conn = connect(history)
    try:
        if summary["status"] != "champion":
            registry.promote(conn, summary["model_id"], "test: make it the champion")
            conn.commit()
        assert registry.champion(conn, "RELIANCE").model_id == summary["model_id"]
    finally:
        conn.close()
    Path(summary["artifact"]).write_bytes(b"not a model any more")  # checksum no longer matches

    conf = {"day": REPORT_DAY.isoformat(), "symbols": ["RELIANCE"]}
    with caplog.at_level("ERROR", logger="nse_dags"):
        run = dag.test(logical_date=pendulum.datetime(2020, 1, 31, 17, 0, tz="Asia/Kolkata"), run_conf=conf)

    assert run.state == "failed"
    states = task_states(run)
    assert states["write_next_day_schedules"] == ["failed"]  # at once: no retry can repair an artifact
    assert states["render_report"] == ["upstream_failed"]
    callback_lines = [r.getMessage() for r in caplog.records if r.name == "nse_dags"]
    assert len(callback_lines) == 1
    assert "nse_execution_reports.write_next_day_schedules" in callback_lines[0]
    assert "ChampionUnavailable" in callback_lines[0]
    # the trader still has a safe plan: twap_seed was written for the next day before failing
    assert _schedule_rows(history, NEXT_DAY).get("twap_seed") == SEED_ORDER_LOTS
