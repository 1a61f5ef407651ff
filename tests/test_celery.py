"""One real task of nse_daily_bars through the CeleryExecutor: the distributed path, exercised.

Pieces, all on this machine and only on 127.0.0.1:

* the broker: the Redis server at 127.0.0.1:6379 (the test is skipped, saying so, without one);
* the result backend: a database ``celery_results`` on the test session's PostgreSQL
  (``db+postgresql+psycopg2://...``);
* a Celery worker process: ``airflow celery worker`` on a queue private to this test;
* the Execution API the worker's task talks to (Airflow 3 task code reads and writes Airflow's
  state only through it): Airflow's own API app, served by uvicorn in this process on a free port;
* the scheduler's part, done here with the executor API: the DAG is parsed and serialized into the
  metadata database, a run is created, and each task the run lets run is handed to
  ``CeleryExecutor.queue_workload`` and sent with ``heartbeat()`` -- ``check_trading_day``,
  ``resolve_symbols`` and then ``fetch_bars`` for RELIANCE (its map index 0), the task whose effect is
  checked: the synthetic day 2020-01-31 staged in ``bars_staging`` by this DAG run.

Every wait polls a condition with a deadline. The worker is stopped at the end.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from airflow_support import DAGS_FOLDER, configure_airflow_env, migrate_airflow_db

configure_airflow_env()  # no-op under tests/conftest.py

import pytest  # noqa: E402

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 11  # a database of its own on the shared Redis; the queue name is unique per test run too
DAG_ID = "nse_daily_bars"
DAY = date(2020, 1, 31)  # a Friday, an NSE trading day
SYMBOL = "RELIANCE"
BARS_PER_SESSION = (15 * 60 + 30) - (9 * 60 + 15)  # 09:15..15:30 IST, one bar per minute = 375
DEADLINE_S = 150.0  # the whole task chain; it takes ~40-70 s on 2 busy cores


def _redis_answers() -> bool:
    """True when a Redis server at 127.0.0.1:6379 answers PING."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5) as sock:
            sock.settimeout(1.0)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


requires_redis = pytest.mark.skipif(
    not _redis_answers(),
    reason=f"no Redis answering PING on {REDIS_HOST}:{REDIS_PORT}: the CeleryExecutor test needs a broker",
)


def celery_executor_class() -> type:
    """The provider's CeleryExecutor; fails the test, saying why, when it cannot be imported."""
    import celery

    try:
        from airflow.providers.celery.executors.celery_executor import CeleryExecutor
    except ImportError as exc:
        pytest.fail(
            f"the CeleryExecutor cannot be imported with celery {celery.__version__}: {exc} "
            "(apache-airflow-providers-celery 3.26.0 imports celery.backends.database.retry, gone in celery 5.7; "
            "pin celery==5.6.3)"
        )
    return CeleryExecutor


def test_the_celery_executor_imports_with_the_pinned_celery():
    """The provider's executor imports with the pinned Celery (checked even where no Redis runs)."""
    assert celery_executor_class().__name__ == "CeleryExecutor"


def wait_until(condition: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def celery_settings(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Broker, result backend, queue and Execution API URL, set in this process's environment too."""
    celery_executor_class()  # nothing to start when the executor cannot even be imported
    from execution.config import load_settings
    from execution.ops.airflow_config import ensure_database, sqlalchemy_url

    results_url = "db+" + sqlalchemy_url(ensure_database(load_settings(), "celery_results"))
    port = _free_port()
    values = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        "AIRFLOW__CELERY__RESULT_BACKEND": results_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # signs the tasks' Execution API tokens (executor, here) and checks them (the API, here too)
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "NSE_TEST_QUEUE": f"nse-test-{uuid.uuid4().hex[:8]}",
        "NSE_TEST_API_PORT": str(port),
        "NSE_TEST_LOGS": str(tmp_path_factory.mktemp("celery")),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield values


@pytest.fixture(scope="module")
def execution_api(celery_settings) -> Iterator[str]:
    """Airflow's Execution API (the ``execution`` app of the API server) on 127.0.0.1, in a thread."""
    import uvicorn
    from airflow.api_fastapi.app import create_app

    migrate_airflow_db()
    port = int(celery_settings["NSE_TEST_API_PORT"])
    config = uvicorn.Config(create_app(apps="execution"), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="execution-api", daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "the Execution API to listen")
    yield celery_settings["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def celery_worker(celery_settings, execution_api) -> Iterator[subprocess.Popen]:
    """``airflow celery worker`` consuming only this test's queue; stopped (its whole group) afterwards."""
    log_path = Path(celery_settings["NSE_TEST_LOGS"]) / "worker.log"
    airflow = str(Path(sys.executable).parent / "airflow")
    argv = [airflow, "celery", "worker", "--queues", celery_settings["NSE_TEST_QUEUE"], "--concurrency", "1"]
    argv += ["--celery-hostname", f"{celery_settings['NSE_TEST_QUEUE']}@%h", "--without-mingle", "--without-gossip"]
    argv += ["--skip-serve-logs"]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with log_path.open("w") as log:
        worker = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield worker
    finally:
        _stop_group(worker)
        _forget_queue(celery_settings["NSE_TEST_QUEUE"])


def _forget_queue(queue: str) -> None:
    """Remove what the broker keeps for this test's queue (kombu's bindings) from the shared Redis."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=2)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the worker's process group (warm shutdown), SIGKILL what is left after 15 s."""
    import signal

    for signum, grace_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue
        try:  # the worker exited; its pool processes may linger a moment
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break


def _serialized_dag(session: Any) -> Any:
    """Parse the DAG folder as the DAG processor does, write it to the metadata DB, return the scheduler's DAG."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.serialization.serialized_objects import DagSerialization

    manager = DagBundlesManager()
    manager.sync_bundles_to_db(session=session)
    session.commit()
    bundle = manager.get_bundle("dags-folder")
    if not bundle.is_initialized:
        bundle.initialize()
    if str(DAGS_FOLDER) not in sys.path:
        sys.path.append(str(DAGS_FOLDER))
    bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
    assert bag.import_errors == {}
    sync_bag_to_db(bag, bundle.name, bundle.version)
    return DagSerialization.deserialize_dag(DagSerialization.serialize_dag(bag.dags[DAG_ID]))


def _create_run(session: Any, run_id: str) -> Any:
    """A manual run of nse_daily_bars for DAY and SYMBOL (synthetic source)."""
    from airflow.models.dagrun import get_or_create_dagrun
    from airflow.utils import timezone
    from airflow.utils.types import DagRunTriggeredByType

    now = timezone.utcnow()
    return get_or_create_dagrun(
        dag=_serialized_dag(session),
        run_id=run_id,
        logical_date=None,
        data_interval=None,
        run_after=now,
        conf={"day": DAY.isoformat(), "symbols": [SYMBOL], "source": "synthetic"},
        triggered_by=DagRunTriggeredByType.TEST,
        triggering_user_name="test_celery",
        start_date=now,
        session=session,
    )


def _queue_runnable(dag_run: Any, executor: Any, wanted: set[str], queued: set[tuple], queue: str, session) -> None:
    """The scheduler's part: hand every task of ``wanted`` that the run lets run now to the executor."""
    from airflow.executors import workloads
    from airflow.executors.workloads import BundleInfo
    from airflow.utils import timezone
    from airflow.utils.state import TaskInstanceState

    session.expire_all()
    schedulable, _ = dag_run.update_state(session=session, execute_callbacks=False)
    for ti in schedulable:
        key = (ti.task_id, ti.map_index)
        if ti.task_id not in wanted or key in queued:
            continue
        ti.try_number += 1
        ti.state = TaskInstanceState.QUEUED
        ti.queued_dttm = timezone.utcnow()
        ti.queue = queue
        session.flush()
        workload = workloads.ExecuteTask.make(
            ti, generator=executor.jwt_generator, bundle_info=BundleInfo(name="dags-folder")
        )
        executor.queue_workload(workload, session=session)
        queued.add(key)
    session.commit()
    executor.heartbeat()


def _delete_run(run_id: str) -> None:
    """Remove this test's DAG run (and its task instances) from the session's metadata database."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(TaskInstance).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id))
        session.execute(delete(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.run_id == run_id))


def _states(dag_run: Any, session: Any) -> dict[tuple[str, int], str | None]:
    session.expire_all()
    return {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances(session=session)}


@pytest.mark.slow
@pytest.mark.celery
@requires_redis
def test_a_daily_bars_task_runs_on_a_celery_worker(celery_settings, execution_api, celery_worker, conn):
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    migrate_airflow_db()
    run_id = f"celery_test_{uuid.uuid4().hex[:8]}"
    executor = celery_executor_class()()
    executor.start()
    wanted = {"check_trading_day", "resolve_symbols", "fetch_bars"}
    queued: set[tuple] = set()
    finished = {TaskInstanceState.SUCCESS, TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED}
    target = ("fetch_bars", 0)
    try:
        with create_session() as session:
            dag_run = _create_run(session, run_id)
            session.commit()

            def fetch_finished() -> dict | None:
                assert celery_worker.poll() is None, "the Celery worker exited"
                _queue_runnable(dag_run, executor, wanted, queued, celery_settings["NSE_TEST_QUEUE"], session)
                states = _states(dag_run, session)
                failed = {k: s for k, s in states.items() if k[0] in wanted and s in finished - {"success"}}
                assert not failed, f"tasks failed on the worker: {failed}"
                return states if states.get(target) in finished else None

            states = wait_until(fetch_finished, DEADLINE_S, "fetch_bars[RELIANCE] to finish on the Celery worker")
    except BaseException:
        log = Path(celery_settings["NSE_TEST_LOGS"]) / "worker.log"
        print(log.read_text()[-6000:] if log.exists() else "no worker log", file=sys.stderr)
        raise
    finally:
        executor.end()
        _delete_run(run_id)

    # the three tasks ran (through the worker: nothing else executes tasks here) and succeeded
    assert states[("check_trading_day", -1)] == TaskInstanceState.SUCCESS
    assert states[("resolve_symbols", -1)] == TaskInstanceState.SUCCESS
    assert states[target] == TaskInstanceState.SUCCESS
    assert queued == {("check_trading_day", -1), ("resolve_symbols", -1), ("fetch_bars", 0)}
    # ... and fetch_bars, run by the worker for this DAG run, staged the whole synthetic session of the day
    with conn.cursor() as cur:
        cur.execute(
            "SELECT b.rows, (SELECT count(*) FROM bars_staging s WHERE s.batch_id = b.batch_id)"
            " FROM staged_batches b JOIN ingest_runs r USING (run_id)"
            " WHERE b.symbol = %s AND b.day = %s AND r.requested_by = %s",
            (SYMBOL, DAY, f"airflow:{DAG_ID}/{run_id}"),
        )
        rows = cur.fetchall()
    assert rows == [(BARS_PER_SESSION, BARS_PER_SESSION)]
