"""Turn a vendor's frame into the bar contract: tolerant column names, timezones, numbers.

Rules:
- column names are matched case- and punctuation-insensitively against known aliases
  (``Date Time``, ``timestamp``, ``o``, ``Open Price``, ``vol`` ...); a missing required column or
  an unknown one (other than a few known harmless extras) is an error for the whole file;
- naive timestamps are exchange time (Asia/Kolkata); aware ones are converted to it;
- a value that is not a number makes that (symbol, day) fail, naming the line and the value;
- symbols are upper-cased and stripped of ``NSE:`` and ``.NS``.
Content checks (tick, OHLC order, duplicates, holidays, whole volume) belong to validation.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from execution.data.exchange_calendar import EXCHANGE_TZ_NAME
from execution.data.sources.base import BAR_COLUMNS, PRICE_COLUMNS, DayProblem, FetchResult, empty_bars

ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "timestamp", "datetime", "datetimeist", "time_stamp", "date_time", "dt", "barstart"),
    "date": ("date", "tradedate", "day"),
    "time": ("time", "minute", "bartime"),
    "symbol": ("symbol", "ticker", "tradingsymbol", "instrument", "scrip", "name", "sym"),
    "open": ("open", "o", "openprice", "opening"),
    "high": ("high", "h", "highprice"),
    "low": ("low", "l", "lowprice"),
    "close": ("close", "c", "closeprice", "closing", "last"),
    "volume": ("volume", "vol", "v", "qty", "quantity", "tradedqty", "tottrdqty", "tradedquantity"),
}
#: Extra columns vendors add that carry nothing the contract needs.
HARMLESS_EXTRAS = frozenset({"oi", "openinterest", "adjclose", "dividends", "stocksplits", "unnamed0", "index"})
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


class ContractError(ValueError):
    """A whole file or response cannot be mapped onto the bar contract."""


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def map_columns(columns: list[object], origin: str) -> dict[object, str]:
    """Map the frame's column names onto contract names; raises ContractError naming the problem."""
    lookup = {alias.replace("_", ""): target for target, aliases in ALIASES.items() for alias in aliases}
    mapping: dict[object, str] = {}
    unknown = []
    for col in columns:
        key = _key(col)
        if key in lookup:
            target = lookup[key]
            if target in mapping.values():
                raise ContractError(f"{origin}: two columns map to {target!r} ({list(columns)})")
            mapping[col] = target
        elif key not in HARMLESS_EXTRAS:
            unknown.append(str(col))
    targets = set(mapping.values())
    if "ts" not in targets and "date" in targets and "time" not in targets:
        # a lone "date" column holds the whole timestamp (Kite's candles, many vendor exports)
        mapping = {col: ("ts" if target == "date" else target) for col, target in mapping.items()}
        targets = set(mapping.values())
    if "ts" not in targets and {"date", "time"} <= targets:
        targets.add("ts")
    missing = [c for c in ("ts", *PRICE_COLUMNS, "volume") if c not in targets]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if unknown:
            parts.append(f"unknown column(s) {unknown}")
        raise ContractError(f"{origin}: {'; '.join(parts)} (found {[str(c) for c in columns]})")
    return mapping


def to_exchange_time(values: pd.Series, origin: str) -> pd.Series:
    """Parse timestamps: naive -> Asia/Kolkata, aware -> converted. Raises on unparseable ones."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(EXCHANGE_TZ_NAME)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(EXCHANGE_TZ_NAME, ambiguous="raise", nonexistent="raise")
    text = values.astype("string").str.strip()
    has_offset = text.str.contains(_OFFSET, na=False)
    parsed = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {EXCHANGE_TZ_NAME}]")
    if (~has_offset).any():
        naive = pd.to_datetime(text[~has_offset], errors="coerce", format="mixed")
        parsed.loc[~has_offset] = naive.dt.tz_localize(EXCHANGE_TZ_NAME)
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], errors="coerce", utc=True, format="mixed")
        parsed.loc[has_offset] = aware.dt.tz_convert(EXCHANGE_TZ_NAME)
    bad = parsed.isna()
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise ContractError(
            f"{origin}: {int(bad.sum())} timestamp(s) cannot be read, first {values.iloc[first]!r} "
            f"at data line {first + 1}"
        )
    return parsed


def clean_symbol(value: object) -> str:
    """``NSE:RELIANCE`` / ``reliance.ns`` -> ``RELIANCE``."""
    text = str(value).strip().upper()
    text = text.removeprefix("NSE:")
    return text.removesuffix(".NS")


def normalise(
    raw: pd.DataFrame,
    *,
    source: str,
    origin: str,
    symbol: str,
    start: date | None,
    end: date | None,
) -> FetchResult:
    """Bars of ``symbol`` between ``start`` and ``end`` (None: unbounded) from a vendor frame, in the contract.

    ``origin`` names the file or endpoint in every message. Rows of other symbols are ignored;
    a frame without a symbol column is taken to hold ``symbol`` only.
    """
    if raw.empty:
        raise ContractError(f"{origin}: no rows (empty file or header only)")
    mapping = map_columns(list(raw.columns), origin)
    frame = raw.rename(columns=mapping)
    if "ts" not in frame.columns:
        frame["ts"] = frame["date"].astype("string") + " " + frame["time"].astype("string")
    frame["symbol"] = frame["symbol"].map(clean_symbol) if "symbol" in frame.columns else symbol
    frame = frame[frame["symbol"] == symbol]
    if frame.empty:
        return FetchResult.empty()
    line_numbers = frame.index.to_numpy() + 1
    ts = to_exchange_time(frame["ts"], origin)
    days = ts.dt.date
    in_window = np.ones(len(days), dtype=bool)
    if start is not None:
        in_window &= (days >= start).to_numpy()
    if end is not None:
        in_window &= (days <= end).to_numpy()
    frame, ts, days, line_numbers = frame[in_window], ts[in_window], days[in_window], line_numbers[in_window]

    out = pd.DataFrame({"symbol": symbol, "ts": ts}, index=frame.index)
    problems: list[DayProblem] = []
    bad_days: set[date] = set()
    for col in (*PRICE_COLUMNS, "volume"):
        values = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        not_number = (values.isna() & frame[col].notna()).to_numpy() | ~np.isfinite(values.fillna(0).to_numpy())
        for pos in np.nonzero(not_number)[0][:1000]:
            day = days.iloc[pos]
            if day not in bad_days:
                problems.append(
                    DayProblem(
                        symbol,
                        day,
                        f"{origin} line {line_numbers[pos] + 1}: {col} is not a number: {frame[col].iloc[pos]!r}",
                    )
                )
                bad_days.add(day)
        out[col] = values
    out["source"] = source
    if bad_days:
        out = out[~days.isin(bad_days).to_numpy()]
    out = out[list(BAR_COLUMNS)].sort_values("ts", kind="stable").reset_index(drop=True)
    return FetchResult(out if len(out) else empty_bars(), problems)
