"""The weekly retrain DAG: it imports, maps symbol x agent in the training pool, skips bad windows, trains."""

from __future__ import annotations

from datetime import date, timedelta

from airflow_support import (
    configure_airflow_env,
    migrate_airflow_db,
    rendered_map_indexes,
    task_states,
)

configure_airflow_env()  # no-op under tests/conftest.py; lets the module run on its own too

import pendulum  # noqa: E402
import pytest  # noqa: E402

from execution.data import store  # noqa: E402
from execution.data.sources.synthetic import SyntheticSource  # noqa: E402
from execution.db import connect  # noqa: E402
from execution.models import artifacts, registry  # noqa: E402

DAG_ID = "nse_weekly_retrain"
HISTORY = (date(2019, 11, 1), date(2020, 1, 31))
# Two holes in the January validation window below: 2 of its 23 trading days (every weekday) = 8.7 % > 5 %
HELD_BACK = (date(2020, 1, 14), date(2020, 1, 15))
WINDOW = {
    "train_start": "2019-12-02",
    "train_end": "2019-12-31",
    "validation_start": "2020-01-01",
    "validation_end": "2020-01-31",
}


@pytest.fixture(scope="module")
def dag(dag_bag):
    """The nse_weekly_retrain DAG object."""
    return dag_bag.dags[DAG_ID]


# --------------------------------------------------------------------------- import and shape


def test_training_is_mapped_over_the_agents_one_universal_model_each_in_the_pool(dag):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    train = dag.get_task("train_evaluate_promote")
    assert isinstance(train, MappedOperator)
    expanded = train._get_specified_expand_input().value
    # expand(agent=...): one universal model per agent, whatever the number of symbols
    assert {name: arg.operator.task_id for name, arg in expanded.items()} == {"agent": "resolve_agents"}
    assert set(train.partial_kwargs["op_kwargs"]) == {"plan", "verdicts"}
    assert train.partial_kwargs["pool"] == "nse_training"
    assert train.partial_kwargs["pool_slots"] == 1
    upstream = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert upstream["check_data_windows"] == {"resolve_symbols", "plan_retrain"}
    assert upstream["train_evaluate_promote"] == {"resolve_agents", "plan_retrain", "check_data_windows"}
    assert upstream["summarize_retrain"] == {"train_evaluate_promote"}
    for task_id in ("resolve_symbols", "resolve_agents", "plan_retrain", "check_data_windows", "summarize_retrain"):
        assert dag.get_task(task_id).pool == "default_pool", task_id


def test_schedule_weekly_on_saturday_morning_one_run_at_a_time(dag):
    from airflow.sdk import CronTriggerTimetable

    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "0 6 * * 6"
    assert str(dag.timetable.timezone.name) == "Asia/Kolkata"
    assert dag.max_active_runs == 1
    assert dag.catchup is False


def test_every_task_has_retries_a_timeout_and_the_failure_callback(dag):
    import common

    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
        assert t.execution_timeout is not None and t.execution_timeout > timedelta(0), t.task_id
        callbacks = t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
        assert common.log_task_failure in callbacks, t.task_id
    train = dag.get_task("train_evaluate_promote")
    assert train.partial_kwargs["execution_timeout"] >= timedelta(hours=1)  # a seed budget fits


def test_training_fails_at_once_on_a_bad_request_and_retries_other_errors(dag):
    from airflow.sdk import RetryAction

    policy = dag.get_task("train_evaluate_promote").partial_kwargs["retry_policy"]
    assert policy.evaluate(ValueError("unknown agent 'x'"), 1, 2).action == RetryAction.FAIL
    assert policy.evaluate(EOFError("worker died"), 1, 2).action == RetryAction.DEFAULT


def test_summary_waits_for_every_training_and_does_not_hide_a_failure(dag):
    # none_failed: runs when trainings succeeded or were skipped; a failed training fails the run
    assert dag.get_task("summarize_retrain").trigger_rule == "none_failed"


# --------------------------------------------------------------------------- end to end (dag.test)


@pytest.fixture(scope="module")
def history(settings_module):
    """RELIANCE bars of Nov 2019 - Jan 2020 published (two January days quarantined); SAIL has none."""
    from conftest import truncate_all

    conn = connect(settings_module)
    try:
        truncate_all(conn)
        start, end = HISTORY
        bars = SyntheticSource(seed=7).fetch("RELIANCE", start, end).bars
        run_id = store.start_run(conn, "synthetic", ["RELIANCE"], start, end, "test", {})
        staged = store.stage(conn, run_id, "synthetic", bars)
        store.publish(conn, [d for d in staged if d.day not in HELD_BACK])
        for d in staged:
            if d.day in HELD_BACK:
                store.quarantine(conn, d, run_id, [{"name": "test"}], "held back by the test")
        conn.commit()
    finally:
        conn.close()
    return settings_module


@pytest.fixture(scope="module")
def settings_module():
    """The test session's settings, for module-scoped fixtures."""
    from execution.config import load_settings

    return load_settings()


@pytest.fixture(scope="module")
def airflow_db():
    """A migrated Airflow metadata DB in the session's AIRFLOW_HOME, with the training pool."""
    home = migrate_airflow_db()
    from airflow.models.pool import Pool

    Pool.create_or_update_pool("nse_training", 1, "RL training: one run at a time", include_deferred=False)
    return home


def _models(settings) -> list:
    conn = connect(settings)
    try:
        return registry.list_models(conn, registry.UNIVERSAL)
    finally:
        conn.close()


@pytest.mark.slow
def test_dag_test_skips_every_agent_when_no_symbol_has_a_usable_window(dag, airflow_db, history, caplog):
    conf = {"symbols": ["RELIANCE", "SAIL"], "agents": ["dqn_sl", "a3c_sl"], "episodes": 2, **WINDOW}
    with caplog.at_level("WARNING"):
        run = dag.test(logical_date=pendulum.datetime(2020, 2, 1, 6, 0, tz="Asia/Kolkata"), run_conf=conf)

    assert run.state == "success"
    states = task_states(run)
    assert states["train_evaluate_promote"] == ["skipped"] * 2  # one universal model per agent, none trained
    assert states["summarize_retrain"] == ["success"]
    assert sorted(rendered_map_indexes(run, "train_evaluate_promote")) == ["a3c_sl", "dqn_sl"]
    messages = " ".join(r.getMessage() for r in caplog.records)
    # RELIANCE: 2 of January's 23 trading days quarantined; SAIL: nothing published at all
    assert "RELIANCE left out of the dqn_sl training" in messages
    assert "validation window 2020-01-01..2020-01-31: 2 quarantined + 0 missing of 23 trading days = 8.7%" in messages
    assert "SAIL left out of the a3c_sl training" in messages
    assert "dqn_sl: not trained, no symbol has a usable data window" in messages
    assert _models(history) == []


@pytest.mark.slow
def test_dag_test_with_a_tiny_budget_trains_registers_and_evaluates_a_model(dag, airflow_db, history):
    conf = {
        "symbols": ["RELIANCE"],
        "agents": ["dqn_sl"],
        "episodes": 2,
        "seed": 3,
        "max_bad_day_fraction": 0.10,  # the two quarantined January days are tolerated now
        **WINDOW,
    }
    run = dag.test(logical_date=pendulum.datetime(2020, 2, 8, 6, 0, tz="Asia/Kolkata"), run_conf=conf)

    assert run.state == "success"
    states = task_states(run)
    assert states["train_evaluate_promote"] == ["success"]
    assert rendered_map_indexes(run, "train_evaluate_promote") == ["dqn_sl"]
    models = _models(history)
    assert len(models) == 1
    model = models[0]
    assert (model.agent, model.symbol, model.symbols, model.episodes) == ("dqn_sl", "*", ["RELIANCE"], 2)
    assert model.mdp == "pace" and model.envelope["sides"] == ["buy", "sell"]
    assert (model.train_start, model.train_end) == (date(2019, 12, 2), date(2019, 12, 31))
    assert model.status in ("candidate", "champion")
    assert artifacts.artifact_file(history, model.artifact_path).is_file()
    # evaluated on the configured January validation window (21 of its 23 trading days are published)
    assert (model.validation_start, model.validation_end) == (date(2020, 1, 1), date(2020, 1, 31))
