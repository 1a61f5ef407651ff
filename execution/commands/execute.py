"""``execute``: work the day's parent orders intraday (paper broker by default), or stop one (``execute cancel``)."""

from __future__ import annotations

import argparse
import json

from execution.commands._args import iso_date
from execution.config import Settings
from execution.json_values import json_safe


def _order_ids(text: str) -> tuple[int, ...]:
    """argparse type: ``3,4`` -> ``(3, 4)``."""
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"order ids must be numbers: {text!r}") from None
    if not ids:
        raise argparse.ArgumentTypeError("no order id given")
    return ids


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``execute`` and ``execute cancel``."""
    p = subparsers.add_parser(
        "execute",
        help="work the day's orders intraday: decision by decision on the latest bars, child orders to a broker",
        description="Work each parent order of --date decision by decision. Restart-safe: a second run resumes "
        "from the database and never sends a decision twice. `execute cancel ORDER` is the kill switch.",
    )
    p.add_argument("--date", type=iso_date, help="trading day (YYYY-MM-DD)")
    p.add_argument("--orders", type=_order_ids, help="comma-separated order ids (default: every order of the day)")
    p.add_argument("--broker", choices=["paper", "kite"], help="where child orders go (default: [execution] broker, "
                   "paper); kite needs EXEC_LIVE_TRADING=1 and Kite credentials")  # fmt: skip
    p.add_argument("--replay", action="store_true", help="replay the day's stored bars as if live")
    p.add_argument("--speed", type=float, default=0.0, help="replay speed, times real time (0 = as fast as possible)")
    p.add_argument("--stop-after-decisions", type=int, metavar="K", help="stop each order after K decisions")
    p.add_argument("--source", choices=["kite", "landing"], default="kite", help="live bars (not --replay)")
    p.add_argument("--path", help="landing folder of the live bars (--source landing)")
    p.add_argument("--json", action="store_true", help="one JSON summary per order")
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="execute_action", metavar="ACTION")
    cancel = actions.add_parser("cancel", help="kill switch: no further child order of ORDER; records who and why")
    cancel.add_argument("order", type=int, help="order id")
    cancel.add_argument("--reason", default="kill switch (execute cancel)", help="why (recorded)")
    cancel.add_argument("--by", help="your name, kept beside the OS user@host it is recorded under")
    cancel.set_defaults(func=run_cancel)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Execute the day and print one line (or JSON) per order."""
    from execution.trading.intraday import ExecuteOptions, execute_day

    if args.date is None:
        raise ValueError("execute needs --date YYYY-MM-DD (or `execute cancel ORDER`)")
    options = ExecuteOptions(
        day=args.date,
        order_ids=args.orders,
        broker=args.broker,
        replay=args.replay,
        speed=args.speed,
        stop_after=args.stop_after_decisions,
        source=args.source,
        path=args.path,
    )
    summaries = execute_day(settings, options, say=print)
    if args.json:
        print(json.dumps(json_safe(summaries), indent=1))
        return 0
    for s in summaries:
        price = "-" if s["avg_price"] is None else f"{s['avg_price']:.4f}"
        print(
            f"order #{s['order_id']} {s['symbol']} {s['side']} {s['quantity']:,}: {s['status']}, {s['strategy']}, "
            f"{s['decisions']} decisions, {s['children_sent']} child orders, {s['shares_sent']:,} shares sent, "
            f"{s['shares_filled']:,} filled at {price}"
        )
    return 0


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    """Record the cancellation and say what had been sent."""
    from execution.trading.intraday import cancel_order

    done = cancel_order(settings, args.order, args.reason, args.by)
    print(
        f"order #{done['order_id']} cancelled by {done['requested_by']}: {done['reason']} "
        f"({done['children_sent']} child orders, {done['shares_sent']:,} shares sent before)"
    )
    return 0
