"""The one interface every bar source implements, and the shapes it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from execution.data.exchange_calendar import BARS_PER_SESSION, EXCHANGE_TZ_NAME, SESSION_OPEN

#: Columns of the SPEC section 7 bar contract, in order. ``ts`` is tz-aware (Asia/Kolkata),
#: the bar's start; prices are float INR; volume is float here (whole-ness is validated later).
BAR_COLUMNS: tuple[str, ...] = ("symbol", "ts", "open", "high", "low", "close", "volume", "source")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")


class SourceError(Exception):
    """A source cannot deliver anything for the request (missing folder, bad credentials...)."""


@dataclass(frozen=True)
class DayProblem:
    """Why one (symbol, day) -- or a whole symbol when ``day`` is None -- could not be read."""

    symbol: str
    day: date | None
    message: str  # names the file/line or endpoint where it applies

    def __str__(self) -> str:
        where = f"{self.symbol} {self.day}" if self.day else self.symbol
        return f"{where}: {self.message}"


@dataclass
class FetchResult:
    """Bars in the contract, plus the symbol-days the source could not read."""

    bars: pd.DataFrame
    problems: list[DayProblem] = field(default_factory=list)

    @classmethod
    def empty(cls, problems: list[DayProblem] | None = None) -> FetchResult:
        """A result with no bars."""
        return cls(empty_bars(), list(problems or []))


def empty_bars() -> pd.DataFrame:
    """A contract frame with no rows and the right dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in BAR_COLUMNS})
    frame["symbol"] = frame["symbol"].astype("object")
    frame["source"] = frame["source"].astype("object")
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize("Asia/Kolkata")
    return frame


class BarSource(ABC):
    """A place 1-minute bars come from.

    ``fetch`` returns every row the source has for ``symbol`` on the calendar days
    ``start..end`` (inclusive, exchange time), as fetched: pre-open and post-close rows
    included; the store decides what is published.
    """

    name: str = "base"

    @abstractmethod
    def fetch(self, symbol: str, start: date, end: date) -> FetchResult:
        """Bars of ``symbol`` from ``start`` to ``end`` inclusive, in the SPEC section 7 contract."""

    def bars_so_far(self, symbol: str, day: date, now: datetime) -> pd.DataFrame:
        """Live bars: the regular-session bars of ``symbol`` on ``day`` that have closed by ``now``.

        What intraday execution reads at each decision (a landing folder that receives files during
        the day, Kite's minute candles); the bar that is still forming is never returned.
        """
        return completed_bars(self.fetch(symbol, day, day).bars, day, now)


def completed_bars(bars: pd.DataFrame, day: date, now: datetime) -> pd.DataFrame:
    """The regular-session bars of ``bars`` on ``day`` whose minute has ended by ``now`` (tz-aware), by ts."""
    if bars.empty:
        return bars.copy()
    local = bars["ts"].dt.tz_convert(EXCHANGE_TZ_NAME)
    minute = local.dt.hour * 60 + local.dt.minute - (SESSION_OPEN.hour * 60 + SESSION_OPEN.minute)
    closed = local + timedelta(minutes=1) <= pd.Timestamp(now)
    keep = (local.dt.date == day) & (minute >= 0) & (minute < BARS_PER_SESSION) & closed
    return bars[keep].sort_values("ts", kind="stable").reset_index(drop=True)
