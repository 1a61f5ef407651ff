"""One symbol's validated 1-minute bars over a window of trading days, as numpy arrays.

Loaded once per backtest or training run; episodes and baselines then only index arrays
(no pandas and no database per step).

Layout: every per-minute array is ``[n_days, 375]``, column ``j`` being the regular-session
bar that starts at 09:15 + j minutes (exchange time).

Episode geometry (decision minutes, the fill bar, the arrival price) is :mod:`execution.sim.episode`.

Trailing statistics (no look-ahead): for day ``d`` they use the ``lookback_days`` previous days
of the frame only. The first day of the frame, which has no previous day, falls back to its own
bars before the start minute ``s`` (all known at the first decision); a day without either is
dropped. :func:`load` reads ``lookback_days`` extra trading days before the window so that
the first day of the window normally has real history.

Missing minutes: bars come from the validated ``bars_1m`` table, so holes are rare, but they
are handled explicitly. A missing minute is filled with the previous close (open = high = low
= close, volume 0; a hole at 09:15 takes the first present bar's open) and counted in
``missing_minutes``. Filled minutes are excluded from the trailing statistics. A day with a
missing minute inside its episode span (``s - max(n_history, 1)`` .. ``s + T``) is not an
episode: it is listed in ``dropped_days`` with the reason, and its present bars still feed the
trailing statistics of the following days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from execution.config import OrderParams
from execution.data.exchange_calendar import BARS_PER_SESSION, EXCHANGE_TZ_NAME, previous_trading_day
from execution.data.store import load_published
from execution.data.ticks import tick_size
from execution.sim.episode import SESSION_OPEN_MINUTE, episode_span, start_minute

DEFAULT_LOOKBACK_DAYS = 20


@dataclass(frozen=True, eq=False)
class MarketData:
    """Arrays of one symbol over the episode days of a window (see the module docstring).

    ``n_days`` rows, one per usable trading day, in date order. Prices in INR.
    """

    symbol: str
    days: np.ndarray  # [n_days] datetime64[D]
    open_price: np.ndarray  # [n_days] the day's open (open of the 09:15 bar)
    close: np.ndarray  # [n_days, 375]
    high: np.ndarray  # [n_days, 375]
    low: np.ndarray  # [n_days, 375]
    volume: np.ndarray  # [n_days, 375] shares
    avg_volume_1m: np.ndarray  # [n_days] trailing mean 1-minute volume, shares (>= 1)
    volume_profile: np.ndarray  # [n_days, 375] trailing mean volume of each minute of the session
    sigma_1m: np.ndarray  # [n_days] trailing std of 1-minute log returns (fraction of price)
    half_spread: np.ndarray  # [n_days] trailing Corwin-Schultz half-spread (fraction), >= half a tick
    missing_minutes: np.ndarray  # [n_days] count of filled (missing) session minutes of the day
    dropped_days: tuple[tuple[date, str], ...] = field(default=())

    @property
    def n_days(self) -> int:
        """Number of episode days."""
        return int(self.days.shape[0])

    def day(self, index: int) -> date:
        """The calendar date of episode day ``index``."""
        return self.days[index].astype(object)

    @classmethod
    def concat(cls, markets: list[MarketData]) -> MarketData:
        """The days of several windows (e.g. several symbols) as one, in the given order (``A+B`` as the symbol).

        Every array keeps its per-day meaning, so episodes, baselines and training run on the pooled
        days as on one symbol's; only ``day(i)`` no longer says which symbol a row is.
        """
        if not markets:
            raise ValueError("nothing to concatenate")
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            first = getattr(markets[0], name)
            if isinstance(first, np.ndarray):
                values[name] = np.concatenate([getattr(m, name) for m in markets])
            elif name == "symbol":
                values[name] = "+".join(m.symbol for m in markets)
            else:
                values[name] = tuple(item for m in markets for item in getattr(m, name))
        return cls(**values)

    def subset(self, index: np.ndarray | slice) -> MarketData:
        """The same data restricted to some days (boolean mask, index array or slice)."""
        values: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            values[name] = value[index] if isinstance(value, np.ndarray) else value
        return MarketData(**values)


# ---------------------------------------------------------------- building from bars


def _session_grid(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Pivot a contract frame into per-day [n, 375] arrays (NaN where a minute is missing)."""
    local = frame["ts"].dt.tz_convert(EXCHANGE_TZ_NAME).dt.tz_localize(None).to_numpy()
    stamps = local.astype("datetime64[m]")
    day_of_row = stamps.astype("datetime64[D]")
    minute = (stamps - day_of_row.astype("datetime64[m]")).astype(np.int64) - SESSION_OPEN_MINUTE
    keep = (minute >= 0) & (minute < BARS_PER_SESSION)
    days, row_day = np.unique(day_of_row[keep], return_inverse=True)
    grid = {}
    for column in ("open", "high", "low", "close", "volume"):
        values = np.full((days.shape[0], BARS_PER_SESSION), np.nan)
        values[row_day, minute[keep]] = frame[column].to_numpy(dtype=float)[keep]
        grid[column] = values
    return days, grid


def _fill_holes(grid: dict[str, np.ndarray]) -> np.ndarray:
    """Fill missing minutes in place (previous close, zero volume); returns the presence mask."""
    present = ~np.isnan(grid["close"])
    n_days, n_min = present.shape
    last_seen = np.where(present, np.arange(n_min), -1)
    np.maximum.accumulate(last_seen, axis=1, out=last_seen)
    first_present = present.argmax(axis=1)
    rows = np.arange(n_days)[:, None]
    filled_close = grid["close"][rows, np.maximum(last_seen, 0)]
    leading = last_seen < 0  # holes before the first bar of the day: take that bar's open
    filled_close = np.where(leading, grid["open"][np.arange(n_days), first_present][:, None], filled_close)
    for column in ("open", "high", "low", "close"):
        grid[column] = np.where(present, grid[column], filled_close)
    grid["volume"] = np.where(present, grid["volume"], 0.0)
    return present


def _trailing_mean(sums: np.ndarray, counts: np.ndarray, lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count over the ``lookback`` previous rows (axis 0), excluding the row itself."""
    zero = np.zeros((1, *sums.shape[1:]))
    cum_s = np.concatenate([zero, np.cumsum(sums, axis=0)])
    cum_c = np.concatenate([zero, np.cumsum(counts, axis=0)])
    rows = np.arange(sums.shape[0])
    lo = np.maximum(rows - lookback, 0)
    return cum_s[rows] - cum_s[lo], cum_c[rows] - cum_c[lo]


def corwin_schultz_spread(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Corwin & Schultz (2012) spread estimate (fraction of price) of each pair of consecutive bars.

    Input ``[..., n]`` arrays; output ``[..., n-1]``, pair ``(j, j+1)`` at ``j``. The second
    bar's range is shifted by any gap to the first bar's close (their overnight adjustment);
    negative estimates are set to 0, as the paper does before averaging.
    """
    h1, l1, c1 = high[..., :-1], low[..., :-1], close[..., :-1]
    h2, l2 = high[..., 1:], low[..., 1:]
    shift = np.where(l2 > c1, l2 - c1, np.where(h2 < c1, h2 - c1, 0.0))
    h2, l2 = h2 - shift, l2 - shift
    beta = np.log(h1 / l1) ** 2 + np.log(h2 / l2) ** 2
    gamma = np.log(np.maximum(h1, h2) / np.minimum(l1, l2)) ** 2
    k = 3.0 - 2.0 * np.sqrt(2.0)
    alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k)
    spread = 2.0 * (np.exp(alpha) - 1.0) / (1.0 + np.exp(alpha))
    return np.maximum(spread, 0.0)


class _Sums(NamedTuple):
    """Sums and counts the statistics of a day are estimated from (present minutes only), one value per day."""

    vol_sum: np.ndarray  # volume of the present minutes, shares
    vol_cnt: np.ndarray  # number of present minutes
    ret_sq_sum: np.ndarray  # squared 1-minute log returns of the pairs of consecutive present minutes
    ret_cnt: np.ndarray  # number of such pairs
    cs_sum: np.ndarray  # Corwin-Schultz spread estimates of those pairs


def _pair_statistics(
    present: np.ndarray, close: np.ndarray, high: np.ndarray, low: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair of consecutive minutes ``[n_days, 374]``: both present, the log return, the Corwin-Schultz spread."""
    both = present[:, 1:] & present[:, :-1]
    log_ret = np.log(close[:, 1:] / close[:, :-1])
    cs = corwin_schultz_spread(high, low, close)
    return both, log_ret, cs


def _sums(present: np.ndarray, volume: np.ndarray, pairs: np.ndarray, log_ret: np.ndarray, cs: np.ndarray) -> _Sums:
    """Per-day sums over the minutes (``present``, ``volume``) and pairs (``pairs``, ``log_ret``, ``cs``) given."""
    return _Sums(
        vol_sum=np.where(present, volume, 0.0).sum(axis=1),
        vol_cnt=present.sum(axis=1).astype(float),
        ret_sq_sum=np.where(pairs, log_ret**2, 0.0).sum(axis=1),
        ret_cnt=pairs.sum(axis=1).astype(float),
        cs_sum=np.where(pairs, cs, 0.0).sum(axis=1),
    )


def _trailing_sums(day: _Sums, lookback: int) -> _Sums:
    """The per-day sums accumulated over the ``lookback`` previous days of each day (the day itself excluded)."""
    vol_sum, vol_cnt = _trailing_mean(day.vol_sum, day.vol_cnt, lookback)
    ret_sq_sum, ret_cnt = _trailing_mean(day.ret_sq_sum, day.ret_cnt, lookback)
    cs_sum, _ = _trailing_mean(day.cs_sum, day.ret_cnt, lookback)
    return _Sums(vol_sum=vol_sum, vol_cnt=vol_cnt, ret_sq_sum=ret_sq_sum, ret_cnt=ret_cnt, cs_sum=cs_sum)


def _with_own_history(trailing: _Sums, own: _Sums) -> _Sums:
    """Trailing sums, with a day's ``own`` sums (its bars before the first decision) where it has no history.

    Volume falls back when no previous minute is present; returns and spread when no previous pair is.
    """
    no_history = trailing.vol_cnt == 0
    no_pairs = trailing.ret_cnt == 0
    return _Sums(
        vol_sum=np.where(no_history, own.vol_sum, trailing.vol_sum),
        vol_cnt=np.where(no_history, own.vol_cnt, trailing.vol_cnt),
        ret_sq_sum=np.where(no_pairs, own.ret_sq_sum, trailing.ret_sq_sum),
        ret_cnt=np.where(no_pairs, own.ret_cnt, trailing.ret_cnt),
        cs_sum=np.where(no_pairs, own.cs_sum, trailing.cs_sum),
    )


def _estimates(sums: _Sums) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean 1-minute volume (>= 1), std of 1-minute log returns and mean Corwin-Schultz spread (NaN without data)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        avg_volume = np.maximum(sums.vol_sum / sums.vol_cnt, 1.0)
        sigma = np.sqrt(sums.ret_sq_sum / sums.ret_cnt)
        spread = sums.cs_sum / sums.ret_cnt
    return avg_volume, sigma, spread


def _trailing_profile(present: np.ndarray, volume: np.ndarray, lookback: int) -> np.ndarray:
    """Trailing mean volume of each minute of the session over present minutes; flat (ones) without history."""
    tp_s, tp_c = _trailing_mean(np.where(present, volume, 0.0), present.astype(float), lookback)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(tp_c > 0, tp_s / np.maximum(tp_c, 1.0), 0.0)
    profile[profile.sum(axis=1) <= 0] = 1.0  # no history: flat profile
    return profile


def _half_spread(days: np.ndarray, open_price: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Half the estimated spread (fraction), at least half a tick of the day's open."""
    # half a tick is the least half-spread; the day's open stands in for the regime's reference
    # price (exact before 2025; the banded regime of 2025 judges the previous month-end close)
    tick_frac = np.array([tick_size(d.astype(object), float(p)) for d, p in zip(days, open_price, strict=True)])
    tick_frac = tick_frac / open_price
    return np.maximum(spread / 2.0, tick_frac / 2.0)


def _episode_days(
    days: np.ndarray,
    present: np.ndarray,
    order: OrderParams,
    first_day: date | None,
    no_history: np.ndarray,
) -> tuple[np.ndarray, list[tuple[date, str]]]:
    """Which days are episodes, and the dropped ones with the reason.

    Days before ``first_day`` are left out silently; a day is dropped for a missing minute inside
    its episode span, else when ``no_history`` (no trailing history nor bars before the first decision).
    """
    span_lo, span_hi = episode_span(order)
    dropped: list[tuple[date, str]] = []
    keep = np.ones(days.shape[0], dtype=bool)
    holes_in_span = (~present[:, span_lo : span_hi + 1]).sum(axis=1)
    for i, d in enumerate(days):
        day = d.astype(object)
        reason = None
        if first_day is not None and day < first_day:
            keep[i] = False
            continue
        if holes_in_span[i]:
            reason = f"{holes_in_span[i]} missing minute(s) between bars {span_lo} and {span_hi} of the episode"
        elif no_history[i]:
            reason = "no trailing history and no bars before the first decision"
        if reason:
            keep[i] = False
            dropped.append((day, reason))
    return keep, dropped


def from_bars(
    frame: pd.DataFrame,
    order: OrderParams,
    first_day: date | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> MarketData:
    """Build :class:`MarketData` from a contract frame of one symbol (as ``store.load_published`` returns).

    Days before ``first_day`` only feed the trailing statistics. Rows outside the regular
    session are ignored. Raises ``ValueError`` on an empty frame or several symbols.
    """
    if frame.empty:
        raise ValueError("no bars")
    symbols = pd.unique(frame["symbol"])
    if len(symbols) != 1:
        raise ValueError(f"from_bars takes one symbol, got {list(symbols)}")
    days, grid = _session_grid(frame)
    present = _fill_holes(grid)
    s = start_minute(order)
    close, high, low, volume = grid["close"], grid["high"], grid["low"], grid["volume"]

    # per-day sums, trailing over previous days (present minutes only); without history, the
    # day's own bars before the first decision
    both, log_ret, cs = _pair_statistics(present, close, high, low)
    trailing = _trailing_sums(_sums(present, volume, both, log_ret, cs), lookback_days)
    own = _sums(present[:, :s], volume[:, :s], both[:, : s - 1], log_ret[:, : s - 1], cs[:, : s - 1])
    sums = _with_own_history(trailing, own)
    avg_volume, sigma, spread = _estimates(sums)
    profile = _trailing_profile(present, volume, lookback_days)

    open_price = grid["open"][:, 0]
    half_spread = _half_spread(days, open_price, spread)
    no_history = (sums.vol_cnt == 0) | (sums.ret_cnt == 0) | ~np.isfinite(sigma)
    keep, dropped = _episode_days(days, present, order, first_day, no_history)

    return MarketData(
        symbol=str(symbols[0]),
        days=days[keep],
        open_price=open_price[keep],
        close=close[keep],
        high=high[keep],
        low=low[keep],
        volume=volume[keep],
        avg_volume_1m=avg_volume[keep],
        volume_profile=profile[keep],
        sigma_1m=sigma[keep],
        half_spread=half_spread[keep],
        missing_minutes=(~present).sum(axis=1)[keep],
        dropped_days=tuple(dropped),
    )


def lookback_start(start: date, lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> date:
    """The trading day ``lookback_days`` trading days before ``start`` (where history begins)."""
    day = start
    for _ in range(lookback_days):
        day = previous_trading_day(day)
    return day


def load(
    conn: Any,
    symbol: str,
    start: date,
    end: date,
    order: OrderParams,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> MarketData:
    """Published bars of ``symbol`` for ``start..end`` (plus ``lookback_days`` trading days of history)."""
    history_start = lookback_start(start, lookback_days) if lookback_days else start
    frame = load_published(conn, symbol, history_start, end)
    if frame.empty:
        raise ValueError(f"no published bars for {symbol} between {history_start} and {end}")
    market = from_bars(frame, order, first_day=start, lookback_days=lookback_days)
    if market.n_days == 0:
        raise ValueError(f"no usable episode day for {symbol} between {start} and {end}: {market.dropped_days}")
    return market


__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "MarketData",
    "corwin_schultz_spread",
    "from_bars",
    "load",
    "lookback_start",
]
