"""Foundation: synthetic and landing ingest, idempotent re-runs, atomic day replacement, status."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from conftest import requires_samples, samples_dir

from execution.cli import main
from execution.config import load_settings
from execution.data.exchange_calendar import trading_days
from execution.data.ingest import ingest
from execution.data.sources.synthetic import SyntheticSource
from execution.db import connect


def status_json(capsys) -> dict:
    assert main(["status", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_synthetic_ingest_is_idempotent_with_375_bars_every_trading_day(conn, capsys):
    args = [
        "ingest",
        "--source",
        "synthetic",
        "--symbols",
        "RELIANCE,SAIL",
        "--start",
        "2020-01-01",
        "--end",
        "2020-02-29",
        "--no-progress",
    ]
    assert main(args) == 0
    capsys.readouterr()
    first = status_json(capsys)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bars_staging")
        staged_before = cur.fetchone()[0]
    assert main(args) == 0
    assert "unchanged" in capsys.readouterr().out
    assert status_json(capsys) == first
    expected_days = trading_days(date(2020, 1, 1), date(2020, 2, 29))
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bars_staging")
        assert cur.fetchone()[0] == staged_before  # nothing staged twice
        cur.execute(
            "SELECT symbol, (ts AT TIME ZONE 'Asia/Kolkata')::date, count(*) FROM bars_1m GROUP BY 1, 2 ORDER BY 1, 2"
        )
        rows = cur.fetchall()
    assert {r[2] for r in rows} == {375}
    assert [r[1] for r in rows if r[0] == "SAIL"] == expected_days
    assert first["symbols"]["RELIANCE"]["trading_days"] == len(expected_days)
    assert first["symbols"]["RELIANCE"]["published_bars"] == 375 * len(expected_days)


def test_overlapping_windows_give_the_same_bars(conn, settings):
    ingest(settings, "synthetic", ["SAIL"], date(2020, 1, 1), date(2020, 1, 31), progress=False)
    january = pd.read_sql("SELECT ts, close, volume FROM bars_1m ORDER BY ts", conn)
    report = ingest(settings, "synthetic", ["SAIL"], date(2019, 12, 1), date(2020, 2, 15), progress=False)
    assert {o.status for o in report.outcomes if o.day.month == 1 and o.day.year == 2020} == {"unchanged"}
    again = pd.read_sql(
        "SELECT ts, close, volume FROM bars_1m WHERE ts >= '2020-01-01' AND ts < '2020-02-01' ORDER BY ts", conn
    )
    pd.testing.assert_frame_equal(january, again)


def test_corrected_content_replaces_the_day_atomically(conn, settings, tmp_path):
    bars = SyntheticSource(seed=3).fetch("RELIANCE", date(2020, 1, 30), date(2020, 1, 31)).bars
    frame = bars.drop(columns="source").assign(ts=bars["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    (tmp_path / "v1").mkdir()
    frame.to_csv(tmp_path / "v1" / "RELIANCE.csv", index=False)
    ingest(settings, "landing", ["RELIANCE"], date(2020, 1, 30), date(2020, 1, 31), tmp_path / "v1", False)
    corrected = frame.copy()
    first_bar = corrected["ts"] == "2020-01-31 09:15:00"
    corrected.loc[first_bar, "volume"] += 100
    (tmp_path / "v2").mkdir()
    corrected.to_csv(tmp_path / "v2" / "RELIANCE.csv", index=False)
    report = ingest(settings, "landing", ["RELIANCE"], date(2020, 1, 30), date(2020, 1, 31), tmp_path / "v2", False)
    assert {o.day: o.status for o in report.outcomes} == {
        date(2020, 1, 30): "unchanged",
        date(2020, 1, 31): "published",
    }
    with conn.cursor() as cur:
        cur.execute("SELECT volume FROM bars_1m WHERE ts = '2020-01-31 09:15:00+05:30'")
        assert cur.fetchone()[0] == int(frame.loc[first_bar, "volume"].iloc[0]) + 100
        cur.execute("SELECT count(*) FROM bars_1m")
        assert cur.fetchone()[0] == 2 * 375
        cur.execute("SELECT count(DISTINCT batch_id) FROM bars_staging")
        assert cur.fetchone()[0] == 3  # both versions of the 31st are kept in staging


@requires_samples
def test_landing_publishes_exactly_the_regular_session_rows(conn, settings):
    report = ingest(settings, "landing", ["RELIANCE", "SAIL"], date(2021, 7, 1), date(2021, 8, 31), None, False)
    for symbol in ("RELIANCE", "SAIL"):
        # an export is one delivery: days outside the window (SAIL's June) are ingested too
        raw = pd.read_csv(samples_dir() / f"{symbol}.csv", parse_dates=["timestamp"])
        hm = raw.timestamp.dt.strftime("%H:%M")
        regular = raw[(hm >= "09:15") & (hm <= "15:29")].groupby(raw.timestamp.dt.date).size()
        got = pd.read_sql(
            "SELECT (ts AT TIME ZONE 'Asia/Kolkata')::date AS day, count(*) AS n FROM bars_1m"
            " WHERE symbol = %(s)s GROUP BY 1",
            conn,
            params={"s": symbol},
        ).set_index("day")["n"]
        assert len(got) > 0
        for day, n in got.items():
            assert regular[day] == n, (symbol, day)
        complete = set(regular[regular == 375].index)
        assert complete <= set(got.index)  # every complete day is published
        staged = pd.read_sql(
            "SELECT count(*) AS n FROM bars_staging s JOIN staged_batches b USING (batch_id) WHERE b.symbol = %(s)s",
            conn,
            params={"s": symbol},
        )["n"].iloc[0]
        assert staged == len(raw)  # pre-open and post-close rows are kept in staging
    held = {(o.symbol, o.day) for o in report.outcomes if o.status == "quarantined"}
    assert ("RELIANCE", date(2021, 7, 12)) in held  # starts at 13:24
    assert ("SAIL", date(2021, 6, 3)) in held  # outside the window, starts at 14:05
    published_sail = {o.day for o in report.outcomes if o.symbol == "SAIL" and o.status == "published"}
    assert date(2021, 6, 4) in published_sail


@pytest.mark.external_postgres
def test_external_database_url_is_used_when_set(tmp_path, monkeypatch, external_database):
    """Uses the machine's PostgreSQL on 127.0.0.1:5432 when it answers (CI has one)."""
    monkeypatch.setenv("EXEC_DATABASE_URL", external_database)
    monkeypatch.setenv("EXEC_HOME", str(tmp_path / "home"))
    settings = load_settings()
    report = ingest(settings, "synthetic", ["SAIL"], date(2020, 1, 31), date(2020, 1, 31), progress=False)
    assert report.status == "success"
    external = connect(settings)
    with external.cursor() as cur:
        cur.execute("SELECT count(*) FROM bars_1m")
        assert cur.fetchone()[0] == 375
    external.close()
    assert not (tmp_path / "home" / "pg").exists()  # no embedded server was started


def test_digest_ignores_timestamp_unit_and_counts_session_rows():
    from execution.data.store import content_digests

    bars = SyntheticSource(seed=5).fetch("SAIL", date(2020, 1, 31), date(2020, 1, 31)).bars
    pre_open = bars.iloc[:2].assign(ts=bars["ts"].iloc[:2] - pd.Timedelta(minutes=10))  # 09:05, 09:06
    with_pre_open = pd.concat([pre_open, bars], ignore_index=True)
    in_seconds = content_digests(with_pre_open.assign(ts=with_pre_open["ts"].dt.as_unit("s")))
    in_nanos = content_digests(with_pre_open.assign(ts=with_pre_open["ts"].dt.as_unit("ns")))
    assert in_seconds["sha256"].tolist() == in_nanos["sha256"].tolist()
    assert in_seconds["session_rows"].tolist() == [375]
    assert in_seconds["hi"].tolist() == [377]
