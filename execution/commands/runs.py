"""``runs``: the ingest runs, newest first (including those that changed nothing)."""

from __future__ import annotations

import argparse

from execution.config import Settings
from execution.db import connection


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``runs``."""
    p = subparsers.add_parser("runs", help="ingest runs: who fetched what, when, rows, status, error")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the latest ingest runs."""
    with connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT run_id, source, array_to_string(symbols, ','), start_day, end_day, requested_by,"
            " to_char(started_at, 'YYYY-MM-DD HH24:MI:SS'), status, rows_fetched, rows_published,"
            " COALESCE(error, '') FROM ingest_runs ORDER BY run_id DESC LIMIT %s",
            (args.limit,),
        )
        for row in cur.fetchall():
            run_id, source, symbols, start, end, who, started, status, fetched, published, error = row
            print(
                f"{run_id:>5} {started} {status:<9} {source:<9} {symbols} {start}..{end} "
                f"fetched={fetched} published={published} by {who} {error}".rstrip()
            )
    return 0
