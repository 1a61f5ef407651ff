"""SPEC section 6 metrics: per day (vectorised over days) and aggregated per strategy.

Per day, for one executed schedule (all prices INR, bps of the arrival price unless said):

=====================  =====================================================================
``avg_price``          quantity-weighted average execution price
``arrival_price``      close of the bar before the start (09:29 bar for a 09:30 start)
``shortfall_bps``      implementation shortfall ``side * (avg - arrival) / arrival * 1e4``,
                       positive = cost (a sell that receives less than arrival costs)
``advantage_bps``      ``shortfall(twap_seed) - shortfall``: positive = better than the seed's
                       TWAP on the same day and fill model (set by the backtester)
``oracle_gap_bps``     ``shortfall(twap_seed) - shortfall(oracle)``: the day's TWAP->oracle gap
``vwap_slippage_bps``  ``side * (avg - interval VWAP) / interval VWAP * 1e4``; the interval VWAP
                       is the volume-weighted typical price ``(H + L + C) / 3`` of the bars from
                       the start to the last fill, inclusive
``child_orders``       fills with a non-zero quantity, the forced order included
``completion_min``     minutes from the start to the close of the last fill's bar
``peak_participation`` max child quantity / that minute's volume (floored as in the impact fill)
``reward_vr``          the episode's undiscounted vanilla reward (same under both fills)
``reward_acr``         the episode's undiscounted Almgren-Chriss reward (under that fill)
=====================  =====================================================================

Aggregates per (symbol, strategy, fill), and over all symbols as ``symbol = "ALL"``: mean,
median and std of the shortfall and the advantage; a seeded percentile-bootstrap 95 % CI of the
mean advantage (for ``ALL``, resampling trading days with all their symbols: same-day outcomes
are correlated); the share of days beating TWAP (advantage > 0); the gain-loss ratio (mean
advantage of winning days / mean loss of losing days); the share of the TWAP->oracle gap
captured (mean advantage / mean TWAP->oracle gap).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from execution.config import OrderParams
from execution.sim.episode import side_sign, start_minute
from execution.sim.fills import Execution, participation_volume
from execution.sim.market import MarketData
from execution.sim.rewards import BPS, DEFAULT_RISK_AVERSION_PER_BPS, episode_acr, episode_vr

DEFAULT_BOOTSTRAP = 2000
GROUP_KEYS = ["symbol", "strategy", "fill"]


def interval_vwap(market: MarketData, first_minute: int, last_minute: np.ndarray) -> np.ndarray:
    """Volume-weighted typical price of bars ``first_minute..last_minute[d]`` (inclusive) of each day.

    A window without volume falls back to the plain mean of the typical prices.
    """
    typical = (market.high + market.low + market.close) / 3.0
    rows = np.arange(market.n_days)

    def window_sum(series: np.ndarray) -> np.ndarray:
        cum = np.cumsum(series, axis=1)
        before = cum[:, first_minute - 1] if first_minute > 0 else 0.0
        return cum[rows, last_minute] - before

    volume = window_sum(market.volume)
    weighted = window_sum(typical * market.volume)
    plain = window_sum(typical) / (last_minute - first_minute + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(volume > 0, weighted / volume, plain)


def day_metrics(
    market: MarketData,
    order: OrderParams,
    execution: Execution,
    risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
) -> dict[str, np.ndarray]:
    """The per-day metrics of one executed schedule (all but ``advantage_bps`` / ``oracle_gap_bps``)."""
    side = side_sign(order)
    s = start_minute(order)
    arrival = market.close[:, s - 1]
    avg = execution.avg_price
    filled = execution.qty > 0
    last_slot = execution.qty.shape[1] - 1 - np.argmax(filled[:, ::-1], axis=1)
    last_minute = execution.minutes[last_slot]
    vwap = interval_vwap(market, s, last_minute)
    participation = np.where(filled, execution.qty / participation_volume(market, execution.minutes), 0.0)
    return {
        "avg_price": avg,
        "arrival_price": arrival,
        "shortfall_bps": side * (avg - arrival) / arrival * BPS,
        "vwap_slippage_bps": side * (avg - vwap) / vwap * BPS,
        "child_orders": filled.sum(axis=1),
        "completion_min": last_minute - s + 1,
        "peak_participation": participation.max(axis=1),
        "reward_vr": episode_vr(market, order, execution),
        "reward_acr": episode_acr(market, order, execution, risk_aversion),
    }


def bootstrap_mean_ci(
    values: np.ndarray, n_resamples: int = DEFAULT_BOOTSTRAP, seed: int = 0, clusters: np.ndarray | None = None
) -> tuple[float, float]:
    """Percentile bootstrap 95 % confidence interval of the mean (seeded; NaNs for fewer than 2 values).

    With ``clusters`` (one label per value, e.g. the trading day), whole clusters are resampled:
    values of one cluster are correlated (all symbols trade the same market that day), so
    resampling them one by one would treat them as independent and narrow the interval.
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if clusters is None:
        clusters = np.arange(values.size)
    codes, _ = pd.factorize(pd.Series(np.asarray(clusters)[finite]))
    values = values[finite]
    n_clusters = int(codes.max()) + 1 if values.size else 0
    if values.size < 2 or n_clusters < 2:
        return float("nan"), float("nan")
    sums = np.bincount(codes, weights=values, minlength=n_clusters)
    counts = np.bincount(codes, minlength=n_clusters).astype(float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(n_clusters, size=(n_resamples, n_clusters))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def gain_loss_ratio(advantage_bps: np.ndarray) -> float:
    """Mean gain of the days with a positive advantage over the mean loss of the days with a negative one."""
    advantage_bps = np.asarray(advantage_bps, dtype=float)
    gains, losses = advantage_bps[advantage_bps > 0], advantage_bps[advantage_bps < 0]
    if gains.size == 0 or losses.size == 0:
        return float("nan")
    return float(gains.mean() / -losses.mean())


def _summary_row(group: pd.DataFrame, n_resamples: int, seed: int, by_day: bool = False) -> dict[str, float]:
    adv = group["advantage_bps"].to_numpy(dtype=float)
    shortfall = group["shortfall_bps"].to_numpy(dtype=float)
    gap = group["oracle_gap_bps"].to_numpy(dtype=float).mean()
    clusters = group["day"].to_numpy() if by_day else None
    ci_low, ci_high = bootstrap_mean_ci(adv, n_resamples, seed, clusters)
    return {
        "days": len(group),
        "shortfall_mean_bps": shortfall.mean(),
        "shortfall_median_bps": float(np.median(shortfall)),
        "shortfall_std_bps": shortfall.std(ddof=1) if len(group) > 1 else float("nan"),
        "advantage_mean_bps": adv.mean(),
        "advantage_median_bps": float(np.median(adv)),
        "advantage_std_bps": adv.std(ddof=1) if len(group) > 1 else float("nan"),
        "advantage_ci95_low_bps": ci_low,
        "advantage_ci95_high_bps": ci_high,
        "share_beating_twap": float((adv > 0).mean()),
        "gain_loss_ratio": gain_loss_ratio(adv),
        "oracle_gap_captured": adv.mean() / gap if abs(gap) > 1e-12 else float("nan"),
        "vwap_slippage_mean_bps": group["vwap_slippage_bps"].mean(),
        "child_orders_mean": group["child_orders"].mean(),
        "completion_mean_min": group["completion_min"].mean(),
        "peak_participation_mean": group["peak_participation"].mean(),
        "reward_vr_mean": group["reward_vr"].mean(),
    }


def summarize(per_day: pd.DataFrame, n_resamples: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> pd.DataFrame:
    """Aggregate per-day rows per (symbol, strategy, fill), plus ``symbol = "ALL"`` when there are several symbols.

    The pooled ``ALL`` CI resamples trading days (every symbol of a day together), not symbol-days.
    """
    frames = [(per_day, False)]
    if per_day["symbol"].nunique() > 1:
        frames.append((per_day.assign(symbol="ALL"), "day" in per_day.columns))
    rows = []
    for frame, by_day in frames:
        for (symbol, strategy, fill), group in frame.groupby(GROUP_KEYS, sort=False):
            summary = _summary_row(group, n_resamples, seed, by_day)
            rows.append({"symbol": symbol, "strategy": strategy, "fill": fill, **summary})
    return pd.DataFrame(rows)
