"""NSE trading calendar: trading days, holidays and the regular session, in exchange time.

Trading days come from ``exchange_calendars`` (the maintained ``XBOM`` calendar, which NSE
shares: both exchanges close on the same holidays). The regular session is 09:15-15:30
Asia/Kolkata; 1-minute bars start at 09:15 ... 15:29 (375 bars).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

EXCHANGE_TZ = ZoneInfo("Asia/Kolkata")
EXCHANGE_TZ_NAME = "Asia/Kolkata"
SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)
LAST_BAR_START = time(15, 29)
BARS_PER_SESSION = 375
CALENDAR_START = "2010-01-01"


@lru_cache(maxsize=1)
def _calendar() -> xcals.ExchangeCalendar:
    # the library's own end bound: the last year whose holidays it records
    return xcals.get_calendar("XBOM", start=CALENDAR_START)


def _as_date(day: date | str) -> date:
    return date.fromisoformat(day) if isinstance(day, str) else day


def is_trading_day(day: date | str) -> bool:
    """True when NSE holds a regular session on ``day``."""
    day = _as_date(day)
    cal = _calendar()
    stamp = pd.Timestamp(day)
    if stamp < cal.first_session or stamp > cal.last_session:
        raise ValueError(
            f"{day} is outside the NSE calendar's range {cal.first_session.date()}..{cal.last_session.date()}"
        )
    return bool(cal.is_session(stamp))


def trading_days(start: date | str, end: date | str) -> list[date]:
    """Trading days from ``start`` to ``end`` inclusive, in order."""
    start, end = _as_date(start), _as_date(end)
    if end < start:
        return []
    cal = _calendar()
    lo = max(pd.Timestamp(start), cal.first_session)
    hi = min(pd.Timestamp(end), cal.last_session)
    if hi < lo:
        return []
    return [ts.date() for ts in cal.sessions_in_range(lo, hi)]


def why_not_trading(day: date | str) -> str | None:
    """``None`` for a trading day, else a short reason ("weekend", "NSE holiday")."""
    day = _as_date(day)
    if is_trading_day(day):
        return None
    return "weekend" if day.weekday() >= 5 else "NSE holiday"


def next_trading_day(day: date | str) -> date:
    """The first trading day strictly after ``day``."""
    day = _as_date(day) + timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def previous_trading_day(day: date | str) -> date:
    """The last trading day strictly before ``day``."""
    day = _as_date(day) - timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def session_minutes(day: date | str) -> pd.DatetimeIndex:
    """The 375 bar-start timestamps of ``day``'s regular session (tz-aware, exchange time)."""
    day = _as_date(day)
    start = datetime.combine(day, SESSION_OPEN, tzinfo=EXCHANGE_TZ)
    return pd.date_range(start, periods=BARS_PER_SESSION, freq="1min")
