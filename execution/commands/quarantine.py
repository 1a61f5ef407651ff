"""``quarantine list|release|events``: symbol-days held back by validation, the operator's override,
and the append-only log of both."""

from __future__ import annotations

import argparse
import json

from execution.commands._args import iso_date
from execution.config import Settings
from execution.data import audit, store
from execution.data.ingest import release
from execution.db import connection
from execution.json_values import json_safe


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
    rel.add_argument("--by", help="a name to record beside your OS user@host (e.g. the ticket's owner)")
    ev = sub.add_parser("events", help="the append-only log: quarantined, released, superseded, release kept")
    ev.add_argument("--symbol", type=str.upper)
    ev.add_argument("--day", type=iso_date)
    ev.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """List or release."""
    if args.action == "release":
        rows = release(settings, args.symbol, args.day, args.reason, args.by)
        print(f"released {args.symbol} {args.day}: {rows} bars published")
        return 0
    if args.action == "events":
        return _events(args, settings)
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


def _events(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        log = audit.events(conn, args.symbol, args.day)
    if args.json:
        print(json.dumps(json_safe(log), indent=2))
        return 0
    if not log:
        print("no quarantine events")
    for e in log:
        when = f"{e['created_at']:%Y-%m-%d %H:%M:%S%z}"
        print(f"{when} {e['symbol']} {e['day']} {e['event']} by {e['actor']}: {e['reason']}")
    return 0
