"""``orders``: add and list the parent orders of a trading day."""

from __future__ import annotations

import argparse
import json

from execution.commands._args import iso_date
from execution.config import Settings
from execution.db import connection
from execution.trading.orders import add_order, list_orders


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``orders add`` and ``orders list``."""
    p = subparsers.add_parser("orders", help="parent orders of a trading day (add, list)")
    actions = p.add_subparsers(dest="orders_action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add (or replace) a parent order")
    add.add_argument("--date", type=iso_date, required=True, help="trading day (YYYY-MM-DD)")
    add.add_argument("--symbol", required=True)
    add.add_argument("--side", choices=["buy", "sell"], required=True)
    add.add_argument("--quantity", type=int, required=True, help="shares, a whole number of lots")
    add.add_argument("--lot-size", type=int, help="shares per lot (default: the configured one)")
    add.add_argument("--start-time", help="first decision, HH:MM exchange time (default: the configured one)")
    add.add_argument("--horizon-min", type=int, help="minutes (default: the configured one)")
    add.add_argument("--intervals", type=int, help="decisions (default: the configured one)")
    add.add_argument("--strategy", help="execute with this strategy instead of the champion (twap_seed, model:ID, ...)")
    add.set_defaults(func=run_add)

    show = actions.add_parser("list", help="list parent orders")
    show.add_argument("--date", type=iso_date, help="one trading day (default: all)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=run_list)


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add the order and print it."""
    base = settings.order
    with connection(settings) as conn:
        order, new = add_order(
            conn,
            args.date,
            args.symbol,
            args.side,
            args.quantity,
            args.lot_size or base.lot_size,
            args.start_time or base.start_time,
            args.horizon_min or base.horizon_min,
            args.intervals or base.intervals,
            args.strategy,
            created_by="cli",
        )
    print(f"{'added' if new else 'replaced'} order {order.describe()}")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print the orders (one line each, or JSON)."""
    with connection(settings) as conn:
        orders = list_orders(conn, args.date)
    if args.json:
        print(json.dumps([o.to_json() for o in orders], indent=1))
        return 0
    if not orders:
        when = f"on {args.date}" if args.date else "at all"
        print(f"no orders {when} (a day without orders gets the configured ones when it is scheduled)")
    for order in orders:
        print(f"{order.describe()}  [by {order.created_by}]")
    return 0
