"""Issue 3 acceptance through the command line: each corruption of the validation catalogue,
delivered as a landing export, ends in quarantine with its expectation named, visible in
`quarantine list` and `status --json`, the published table untouched; releasing one publishes it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_quality import BAD_DAY, CATALOGUE, CLEAN_DAY, clean_day

from execution.cli import main
from execution.data.audit import current_actor

ERROR_CASES = [c for c in CATALOGUE if c.errors]
PARSE_LEVEL = {"string_in_price"}  # a non-numeric value fails at reading, before validation


def symbol_of(index: int) -> str:
    return f"C{index:02d}"


@pytest.fixture
def landing(tmp_path: Path, monkeypatch) -> Path:
    """One symbol per corruption, each with a clean day and its corrupted day, as vendor CSVs."""
    folder = tmp_path / "landing"
    folder.mkdir()
    symbols = [symbol_of(i) for i in range(len(ERROR_CASES))]
    monkeypatch.setenv("EXEC_SYMBOLS", ",".join(symbols))
    for i, case in enumerate(ERROR_CASES):
        clean = clean_day(symbol_of(i), CLEAN_DAY, seed=i)
        bad = case.corrupt(clean_day(symbol_of(i), case.day, seed=100 + i))
        frame = pd.concat([clean, bad], ignore_index=True)
        frame["ts"] = pd.to_datetime(frame["ts"]).dt.strftime("%Y-%m-%d %H:%M:%S")
        frame.drop(columns="source").to_csv(folder / f"{symbol_of(i)}.csv", index=False)
    return folder


def cli_json(capsys, *args: str) -> object:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_every_corruption_is_quarantined_by_name_and_a_release_publishes(conn, landing, capsys):
    assert len(ERROR_CASES) >= 12
    assert main(["ingest", "--source", "landing", "--path", str(landing), "--no-progress"]) == 3
    held = cli_json(capsys, "quarantine", "list", "--json")
    named = {(e["symbol"], e["day"]): {f["name"] for f in e["failed_expectations"]} for e in held}
    status = cli_json(capsys, "status", "--json")["symbols"]
    for i, case in enumerate(ERROR_CASES):
        symbol, day = symbol_of(i), case.day.isoformat()
        if case.name in PARSE_LEVEL:
            assert [f["day"] for f in status[symbol]["failed_days"]] == [day]
            assert "not a number" in status[symbol]["failed_days"][0]["error"]
            continue
        assert named[(symbol, day)] == set(case.errors), case.name
        assert [q["day"] for q in status[symbol]["quarantined_days"]] == [day], case.name
        assert status[symbol]["trading_days"] == 1  # the clean day only
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bars_1m WHERE ts >= %s::date", (BAD_DAY,))
        assert cur.fetchone()[0] == 0  # nothing corrupted reached the published table

    # an operator releases the day that is only incomplete: it is published, with who and why
    index = next(i for i, c in enumerate(ERROR_CASES) if c.name == "only_300_bars")
    symbol = symbol_of(index)
    assert (
        main(["quarantine", "release", symbol, BAD_DAY.isoformat(), "--reason", "vendor confirmed", "--by", "ops"]) == 0
    )
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bars_1m WHERE symbol = %s AND ts >= %s::date", (symbol, BAD_DAY))
        assert cur.fetchone()[0] == 300
        cur.execute(
            "SELECT released_by, release_reason FROM quarantine WHERE symbol = %s AND day = %s", (symbol, BAD_DAY)
        )
        # the declared name is kept beside the process's own identity (user@host), never instead of it
        assert cur.fetchone() == (current_actor(declared_by="ops").label, "vendor confirmed")
        cur.execute("SELECT released_by FROM published_days WHERE symbol = %s AND day = %s", (symbol, BAD_DAY))
        assert cur.fetchone()[0] == current_actor(declared_by="ops").label
    still_held = cli_json(capsys, "quarantine", "list", "--json")
    assert (symbol, BAD_DAY.isoformat()) not in {(e["symbol"], e["day"]) for e in still_held}
    assert len(still_held) == len(held) - 1
