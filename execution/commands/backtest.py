"""``backtest``: replay strategies over the published bars of a window and compare them with TWAP."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from execution.commands._args import iso_date, symbol_list
from execution.config import Settings
from execution.db import connection
from execution.json_values import json_safe
from execution.models.strategies import registry_resolvers, strategy_names
from execution.sim.backtest import BacktestResult, backtest
from execution.sim.fills import FILL_MODELS, IMPACT_ETA
from execution.sim.informed import informed_resolvers
from execution.sim.rewards import DEFAULT_RISK_AVERSION_PER_BPS
from execution.sim.strategies import Resolvers

DEFAULT_STRATEGIES = "twap_seed,twap_even,vwap,almgren_chriss,immediate,oracle"
TABLE_COLUMNS = [
    ("symbol", "symbol", "{}"),
    ("fill", "fill", "{}"),
    ("strategy", "strategy", "{}"),
    ("days", "days", "{:d}"),
    ("shortfall_mean_bps", "IS mean", "{:.2f}"),
    ("shortfall_median_bps", "IS med", "{:.2f}"),
    ("shortfall_std_bps", "IS std", "{:.2f}"),
    ("advantage_mean_bps", "adv mean", "{:+.2f}"),
    ("advantage_ci95_low_bps", "adv CI lo", "{:+.2f}"),
    ("advantage_ci95_high_bps", "adv CI hi", "{:+.2f}"),
    ("share_beating_twap", "beat%", "{:.0%}"),
    ("gain_loss_ratio", "G/L", "{:.2f}"),
    ("oracle_gap_captured", "gap%", "{:.0%}"),
    ("vwap_slippage_mean_bps", "vs VWAP", "{:+.2f}"),
    ("child_orders_mean", "orders", "{:.1f}"),
    ("completion_mean_min", "min", "{:.0f}"),
    ("peak_participation_mean", "peak part", "{:.3f}"),
    ("reward_vr_mean", "VR", "{:.2f}"),
]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``backtest``."""
    p = subparsers.add_parser("backtest", help="replay strategies over a window and compare them with TWAP")
    p.add_argument(
        "--strategies",
        default=DEFAULT_STRATEGIES,
        help=f"comma-separated strategy names (default: {DEFAULT_STRATEGIES}); names: {', '.join(strategy_names())}, "
        "informed (knows the configured planted component), informed:STRENGTH[:HALF_LIFE_MIN]",
    )
    p.add_argument("--symbols", type=symbol_list, help="comma-separated symbols (default: the configured ones)")
    p.add_argument("--start", type=iso_date, help="first day (default: the configured test window)")
    p.add_argument("--end", type=iso_date, help="last day (default: the configured test window)")
    p.add_argument("--fill", choices=[*FILL_MODELS, "both"], default="both", help="fill model(s) (default: both)")
    p.add_argument("--side", choices=["buy", "sell"], help="side of the parent order (default: the configured one)")
    p.add_argument("--eta", type=float, default=IMPACT_ETA, help=f"impact-fill coefficient (default {IMPACT_ETA:.2f})")
    p.add_argument(
        "--risk-aversion",
        type=float,
        default=DEFAULT_RISK_AVERSION_PER_BPS,
        help=f"Almgren-Chriss lambda per bps (baseline and ACR; default {DEFAULT_RISK_AVERSION_PER_BPS:g})",
    )
    p.add_argument(
        "--order-set",
        type=int,
        metavar="N",
        help="N orders a day drawn (fixed seed) from the model's training envelope: champion / model:ID against "
        "each same order's TWAP, by size (%% of ADV) and side",
    )
    p.add_argument("--orders", type=Path, metavar="FILE", help="a CSV of orders (symbol, day, side, quantity, "
                   "lot_size, start_time, horizon_min, intervals) instead of --order-set")  # fmt: skip
    p.add_argument("--no-store", action="store_true", help="do not write backtest_results")
    p.add_argument("--json", action="store_true", help="per-day rows and the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the backtest and print the aggregate table (or JSON)."""
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not strategies:
        raise ValueError("no strategy given")
    fills = list(FILL_MODELS) if args.fill == "both" else [args.fill]
    order = replace(settings.order, side=args.side) if args.side else settings.order
    start = args.start or settings.windows.test_start
    end = args.end or settings.windows.test_end
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    symbols = list(args.symbols or settings.symbols)
    if args.order_set is not None or args.orders is not None:
        return run_order_set(args, settings, strategies, fills, symbols, start, end)
    try:
        with connection(settings) as conn:
            result = backtest(
                conn,
                symbols,
                start,
                end,
                order,
                strategies,
                fills,
                store=not args.no_store,
                eta=args.eta,
                risk_aversion=args.risk_aversion,
                resolvers=resolvers(settings),
            )
    except KeyError as exc:  # unknown strategy
        raise ValueError(exc.args[0]) from exc
    if args.json:
        print(json.dumps(as_json(result), indent=1))
    else:
        print(format_table(result))
    return 0


def run_order_set(
    args: argparse.Namespace,
    settings: Settings,
    strategies: list[str],
    fills: list[str],
    symbols: list[str],
    start,
    end,
) -> int:
    """``--order-set N`` / ``--orders FILE``: the models over a set of orders, against each order's TWAP."""
    from execution.models.order_backtest import order_set_backtest

    if args.order_set is not None and args.order_set < 1:
        raise ValueError(f"--order-set must be at least 1, not {args.order_set}")
    orders = None
    if args.orders is not None:
        if not args.orders.is_file():
            raise FileNotFoundError(f"orders file {args.orders} does not exist")
        orders = pd.read_csv(args.orders, dtype={"start_time": str, "day": str})
    result = order_set_backtest(
        settings, symbols, start, end, strategies, tuple(fills), per_day=args.order_set, orders=orders
    )
    if args.json:
        print(json.dumps(json_safe(result), indent=1))
        return 0
    summary = result["summary"]
    print(f"{len(result['per_order'])} (order, strategy, fill) rows; advantage over each same order's TWAP, bps")
    for row in summary.itertuples():
        print(
            f"{row.strategy:>12} {row.fill:>6} {row.by:>11} {row.group:>8}  {row.orders:5d} orders {row.days:4d} days"
            f"  {row.advantage_mean_bps:+7.2f}  CI {row.advantage_ci95_low_bps:+7.2f}"
            f" .. {row.advantage_ci95_high_bps:+7.2f}"
            f"  children {row.child_orders_mean:6.1f}"
        )
    return 0


def resolvers(settings: Settings) -> Resolvers:
    """The registry's names (``model:ID``, ``champion``) and ``informed`` with the configured planted component."""
    planted = settings.synthetic
    return {
        **registry_resolvers(settings),
        **informed_resolvers(planted.planted_strength, planted.planted_half_life_min),
    }


def as_json(result: BacktestResult) -> dict[str, Any]:
    """``{"run_id", "per_day": [...], "summary": [...]}`` with NaN as null."""
    return json_safe({"run_id": result.run_id, "per_day": result.per_day, "summary": result.summary})


def format_table(result: BacktestResult) -> str:
    """The aggregate table, one line per symbol x fill x strategy."""
    summary = result.summary
    if summary.empty:
        return "no backtest rows"
    header = [title for _, title, _ in TABLE_COLUMNS]
    lines = []
    for row in summary.sort_values(["symbol", "fill"], kind="stable").to_dict(orient="records"):
        cells = []
        for key, _, fmt in TABLE_COLUMNS:
            value = row[key]
            cells.append("-" if isinstance(value, float) and not math.isfinite(value) else fmt.format(value))
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.rjust(w) if i > 2 else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True)))]
    for cells in lines:
        out.append(
            "  ".join(c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        )
    out.append(
        f"run {result.run_id}: IS = implementation shortfall vs arrival (bps, + = cost); "
        "adv = advantage over twap_seed (bps, + = better, 95% bootstrap CI); gap% = share of the TWAP->oracle gap"
    )
    return "\n".join(out)
