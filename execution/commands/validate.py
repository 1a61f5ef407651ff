"""``validate``: run the Great Expectations suite again on staged days."""

from __future__ import annotations

import argparse
import sys

from execution.commands._args import iso_date, symbol_list
from execution.config import Settings
from execution.data.ingest import revalidate


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``validate``."""
    p = subparsers.add_parser("validate", help="re-validate staged days; publish or quarantine them")
    p.add_argument("--symbols", type=symbol_list, help="default: the configured symbols")
    p.add_argument("--start", type=iso_date, required=True)
    p.add_argument("--end", type=iso_date, required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Re-validate and print what changed."""
    report = revalidate(settings, args.symbols or list(settings.symbols), args.start, args.end)
    for o in report.outcomes:
        if o.status == "quarantined":
            print(f"quarantined: {o.symbol} {o.day}: {o.error}", file=sys.stderr)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts().items())) or "no staged days in the window"
    print(f"validation run {report.run_id}: {report.status} ({counts})")
    return 0 if report.status in ("success", "unchanged") else 3
