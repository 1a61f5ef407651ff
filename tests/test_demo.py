"""``make demo``: its plan, its Airflow commands and environment, and one real ``airflow dags test``."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from execution.db import connect
from execution.models.windows import rolling_windows
from execution.ops import demo

IST = ZoneInfo("Asia/Kolkata")


# --------------------------------------------------------------------------- the plan


def test_plan_splits_history_daily_runs_and_retrain(settings):
    plan = demo.plan_demo(settings, date(2019, 11, 1), date(2020, 1, 31), daily_days=3, episodes=20, seed=5)
    # January 2020 has no NSE holiday: its last three trading days are Wed 29 .. Fri 31
    assert plan.daily_days == (date(2020, 1, 29), date(2020, 1, 30), date(2020, 1, 31))
    assert (plan.history_start, plan.history_end) == (date(2019, 11, 1), date(2020, 1, 28))
    assert plan.report_day == date(2020, 1, 31)
    assert plan.as_of == date(2020, 2, 1)
    # the Saturday after Friday 31 January, 06:00 in Kolkata
    assert plan.retrain_logical_date == datetime(2020, 2, 1, 6, 0, tzinfo=IST)
    # November 2019 has 20 trading days (the 12th, Guru Nanak Jayanti, is a holiday), so the
    # 21st trading day -- the first with 20 days of history before it -- is Monday 2 December;
    # the DAG's two-year window would start in 2017, long before this history: it is moved up
    assert plan.train_start == date(2019, 12, 2)
    assert plan.retrain_conf() == {
        "symbols": ["RELIANCE", "SAIL"],
        "agents": ["dqn_sl", "a3c_sl"],
        "episodes": 20,
        "seed": 5,
        "as_of": "2020-02-01",
        "train_start": "2019-12-02",
    }


def test_default_plan_keeps_the_dag_s_two_year_window(settings):
    plan = demo.plan_demo(settings)
    assert plan.daily_days[-1] == date(2020, 1, 31)
    assert len(plan.daily_days) == demo.DEFAULT_DAILY_DAYS
    # validation 2019-12-02 .. 2020-01-31 (the configured 60-day span), training two years before
    assert rolling_windows(settings.windows, plan.as_of).train_start == date(2017, 12, 2)
    assert plan.history_start < date(2017, 12, 2)
    assert plan.train_start is None
    assert "train_start" not in plan.retrain_conf()


def test_a_range_too_short_for_the_demo_is_refused(settings):
    with pytest.raises(ValueError, match="needs at least"):
        demo.plan_demo(settings, date(2020, 1, 1), date(2020, 1, 31))
    with pytest.raises(ValueError, match="daily_days"):
        demo.plan_demo(settings, daily_days=0)


def test_airflow_steps_in_order(settings):
    plan = demo.plan_demo(settings, date(2019, 11, 1), date(2020, 1, 31), daily_days=2)
    steps = demo.airflow_steps(plan)
    assert [s.name for s in steps] == [
        "db-migrate",
        "pool",
        "daily-2020-01-30",
        "daily-2020-01-31",
        "retrain",
        "intraday",
        "reports",
    ]
    by_name = {s.name: s.argv for s in steps}
    assert by_name["db-migrate"] == ("db", "migrate")
    assert by_name["pool"][:4] == ("pools", "set", "nse_training", "1")
    assert by_name["daily-2020-01-31"] == ("dags", "test", "nse_daily_bars", "2020-01-31T16:00:00+05:30")
    retrain = by_name["retrain"]
    assert retrain[:4] == ("dags", "test", "nse_weekly_retrain", "2020-02-01T06:00:00+05:30")
    assert retrain[4] == "--conf"
    assert json.loads(retrain[5]) == plan.retrain_conf()
    intraday = by_name["intraday"]
    assert intraday[:4] == ("dags", "test", "nse_intraday_execution", "2020-01-31T09:00:00+05:30")
    assert json.loads(intraday[5]) == {"day": "2020-01-31", "replay": True, "speed": 0, "symbols": ["RELIANCE"]}
    reports = by_name["reports"]
    assert reports[:3] == ("dags", "test", "nse_execution_reports")
    assert json.loads(reports[5]) == {"day": "2020-01-31"}


def test_the_environment_points_airflow_at_exec_home_and_the_airflow_database(settings):
    env = demo.demo_environment(settings)
    assert env["EXEC_HOME"] == str(settings.home)
    assert env["AIRFLOW_HOME"] == str(settings.home / "airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(Path(demo.__file__).resolve().parents[2] / "dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    # the metadata database "airflow" on the service's own PostgreSQL server
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert "/airflow?" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in env
    assert demo.airflow_executable().name == "airflow" and demo.airflow_executable().is_file()


def test_echo_keeps_project_lines_errors_and_task_ends():
    ours = (
        "2026-11-21T07:04:15Z [info     ] processing NSE trading day 2020-01-31 [unusual_prefix_ab_nse_daily_bars] x=1"
    )
    end = "2026-11-21T07:04:15Z [info     ] [DAG TEST] end task task_id=fetch_bars map_index=0 [airflow.sdk.dag] loc=a"
    error = "2026-11-21T07:04:15Z [error    ] Task failed; ti=x       [airflow.sdk.definitions.dag] loc=dag.py:1"
    chatter = "2026-11-21T07:04:15Z [info     ] Task instance state updated [airflow.api_fastapi.routes] rows=1"
    assert demo.echo_line(ours) == "processing NSE trading day 2020-01-31"
    assert demo.echo_line(end) == "end task task_id=fetch_bars map_index=0"
    assert demo.echo_line(error) == "error: Task failed; ti=x"
    assert demo.echo_line(chatter) is None
    assert demo.echo_line("a traceback line") is None


def test_the_demo_stops_at_the_first_failing_step(settings, monkeypatch, tmp_path):
    ran: list[str] = []

    def fake_run(step, env, log_path, say):
        ran.append(step.name)
        return demo.StepResult(step.name, 1 if step.name == "daily-2020-01-31" else 0, 0.1, log_path)

    monkeypatch.setattr(
        demo, "load_history", lambda s, p: ran.append("history") or {"run_id": 1, "status": "success", "days": {}}
    )
    monkeypatch.setattr(demo, "demo_environment", lambda s: {"AIRFLOW_HOME": str(tmp_path)})
    monkeypatch.setattr(demo, "run_airflow", fake_run)
    plan = demo.plan_demo(settings, date(2019, 11, 1), date(2020, 1, 31), daily_days=2)
    said: list[str] = []

    assert demo.run_demo(settings, plan, say=said.append) == 1
    assert ran == ["history", "db-migrate", "pool", "daily-2020-01-30", "daily-2020-01-31"]
    assert any("[5/8] nse_daily_bars for 2020-01-31" in line for line in said)
    assert any("FAILED (exit 1)" in line for line in said)


# --------------------------------------------------------------------------- one real Airflow run


@pytest.mark.slow
def test_airflow_dags_test_of_the_daily_dag_through_the_subprocess_path(settings, conn, tmp_path):
    env = demo.demo_environment(settings)
    migrate = demo.AirflowStep("db-migrate", "migrate", ("db", "migrate"))
    assert demo.run_airflow(migrate, env, tmp_path / "migrate.log", say=lambda _: None).returncode == 0

    when = datetime(2020, 1, 31, 16, 0, tzinfo=IST)
    argv = demo.dags_test_argv("nse_daily_bars", when, {"symbols": ["RELIANCE"]})
    step = demo.AirflowStep("daily", "nse_daily_bars for 2020-01-31", argv)
    result = demo.run_airflow(step, env, tmp_path / "daily.log", say=lambda _: None)

    assert result.returncode == 0, (tmp_path / "daily.log").read_text()[-3000:]
    assert "end task task_id=publish_bars map_index=0" in result.lines
    assert "processing NSE trading day 2020-01-31" in result.lines
    assert (tmp_path / "daily.log").read_text().startswith("$ airflow dags test nse_daily_bars 2020-01-31T16:00")
    check = connect(settings)
    try:
        with check.cursor() as cur:
            cur.execute(
                "SELECT symbol, count(*) FROM bars_1m"
                " WHERE (ts AT TIME ZONE 'Asia/Kolkata')::date = %s GROUP BY symbol",
                (date(2020, 1, 31),),
            )
            # one full regular session, 09:15 .. 15:29 = 375 one-minute bars, for the one symbol asked
            assert cur.fetchall() == [("RELIANCE", 375)]
    finally:
        check.close()
