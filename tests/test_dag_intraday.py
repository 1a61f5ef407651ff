"""The intraday DAG: one mapped, deferrable task per order; ``dag.test()`` works an order through its deferrals."""

from __future__ import annotations

from datetime import timedelta

from airflow_support import configure_airflow_env, migrate_airflow_db, rendered_map_indexes, task_states

configure_airflow_env()  # no-op under tests/conftest.py; lets the module run on its own too

import pendulum  # noqa: E402
import pytest  # noqa: E402
from intraday_support import DAY, clear_intraday, executed_of, fresh_world  # noqa: E402

from execution.db import connect  # noqa: E402
from execution.trading.orders import add_order  # noqa: E402

DAG_ID = "nse_intraday_execution"


@pytest.fixture(scope="module")
def dag(dag_bag):
    """The nse_intraday_execution DAG object."""
    assert dag_bag.import_errors == {}
    return dag_bag.dags[DAG_ID]


def test_one_mapped_deferrable_task_per_order_after_listing_them(dag):
    import common
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert {t.task_id: set(t.upstream_task_ids) for t in dag.tasks} == {
        "list_orders": set(),
        "execute_order": {"list_orders"},
    }
    work = dag.get_task("execute_order")
    assert isinstance(work, MappedOperator) and work.operator_class.__name__ == "IntradayOrderOperator"
    assert callable(work.operator_class.resume)  # where a deferral comes back to
    assert dag.timetable.expression == "0 9 * * 1-5" and dag.max_active_runs == 1
    for task in dag.tasks:
        retries = task.partial_kwargs.get("retries", task.retries) if isinstance(task, MappedOperator) else task.retries
        assert retries >= 1, task.task_id
        assert task.execution_timeout is not None and task.execution_timeout > timedelta(0), task.task_id
        callbacks = (
            task.on_failure_callback if isinstance(task.on_failure_callback, list) else [task.on_failure_callback]
        )
        assert common.log_task_failure in callbacks, task.task_id


@pytest.fixture(scope="module")
def history():
    """RELIANCE published Dec 2019 - Jan 2020; no model (the order trades twap_seed)."""
    settings = fresh_world(("RELIANCE",))
    return settings


@pytest.mark.slow
def test_dag_test_works_the_order_waiting_on_the_triggerer_between_decisions(dag, history, monkeypatch):
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    migrate_airflow_db()
    conn = connect(history)
    clear_intraday(conn, orders=True)
    order, _ = add_order(conn, DAY, "RELIANCE", "buy", 2_000, 500, "09:30", 8, 4)  # 4 decisions, 2 min apart
    conn.commit()
    waits = []
    original = DateTimeTrigger.run

    async def counted(self):
        waits.append(self.moment)
        async for event in original(self):
            yield event

    monkeypatch.setattr(DateTimeTrigger, "run", counted)
    conf = {"day": DAY.isoformat(), "replay": True, "speed": 480, "symbols": ["RELIANCE"]}  # 2 min -> 0.25 s
    run = dag.test(logical_date=pendulum.datetime(2020, 1, 31, 9, 0, tz="Asia/Kolkata"), run_conf=conf)

    assert run.state == "success"
    assert task_states(run) == {"list_orders": ["success"], "execute_order": ["success"]}
    assert rendered_map_indexes(run, "execute_order") == [f"#{order.id}"]
    assert len(waits) >= 3  # it deferred before decisions 1, 2 and 3 instead of holding the worker
    qty, _, indexes = executed_of(conn, order.id, order.intervals)
    conn.close()
    assert indexes == [0, 1, 2, 3] and list(qty) == [500, 500, 500, 500, 0]
