"""The frames the suite validates, derived from bars once, vectorised (see ``suite`` for the stages).

Every row is attributed to a *day code*: the index of its (symbol, exchange-time day) in
``PreparedBars.keys``. Rows whose ``ts`` or ``symbol`` is missing borrow the day / symbol of the
previous row of the input (else the next), so that a null is reported on the day it sits in.
Derived values are null when their inputs are null: nulls are reported by ``no_nulls`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from execution.data.exchange_calendar import EXCHANGE_TZ_NAME, is_trading_day, previous_trading_day
from execution.data.quality.suite import TS_KIND_OK
from execution.data.sources.base import BAR_COLUMNS, PRICE_COLUMNS
from execution.data.ticks import PREV_MONTH_END_CLOSE, PRICE, TickRegime, off_tick, regime_on, tick_regimes

NUMERIC_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
PRE_OPEN_START_MIN = 9 * 60  # 09:00
SESSION_OPEN_MIN = 9 * 60 + 15  # 09:15, first regular bar
LAST_BAR_MIN = 15 * 60 + 29  # 15:29, last regular bar
POST_CLOSE_START_MIN = 15 * 60 + 30  # 15:30
POST_CLOSE_END_MIN = 16 * 60  # 16:00, exclusive
SESSION_BARS = LAST_BAR_MIN - SESSION_OPEN_MIN + 1
NS_PER_MIN = 60 * 10**9
NS_PER_DAY = 24 * 60 * NS_PER_MIN
MINUTES_PER_DAY = 24 * 60
#: off-tick tolerance handed to ``ticks.off_tick`` (relative to price / tick): float64 noise passes,
#: float32-style prices (2021 INFY: 1590.44995117 on a 0.05 tick) do not.
TICK_TOLERANCE = 1e-9
UNKNOWN_SYMBOL = "UNKNOWN"
SESSION_PARTS: tuple[str, ...] = ("pre_open", "regular", "post_close", "outside")


@dataclass
class PreparedBars:
    """Everything validation needs, derived once from the bars of many symbol-days."""

    keys: pd.DataFrame  # one row per day code: symbol, day (date)
    columns_frame: pd.DataFrame  # stage "columns": the bars as given (input order within a day code)
    columns_codes: np.ndarray  # day code of each row of columns_frame (ascending)
    rows_frame: pd.DataFrame  # stage "rows": numbers coerced, derived columns, sorted by (code, ts)
    rows_codes: np.ndarray  # day code of each row of rows_frame (ascending)
    days_frame: pd.DataFrame  # stage "days": row i describes day code i
    missing_columns: tuple[str, ...]
    statistics: list[dict]  # per day code

    @property
    def n_days(self) -> int:
        """Number of (symbol, day) pairs."""
        return len(self.keys)


def exchange_timestamps(values: pd.Series) -> tuple[pd.Series, str]:
    """``values`` as tz-aware exchange-time timestamps, and what they were.

    The kind is ``datetime_tz`` for tz-aware timestamps (any zone, converted), ``datetime_naive``
    for naive ones (read as exchange time) and ``text`` for anything else (parsed leniently,
    unparseable values become NaT).
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(EXCHANGE_TZ_NAME), TS_KIND_OK
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(EXCHANGE_TZ_NAME, ambiguous="NaT", nonexistent="NaT"), "datetime_naive"
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    kind = TS_KIND_OK if inferred in ("datetime", "datetime64") else "text"
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=kind == TS_KIND_OK)
    except (TypeError, ValueError):
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert(EXCHANGE_TZ_NAME), kind
    return parsed.dt.tz_localize(EXCHANGE_TZ_NAME, ambiguous="NaT", nonexistent="NaT"), kind


def _local_ns(ts: pd.Series) -> np.ndarray:
    """Exchange wall-clock nanoseconds since 1970-01-01 (NaT -> int64 min)."""
    naive = ts.dt.tz_localize(None).astype("datetime64[ns]")
    return naive.to_numpy().view("int64")


def _fill_within(values: pd.Series, groups: pd.Series) -> pd.Series:
    """Nulls replaced by the previous value of the same group in input order, else the next."""
    filled = values.groupby(groups, sort=False).ffill()
    return filled.groupby(groups, sort=False).bfill()


@lru_cache(maxsize=4096)
def _trading_day(day: date) -> bool:
    try:
        return is_trading_day(day)
    except ValueError:  # outside the calendar's range (e.g. 1970 from a broken ts): not a trading day
        return False


@lru_cache(maxsize=4096)
def _previous_month_end(day: date) -> date:
    return previous_trading_day(date(day.year, day.month, 1))


def _band_ticks(regime: TickRegime, reference: np.ndarray) -> np.ndarray:
    """Tick of the band each reference price falls in (NaN reference -> the last band)."""
    bounds = np.asarray(regime.upper_bounds_inr)
    ticks = np.asarray(regime.ticks_inr)
    index = np.searchsorted(bounds, np.nan_to_num(reference, nan=np.inf), side="right")
    return ticks[np.minimum(index, len(ticks) - 1)]


def _run_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Positions where a new value starts in an ascending array (a sorted ``np.unique``'s index)."""
    if not len(sorted_values):
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])


def _first_last_per_code(codes: np.ndarray, values: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last value per code of arrays sorted by code (NaN where a code has none)."""
    first = np.full(n_codes, np.nan)
    last = np.full(n_codes, np.nan)
    if len(codes):
        start = _run_starts(codes)
        end = np.r_[start[1:], len(codes)] - 1
        first[codes[start]] = values[start]
        last[codes[start]] = values[end]
    return first, last


def _numeric(bars: pd.DataFrame, column: str, n_rows: int) -> np.ndarray:
    if column not in bars.columns:
        return np.full(n_rows, np.nan)
    values = bars[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        values = pd.to_numeric(values.astype(object), errors="coerce")
    return values.astype("float64").to_numpy(copy=True)


def _nullable_bool(flags: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(flags.astype(bool), ~known.astype(bool))


def _columns_frame(bars: pd.DataFrame, ts: pd.Series, ts_kind: str) -> pd.DataFrame:
    """The bars as given, with symbol/source as Python objects (GX checks their type per value),
    non-numeric number columns as objects (so a stray string is found row by row), ts converted."""
    frame = {}
    for column in bars.columns:
        if column not in BAR_COLUMNS:
            continue
        values = bars[column]
        if column == "ts":
            values = ts
        elif column in ("symbol", "source") or not pd.api.types.is_numeric_dtype(values):
            values = pd.Series(values.to_numpy(dtype=object), dtype=object)  # pandas 3 would infer "str"
        frame[column] = values.reset_index(drop=True)
    kind_codes = np.where(ts.isna().to_numpy(), -1, 0).astype(np.int8)
    frame["ts_kind"] = pd.Categorical.from_codes(kind_codes, categories=[ts_kind])
    return pd.DataFrame(frame)


def _reference_prices(
    keys: pd.DataFrame,
    regimes: list[TickRegime],
    first_close: np.ndarray,
    last_close: np.ndarray,
    reference_closes: Mapping[tuple[str, date], float],
) -> tuple[np.ndarray, list[str | None]]:
    """Per day code, the price its tick band is judged on (regimes with a per-day reference)."""
    last_close_of = {(s, d): c for s, d, c in zip(keys["symbol"], keys["day"], last_close, strict=True)}
    reference = np.full(len(keys), np.nan)
    origin: list[str | None] = [None] * len(keys)
    for code, (symbol, day, regime) in enumerate(zip(keys["symbol"], keys["day"], regimes, strict=True)):
        if regime.reference != PREV_MONTH_END_CLOSE:
            continue
        month_end = _previous_month_end(day)
        given = reference_closes.get((symbol, month_end))
        in_batch = last_close_of.get((symbol, month_end), np.nan)
        if given is not None and np.isfinite(given):
            reference[code], origin[code] = float(given), f"month_end_close {month_end} (given)"
        elif np.isfinite(in_batch):
            reference[code], origin[code] = in_batch, f"month_end_close {month_end} (in batch)"
        else:
            reference[code], origin[code] = first_close[code], "first_close_of_day (month-end close not available)"
    return reference, origin


def _tick_columns(
    prices: dict[str, np.ndarray], codes: np.ndarray, regimes: list[TickRegime], reference: np.ndarray
) -> dict[str, np.ndarray]:
    """Tick in force for every price of every row (sorted frame)."""
    ticks = {column: np.full(len(codes), np.nan) for column in PRICE_COLUMNS}
    known = tick_regimes()
    code_regime = np.array([known.index(r) for r in regimes], dtype=np.int64)
    row_regime = code_regime[codes] if len(codes) else np.empty(0, dtype=np.int64)
    for regime_index in np.unique(code_regime):
        regime = known[regime_index]
        rows = row_regime == regime_index
        for column in PRICE_COLUMNS:
            ref = prices[column][rows] if regime.reference == PRICE else reference[codes[rows]]
            ticks[column][rows] = _band_ticks(regime, ref)
    return ticks


def _symbol_codes(symbols: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Code of each row's symbol (codes ordered by name) and the names; a null symbol takes the
    previous row's (else the next)."""
    codes, names = pd.factorize(symbols, sort=False)
    labels = [str(name) for name in names]
    if (codes < 0).any():
        filled = pd.Series(np.where(codes < 0, np.nan, codes)).ffill().bfill().to_numpy()
        labels.append(UNKNOWN_SYMBOL)
        codes = np.nan_to_num(filled, nan=len(labels) - 1).astype(np.int64)
    sorted_labels = sorted(set(labels))
    position = {label: i for i, label in enumerate(sorted_labels)}
    relabel = np.array([position[label] for label in labels], dtype=np.int64)
    return relabel[codes], sorted_labels


def _day_codes(
    symbol_codes: np.ndarray, symbol_names: list[str], local_ns: np.ndarray, ts_null: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame]:
    """Day code of each row and the (symbol, day) of each code, ordered by symbol then day.

    A row without a timestamp takes the day of the previous row of its symbol (else the next)."""
    day_num = pd.Series(np.where(ts_null, np.nan, local_ns // NS_PER_DAY))
    if ts_null.any():
        day_num = _fill_within(day_num, pd.Series(symbol_codes)).fillna(0)
    day_num = np.clip(day_num.to_numpy(), 0, 2**32 - 1).astype(np.int64)  # days since 1970-01-01
    combined, codes = np.unique((symbol_codes << 32) | day_num, return_inverse=True)
    epoch = date(1970, 1, 1)
    keys = pd.DataFrame(
        {
            "symbol": [symbol_names[i] for i in combined >> 32],
            "day": [epoch + timedelta(days=int(n)) for n in combined & 0xFFFFFFFF],
        }
    )
    return codes, keys


def _clock(local_ns: np.ndarray, valid_ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minute of day, seconds past the minute (NaN without ts) and session part code of each row."""
    ns_in_day = np.where(valid_ts, local_ns - (local_ns // NS_PER_DAY) * NS_PER_DAY, 0)
    minute = ns_in_day // NS_PER_MIN
    seconds_past_minute = np.where(valid_ts, (ns_in_day % NS_PER_MIN) / 1e9, np.nan)
    part = np.select(
        [
            ~valid_ts,
            (minute >= PRE_OPEN_START_MIN) & (minute < SESSION_OPEN_MIN),
            (minute >= SESSION_OPEN_MIN) & (minute <= LAST_BAR_MIN),
            (minute >= POST_CLOSE_START_MIN) & (minute < POST_CLOSE_END_MIN),
        ],
        [-1, SESSION_PARTS.index("pre_open"), SESSION_PARTS.index("regular"), SESSION_PARTS.index("post_close")],
        SESSION_PARTS.index("outside"),
    ).astype(np.int8)
    return minute, seconds_past_minute, part


def _close_moves(close: np.ndarray, codes: np.ndarray, regular: np.ndarray) -> np.ndarray:
    """|close / previous close - 1| in % between consecutive regular bars of the same day (NaN elsewhere)."""
    close_move_pct = np.full(len(close), np.nan)
    moving = np.flatnonzero(regular & np.isfinite(close))
    if len(moving) > 1:
        prev, curr = moving[:-1], moving[1:]
        same_day = codes[prev] == codes[curr]
        with np.errstate(divide="ignore", invalid="ignore"):
            move = np.abs(close[curr] / close[prev] - 1.0) * 100.0
        move[~(close[prev] > 0)] = np.nan
        close_move_pct[curr[same_day]] = move[same_day]
    return close_move_pct


class _SortedRows(NamedTuple):
    """The rows of stage "rows", sorted by (day code, ts), and what is derived from each of them."""

    order: np.ndarray  # input position of each sorted row
    codes: np.ndarray  # day code (ascending)
    minute: np.ndarray  # minute of the day
    seconds_past_minute: np.ndarray  # NaN without ts
    part: np.ndarray  # index into SESSION_PARTS (-1 without ts)
    regular: np.ndarray  # a regular-session bar starting on the minute
    prices: dict[str, np.ndarray]  # PRICE_COLUMNS coerced to float
    volume: np.ndarray  # coerced to float


def _require_key_columns(bars: pd.DataFrame) -> None:
    """Raise ``ValueError`` when ``symbol`` or ``ts`` is missing (rows cannot be attributed to days)."""
    for column in ("symbol", "ts"):
        if column not in bars.columns:
            raise ValueError(f"bars have no {column!r} column: cannot tell which (symbol, day) a row belongs to")


def _sorted_rows(bars: pd.DataFrame, codes: np.ndarray, local_ns: np.ndarray, ts_null: np.ndarray) -> _SortedRows:
    """The rows sorted by (day code, ts), with their clock, session part and numbers coerced."""
    n_rows = len(bars)
    order = np.lexsort((local_ns, codes))
    minute, seconds_past_minute, part = _clock(local_ns[order], ~ts_null[order])
    return _SortedRows(
        order=order,
        codes=codes[order],
        minute=minute,
        seconds_past_minute=seconds_past_minute,
        part=part,
        regular=(part == SESSION_PARTS.index("regular")) & (seconds_past_minute == 0),
        prices={column: _numeric(bars, column, n_rows)[order] for column in PRICE_COLUMNS},
        volume=_numeric(bars, "volume", n_rows)[order],
    )


def _day_closes(rows: _SortedRows, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last regular close of each day (tick reference, statistics); NaN where a day has none.

    A day without a regular close takes the first close of any of its rows as its first close.
    """
    close = rows.prices["close"]
    reg_close = rows.regular & np.isfinite(close)
    first_close, last_close = _first_last_per_code(rows.codes[reg_close], close[reg_close], n_codes)
    any_close = np.isfinite(close)
    first_any_close, _ = _first_last_per_code(rows.codes[any_close], close[any_close], n_codes)
    return np.where(np.isfinite(first_close), first_close, first_any_close), last_close


def _prices_on_tick(prices: dict[str, np.ndarray], ticks: dict[str, np.ndarray]) -> pd.arrays.BooleanArray:
    """Per row, whether every price is on its tick (and finite); null for a row without any price."""
    off = np.zeros(len(prices["close"]), dtype=bool)
    has_price = np.zeros(len(prices["close"]), dtype=bool)
    for column in PRICE_COLUMNS:
        values = prices[column]
        off |= off_tick(values, ticks[column], tolerance=TICK_TOLERANCE) | np.isinf(values)
        has_price |= ~np.isnan(values)
    return _nullable_bool(~off, has_price)


def _bar_range_pct(prices: dict[str, np.ndarray]) -> np.ndarray:
    """(high - low) / close in % of each row (NaN unless close > 0)."""
    close = prices["close"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(close > 0, (prices["high"] - prices["low"]) / close * 100.0, np.nan)


def _rows_frame(
    rows: _SortedRows,
    symbol_codes: np.ndarray,
    symbol_names: list[str],
    ts: pd.Series,
    ticks: dict[str, np.ndarray],
    close_move_pct: np.ndarray,
) -> pd.DataFrame:
    """Stage "rows": the sorted rows, numbers coerced, with the derived columns."""
    prices, volume = rows.prices, rows.volume
    volume_whole = np.isfinite(volume) & (volume == np.round(volume))
    return pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(symbol_codes[rows.order], categories=symbol_names),
            "ts": ts.iloc[rows.order].reset_index(drop=True),
            **prices,
            "volume": volume,
            "session_part": pd.Categorical.from_codes(rows.part, categories=SESSION_PARTS),
            "seconds_past_minute": rows.seconds_past_minute,
            "tick_inr": ticks["close"],
            "prices_on_tick": _prices_on_tick(prices, ticks),
            "volume_is_whole": _nullable_bool(volume_whole, ~np.isnan(volume)),
            "close_move_pct": close_move_pct,
            "bar_range_pct": _bar_range_pct(prices),
        }
    )


def prepare(bars: pd.DataFrame, reference_closes: Mapping[tuple[str, date], float] | None = None) -> PreparedBars:
    """Derive the three stage frames from ``bars`` (contract columns, any rows of any days).

    ``reference_closes`` maps (symbol, trading day) to that day's close, consulted first for the
    tick regime judged on the previous month-end close. Raises ``ValueError`` when ``symbol`` or
    ``ts`` is missing (rows cannot be attributed to days without them).
    """
    _require_key_columns(bars)
    missing = tuple(c for c in BAR_COLUMNS if c not in bars.columns)
    bars = bars.reset_index(drop=True)

    ts, ts_kind = exchange_timestamps(bars["ts"])
    local_ns = _local_ns(ts)
    ts_null = ts.isna().to_numpy()
    symbol_codes, symbol_names = _symbol_codes(bars["symbol"])
    codes, keys = _day_codes(symbol_codes, symbol_names, local_ns, ts_null)

    # stage "columns": as given, rows grouped by day code (stable: input order within a day)
    by_code = np.argsort(codes, kind="stable")
    columns_frame = _columns_frame(bars, ts, ts_kind).iloc[by_code].reset_index(drop=True)

    # stage "rows": sorted by (day code, ts); ticks judged per day code
    rows = _sorted_rows(bars, codes, local_ns, ts_null)
    first_close, last_close = _day_closes(rows, len(keys))
    regimes = [regime_on(day) for day in keys["day"]]
    reference, reference_origin = _reference_prices(keys, regimes, first_close, last_close, reference_closes or {})
    ticks = _tick_columns(rows.prices, rows.codes, regimes, reference)
    close_move_pct = _close_moves(rows.prices["close"], rows.codes, rows.regular)
    rows_frame = _rows_frame(rows, symbol_codes, symbol_names, ts, ticks, close_move_pct)

    days_frame, statistics = _days(keys, rows, close_move_pct, regimes, reference, reference_origin)
    for code, stats in enumerate(statistics):
        stats["first_close"] = None if np.isnan(first_close[code]) else float(first_close[code])
    return PreparedBars(
        keys=keys,
        columns_frame=columns_frame,
        columns_codes=codes[by_code],
        rows_frame=rows_frame,
        rows_codes=rows.codes,
        days_frame=days_frame,
        missing_columns=missing,
        statistics=statistics,
    )


class _Coverage(NamedTuple):
    """Which regular-session minutes each day code has a bar for."""

    bars: np.ndarray  # distinct regular minutes with a bar
    first_minute: np.ndarray  # minute of day of the first one (NaN without any)
    last_minute: np.ndarray  # minute of day of the last one (NaN without any)
    late_open: np.ndarray  # minutes from 09:15 to the first bar (SESSION_BARS without any)
    early_close: np.ndarray  # minutes from the last bar to 15:29 (SESSION_BARS without any)
    longest_gap: np.ndarray  # longest run of minutes without a bar between two bars


def _coverage(codes: np.ndarray, minute: np.ndarray, regular: np.ndarray, n_codes: int) -> _Coverage:
    """Regular-session minute coverage per day code (rows sorted by (code, ts))."""
    minute_keys = codes[regular] * MINUTES_PER_DAY + minute[regular]  # ascending: rows sorted by (code, ts)
    minute_keys = minute_keys[_run_starts(minute_keys)]
    key_code, key_minute = minute_keys // MINUTES_PER_DAY, minute_keys % MINUTES_PER_DAY
    first_minute, last_minute = _first_last_per_code(key_code, key_minute.astype(float), n_codes)
    longest_gap = np.zeros(n_codes, dtype=np.int64)
    same = key_code[1:] == key_code[:-1]
    np.maximum.at(longest_gap, key_code[1:][same], (np.diff(key_minute) - 1)[same])
    return _Coverage(
        bars=np.bincount(key_code, minlength=n_codes),
        first_minute=first_minute,
        last_minute=last_minute,
        late_open=np.where(np.isnan(first_minute), SESSION_BARS, first_minute - SESSION_OPEN_MIN).astype(np.int64),
        early_close=np.where(np.isnan(last_minute), SESSION_BARS, LAST_BAR_MIN - last_minute).astype(np.int64),
        longest_gap=longest_gap,
    )


def _regular_volume(codes: np.ndarray, regular: np.ndarray, volume: np.ndarray, n_codes: int) -> np.ndarray:
    """Volume of the regular-session bars of each day code (NaN when none of them has a volume)."""
    with_volume = regular & ~np.isnan(volume)
    volume_sum = np.bincount(codes[with_volume], weights=volume[with_volume], minlength=n_codes)
    volume_rows = np.bincount(codes[with_volume], minlength=n_codes)
    return np.where(volume_rows > 0, volume_sum, np.nan)


def _max_close_move(codes: np.ndarray, close_move_pct: np.ndarray, n_codes: int) -> np.ndarray:
    """Largest close-to-close move of each day code (``-inf`` without any)."""
    max_move = np.full(n_codes, -np.inf)
    moved = ~np.isnan(close_move_pct)
    np.maximum.at(max_move, codes[moved], close_move_pct[moved])
    return max_move


def _minute_text(value: float) -> str | None:
    """A minute of the day as ``HH:MM`` (None for NaN)."""
    return None if np.isnan(value) else f"{int(value) // 60:02d}:{int(value) % 60:02d}"


def _tick_statistics(regime: TickRegime, reference: float, reference_origin: str | None) -> dict:
    """The statistics of a day about its tick regime: which, judged on what, and the tick when one applies."""
    stats = {
        "tick_regime": f"{regime.reference} since {regime.effective_from.isoformat()}",
        "tick_reference": reference_origin or regime.reference,
    }
    if regime.reference == PREV_MONTH_END_CLOSE:
        stats["tick_reference_price"] = None if np.isnan(reference) else float(reference)
        stats["tick_inr"] = float(regime.tick_for(reference)) if np.isfinite(reference) else None
    elif regime.reference != PRICE:
        stats["tick_inr"] = float(regime.ticks_inr[0])
    return stats


def _days_frame(
    keys: pd.DataFrame, trading: np.ndarray, coverage: _Coverage, regular_volume: np.ndarray
) -> pd.DataFrame:
    """Stage "days": row i describes day code i."""
    return pd.DataFrame(
        {
            "symbol": keys["symbol"].to_numpy(dtype=object),
            "day": [day.isoformat() for day in keys["day"]],
            "is_trading_day": trading,
            "regular_session_bars": coverage.bars.astype(np.int64),
            "late_open_min": coverage.late_open,
            "early_close_min": coverage.early_close,
            "longest_gap_min": coverage.longest_gap,
            "regular_volume": regular_volume,
        }
    )


def _days(
    keys: pd.DataFrame,
    rows: _SortedRows,
    close_move_pct: np.ndarray,
    regimes: list[TickRegime],
    reference: np.ndarray,
    reference_origin: list[str | None],
) -> tuple[pd.DataFrame, list[dict]]:
    """Per-day aggregates (the ``days`` stage frame) and the statistics reported with each verdict."""
    n_codes, codes = len(keys), rows.codes
    coverage = _coverage(codes, rows.minute, rows.regular, n_codes)
    regular_volume = _regular_volume(codes, rows.regular, rows.volume, n_codes)
    max_move = _max_close_move(codes, close_move_pct, n_codes)
    counts = {
        name: np.bincount(codes[rows.part == SESSION_PARTS.index(name)], minlength=n_codes)
        for name in ("pre_open", "post_close", "outside")
    }
    row_counts = np.bincount(codes, minlength=n_codes)
    trading = np.array([_trading_day(day) for day in keys["day"]], dtype=bool)

    statistics = []
    for code in range(n_codes):
        stats = {
            "bars": int(row_counts[code]),
            "regular_session_bars": int(coverage.bars[code]),
            "missing_minutes": int(SESSION_BARS - coverage.bars[code]),
            "pre_open_rows": int(counts["pre_open"][code]),
            "post_close_rows": int(counts["post_close"][code]),
            "outside_session_rows": int(counts["outside"][code]),
            "first_bar": _minute_text(coverage.first_minute[code]),
            "last_bar": _minute_text(coverage.last_minute[code]),
            "longest_gap_min": int(coverage.longest_gap[code]),
            "total_volume": None if np.isnan(regular_volume[code]) else float(regular_volume[code]),
            "max_close_move_pct": None if max_move[code] == -np.inf else round(float(max_move[code]), 4),
            "trading_day": bool(trading[code]),
            **_tick_statistics(regimes[code], reference[code], reference_origin[code]),
        }
        statistics.append(stats)
    return _days_frame(keys, trading, coverage, regular_volume), statistics
