"""``quarantine list|release``: symbol-days held back by validation, and the operator's override."""

from __future__ import annotations

import argparse
import json

from execution.commands._args import iso_date
from execution.config import Settings
from execution.data import store
from execution.data.ingest import release
from execution.db import connection


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``quarantine list`` and ``quarantine release SYMBOL DAY --reason TEXT``."""
    p = subparsers.add_parser("quarantine", help="list quarantined days, or release one")
    sub = p.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="active quarantine entries with their failed expectations")
    ls.add_argument("--json", action="store_true")
    rel = sub.add_parser("release", help="publish a quarantined day on an operator's word (recorded)")
    rel.add_argument("symbol", type=str.upper)
    rel.add_argument("day", type=iso_date)
    rel.add_argument("--reason", required=True, help="why the day may be published (recorded with your name)")
    rel.add_argument("--by", help="who releases it (default: user@host)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """List or release."""
    if args.action == "release":
        rows = release(settings, args.symbol, args.day, args.reason, args.by)
        print(f"released {args.symbol} {args.day}: {rows} bars published")
        return 0
    with connection(settings) as conn:
        entries = store.active_quarantine(conn)
    if args.json:
        print(json.dumps(entries, indent=2, default=str))
        return 0
    if not entries:
        print("nothing in quarantine")
    for e in entries:
        names = ", ".join(f"{f['name']} (observed {f.get('observed_value')})" for f in e["failed_expectations"])
        print(f"{e['symbol']} {e['day']} batch {e['batch_id']} run {e['run_id']}: {names}")
    return 0
