"""The market of today as known at an instant: what a decision may see, in the simulator's arrays.

:class:`LiveMarket` builds a one-day :class:`~execution.sim.market.MarketData` of the trading day from
the published history before it (the ``lookback_days`` trading days the simulator's trailing
statistics use, exactly as :func:`execution.sim.market.load` reads them for a backtest of that day)
and today's bars that have closed so far. Minutes from ``visible`` on are **NaN**: a state or a fill
that read a bar not yet closed would be NaN, and the executor refuses NaN states
(:class:`LookAhead`). A hole among today's closed bars is filled as the simulator fills one (the
previous close, zero volume; a hole at 09:15 takes the first bar's open).

Today's trailing statistics depend on the previous days only (and on today's open, known from the
09:15 bar), so every visible number is the one the backtester computes for the whole day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from execution.config import OrderParams
from execution.data.exchange_calendar import BARS_PER_SESSION, EXCHANGE_TZ, previous_trading_day, session_minutes
from execution.data.store import load_published
from execution.sim.episode import SESSION_OPEN_MINUTE
from execution.sim.market import DEFAULT_LOOKBACK_DAYS, MarketData, from_bars, lookback_start

PRICE_FIELDS = ("open", "high", "low", "close")


class LookAhead(RuntimeError):
    """A decision's state read a bar that had not closed at the decision time."""


def bar_start(day: date, minute: int) -> datetime:
    """Exchange time at which session minute ``minute`` of ``day`` starts."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=EXCHANGE_TZ)
    return midnight + timedelta(minutes=SESSION_OPEN_MINUTE + minute)


def session_minute(ts: pd.Series) -> np.ndarray:
    """Session minute index of bar start times (``ts`` tz-aware)."""
    local = ts.dt.tz_convert(EXCHANGE_TZ)
    return (local.dt.hour * 60 + local.dt.minute - SESSION_OPEN_MINUTE).to_numpy()


def _full_day(today: pd.DataFrame, day: date, symbol: str, visible: int) -> pd.DataFrame:
    """Today's 375 session rows: the closed bars before ``visible``, every other minute filled from the last close."""
    grid = pd.DataFrame({"ts": session_minutes(day)})
    minute = session_minute(today["ts"]) if len(today) else np.array([], dtype=int)
    known = today[(minute >= 0) & (minute < visible)].assign(m=minute[(minute >= 0) & (minute < visible)])
    frame = pd.DataFrame(index=np.arange(BARS_PER_SESSION), columns=[*PRICE_FIELDS, "volume"], dtype=float)
    frame.loc[known["m"].to_numpy(), [*PRICE_FIELDS, "volume"]] = known[[*PRICE_FIELDS, "volume"]].to_numpy()
    present = frame["close"].notna()
    close = frame["close"].ffill()
    close = close.fillna(frame["open"].dropna().iloc[0])  # a hole at 09:15: the first bar's open
    for name in PRICE_FIELDS:
        frame[name] = frame[name].where(present, close)
    frame["volume"] = frame["volume"].where(present, 0.0)
    return frame.assign(ts=grid["ts"].to_numpy(), symbol=symbol, source="live")


def hide_from(market: MarketData, minute: int) -> MarketData:
    """``market`` with every per-minute value from session minute ``minute`` on set to NaN (not yet seen)."""
    hidden: dict[str, Any] = {}
    for name in ("close", "high", "low", "volume"):
        values = getattr(market, name).copy()
        values[:, minute:] = np.nan
        hidden[name] = values
    return replace(market, **hidden)


class LiveMarket:
    """Day ``day`` of ``symbol`` as known at an instant (see the module docstring)."""

    def __init__(
        self, conn: Any, symbol: str, day: date, order: OrderParams, lookback_days: int = DEFAULT_LOOKBACK_DAYS
    ) -> None:
        self.symbol, self.day, self.order, self.lookback_days = symbol, day, order, lookback_days
        start = lookback_start(day, lookback_days) if lookback_days else day
        self.history = load_published(conn, symbol, start, previous_trading_day(day))
        self.history = self.history[self.history["ts"].dt.tz_convert(EXCHANGE_TZ).dt.date < day]
        self._last: tuple[tuple, MarketData] | None = None  # the last market built (a decision, then its fills)

    def visible_minutes(self, today: pd.DataFrame) -> int:
        """How many session minutes are known: up to the last closed bar (holes before it count as known)."""
        if today.empty:
            return 0
        return int(min(session_minute(today["ts"]).max() + 1, BARS_PER_SESSION))

    def market(self, today: pd.DataFrame, visible: int) -> MarketData:
        """The one-day market with today's bars before minute ``visible``; later minutes NaN.

        ``ValueError`` when the 09:15 bar has not closed yet (the day's open, every state's normaliser).
        """
        if visible < 1 or today.empty:
            raise ValueError(f"no bar of {self.symbol} on {self.day} has closed yet")
        key = (visible, len(today), today["ts"].iloc[-1], float(today["close"].iloc[-1]))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        full = _full_day(today, self.day, self.symbol, visible)
        frame = full[self.history.columns]
        if len(self.history):
            frame = pd.concat([self.history, frame], ignore_index=True)
        market = from_bars(frame, self.order, first_day=self.day, lookback_days=self.lookback_days)
        if market.n_days != 1:
            raise ValueError(f"{self.symbol} {self.day} cannot be traded: {market.dropped_days}")
        self._last = (key, hide_from(market, visible))
        return self._last[1]
