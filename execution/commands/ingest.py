"""``ingest``: fetch, stage, validate and publish bars from a source."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from execution.commands._args import iso_date, symbol_list
from execution.config import Settings
from execution.data.ingest import ingest
from execution.data.sources import SOURCE_NAMES

EXIT_SOME_DAYS_HELD = 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ingest``."""
    p = subparsers.add_parser("ingest", help="fetch bars into staging, validate, publish")
    p.add_argument("--source", choices=SOURCE_NAMES, default=None, help="default: EXEC_SOURCE or synthetic")
    p.add_argument("--symbols", type=symbol_list, help="comma-separated (default: the configured symbols)")
    p.add_argument("--start", type=iso_date, help="first day (required except for --source landing)")
    p.add_argument("--end", type=iso_date, help="last day (required except for --source landing)")
    p.add_argument(
        "--path",
        help="landing folder (default: the real samples folder); its files are ingested whole, "
        "the window only names the trading days that must be there",
    )
    p.add_argument(
        "--planted-strength",
        type=float,
        help="synthetic only: strength of the planted predictable component, in 1-minute sds "
        "(default: [synthetic] planted_strength or EXEC_SYNTHETIC_PLANTED_STRENGTH, else 0 = none); "
        "the bars' source then names it",
    )
    p.add_argument(
        "--planted-half-life",
        type=float,
        metavar="MIN",
        help="synthetic only: half-life of the planted component in minutes (default: configured, else 10)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def with_planted(settings: Settings, strength: float | None, half_life_min: float | None) -> Settings:
    """``settings`` with the synthetic source's planted component overridden where given."""
    if strength is None and half_life_min is None:
        return settings
    planted = replace(
        settings.synthetic,
        **{
            k: v for k, v in (("planted_strength", strength), ("planted_half_life_min", half_life_min)) if v is not None
        },
    )
    return settings.with_overrides(synthetic=planted)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest and print one line per problem day and a summary; exit 3 when days were held back."""
    source = args.source or settings.source
    if source != "synthetic" and (args.planted_strength is not None or args.planted_half_life is not None):
        raise ValueError(f"--planted-strength and --planted-half-life apply to the synthetic source, not {source}")
    settings = with_planted(settings, args.planted_strength, args.planted_half_life)
    symbols = args.symbols or list(settings.symbols)
    report = ingest(settings, source, symbols, args.start, args.end, args.path, not args.no_progress)
    for o in report.outcomes:
        if o.status in ("failed", "quarantined"):
            print(f"{o.status}: {o.symbol} {o.day}: {o.error}", file=sys.stderr)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts().items())) or "nothing to do"
    print(f"ingest run {report.run_id}: {report.status} ({counts})")
    return 0 if report.status in ("success", "unchanged") else EXIT_SOME_DAYS_HELD
