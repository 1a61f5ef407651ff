"""``schedule``: write the planned schedules of every parent order of a trading day."""

from __future__ import annotations

import argparse
import json
import sys

from execution.commands._args import iso_date
from execution.config import Settings
from execution.models.champion import ChampionUnavailable
from execution.trading.schedules import write_schedules

EXIT_CHAMPION_UNAVAILABLE = 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``schedule``."""
    p = subparsers.add_parser("schedule", help="plan every parent order of a trading day (table + CSV per order)")
    p.add_argument("--date", type=iso_date, required=True, help="the trading day to plan (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true", help="print the plans as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Write the schedules and print one line per order; exit 3 if a registered champion could not be loaded
    or an order could not be planned (the others are written)."""
    summary = write_schedules(settings, args.date, strict=False)
    code = 0
    for missing in summary["unplanned"]:
        order = missing["order"]
        print(f"error: order #{order['id']} {order['symbol']} not planned: {missing['reason']}", file=sys.stderr)
        code = EXIT_CHAMPION_UNAVAILABLE
    if summary["champion_failures"]:
        failures = "; ".join(summary["champion_failures"])
        print(f"error: {ChampionUnavailable.__doc__} {failures}", file=sys.stderr)
        code = EXIT_CHAMPION_UNAVAILABLE
    if args.json:
        print(json.dumps(summary, indent=1))
        return code
    for plan in summary["orders"]:
        order = plan["order"]
        primary = plan["primary"]
        lots = plan["lots"][primary]
        busy = [f"{t}:{n}" for t, n in zip(plan["planned_times"], lots, strict=True) if n]
        note = plan["notes"].get(primary)
        label = (note or primary) if primary == "champion" else f"{primary} ({note})" if note else primary
        print(
            f"order #{order['id']} {order['symbol']} {order['side']} {order['quantity']:,} -> {label}: "
            f"{len(busy)} child order(s) (time:lots) {' '.join(busy)}"
        )
        print(f"  csv: {plan['csv']}")
    print(f"{summary['rows']} schedule rows for {summary['trading_day']} in {summary['folder']}")
    return code
