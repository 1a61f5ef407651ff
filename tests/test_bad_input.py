"""Bad input: each gets a clear error naming file/symbol/day, the run records it as failed (or
quarantined) for that (symbol, day), the other days still load, and published data is unchanged."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from execution.cli import main
from execution.data.sources.synthetic import SyntheticSource

DAYS = (date(2020, 1, 29), date(2020, 1, 30), date(2020, 1, 31))
BAD_DAY = date(2020, 1, 30)


def vendor_frame() -> pd.DataFrame:
    """Three clean synthetic days of RELIANCE written as a vendor would: naive exchange time."""
    bars = SyntheticSource(seed=11).fetch("RELIANCE", DAYS[0], DAYS[-1]).bars
    return pd.DataFrame(
        {
            "timestamp": bars["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "symbol": "RELIANCE",
            "open": bars["open"].map("{:.2f}".format),
            "high": bars["high"].map("{:.2f}".format),
            "low": bars["low"].map("{:.2f}".format),
            "close": bars["close"].map("{:.2f}".format),
            "volume": bars["volume"].map("{:.1f}".format),
        }
    )


def write(folder: Path, frame: pd.DataFrame, name: str = "RELIANCE.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def published(conn) -> pd.DataFrame:
    return pd.read_sql("SELECT symbol, ts, open, high, low, close, volume FROM bars_1m ORDER BY symbol, ts", conn)


def day_records(conn, day: date) -> list[tuple[str, str | None]]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT status, error FROM ingest_days WHERE symbol = 'RELIANCE' AND day = %s ORDER BY run_id DESC",
            (day,),
        )
        return cur.fetchall()


def ingest(folder: Path, *extra: str) -> int:
    return main(
        [
            "ingest",
            "--source",
            "landing",
            "--path",
            str(folder),
            "--symbols",
            "RELIANCE",
            "--start",
            "2020-01-29",
            "--end",
            "2020-01-31",
            "--no-progress",
            *extra,
        ]
    )


@pytest.fixture
def loaded(conn, tmp_path: Path) -> pd.DataFrame:
    """The three clean days published; returns the published table."""
    assert ingest(write(tmp_path / "good", vendor_frame()).parent) == 0
    before = published(conn)
    assert len(before) == 3 * 375
    return before


def corrupt_day(frame: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
    frame = frame.copy()
    rows = frame.index[frame["timestamp"].str.startswith(BAD_DAY.isoformat())]
    frame.loc[rows[10], column] = value
    return frame


@pytest.mark.parametrize(
    ("column", "value", "expected_status", "named"),
    [
        ("close", "abc", "failed", "close is not a number: 'abc'"),
        ("volume", "-5", "quarantined", "volume"),
        ("volume", "12.5", "quarantined", "volume"),
    ],
)
def test_bad_value_fails_only_its_day(conn, loaded, tmp_path, capsys, column, value, expected_status, named):
    frame = corrupt_day(vendor_frame(), column, value)
    path = write(tmp_path / "bad", frame)
    assert ingest(path.parent) == 3
    err = capsys.readouterr().err
    assert f"RELIANCE {BAD_DAY}" in err and named in err
    if expected_status == "failed":
        assert str(path) in err  # the file is named
    status, error = day_records(conn, BAD_DAY)[0]
    assert status == expected_status and named in error
    pd.testing.assert_frame_equal(published(conn), loaded)
    for other in (DAYS[0], DAYS[2]):
        assert day_records(conn, other)[0][0] in ("unchanged", "published")


def test_duplicate_timestamp_is_quarantined(conn, loaded, tmp_path, capsys):
    frame = vendor_frame()
    dup = frame[frame["timestamp"] == f"{BAD_DAY} 10:00:00"]
    path = write(tmp_path / "dup", pd.concat([frame, dup]).sort_values("timestamp"))
    assert ingest(path.parent) == 3
    assert "unique" in capsys.readouterr().err
    assert day_records(conn, BAD_DAY)[0][0] == "quarantined"
    pd.testing.assert_frame_equal(published(conn), loaded)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("timestamp,symbol,open,high,low,close,volume\n", "no rows"),
        (
            "timestamp,symbol,open,high,low,close\n2020-01-30 09:15:00,RELIANCE,1,1,1,1\n",
            "missing column(s) ['volume']",
        ),
        (
            "timestamp,symbol,open,high,low,close,volume,colour\n2020-01-30 09:15:00,RELIANCE,1,1,1,1,5,red\n",
            "unknown column(s) ['colour']",
        ),
    ],
)
def test_unreadable_file_fails_every_day_and_keeps_published(conn, loaded, tmp_path, capsys, content, message):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "RELIANCE.csv").write_text(content)
    assert ingest(folder) == 3
    err = capsys.readouterr().err
    assert message in err and "RELIANCE.csv" in err
    for day in DAYS:
        status, error = day_records(conn, day)[0]
        assert status == "failed" and message in error
    pd.testing.assert_frame_equal(published(conn), loaded)


def test_missing_folder_and_missing_file(conn, loaded, tmp_path, capsys):
    assert ingest(tmp_path / "nowhere") == 3
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ingest(empty) == 3
    assert "no export file for RELIANCE" in capsys.readouterr().err
    assert day_records(conn, BAD_DAY)[0][0] == "failed"
    pd.testing.assert_frame_equal(published(conn), loaded)


def test_timezones_naive_is_exchange_time_aware_is_converted(conn, loaded, tmp_path):
    frame = vendor_frame()
    utc = pd.to_datetime(frame["timestamp"]).dt.tz_localize("Asia/Kolkata").dt.tz_convert("UTC")
    frame["timestamp"] = utc.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    # same bars, written in UTC: nothing changes in the store
    assert ingest(write(tmp_path / "utc", frame).parent) == 0
    pd.testing.assert_frame_equal(published(conn), loaded)
    first = published(conn)["ts"].iloc[0]
    assert first.tz_convert("Asia/Kolkata").strftime("%H:%M") == "09:15"


def test_holiday_and_weekend_rows_are_quarantined(conn, tmp_path, capsys):
    frame = vendor_frame()
    holiday = frame[frame["timestamp"].str.startswith("2020-01-31")].copy()
    holiday["timestamp"] = holiday["timestamp"].str.replace("2020-01-31", "2020-02-01")  # a Saturday
    path = write(tmp_path / "weekend", pd.concat([frame, holiday]))
    code = main(
        [
            "ingest",
            "--source",
            "landing",
            "--path",
            str(path.parent),
            "--symbols",
            "RELIANCE",
            "--start",
            "2020-01-29",
            "--end",
            "2020-02-01",
            "--no-progress",
        ]
    )
    assert code == 3
    assert "RELIANCE 2020-02-01" in capsys.readouterr().err
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bars_1m WHERE ts::date = '2020-02-01'")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT status FROM ingest_days WHERE day = '2020-02-01'")
        assert cur.fetchone()[0] == "quarantined"


def test_symbol_not_configured_is_refused(conn, tmp_path, capsys):
    code = main(
        ["ingest", "--source", "synthetic", "--symbols", "NOSUCH", "--start", "2020-01-29", "--end", "2020-01-31"]
    )
    assert code == 2
    assert "NOSUCH not configured" in capsys.readouterr().err
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM ingest_runs")
        assert cur.fetchone()[0] == 0


def test_database_down_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EXEC_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code = main(
        ["ingest", "--source", "synthetic", "--symbols", "RELIANCE", "--start", "2020-01-29", "--end", "2020-01-31"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot connect to the database at postgresql://nobody@127.0.0.1:1/none" in err
