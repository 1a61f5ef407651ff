"""The ``quality_results`` table (migration 0002): write verdicts, read them back."""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg2.extras import Json, execute_values

from execution.data.quality.verdict import ERROR, DayVerdict, FailedExpectation
from execution.json_values import json_safe

_INSERT = """
    INSERT INTO quality_results
        (run_id, symbol, day, suite, success, severity_max, statistics, failed_expectations)
    VALUES %s
"""
_SELECT = """
    SELECT DISTINCT ON (symbol, day)
           symbol, day, suite, success, statistics, failed_expectations, run_id, validated_at
      FROM quality_results
     WHERE (%(symbols)s::text[] IS NULL OR symbol = ANY(%(symbols)s::text[]))
       AND (%(start)s::date IS NULL OR day >= %(start)s::date)
       AND (%(end)s::date IS NULL OR day <= %(end)s::date)
     ORDER BY symbol, day, validated_at DESC, id DESC
"""


def record_results(conn: Any, verdicts: list[DayVerdict], run_id: int | None) -> None:
    """Insert one ``quality_results`` row per verdict, in the caller's transaction (no commit)."""
    if not verdicts:
        return
    rows = [
        (
            run_id,
            v.symbol,
            v.day,
            v.suite,
            v.passed,
            v.severity_max,
            Json(json_safe(v.statistics)),
            Json(json_safe(v.failed_expectations_json())),
        )
        for v in verdicts
    ]
    with conn.cursor() as cur:
        execute_values(cur, _INSERT, rows, page_size=500)


def verdict_from_row(row: dict[str, Any]) -> DayVerdict:
    """A ``DayVerdict`` from a ``quality_results`` row (a mapping with its column names)."""
    failed = [FailedExpectation.from_json(f) for f in row.get("failed_expectations") or []]
    day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"]))
    return DayVerdict(
        symbol=row["symbol"],
        day=day,
        passed=bool(row["success"]),
        errors=[f for f in failed if f.severity == ERROR],
        warnings=[f for f in failed if f.severity != ERROR],
        statistics=dict(row.get("statistics") or {}),
        suite=row.get("suite") or "nse_bars_1m",
    )


def load_verdicts(
    conn: Any, symbols: list[str] | None = None, start: date | None = None, end: date | None = None
) -> list[DayVerdict]:
    """The latest recorded verdict of each (symbol, day) in the range, sorted by (symbol, day)."""
    params = {"symbols": list(symbols) if symbols else None, "start": start, "end": end}
    with conn.cursor() as cur:
        cur.execute(_SELECT, params)
        names = [d[0] for d in cur.description]
        return [verdict_from_row(dict(zip(names, row, strict=True))) for row in cur.fetchall()]
