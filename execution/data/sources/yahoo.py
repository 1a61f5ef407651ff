"""Yahoo Finance via ``yfinance``: recent 1-minute bars of NSE equities (``RELIANCE.NS``).

Yahoo keeps 1-minute bars for about the last 30 days and serves at most 7 days per request;
older days are reported as problems rather than silently returning nothing. Yahoo's prices
carry float32 noise (``1411.050048828125``): they are rounded to 4 decimals, which restores the
exchange price; anything still off the tick is caught by validation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd

from execution.data.sources.base import BarSource, DayProblem, FetchResult, SourceError
from execution.data.sources.contract import ContractError, normalise

RETENTION_DAYS = 29
MAX_DAYS_PER_REQUEST = 7

#: (ticker, start, end_exclusive) -> frame as ``yfinance.Ticker(...).history(interval="1m")`` returns it
Downloader = Callable[[str, date, date], pd.DataFrame]


def yahoo_ticker(symbol: str) -> str:
    """NSE symbol -> Yahoo ticker."""
    return f"{symbol}.NS"


def download_history(ticker: str, start: date, end_exclusive: date) -> pd.DataFrame:
    """Ask Yahoo for 1-minute bars (network)."""
    import yfinance

    return yfinance.Ticker(ticker).history(
        start=start.isoformat(), end=end_exclusive.isoformat(), interval="1m", auto_adjust=False, actions=False
    )


class YahooSource(BarSource):
    """Recent 1-minute bars from Yahoo Finance."""

    name = "yfinance"

    def __init__(self, downloader: Downloader | None = None, today: date | None = None) -> None:
        self.downloader = downloader or download_history
        self.today = today or date.today()

    def fetch(self, symbol: str, start: date, end: date) -> FetchResult:
        """Bars of ``symbol`` for the part of ``start..end`` Yahoo still keeps."""
        oldest = self.today - timedelta(days=RETENTION_DAYS)
        problems = []
        if start < oldest:
            problems.append(
                DayProblem(
                    symbol, None, f"yfinance keeps 1-minute bars from {oldest} only; {start}..{oldest} not fetched"
                )
            )
            start = oldest
        frames = []
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + timedelta(days=MAX_DAYS_PER_REQUEST - 1))
            try:
                frame = self.downloader(yahoo_ticker(symbol), chunk_start, chunk_end + timedelta(days=1))
            except Exception as exc:  # yfinance raises many kinds
                raise SourceError(f"yfinance download of {symbol} {chunk_start}..{chunk_end} failed: {exc}") from exc
            if frame is not None and len(frame):
                frames.append(frame.reset_index())
            chunk_start = chunk_end + timedelta(days=1)
        if not frames:
            return FetchResult.empty(problems)
        raw = pd.concat(frames, ignore_index=True)
        price_cols = [c for c in raw.columns if str(c).lower() in ("open", "high", "low", "close")]
        raw[price_cols] = raw[price_cols].astype("float64").round(4)
        try:
            result = normalise(
                raw, source=self.name, origin=f"yfinance {yahoo_ticker(symbol)}", symbol=symbol, start=start, end=end
            )
        except ContractError as exc:
            raise SourceError(str(exc)) from exc
        result.problems[:0] = problems
        return result
