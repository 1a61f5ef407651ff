"""Short-horizon statistics of real NSE 1-minute returns beside the synthetic market's, strength 0 and planted.

Usage: ``python bench/autocorrelation.py [--seed 7] [--seeds 8] [--strength S] [--half-life 10] [--markdown]``

For each real sample (``settings.samples_dir``; skipped, with a message, when absent) and its
complete regular sessions: the autocorrelations at lags 1..10 of 1-minute log returns (close to
close, within a day: no overnight pair), pooled over days around the overall mean, their sum, the
1-minute sd, and the variance ratio ``VR(10) = Var(10-minute return) / (10 Var(1-minute return))``
over non-overlapping 10-minute blocks. Beside them, the same statistics of the synthetic bars on the
very same days at strength 0 and at the planted strength, averaged over ``--seeds`` seeds (one seed
is one draw of the daily regime; the standard error of one real coefficient is about ``1/sqrt(n)``,
printed), and the design: the autocorrelations the planted deviation alone adds to a martingale,
``-s^2 phi^(k-1) (1-phi)^2 / (1 + 2 (1-phi) s^2)``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

import numpy as np
from calibrate_synthetic import complete_sessions, read_sample

from execution.config import load_settings
from execution.data.sources.synthetic import (
    PLANTED_HALF_LIFE_MIN,
    PLANTED_STRENGTH,
    PlantedComponent,
    SyntheticSource,
    planted_return_moments,
)

LAGS = 10
VR_MINUTES = 10


def return_statistics(closes: np.ndarray, lags: int = LAGS) -> dict[str, float | np.ndarray]:
    """Autocorrelations at lags ``1..lags``, their sum, 1-minute sd (bps), VR(10) and n of closes ``[days, 375]``."""
    returns = np.diff(np.log(closes), axis=1)
    centred = returns - returns.mean()
    denominator = float((centred**2).sum())
    rho = np.array([(centred[:, k:] * centred[:, :-k]).sum() / denominator for k in range(1, lags + 1)])
    blocks = returns.shape[1] // VR_MINUTES
    block_returns = returns[:, : blocks * VR_MINUTES].reshape(returns.shape[0], blocks, VR_MINUTES).sum(axis=2)
    variance_ratio = block_returns.var() / (VR_MINUTES * returns[:, : blocks * VR_MINUTES].var())
    return {
        "rho": rho,
        "sum": float(rho.sum()),
        "sd_bps": float(returns.std() * 1e4),
        "vr": float(variance_ratio),
        "n": returns.size,
    }


def synthetic_statistics(symbol: str, days: list[date], seeds: list[int], planted: PlantedComponent) -> dict:
    """:func:`return_statistics` of the synthetic bars of ``symbol`` on ``days``, averaged over ``seeds``."""
    per_seed = []
    for seed in seeds:
        source = SyntheticSource(seed, planted.strength, planted.half_life_min)
        bars = source.fetch(symbol, days[0], days[-1]).bars
        sessions = complete_sessions(bars[bars["ts"].dt.date.isin(set(days))])
        per_seed.append(return_statistics(sessions.close))
    return {key: np.mean([s[key] for s in per_seed], axis=0) for key in per_seed[0]}


def design_row(planted: PlantedComponent) -> np.ndarray:
    """The autocorrelations the planted deviation alone adds to a martingale (no bounce), lags 1..10."""
    added_variance, added_cov = planted_return_moments(planted, LAGS)
    return added_cov / (1.0 + added_variance)


def format_row(label: str, stats: dict, markdown: bool) -> str:
    """One table row: label, lags 1..10, sum, sd, VR(10)."""
    cells = [f"{x:+.3f}" for x in stats["rho"]] + [
        f"{stats['sum']:+.3f}",
        f"{stats['sd_bps']:.2f}",
        f"{stats['vr']:.2f}",
    ]
    if markdown:
        return "| " + " | ".join([label, *cells]) + " |"
    return f"{label:34s}" + "".join(f"{c:>8s}" for c in cells)


def header(markdown: bool) -> list[str]:
    """The table's header line(s)."""
    names = [*(f"lag {k}" for k in range(1, LAGS + 1)), "sum", "sd bps", f"VR({VR_MINUTES})"]
    if markdown:
        return ["| market | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    return [f"{'market':34s}" + "".join(f"{n:>8s}" for n in names)]


def main(argv: list[str] | None = None) -> int:
    """Print the table; 1 when no real sample is found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=8, help="average the synthetic rows over this many seeds")
    parser.add_argument("--strength", type=float, default=PLANTED_STRENGTH, help="the planted strength to show")
    parser.add_argument("--half-life", type=float, default=PLANTED_HALF_LIFE_MIN, help="its half-life, minutes")
    parser.add_argument("--symbols", default="", help="comma-separated; default: every CSV in the samples folder")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (as in the README)")
    args = parser.parse_args(argv)
    samples_dir = load_settings().samples_dir
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()] or sorted(
        p.stem.upper() for p in samples_dir.glob("*.csv")
    )
    if not samples_dir.is_dir() or not symbols:
        print(f"no real samples at {samples_dir} (set EXEC_SAMPLES_DIR): nothing to compare", file=sys.stderr)
        return 1
    seeds = list(range(args.seed, args.seed + max(args.seeds, 1)))
    planted = PlantedComponent(args.strength, args.half_life)
    print(
        f"1-minute log returns, regular session, within day; real samples {samples_dir}; synthetic on the same days,"
        f" mean of seeds {seeds[0]}..{seeds[-1]}; planted: strength {planted.strength:g}, half-life"
        f" {planted.half_life_min:g} min (phi {planted.phi:.4f})"
    )
    lines = header(args.markdown)
    for symbol in symbols:
        path = samples_dir / f"{symbol}.csv"
        if not path.is_file():
            print(f"{symbol}: no sample file {path}", file=sys.stderr)
            continue
        real = complete_sessions(read_sample(path))
        real_stats = return_statistics(real.close)
        lines.append(
            format_row(
                f"{symbol} real ({len(real.days)} d, se {1 / np.sqrt(real_stats['n']):.3f})", real_stats, args.markdown
            )
        )
        lines.append(
            format_row(
                f"{symbol} synthetic, strength 0",
                synthetic_statistics(symbol, real.days, seeds, PlantedComponent()),
                args.markdown,
            )
        )
        lines.append(
            format_row(
                f"{symbol} synthetic, strength {planted.strength:g}",
                synthetic_statistics(symbol, real.days, seeds, planted),
                args.markdown,
            )
        )
    rho = design_row(planted)
    lines.append(
        format_row(
            f"design: the deviation alone, s={planted.strength:g}",
            {"rho": rho, "sum": float(rho.sum()), "sd_bps": float("nan"), "vr": float("nan")},
            args.markdown,
        ).replace("nan", "-")
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
