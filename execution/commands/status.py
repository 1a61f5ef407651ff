"""``status``: what the store holds, per symbol."""

from __future__ import annotations

import argparse
import json

from execution.config import Settings
from execution.data import store
from execution.db import connection


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``status``."""
    p = subparsers.add_parser("status", help="published bars, days, quarantine and failures per symbol")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the store's status."""
    with connection(settings) as conn:
        info = store.status(conn)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    if not info["symbols"]:
        print("the store is empty: run `python -m execution ingest ...`")
    for symbol, s in info["symbols"].items():
        print(
            f"{symbol}: {s['published_bars']} bars on {s['trading_days']} days "
            f"({s['first_day']} .. {s['last_day']}); {len(s['quarantined_days'])} quarantined, "
            f"{len(s['failed_days'])} failed; {s['ingest_runs_with_changes']} runs brought data"
        )
        for q in s["quarantined_days"]:
            print(f"  quarantined {q['day']}: {q['reason']}")
        for f in s["failed_days"]:
            print(f"  failed {f['day']}: {f['error']}")
    return 0
