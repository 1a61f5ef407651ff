"""The fault suite (issue 13): the daily path (publish -> release -> reports -> schedules) against
injected faults, each a named scenario with what must hold afterwards. Real parts throughout: the
embedded PostgreSQL is really killed, the disk is really full (a tmpfs of a few KiB mounted over the
reports folder when this runs as root; otherwise a seam in the file writer raises ENOSPC, and the
test says which), the DAGs run with ``dag.test()``. The README's "fault -> what happens -> test"
table lists these scenarios.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import external_services
import pendulum
import psycopg2
import pytest
from airflow_support import asset_event_extras, migrate_airflow_db, task_states
from test_hardening import published_bars, read_schedule_csv, vendor_csv, with_gap
from test_quality import clean_day

from execution.data import audit
from execution.data.ingest import fetch_and_stage, ingest, publish_validated, release, validate_staged
from execution.db import DatabaseUnavailable, connect, database_url, stop_embedded

DAY = date(2021, 7, 20)  # Tuesday; 2021-07-21 is an NSE holiday (Bakri Id), so the next trading day is 07-22
BEFORE = date(2021, 7, 19)
NEXT = date(2021, 7, 22)


@pytest.fixture(scope="module")
def airflow_db():
    return migrate_airflow_db()


def _wait_for(condition, what: str, timeout_s: float = 60.0):
    """Poll ``condition()`` until it returns something truthy (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _count(conn, sql: str, *args) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return int(cur.fetchone()[0])


# --------------------------------------------------------------------------- 1. source down, then back


def test_fault_source_down_then_back(conn, settings, tmp_path, dag_bag):
    """The vendor's landing folder is missing (source down): the fetch fails with an error the DAG
    retries; once it is back the retry stages and publishes the day; a third run changes nothing."""
    from airflow.sdk import RetryAction

    from execution.data.sources.base import SourceError

    folder = tmp_path / "landing"
    with pytest.raises(SourceError) as down:
        fetch_and_stage(settings, "landing", "SAIL", DAY, DAY, path=str(folder), who="test")
    policy = dag_bag.dags["nse_daily_bars"].get_task("fetch_bars").retry_policy
    assert policy.evaluate(down.value, 1, 5).action == RetryAction.RETRY  # retried with back-off
    assert _count(
        conn, "SELECT count(*) FROM ingest_runs WHERE status = 'failed' AND error LIKE %s", "%does not exist%"
    )

    vendor_csv(folder, [clean_day("SAIL", DAY)])  # the source is back
    for _ in range(2):  # the retry, then a re-run of the day
        staged = fetch_and_stage(settings, "landing", "SAIL", DAY, DAY, path=str(folder))
        publish_validated(settings, validate_staged(settings, staged))
    assert published_bars(conn, "SAIL", DAY) == 375
    assert _count(conn, "SELECT count(*) FROM bars_staging") == 375  # staged once: no duplicates
    assert _count(conn, "SELECT count(*) FROM staged_batches") == 1


# --------------------------------------------------------------------------- 2. PostgreSQL killed mid-publish


def _postgres_processes(pg_dir: Path) -> list[int]:
    """The postmaster of ``pg_dir`` and its children (backends, checkpointer, ...)."""
    import psutil

    pid = int((pg_dir / "postmaster.pid").read_text().splitlines()[0])
    postmaster = psutil.Process(pid)
    return [pid, *(child.pid for child in postmaster.children(recursive=True))]


def test_fault_embedded_postgres_killed_mid_publish(settings, tmp_path):
    """The embedded server is SIGKILLed (postmaster and every backend) while a publish holds its
    transaction half done (bars replaced, the day's record not yet written): nothing half-written is
    visible after the restart (crash recovery), and re-running the publish completes it."""
    private = dataclasses.replace(settings, home=tmp_path / "home", database_url=None)  # a server of its own
    bars = clean_day("SAIL", DAY)
    vendor_csv(tmp_path / "landing", [bars])
    validated = validate_staged(
        private, fetch_and_stage(private, "landing", "SAIL", DAY, DAY, path=str(tmp_path / "landing"))
    )
    locker, watcher = connect(private), connect(private)
    watcher.autocommit = True
    errors: list[BaseException] = []
    try:
        with locker.cursor() as cur:  # reads pass, writes of published_days wait: the publish stops mid-way
            cur.execute("LOCK TABLE published_days IN EXCLUSIVE MODE")

        def publish() -> None:
            try:
                publish_validated(private, validated)
            except BaseException as exc:
                errors.append(exc)

        writer = threading.Thread(target=publish)
        writer.start()

        def blocked() -> bool:
            with watcher.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE 'INSERT INTO published_days%%'"
                )
                return cur.fetchone()[0] == 1

        _wait_for(blocked, "the publish to reach published_days")
        for pid in _postgres_processes(private.pg_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        writer.join(timeout=60)
    finally:
        for c in (locker, watcher):
            with contextlib.suppress(psycopg2.Error):
                c.close()
    assert not writer.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], psycopg2.OperationalError | DatabaseUnavailable)

    try:
        after = connect(private)  # restarts the server (crash recovery)
        try:
            assert published_bars(after, "SAIL", DAY) == 0  # the half-done publish left nothing
            assert _count(after, "SELECT count(*) FROM published_days") == 0
            assert _count(after, "SELECT count(*) FROM bars_staging") == 375  # the committed staging survived
        finally:
            after.close()
        summary = publish_validated(private, validated)  # the re-run (a cleared task)
        assert summary["published"] == [DAY.isoformat()]
        again = connect(private)
        try:
            assert published_bars(again, "SAIL", DAY) == 375
        finally:
            again.close()
    finally:
        stop_embedded(private.pg_dir)


# --------------------------------------------------------------------------- 3. disk full while writing reports


@contextlib.contextmanager
def _small_disk(folder: Path, monkeypatch) -> Iterator[tuple[str, Callable[[], None]]]:
    """A 64 KiB tmpfs mounted on ``folder`` when this runs as root (the real thing), else a seam in the
    file writer that raises ENOSPC; yields (which, fill) where ``fill()`` makes the disk full."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)]
        mounted = subprocess.run(mount, capture_output=True).returncode == 0
    if mounted:

        def fill() -> None:  # to the last block
            with contextlib.suppress(OSError), open(folder / "filler.bin", "wb") as fh:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()

        try:
            yield "tmpfs", fill
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        return
    import execution.data.files as files

    def no_space(fd: int) -> None:  # what the kernel answers on a full disk, at the flush of a write
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    yield "seam", lambda: monkeypatch.setattr(files.os, "fsync", no_space)


def test_fault_disk_full_while_writing_reports_and_schedules(conn, settings, tmp_path, monkeypatch, capsys):
    """EXEC_HOME's disk fills up: the schedules and the report fail with an error naming the path and
    the full disk; the database and the files already there are unchanged; no temporary file is left."""
    from test_report import HISTORY, ingested

    from execution.cli import main
    from execution.data.files import WriteFailed
    from execution.report.daily import render_daily_report
    from execution.trading.schedules import write_schedules

    ingested(conn, settings.with_overrides(symbols=("RELIANCE",)), ("RELIANCE",), *HISTORY)
    home = settings.with_overrides(home=tmp_path / "home", database_url=database_url(settings), symbols=("RELIANCE",))
    reports = home.reports_dir
    with _small_disk(reports, monkeypatch) as (how, fill):
        external_services.note(
            "disk-full fault: "
            + (
                "a real 64 KiB tmpfs mounted over the reports folder"
                if how == "tmpfs"
                else "the ENOSPC seam (no mount)"
            )
        )
        day, plan_day = HISTORY[1], date(2020, 1, 28)
        write_schedules(home, plan_day)
        before_rows = _count(conn, "SELECT count(*) FROM schedules")
        before_files = sorted(p.relative_to(reports) for p in reports.rglob("*") if p.is_file())
        fill()
        with pytest.raises(WriteFailed, match="No space left on device") as full:
            render_daily_report(home, day)
        assert "disk is full" in str(full.value) and str(reports) in str(full.value)
        with pytest.raises(WriteFailed, match="No space left on device"):
            write_schedules(home, plan_day)
        monkeypatch.setenv("EXEC_HOME", str(home.home))
        monkeypatch.setenv("EXEC_DATABASE_URL", home.database_url)
        monkeypatch.setenv("EXEC_SYMBOLS", "RELIANCE")
        assert main(["schedule", "--date", "2020-01-28"]) == 2  # one line naming the file and the cause
        assert "No space left on device" in capsys.readouterr().err
        assert _count(conn, "SELECT count(*) FROM schedules") == before_rows  # the database is unchanged
        after_files = sorted(
            p.relative_to(reports) for p in reports.rglob("*") if p.is_file() and p.name != "filler.bin"
        )
        assert after_files == before_files  # nothing half-written, no temporary file left


# --------------------------------------------------------------------------- 4. quarantined symbol beside a healthy one


@pytest.mark.slow
def test_fault_quarantined_and_unfetched_symbols_beside_a_healthy_one(conn, tmp_path, monkeypatch, dag_bag, airflow_db):
    """SAIL's day has a vendor gap (quarantined) and INFY's file never arrives (fetch failure);
    RELIANCE is healthy. RELIANCE is published, announced, scheduled for the next day and reported
    at once; the daily run and the reports run still fail loudly, naming SAIL and INFY."""
    import common
    from airflow.sdk.execution_time.context import set_current_context

    monkeypatch.setenv("EXEC_SYMBOLS", "RELIANCE,SAIL,INFY")
    from execution.config import load_settings

    settings = load_settings()
    folder = tmp_path / "landing"
    history = tmp_path / "history"  # the day before, published by an earlier run
    vendor_csv(history, [clean_day("RELIANCE", BEFORE, seed=1)], "RELIANCE")
    vendor_csv(history, [clean_day("SAIL", BEFORE, seed=3)], "SAIL")
    ingest(settings, "landing", ["RELIANCE", "SAIL"], BEFORE, BEFORE, path=str(history), progress=False)
    vendor_csv(folder, [clean_day("RELIANCE", DAY, seed=2)], "RELIANCE")
    vendor_csv(folder, [with_gap(clean_day("SAIL", DAY, seed=4))], "SAIL")

    symbols = ["RELIANCE", "SAIL", "INFY"]
    conf = {"source": "landing", "source_path": str(folder), "symbols": symbols}
    daily = dag_bag.dags["nse_daily_bars"].test(
        logical_date=pendulum.datetime(2021, 7, 20, 16, 0, tz="Asia/Kolkata"), run_conf=conf
    )
    states = task_states(daily)
    assert daily.state == "failed"
    assert states["publish_bars"] == ["success", "success", "success"]
    assert states["check_held_back"] == ["success", "failed", "failed"]  # RELIANCE, SAIL, INFY
    assert published_bars(conn, "RELIANCE", DAY) == 375 and published_bars(conn, "SAIL", DAY) == 0
    extras = {e["symbol"]: e for e in asset_event_extras("nse_bars_1m", daily.run_id)}
    assert extras["RELIANCE"]["published"] == [DAY.isoformat()]
    assert extras["SAIL"]["quarantined"] == [DAY.isoformat()] and extras["INFY"]["failed"] == [DAY.isoformat()]

    reports_dag = dag_bag.dags["nse_execution_reports"]
    events = [
        SimpleNamespace(source_dag_id="nse_daily_bars", source_run_id=daily.run_id, extra=e) for e in extras.values()
    ]
    context = {"params": {"symbols": symbols}, "triggering_asset_events": {common.BARS_ASSET: events}}
    with set_current_context(context):  # the asset-triggered run's first task, on the real events
        assert reports_dag.get_task("resolve_days").python_callable() == [DAY.isoformat()]

    report_run = reports_dag.test(
        logical_date=pendulum.datetime(2021, 7, 20, 17, 0, tz="Asia/Kolkata"),
        run_conf={"day": DAY.isoformat(), "symbols": symbols},
    )
    states = task_states(report_run)
    assert states["write_next_day_schedules"] == ["success"]
    assert states["render_report"] == ["failed"]  # SchedulesIncomplete (INFY), raised after the report is written
    with conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, sum(planned_qty) FROM schedules WHERE trading_day = %s AND is_primary GROUP BY 1", (NEXT,)
        )
        assert dict(cur.fetchall()) == {"RELIANCE": 10_000, "SAIL": 10_000}  # SAIL plans on its last good day
    page = (settings.reports_dir / "daily").glob(f"*{DAY.isoformat()}*.html")
    html = next(page).read_text()
    assert "RELIANCE" in html and "Orders without a plan" in html and "INFY" in html


# --------------------------------------------------------------------------- 5. release, then clear the failed run


@pytest.mark.slow
def test_fault_release_then_clear_the_failed_run(conn, settings, tmp_path, dag_bag, airflow_db):
    """SAIL's day is quarantined by the daily run; an operator releases it; the failed run is cleared
    and runs again: the release is kept, the run succeeds, and the audit holds exactly what happened."""
    folder = tmp_path / "landing"
    vendor_csv(folder, [with_gap(clean_day("SAIL", DAY))], "SAIL")
    conf = {"source": "landing", "source_path": str(folder), "symbols": ["SAIL"]}
    dag = dag_bag.dags["nse_daily_bars"]
    when = pendulum.datetime(2021, 7, 20, 16, 0, tz="Asia/Kolkata")
    first = dag.test(logical_date=when, run_conf=conf)
    assert first.state == "failed" and task_states(first)["check_held_back"] == ["failed"]
    assert release(settings, "SAIL", DAY, "gap confirmed by the exchange") == 363

    cleared = dag.test(logical_date=when, run_conf=conf)  # the same run, cleared: every task again

    assert cleared.state == "success"
    assert published_bars(conn, "SAIL", DAY) == 363
    log = audit.events(conn, "SAIL", DAY)
    assert [e["event"] for e in log] == ["quarantined", "released"]
    assert "airflow nse_daily_bars" in log[0]["actor"]  # quarantined by the DAG run's task
    assert log[1]["reason"] == "gap confirmed by the exchange" and audit.current_actor().name in log[1]["actor"]


# --------------------------------------------------------------------------- 6. two runs of the same day at once


@pytest.mark.parametrize("content", ["same", "corrected"])
def test_fault_two_runs_of_the_same_day_at_once(conn, settings, tmp_path, content):
    """Two runs fetch, stage, validate and publish the same day at the same moment (a manual ingest
    beside the scheduled run, or max_active_runs=2): neither fails, and exactly one content is
    published -- the newer run's when the vendor corrected the file in between."""
    first, second = tmp_path / "a", tmp_path / "b"
    vendor_csv(first, [clean_day("SAIL", DAY, seed=1)], "SAIL")
    vendor_csv(second, [clean_day("SAIL", DAY, seed=1 if content == "same" else 2)], "SAIL")
    at_stage, at_publish = threading.Barrier(2), threading.Barrier(2)
    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def run(name: str, folder: Path) -> None:
        try:
            at_stage.wait(timeout=60)
            staged = fetch_and_stage(settings, "landing", "SAIL", DAY, DAY, path=str(folder), who=name)
            validated = validate_staged(settings, staged)
            at_publish.wait(timeout=60)
            results[name] = publish_validated(settings, validated)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, f)) for n, f in (("one", first), ("two", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    newest = max(results.values(), key=lambda r: r["run_id"])
    expected = clean_day("SAIL", DAY, seed=1 if content == "same" or newest is results["one"] else 2)
    with conn.cursor() as cur:
        cur.execute("SELECT close FROM bars_1m WHERE symbol = 'SAIL' ORDER BY ts")
        closes = [r[0] for r in cur.fetchall()]
    assert closes == expected["close"].tolist()  # one content, whole
    assert _count(conn, "SELECT count(*) FROM published_days") == 1
    if content == "same":
        assert _count(conn, "SELECT count(*) FROM staged_batches") == 1  # staged once, reused by the other
    else:
        assert _count(conn, "SELECT fetch_run_id FROM published_days") == newest["run_id"]


# --------------------------------------------------------------------------- 7. a corrupt champion artifact


def test_fault_corrupt_champion_artifact(conn, settings, capsys, monkeypatch):
    """The champion's artifact no longer matches its checksum: the load failure and the fallback are
    recorded, the twap_seed plan is written (and the CSV says so and why), and the command fails loudly."""
    from test_report import HISTORY, ingested

    from execution.cli import main
    from execution.config import OrderParams
    from execution.models import registry
    from execution.models.artifacts import relative_artifact_path, sha256_file
    from execution.models.champion import ChampionUnavailable
    from execution.trading.schedules import write_schedules

    one = settings.with_overrides(symbols=("RELIANCE",))
    ingested(conn, one, ("RELIANCE",), *HISTORY)
    artifact = settings.models_dir / "RELIANCE" / "corrupt-dqn_sl.zip"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_bytes(b"a model, once")
    model_id = registry.register(
        conn, agent="dqn_sl", symbol="RELIANCE", train_start=date(2019, 1, 1), train_end=date(2019, 12, 31),
        train_days=240, episodes=10, timesteps=100, seed=1, reward="vr", fill="seed", hyperparameters={},
        order=OrderParams(), artifact_path=relative_artifact_path(settings, artifact), sha256=sha256_file(artifact),
    )  # fmt: skip
    registry.promote(conn, model_id, "test: champion")
    conn.commit()
    artifact.write_bytes(b"bit rot")  # the file on disk no longer is the registered one

    plan_day = date(2020, 2, 3)
    with pytest.raises(ChampionUnavailable, match="RELIANCE"):
        write_schedules(one, plan_day)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT event FROM model_events WHERE model_id = %s OR event = 'fallback' ORDER BY event_id", (model_id,)
        )
        events = [r[0] for r in cur.fetchall()]
    assert "load_failed" in events and "fallback" in events
    comments, rows = read_schedule_csv(next((one.reports_dir / "schedules" / plan_day.isoformat()).glob("order-*.csv")))
    plan_line = next(c for c in comments if c.startswith("# plan to execute:"))
    assert "twap_seed" in plan_line and "cannot be loaded" in plan_line
    assert sum(int(r["twap_seed_lots"]) for r in rows) == 20 and "champion_lots" not in rows[0]
    monkeypatch.setenv("EXEC_SYMBOLS", "RELIANCE")
    assert main(["schedule", "--date", plan_day.isoformat()]) == 3  # the command line fails loudly too
    assert "cannot be loaded" in capsys.readouterr().err


# --------------------------------------------------------------------------- 8. the clock: a run at 00:30 IST


@pytest.mark.slow
def test_fault_a_run_at_00_30_ist_processes_the_exchange_day(conn, dag_bag, airflow_db, monkeypatch):
    """A run whose logical date is 00:30 IST on Tue 2020-02-04 (19:00 UTC on Mon 02-03), on a host
    whose clock is set to another zone: it processes 2020-02-04 (the exchange's date), not the UTC or
    the host's date; at that instant the day's session has not closed, so a live run would refuse."""
    import common

    monkeypatch.setenv("TZ", "America/Los_Angeles")  # the host's zone must not matter
    time.tzset()
    try:
        at = pendulum.datetime(2020, 2, 4, 0, 30, tz="Asia/Kolkata")
        assert at.in_timezone("UTC").date() == date(2020, 2, 3)
        assert common.run_day({"params": {}, "logical_date": at}) == date(2020, 2, 4)
        assert not common.session_closed(date(2020, 2, 4), at)  # live at 00:30 IST: too early, refused
        run = dag_bag.dags["nse_daily_bars"].test(
            logical_date=at, run_conf={"source": "synthetic", "symbols": ["SAIL"], "source_path": None}
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert run.state == "success"
    assert published_bars(conn, "SAIL", date(2020, 2, 4)) == 375
    assert published_bars(conn, "SAIL", date(2020, 2, 3)) == 0
    assert [e["published"] for e in asset_event_extras("nse_bars_1m", run.run_id)] == [["2020-02-04"]]
