"""The informed strategy's edge over ``twap_seed`` on the synthetic market, without and with the planted component.

Usage: ``python bench/informed_edge.py [--seed 7] [--strengths 0,3] [--tracking 0.01,0.001] [--start 2020-01-01]
[--end 2020-12-31] [--markdown]``

For each strength, synthetic bars of RELIANCE and SAIL (seed ``--seed``, 20 trading days of history
before ``--start``), the seed's order (buy 10,000 at 09:30 over 100 minutes in 50 intervals, lots of
500), both fill models: the mean advantage of ``informed`` (knowing that strength) over ``twap_seed``
in bps with its bootstrap 95 % CI (the backtester's ``summarize``), its day-to-day sd, the mean
number of child orders, and the seconds the strategy took. ``--tracking`` lists the tracking
aversions to show (per bps; 0.01 is the default, 0.001 is nearly risk-neutral).
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from execution.config import OrderParams
from execution.data.sources.synthetic import PLANTED_STRENGTH, SyntheticSource
from execution.sim.backtest import run_backtest
from execution.sim.informed import DEFAULT_TRACKING_AVERSION_PER_BPS, informed_strategy
from execution.sim.market import MarketData, from_bars, lookback_start

SYMBOLS = ("RELIANCE", "SAIL")
FILL_ORDER = {"seed": 0, "impact": 1}
COLUMNS = ("strength", "fill", "lambda", "symbol", "days", "adv bps", "CI 95 %", "sd bps", "orders", "seconds")


def markets(seed: int, strength: float, start: date, end: date, order: OrderParams) -> list[MarketData]:
    """One :class:`MarketData` per symbol of the synthetic bars with that planted strength."""
    source = SyntheticSource(seed=seed, planted_strength=strength)
    return [from_bars(source.fetch(s, lookback_start(start), end).bars, order, first_day=start) for s in SYMBOLS]


def edge_rows(seed: int, strength: float, trackings: list[float], start: date, end: date) -> list[list[str]]:
    """Table rows of one strength: per fill, tracking aversion and symbol (and ALL)."""
    order = OrderParams()
    frames = markets(seed, strength, start, end, order)
    rows = []
    for tracking in trackings:
        strategy = informed_strategy(strength, tracking_aversion=tracking)
        began = time.perf_counter()
        for market in frames:  # timed alone (the backtest adds twap_seed, the oracle and the metrics)
            for fill in ("seed", "impact"):
                strategy(market, order, fill)
        seconds = time.perf_counter() - began
        summary = run_backtest(frames, order, [("informed", strategy)], n_resamples=2000).summary
        summary = summary[summary["strategy"] == "informed"].assign(order=lambda f: f["fill"].map(FILL_ORDER))
        for r in summary.sort_values(["order", "symbol"]).itertuples():
            rows.append(
                [
                    f"{strength:g}",
                    r.fill,
                    f"{tracking:g}",
                    r.symbol,
                    f"{r.days:d}",
                    f"{r.advantage_mean_bps:+.2f}",
                    f"{r.advantage_ci95_low_bps:+.2f} .. {r.advantage_ci95_high_bps:+.2f}",
                    f"{r.advantage_std_bps:.1f}",
                    f"{r.child_orders_mean:.1f}",
                    f"{seconds:.2f}",
                ]
            )
    return rows


def render(rows: list[list[str]], markdown: bool) -> str:
    """Plain or Markdown table."""
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 4 + "---:|" * (len(COLUMNS) - 4)]
        return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the edge table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strengths", default=f"0,{PLANTED_STRENGTH:g}", help="comma-separated planted strengths")
    parser.add_argument("--tracking", default=f"{DEFAULT_TRACKING_AVERSION_PER_BPS:g}", help="tracking aversions")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2020, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2020, 12, 31))
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (as in the README)")
    args = parser.parse_args(argv)
    strengths = [float(s) for s in args.strengths.split(",") if s.strip()]
    trackings = [float(s) for s in args.tracking.split(",") if s.strip()]
    print(
        f"informed vs twap_seed, synthetic seed {args.seed}, {args.start}..{args.end}, {', '.join(SYMBOLS)}, "
        "the seed order; adv = mean advantage (bps, + = cheaper than twap_seed), bootstrap 95 % CI"
    )
    rows = [row for strength in strengths for row in edge_rows(args.seed, strength, trackings, args.start, args.end)]
    print(render(rows, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
