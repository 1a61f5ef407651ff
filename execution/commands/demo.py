"""``demo``: the main job end to end on synthetic data, from an empty EXEC_HOME."""

from __future__ import annotations

import argparse
from datetime import date

from execution import store
from execution.commands._args import iso_date
from execution.config import Settings
from execution.db import connection, database_url
from execution.ingest import ingest


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``demo``."""
    p = subparsers.add_parser("demo", help="ingest synthetic bars for the configured symbols and show the status")
    p.add_argument("--start", type=iso_date, default=date(2020, 1, 1))
    p.add_argument("--end", type=iso_date, default=date(2020, 1, 31))
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest (fetch, stage, validate, publish) and print the store's status."""
    print(f"data folder: {settings.home}")
    print(f"database:    {'configured' if settings.database_url else 'embedded'} {database_url(settings)}")
    report = ingest(settings, "synthetic", list(settings.symbols), args.start, args.end)
    print(f"ingest run {report.run_id}: {report.status} {report.counts()}")
    with connection(settings) as conn:
        info = store.status(conn)
    for symbol, s in info["symbols"].items():
        print(
            f"{symbol}: {s['published_bars']} bars on {s['trading_days']} trading days "
            f"({s['first_day']} .. {s['last_day']}), {len(s['quarantined_days'])} quarantined"
        )
    return 0 if report.status in ("success", "unchanged") else 3
