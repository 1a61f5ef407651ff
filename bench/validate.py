"""Benchmark: Great Expectations validation of 1-minute bars, seconds per symbol-day by batch size.

Usage: .venv/bin/python bench/validate.py [--symbols RELIANCE,SAIL] [--start 2018-01-01] [--end 2020-12-31]

Bars come from the synthetic source (``execution.data.sources.synthetic``), else from a random walk
on the 0.05 tick built here. Prints: the one-off cost (GX import and first run), seconds per
symbol-day validated one day per GX run and ``--batch`` days per run, the total for 500
symbol-days, and the total for every symbol-day of the window with the default batch size.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from execution.data.exchange_calendar import session_minutes, trading_days
from execution.data.quality.derive import prepare
from execution.data.quality.runner import DEFAULT_DAYS_PER_RUN, validate_days


def random_walk_bars(symbols: list[str], start: date, end: date, seed: int = 1) -> pd.DataFrame:
    """375 bars per trading day per symbol: a random walk on the 0.05 tick, consistent OHLC."""
    rng = np.random.default_rng(seed)
    days = trading_days(start, end)
    frames = []
    for symbol in symbols:
        n = len(days) * 375
        tick = 0.05
        closes = 2000.0 + np.cumsum(rng.integers(-2, 3, n)) * tick
        opens = np.r_[closes[0], closes[:-1]]
        highs = np.maximum(opens, closes) + rng.integers(0, 3, n) * tick
        lows = np.minimum(opens, closes) - rng.integers(0, 3, n) * tick
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": pd.DatetimeIndex(np.concatenate([session_minutes(d) for d in days])),
                    "open": np.round(opens, 2),
                    "high": np.round(highs, 2),
                    "low": np.round(lows, 2),
                    "close": np.round(closes, 2),
                    "volume": rng.integers(100, 20_000, n).astype(float),
                    "source": "random-walk",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def load_bars(symbols: list[str], start: date, end: date) -> tuple[pd.DataFrame, str]:
    """Synthetic-source bars when that source exists, else the random walk above."""
    try:
        from execution.data.sources.synthetic import SyntheticSource
    except ImportError:
        return random_walk_bars(symbols, start, end), "random walk (bench)"
    source = SyntheticSource(seed=7)
    frames = [source.fetch(symbol, start, end).bars for symbol in symbols]
    return pd.concat(frames, ignore_index=True), "execution.data.sources.synthetic"


def first_days(bars: pd.DataFrame, n_days: int) -> pd.DataFrame:
    """The rows of the first ``n_days`` (symbol, day) pairs of ``bars``."""
    keys = bars["symbol"].astype(str) + "|" + bars["ts"].dt.strftime("%Y-%m-%d")
    chosen = pd.unique(keys)[:n_days]
    return bars[keys.isin(chosen).to_numpy()]


def timed(bars: pd.DataFrame, days_per_run: int) -> tuple[float, int, int]:
    """Seconds to validate ``bars``, verdicts, failed verdicts."""
    started = time.perf_counter()
    verdicts = validate_days(bars, days_per_run=days_per_run)
    return time.perf_counter() - started, len(verdicts), sum(not v.passed for v in verdicts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", default="RELIANCE,SAIL")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2018, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2020, 12, 31))
    parser.add_argument("--batch", type=int, default=100, help="symbol-days per GX run for the batched row")
    parser.add_argument("--single-days", type=int, default=20, help="symbol-days validated one per GX run")
    args = parser.parse_args()
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]

    started = time.perf_counter()
    bars, origin = load_bars(symbols, args.start, args.end)
    print(f"bars: {len(bars):,} rows from {origin} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    import great_expectations  # noqa: F401  (the import alone costs seconds: shown apart)

    imported = time.perf_counter() - started
    warm, _, _ = timed(first_days(bars, 2), DEFAULT_DAYS_PER_RUN)
    print(f"one-off: import great_expectations {imported:.1f} s, first validation (2 days) {warm:.1f} s")

    started = time.perf_counter()
    prepare(bars)
    print(f"derive only (all rows): {time.perf_counter() - started:.2f} s")

    print(f"{'symbol-days':>11} {'days/run':>8} {'seconds':>8} {'s/symbol-day':>12} {'failed':>6}")
    runs = [(args.single_days, 1), (500, args.batch), (500, DEFAULT_DAYS_PER_RUN), (None, DEFAULT_DAYS_PER_RUN)]
    for n_days, per_run in runs:
        subset = bars if n_days is None else first_days(bars, n_days)
        seconds, n_verdicts, failed = timed(subset, per_run)
        print(f"{n_verdicts:>11} {per_run:>8} {seconds:>8.2f} {seconds / n_verdicts:>12.4f} {failed:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
