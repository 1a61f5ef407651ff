"""Compare the synthetic bar source with the real NSE 1-minute samples, symbol by symbol.

Usage: ``python bench/calibrate_synthetic.py [--seed 7] [--seeds 1] [--symbols RELIANCE,SAIL,...]``
(``--seeds N`` averages the synthetic statistics over seeds ``seed .. seed+N-1``: 22 days of one
seed are one draw of the daily volatility regime, so levels of volatility vary from seed to seed).

The real samples (``settings.samples_dir``, default ``../shared/data/nse-1m``) are 2021 days; the
synthetic bars are generated for exactly the same complete days, so levels are comparable too, but
the point is the shapes and ratios: intraday volume profile, 1-minute log-return volatility overall
and by time of day, mean bar range (high - low) / close, daily volume.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from execution.config import load_settings
from execution.data.exchange_calendar import BARS_PER_SESSION
from execution.data.sources.synthetic import SyntheticSource

BUCKET_MIN = 15
FIRST_MIN = 15  # 09:15-09:29
LAST_MIN = 15  # 15:15-15:29
MIDDAY = slice(105, 285)  # 11:00-13:59


@dataclass
class SessionMatrix:
    """Complete regular sessions of one symbol as (days x 375) arrays."""

    days: list[date]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def complete_sessions(bars: pd.DataFrame) -> SessionMatrix:
    """The days of ``bars`` with all 375 regular-session minutes, as matrices (other days dropped)."""
    ts = pd.to_datetime(bars["ts"])
    minute = (ts.dt.hour * 60 + ts.dt.minute - (9 * 60 + 15)).to_numpy()
    regular = bars.loc[(minute >= 0) & (minute < BARS_PER_SESSION)].copy()
    regular["day"] = pd.to_datetime(regular["ts"]).dt.date
    regular = regular.sort_values("ts").drop_duplicates("ts")
    counts = regular.groupby("day").size()
    full_days = sorted(counts[counts == BARS_PER_SESSION].index)
    regular = regular[regular["day"].isin(full_days)]
    shape = (len(full_days), BARS_PER_SESSION)
    columns = ("open", "high", "low", "close", "volume")
    return SessionMatrix(full_days, *(regular[c].to_numpy(dtype=float).reshape(shape) for c in columns))


def read_sample(path: Path) -> pd.DataFrame:
    """One real sample file (``timestamp`` is naive exchange time) as bars with a ``ts`` column."""
    frame = pd.read_csv(path)
    frame["ts"] = pd.to_datetime(frame["timestamp"])
    return frame


def session_stats(m: SessionMatrix) -> dict[str, float | np.ndarray]:
    """Shape statistics of complete sessions: volume profile, volatility by time of day, ranges, volume."""
    share = m.volume / m.volume.sum(axis=1, keepdims=True)
    log_ret_bps = np.diff(np.log(m.close), axis=1) * 1e4  # column j: minute j+1 vs minute j
    range_bps = (m.high - m.low) / m.close * 1e4
    daily_volume = m.volume.sum(axis=1)
    flat_ret = log_ret_bps[:, 1:].ravel()
    stats: dict[str, float | np.ndarray] = {
        "profile_15m_pct": share.mean(axis=0).reshape(-1, BUCKET_MIN).sum(axis=1) * 100,
        "profile_1m": share.mean(axis=0),
        "vol_all_bps": float(log_ret_bps.std()),
        "vol_first15_bps": float(log_ret_bps[:, : FIRST_MIN - 1].std()),
        "vol_midday_bps": float(log_ret_bps[:, MIDDAY].std()),
        "vol_last15_bps": float(log_ret_bps[:, -LAST_MIN:].std()),
        "range_bps": float(range_bps.mean()),
        "range_first15_bps": float(range_bps[:, :FIRST_MIN].mean()),
        "range_midday_bps": float(range_bps[:, MIDDAY].mean()),
        "daily_volume_m": float(daily_volume.mean() / 1e6),
        "daily_volume_cv": float(daily_volume.std() / daily_volume.mean()),
        "open_close_sd_bps": float((np.log(m.close[:, -1] / m.open[:, 0]) * 1e4).std()),
        "abs_ret_autocorr": float(np.corrcoef(np.abs(flat_ret[1:]), np.abs(flat_ret[:-1]))[0, 1]),
        "corr_volume_abs_ret": float(np.corrcoef(m.volume[:, 1:].ravel(), np.abs(log_ret_bps).ravel())[0, 1]),
        "open_eq_prev_close": float((m.open[:, 1:] == m.close[:, :-1]).mean()),
        "price_mean_inr": float(m.close.mean()),
    }
    stats["range_over_sd"] = stats["range_bps"] / stats["vol_all_bps"]
    stats["first15_over_midday"] = stats["vol_first15_bps"] / stats["vol_midday_bps"]
    stats["last15_over_midday"] = stats["vol_last15_bps"] / stats["vol_midday_bps"]
    return stats


def synthetic_sessions(seed: int, symbol: str, days: list[date]) -> SessionMatrix:
    """The synthetic bars of ``symbol`` on exactly ``days``."""
    bars = SyntheticSource(seed=seed).fetch(symbol, days[0], days[-1]).bars
    return complete_sessions(bars[bars["ts"].dt.date.isin(set(days))])


SCALAR_ROWS = (
    ("price_mean_inr", "mean close (INR)", "{:,.1f}"),
    ("daily_volume_m", "daily volume (M shares)", "{:.2f}"),
    ("daily_volume_cv", "daily volume CV", "{:.2f}"),
    ("vol_all_bps", "1m log-return sd, all (bps)", "{:.2f}"),
    ("vol_first15_bps", "  first 15 min (bps)", "{:.2f}"),
    ("vol_midday_bps", "  midday 11:00-14:00 (bps)", "{:.2f}"),
    ("vol_last15_bps", "  last 15 min (bps)", "{:.2f}"),
    ("first15_over_midday", "  first 15 min / midday", "{:.2f}"),
    ("last15_over_midday", "  last 15 min / midday", "{:.2f}"),
    ("range_bps", "mean bar range (H-L)/C (bps)", "{:.2f}"),
    ("range_first15_bps", "  first 15 min (bps)", "{:.2f}"),
    ("range_midday_bps", "  midday (bps)", "{:.2f}"),
    ("range_over_sd", "mean range / 1m return sd", "{:.2f}"),
    ("open_close_sd_bps", "open-to-close sd (bps)", "{:.1f}"),
    ("abs_ret_autocorr", "autocorr |1m return|", "{:.3f}"),
    ("corr_volume_abs_ret", "corr(volume, |1m return|)", "{:.3f}"),
    ("open_eq_prev_close", "share open == prev close", "{:.3f}"),
)


def comparison_table(symbol: str, n_days: int, real: dict, synthetic: dict) -> str:
    """Plain-text table of real vs synthetic statistics for one symbol."""
    lines = [f"== {symbol}: {n_days} complete days (real sample vs synthetic on the same days) =="]
    lines.append(f"{'statistic':34s} {'real':>10s} {'synthetic':>10s} {'syn/real':>9s}")
    for key, label, fmt in SCALAR_ROWS:
        r, s = real[key], synthetic[key]
        ratio = f"{s / r:9.2f}" if r else f"{'-':>9s}"
        lines.append(f"{label:34s} {fmt.format(r):>10s} {fmt.format(s):>10s} {ratio}")
    corr_15 = np.corrcoef(real["profile_15m_pct"], synthetic["profile_15m_pct"])[0, 1]
    corr_1m = np.corrcoef(real["profile_1m"], synthetic["profile_1m"])[0, 1]
    lines.append(f"{'volume profile corr, 15-min buckets':34s} {corr_15:>21.3f}")
    lines.append(f"{'volume profile corr, 1-min':34s} {corr_1m:>21.3f}")
    lines.append("volume share per 15-min bucket (%), real / synthetic:")
    for i in range(0, len(real["profile_15m_pct"]), 5):
        cells = []
        for j in range(i, min(i + 5, len(real["profile_15m_pct"]))):
            minute = 9 * 60 + 15 + j * BUCKET_MIN
            real_pct, synthetic_pct = real["profile_15m_pct"][j], synthetic["profile_15m_pct"][j]
            cells.append(f"{minute // 60:02d}:{minute % 60:02d} {real_pct:4.1f}/{synthetic_pct:4.1f}")
        lines.append("  " + "   ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the comparison for every sample symbol (or ``--symbols``); 1 when no sample is found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=1, help="average the synthetic side over this many seeds")
    parser.add_argument("--symbols", default="", help="comma-separated; default: every CSV in the samples folder")
    args = parser.parse_args(argv)
    samples_dir = load_settings().samples_dir
    if not samples_dir.is_dir():
        print(f"no real samples at {samples_dir} (set EXEC_SAMPLES_DIR)", file=sys.stderr)
        return 1
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()] or sorted(
        p.stem.upper() for p in samples_dir.glob("*.csv")
    )
    seeds = list(range(args.seed, args.seed + max(args.seeds, 1)))
    print(f"real samples: {samples_dir}; synthetic seed(s) {seeds[0]}..{seeds[-1]}")
    for symbol in symbols:
        path = samples_dir / f"{symbol}.csv"
        if not path.is_file():
            print(f"{symbol}: no sample file {path}", file=sys.stderr)
            continue
        real = complete_sessions(read_sample(path))
        per_seed = [session_stats(synthetic_sessions(seed, symbol, real.days)) for seed in seeds]
        synthetic = {key: np.mean([stats[key] for stats in per_seed], axis=0) for key in per_seed[0]}
        print()
        print(comparison_table(symbol, len(real.days), session_stats(real), synthetic))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
