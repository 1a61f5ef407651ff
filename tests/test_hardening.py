"""Production hardening (issue 13): one test per defect of the daily path, each failing before its fix.

Defects 1, 3, 4 (release kept, monotonic publishing, append-only audit), 2 (a symbol without data
does not stop another's schedules), 5 (schedules all or nothing, PolicyCache), 6 (the CSV names its
strategy), 8 (no import-skip of the project; service paths announced and required by CI), 9 (pooled
CI by day), 10 (Data Docs with local copies) and 7's Data Docs policy are here; 7's CSP on every
route and the per-DAG permission are in ``tests/test_plugin.py``; the DAG-level behaviour of 2 is in
``tests/test_dag_daily_bars.py``, ``tests/test_dag_reports.py`` and ``tests/test_faults.py``.
"""

from __future__ import annotations

import contextlib
import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
import pytest
from test_quality import clean_day

from execution.cli import main
from execution.data import audit
from execution.data.ingest import DaysQuarantined, fetch_and_stage, publish_validated, release, validate_staged

DAY = date(2021, 7, 20)  # a Tuesday, an NSE trading day
SYMBOL = "SAIL"


def vendor_csv(folder: Path, frames: list[pd.DataFrame], symbol: str = SYMBOL) -> Path:
    """``frames`` written as one vendor export ``folder/SYMBOL.csv`` (naive exchange time)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.concat(frames, ignore_index=True)
    out = frame.drop(columns="source").assign(ts=frame["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    path = folder / f"{symbol}.csv"
    out.to_csv(path, index=False)
    return path


def with_gap(frame: pd.DataFrame, minutes: int = 12) -> pd.DataFrame:
    """``frame`` without ``minutes`` bars from 11:00: held back by ``longest_gap`` (> 5 minutes)."""
    minute = frame["ts"].dt.hour * 60 + frame["ts"].dt.minute
    return frame[(minute < 660) | (minute >= 660 + minutes)].reset_index(drop=True)


def published_bars(conn, symbol: str = SYMBOL, day: date = DAY) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM bars_1m WHERE symbol = %s AND (ts AT TIME ZONE 'Asia/Kolkata')::date = %s",
            (symbol, day),
        )
        return int(cur.fetchone()[0])


def quarantine_row(conn, symbol: str = SYMBOL, day: date = DAY) -> tuple:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT released_at IS NOT NULL, released_by, release_reason FROM quarantine"
            " WHERE symbol = %s AND day = %s",
            (symbol, day),
        )
        return cur.fetchone()


def dag_path(settings, folder: Path) -> dict:
    """fetch_bars -> validate_bars of the daily DAG for SAIL on DAY: the payload publish_bars gets."""
    staged = fetch_and_stage(settings, "landing", SYMBOL, DAY, DAY, path=str(folder), who="test")
    return validate_staged(settings, staged)


@pytest.fixture
def gap_day(tmp_path: Path) -> Path:
    """A landing folder whose SAIL day has a 12-minute vendor gap."""
    vendor_csv(tmp_path / "landing", [with_gap(clean_day(SYMBOL, DAY))])
    return tmp_path / "landing"


# --------------------------------------------------------------------------- defect 1


def test_defect_1_clearing_a_failed_publish_keeps_the_operators_release(conn, settings, gap_day):
    """The carried-over "failed" verdict of a cleared publish_bars must not unpublish a released day."""
    validated = dag_path(settings, gap_day)
    assert [d["state"] for d in validated["days"]] == ["failed"]
    with contextlib.suppress(DaysQuarantined):
        publish_validated(settings, validated)
    assert published_bars(conn) == 0
    rows = release(settings, SYMBOL, DAY, "vendor gap confirmed by the exchange")
    assert rows == 363 and published_bars(conn) == 363

    with contextlib.suppress(DaysQuarantined):
        publish_validated(settings, validated)  # the operator clears the failed task: same XCom input

    assert published_bars(conn) == 363
    released, by, why = quarantine_row(conn)
    assert released and by and why == "vendor gap confirmed by the exchange"


def test_defect_1_validate_and_reingest_keep_the_release_from_the_command_line(conn, settings, gap_day, capsys):
    args = ["--symbols", SYMBOL, "--start", DAY.isoformat(), "--end", DAY.isoformat()]
    assert main(["ingest", "--source", "landing", "--path", str(gap_day), *args, "--no-progress"]) == 3
    assert main(["quarantine", "release", SYMBOL, DAY.isoformat(), "--reason", "vendor gap confirmed"]) == 0
    assert published_bars(conn) == 363

    main(["validate", *args])
    assert published_bars(conn) == 363
    main(["ingest", "--source", "landing", "--path", str(gap_day), *args, "--no-progress"])
    assert published_bars(conn) == 363
    assert quarantine_row(conn)[2] == "vendor gap confirmed"
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)["symbols"][SYMBOL]
    assert status["quarantined_days"] == [] and status["trading_days"] == 1


# --------------------------------------------------------------------------- defect 3


def test_defect_3_an_older_run_cannot_overwrite_what_a_newer_run_published(conn, settings, tmp_path):
    """Run 1 fetches the vendor's first file; run 2 the corrected one and publishes it; run 1's
    delayed (or cleared) publish must not put the older content back."""
    first = clean_day(SYMBOL, DAY, seed=1)
    corrected = clean_day(SYMBOL, DAY, seed=2)
    vendor_csv(tmp_path / "first", [first])
    vendor_csv(tmp_path / "fixed", [corrected])
    older = dag_path(settings, tmp_path / "first")
    newer = dag_path(settings, tmp_path / "fixed")
    assert older["run_id"] < newer["run_id"]
    publish_validated(settings, newer)
    publish_validated(settings, older)  # late

    with conn.cursor() as cur:
        cur.execute("SELECT close FROM bars_1m WHERE symbol = %s ORDER BY ts", (SYMBOL,))
        closes = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT batch_id FROM published_days WHERE symbol = %s AND day = %s", (SYMBOL, DAY))
        published_batch = cur.fetchone()[0]
        cur.execute("SELECT status FROM ingest_days WHERE run_id = %s", (older["run_id"],))
        late_status = cur.fetchone()[0]
    np.testing.assert_allclose(closes, corrected["close"].to_numpy())
    assert published_batch == newer["days"][0]["batch_id"]
    assert late_status == "superseded"


# --------------------------------------------------------------------------- defect 4


def test_defect_4_release_audit_is_append_only_and_names_the_os_user(conn, settings, gap_day):
    assert main(["ingest", "--source", "landing", "--path", str(gap_day), "--symbols", SYMBOL, "--no-progress"]) == 3
    assert main(["quarantine", "release", SYMBOL, DAY.isoformat(), "--reason", "confirmed", "--by", "alice"]) == 0
    me = audit.current_actor().name  # user@host from the process's uid, whatever --by says

    log = audit.events(conn, SYMBOL, DAY)
    assert [e["event"] for e in log] == ["quarantined", "released"]
    released = log[-1]
    assert released["reason"] == "confirmed"
    assert me in released["actor"] and "alice" in released["actor"]
    assert released["actor_context"]["os_user"] == me.split("@")[0]
    assert released["actor_context"]["declared_by"] == "alice"
    assert {f["name"] for f in log[0]["details"]["failed_expectations"]} == {"bars_per_day", "longest_gap"}

    with conn.cursor() as cur, pytest.raises(psycopg2.errors.RaiseException, match="append-only"):
        cur.execute("UPDATE quarantine_events SET actor = 'someone else'")
    conn.rollback()
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.RaiseException, match="append-only"):
        cur.execute("DELETE FROM quarantine_events")
    conn.rollback()

    # corrected content published later: the day is no longer "released", the audit of the release stays
    vendor_csv(gap_day, [clean_day(SYMBOL, DAY)])
    assert main(["ingest", "--source", "landing", "--path", str(gap_day), "--symbols", SYMBOL, "--no-progress"]) == 0
    assert published_bars(conn) == 375
    with conn.cursor() as cur:
        cur.execute("SELECT released_by FROM published_days WHERE symbol = %s AND day = %s", (SYMBOL, DAY))
        assert cur.fetchone()[0] is None
    assert [e["event"] for e in audit.events(conn, SYMBOL, DAY)] == ["quarantined", "released"]
    assert quarantine_row(conn)[1] == released["actor"]


# --------------------------------------------------------------------------- helpers used by test_faults


def read_schedule_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(comment lines, rows) of a schedule CSV."""
    lines = path.read_text().splitlines()
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    return comments, rows


def test_quarantine_events_command_prints_the_log(conn, gap_day, capsys):
    assert main(["ingest", "--source", "landing", "--path", str(gap_day), "--symbols", SYMBOL, "--no-progress"]) == 3
    assert main(["quarantine", "release", SYMBOL, DAY.isoformat(), "--reason", "confirmed"]) == 0
    capsys.readouterr()
    assert main(["quarantine", "events", "--symbol", SYMBOL, "--json"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert [(e["event"], e["day"]) for e in log] == [("quarantined", DAY.isoformat()), ("released", DAY.isoformat())]
    assert main(["quarantine", "events"]) == 0
    assert "released by" in capsys.readouterr().out


# --------------------------------------------------------------------------- defect 9


def test_defect_9_the_pooled_ci_resamples_days_not_symbol_days():
    """Two symbols with identical outcomes every day carry no more information than one: the pooled
    ("ALL") bootstrap must resample days (all symbols of a day together), so its CI is the
    one-symbol CI, not one narrowed by ~sqrt(2) as if the symbol-days were independent."""
    from execution.sim.metrics import summarize

    rng = np.random.default_rng(3)
    advantage = rng.normal(0.5, 4.0, 60)
    days = pd.bdate_range("2020-01-01", periods=60).date
    frames = []
    for symbol in ("RELIANCE", "SAIL"):
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "day": days,
                    "strategy": "champion",
                    "fill": "seed",
                    "advantage_bps": advantage,
                    "shortfall_bps": -advantage,
                    "oracle_gap_bps": 10.0,
                    "vwap_slippage_bps": 0.0,
                    "child_orders": 20,
                    "completion_min": 100,
                    "peak_participation": 0.01,
                    "reward_vr": -1.0,
                }
            )
        )
    summary = summarize(pd.concat(frames, ignore_index=True), n_resamples=4000, seed=1).set_index("symbol")
    one, pooled = summary.loc["RELIANCE"], summary.loc["ALL"]
    width_one = one["advantage_ci95_high_bps"] - one["advantage_ci95_low_bps"]
    width_pooled = pooled["advantage_ci95_high_bps"] - pooled["advantage_ci95_low_bps"]
    assert pooled["days"] == 120 and pooled["advantage_mean_bps"] == pytest.approx(advantage.mean())
    assert width_pooled == pytest.approx(width_one, rel=0.08)  # independent resampling: ~0.71x


# --------------------------------------------------------------------------- defect 8 (the skip part)


def test_defect_8_no_test_turns_an_import_error_of_the_project_into_a_skip():
    """``pytest.importorskip("execution...")`` would report a broken module as "skipped": import it."""
    import ast

    offenders = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "importorskip":
                target = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else ""
                if str(target).split(".")[0] in ("execution", "nse_reports", "common"):
                    offenders.append(f"{path.name}:{node.lineno} {target}")
    assert offenders == []


# --------------------------------------------------------------------------- defects 2, 5, 6: schedules

PLAN_DAY = date(2020, 2, 3)  # Monday after the synthetic history of test_report (2020-01-27..31)


@pytest.fixture
def reliance_only_history(conn, settings):
    """RELIANCE's bars of 2020-01-27..31 published; SAIL has none. Settings configure both."""
    from test_report import HISTORY, ingested

    ingested(conn, settings.with_overrides(symbols=("RELIANCE",)), ("RELIANCE",), *HISTORY)
    return settings.with_overrides(symbols=("RELIANCE", "SAIL"))


def schedule_rows(conn, day: date) -> dict[str, int]:
    """{symbol: planned shares of the primary plan} stored for ``day``."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, sum(planned_qty) FROM schedules WHERE trading_day = %s AND is_primary GROUP BY symbol",
            (day,),
        )
        return {s: int(q) for s, q in cur.fetchall()}


def test_defect_2_a_symbol_without_data_does_not_stop_the_others_schedules(conn, reliance_only_history):
    from execution.trading.schedules import schedules_dir, write_schedules

    summary = write_schedules(reliance_only_history, PLAN_DAY)

    assert schedule_rows(conn, PLAN_DAY) == {"RELIANCE": 10_000}
    assert [p["order"]["symbol"] for p in summary["orders"]] == ["RELIANCE"]
    assert [(u["order"]["symbol"], "no published bars of SAIL" in u["reason"]) for u in summary["unplanned"]] == [
        ("SAIL", True)
    ]
    assert [p.name for p in schedules_dir(reliance_only_history, PLAN_DAY).glob("*.csv")] == [
        "order-1-RELIANCE-buy-0930.csv"
    ]
    from execution.trading.schedules import SchedulesIncomplete, raise_if_unplanned

    with pytest.raises(SchedulesIncomplete, match="SAIL"):
        raise_if_unplanned(summary)  # what the reports DAG does once the report is written


def test_defect_5_policy_cache_never_commits_the_callers_transaction(conn, settings):
    from execution.models.champion import PolicyCache
    from execution.trading.orders import add_order

    add_order(conn, PLAN_DAY, "RELIANCE", "buy", 10_000, 500)  # not committed
    choice = PolicyCache(conn, settings).get("RELIANCE", settings.order)
    assert choice.source == "twap_seed"
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders")
        assert cur.fetchone()[0] == 0  # the caller's rollback still undoes its own work


def _block_then_kill_the_writer(settings, conn_kill, errors: list[BaseException]) -> None:
    """Wait for the schedules writer to block on the table lock the test holds, then terminate its backend."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with conn_kill.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'nse-execution'"
                " AND wait_event_type = 'Lock' AND query ILIKE '%%schedules%%'"
            )
            found = cur.fetchall()
        if found:
            with conn_kill.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", (found[0][0],))
            return
        time.sleep(0.05)
    with conn_kill.cursor() as cur:
        cur.execute("SELECT application_name, state, wait_event_type, left(query, 80) FROM pg_stat_activity")
        seen = cur.fetchall()
    raise AssertionError(f"the schedules writer never reached the database write: {errors} {seen}")


def test_defect_5_a_failed_database_write_leaves_the_schedule_files_as_they_were(conn, reliance_only_history):
    """The writer's database session is killed while it replaces the rows: neither the rows nor the
    CSV folder may change (before the fix the folder was already replaced)."""
    import threading

    from execution.db import connect
    from execution.trading.orders import add_order
    from execution.trading.schedules import schedules_dir, write_schedules

    one = reliance_only_history.with_overrides(symbols=("RELIANCE",))
    write_schedules(one, PLAN_DAY)
    folder = schedules_dir(one, PLAN_DAY)
    before_files = {p.name: p.read_bytes() for p in folder.iterdir()}
    before_rows = schedule_rows(conn, PLAN_DAY)
    add_order(conn, PLAN_DAY, "RELIANCE", "sell", 5000, 500, "10:00", 60, 30)
    conn.commit()

    locker = connect(one)
    killer = connect(one)
    killer.autocommit = True  # pg_stat_activity is a snapshot per transaction: see each poll afresh
    errors: list[BaseException] = []
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE schedules IN ACCESS EXCLUSIVE MODE")
        writer = threading.Thread(target=lambda: _capture(errors, write_schedules, one, PLAN_DAY))
        writer.start()
        _block_then_kill_the_writer(one, killer, errors)
        writer.join(timeout=60)
    finally:
        locker.rollback()
        locker.close()
        killer.close()
    assert not writer.is_alive()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before_files
    assert schedule_rows(conn, PLAN_DAY) == before_rows
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    assert len(errors) == 1 and isinstance(errors[0], psycopg2.OperationalError)  # the cause, not a later one


def _capture(errors: list[BaseException], fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as exc:
        errors.append(exc)


def test_defect_6_the_schedule_csv_says_which_strategy_it_is_and_why(conn, reliance_only_history):
    from execution.trading.schedules import write_schedules

    one = reliance_only_history.with_overrides(symbols=("RELIANCE",))
    summary = write_schedules(one, PLAN_DAY)
    comments, rows = read_schedule_csv(Path(summary["orders"][0]["csv"]))

    assert "champion_lots" not in rows[0]  # there is no champion: the file must not say there is
    plan_line = next(c for c in comments if c.startswith("# plan to execute:"))
    assert "twap_seed" in plan_line and "no trained model yet" in plan_line
    lots = [c for c in rows[0] if c.endswith("_lots")]
    assert lots[0] == "twap_seed_lots"  # the plan to execute comes first
    assert sum(int(r["twap_seed_lots"]) for r in rows) == 20


# --------------------------------------------------------------------------- defect 10


def _external_assets(folder: Path) -> list[str]:
    """Every script, stylesheet or image a page of ``folder`` would load from another host."""
    import re

    tag = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(https?://[^\"]+)\"", re.IGNORECASE)
    return [f"{p.relative_to(folder)}: {url}" for p in folder.rglob("*.html") for url in tag.findall(p.read_text())]


def test_defect_10_data_docs_load_local_copies_and_render_offline(tmp_path):
    from test_quality import BAD_DAY, CLEAN_DAY
    from test_report import _chromium_skip_reason, render_in_chromium

    from execution.data.quality import build_data_docs, validate_days

    bars = pd.concat([clean_day("AAA", CLEAN_DAY), with_gap(clean_day("AAA", BAD_DAY))])
    index = build_data_docs(validate_days(bars), tmp_path / "data-docs")
    assert _external_assets(tmp_path / "data-docs") == []
    vendored = tmp_path / "data-docs" / "static" / "vendor"
    for name in ("jquery/jquery.min.js", "bootstrap/css/bootstrap.min.css", "bootstrap-table/bootstrap-table.min.js"):
        assert (vendored / name).stat().st_size > 1000, name
    if _chromium_skip_reason():
        pytest.skip(_chromium_skip_reason())
    rows = "document.querySelectorAll('table tbody tr[data-index]').length"
    seen = render_in_chromium(index, tmp_path / "profile", probe_js=rows)
    assert [r for r in seen["requests"] if not r.startswith(("file:", "data:"))] == []  # offline by construction
    assert seen["errors"] == []
    assert seen["probe"] == 3  # bootstrap-table built the index: 2 validations + the suite


def test_defect_7_data_docs_still_work_under_the_policy_the_plugin_serves_them_with(tmp_path):
    """The Data Docs served over HTTP with the plugin's DATA_DOCS_POLICY: the table is built (the
    vendored scripts and GX's inline code run) and the browser reports no policy violation."""
    import functools
    import http.server
    import sys
    import threading

    from test_quality import BAD_DAY, CLEAN_DAY
    from test_report import _chromium_skip_reason, render_in_chromium

    from execution.data.quality import build_data_docs, validate_days

    sys.path.append(str(Path(__file__).resolve().parent.parent / "plugins"))
    from nse_reports.app import DATA_DOCS_POLICY

    if _chromium_skip_reason():
        pytest.skip(_chromium_skip_reason())
    bars = pd.concat([clean_day("AAA", CLEAN_DAY), with_gap(clean_day("AAA", BAD_DAY))])
    build_data_docs(validate_days(bars), tmp_path / "data-docs")

    class WithPolicy(http.server.SimpleHTTPRequestHandler):
        def end_headers(self):
            if self.path.endswith((".html", "/")):
                self.send_header("Content-Security-Policy", DATA_DOCS_POLICY)
            super().end_headers()

        def log_message(self, *args):
            pass

    handler = functools.partial(WithPolicy, directory=str(tmp_path / "data-docs"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        rows = "document.querySelectorAll('table tbody tr[data-index]').length"
        seen = render_in_chromium(url, tmp_path / "profile", probe_js=rows)
    finally:
        server.shutdown()
    assert seen["errors"] == []  # a blocked script or style would be logged as an error
    assert seen["probe"] == 3
    assert all(r.startswith(url.rsplit("/", 1)[0]) or r.startswith("data:") for r in seen["requests"])


# --------------------------------------------------------------------------- defect 8 (the CI part)


def _pytest_with_services_banner(tmp_path: Path, env_extra: dict[str, str]) -> tuple[int, str]:
    """Run pytest on a test of the external-PostgreSQL path that skips (no server), with the plugin."""
    import os
    import subprocess
    import sys

    (tmp_path / "test_needs_postgres.py").write_text(
        "import pytest\n\n\n@pytest.mark.external_postgres\n"
        "def test_it():\n    pytest.skip('no PostgreSQL on 127.0.0.1:5432: connection refused')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NSE_REQUIRE_SERVICES"}  # CI sets it for the real suite
    env.update({"PYTHONPATH": str(Path(__file__).resolve().parent), **env_extra})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "external_services", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout


def test_defect_8_skipped_service_paths_are_announced_and_fail_ci(tmp_path):
    code, out = _pytest_with_services_banner(tmp_path, {})
    assert code == 0  # a developer's machine without the service: the suite passes ...
    assert "paths needing a service of this machine" in out  # ... and says loudly what did not run
    assert "external PostgreSQL (127.0.0.1:5432, database test): SKIPPED: no PostgreSQL" in out
    assert "CeleryExecutor (Redis broker 127.0.0.1:6379, a real worker): NOT COLLECTED" in out
    code, out = _pytest_with_services_banner(tmp_path, {"NSE_REQUIRE_SERVICES": "postgres"})
    assert code == 1  # CI (.ci/run) requires the path: green is impossible with it skipped
    assert "FAILS THE RUN" in out


@pytest.mark.external_postgres
def test_the_release_audit_on_the_machines_postgresql(monkeypatch, tmp_path, external_database, gap_day):
    """Defects 1 and 4 on a real PostgreSQL server of the machine (migration 0006's trigger included)."""
    from execution.config import load_settings
    from execution.db import connect

    monkeypatch.setenv("EXEC_DATABASE_URL", external_database)
    settings = load_settings()
    args = ["--symbols", SYMBOL, "--no-progress"]
    assert main(["ingest", "--source", "landing", "--path", str(gap_day), *args]) == 3
    assert release(settings, SYMBOL, DAY, "vendor gap confirmed") == 363
    main(["validate", "--symbols", SYMBOL, "--start", DAY.isoformat(), "--end", DAY.isoformat()])
    external = connect(settings)
    try:
        assert published_bars(external) == 363
        assert [e["event"] for e in audit.events(external, SYMBOL, DAY)] == ["quarantined", "released", "release_kept"]
        with external.cursor() as cur, pytest.raises(psycopg2.errors.RaiseException, match="append-only"):
            cur.execute("DELETE FROM quarantine_events")
    finally:
        external.close()
