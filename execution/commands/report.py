"""``report``: the daily execution report of a trading day, or the seed experiment report.

``report --date D [--out DIR]`` writes ``DIR/daily-D.html`` and ``.json`` (default DIR:
``$EXEC_HOME/reports/daily``); ``report experiment [--out DIR]`` writes ``DIR/experiment.html``
and ``.json`` (default DIR: ``$EXEC_HOME/reports/experiment``). Both refresh ``DIR/index.html``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from execution.commands._args import iso_date, symbol_list
from execution.config import Settings
from execution.models.champion import ChampionUnavailable

EXIT_CHAMPION_UNAVAILABLE = 3
KINDS = ("daily", "experiment")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``report [daily|experiment] [--date D] [--out DIR]``."""
    p = subparsers.add_parser(
        "report",
        help="daily execution report of a trading day (--date), or the seed experiment report (report experiment)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("kind", nargs="?", choices=KINDS, default="daily", help="which report (default: daily)")
    p.add_argument("--date", type=iso_date, help="trading day of the daily report (YYYY-MM-DD)")
    p.add_argument("--out", type=Path, help="output folder (default: under $EXEC_HOME/reports)")
    p.add_argument("--symbols", type=symbol_list, help="experiment: symbols (default: the configured ones)")
    p.add_argument("--test-day", type=iso_date, help="experiment: the single day of the seed's figures (2020-01-31)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Write the report and print its path; exit 3 when a registered champion could not be loaded."""
    if args.kind == "experiment":
        from execution.report.experiment import SEED_TEST_DAY, render_experiment_report

        path = render_experiment_report(
            settings, args.out, symbols=args.symbols, test_day=args.test_day or SEED_TEST_DAY
        )
        print(f"experiment report: {path}")
        return 0
    if args.date is None:
        raise ValueError("report needs --date YYYY-MM-DD (or: report experiment)")
    from execution.report.daily import daily_report_path, render_daily_report

    try:
        path = render_daily_report(settings, args.date, args.out)
    except ChampionUnavailable as exc:
        out = args.out or settings.reports_dir / "daily"
        print(f"error: {exc}", file=sys.stderr)
        print(f"daily report (with the twap_seed fallback): {daily_report_path(out, args.date)}")
        return EXIT_CHAMPION_UNAVAILABLE
    print(f"daily report: {path}")
    print(f"numbers: {path.with_suffix('.json')}")
    return 0
