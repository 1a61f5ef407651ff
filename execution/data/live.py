"""Live bars: the bars of today that have closed so far, from where intraday execution reads them.

One method, ``bars_so_far(symbol, day, now)`` (:class:`LiveBars`), three places:

* ``kite`` -- Kite Connect's minute candles of the day (:class:`~execution.data.sources.kite.KiteSource`);
* ``landing`` -- files dropped into the landing folder during the day
  (:class:`~execution.data.sources.landing.LandingSource`);
* ``replay`` -- a stored day (its published bars) replayed as if live (:class:`ReplayBars`): what tests
  and the demo run, with the clock of the replay as ``now``.

Every one returns only bars whose minute has ended by ``now``
(:func:`~execution.data.sources.base.completed_bars`): the bar still forming is never seen.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

from execution.config import Settings
from execution.data.sources import make_source
from execution.data.sources.base import completed_bars
from execution.data.store import load_published
from execution.db import connection

LIVE_SOURCES: tuple[str, ...] = ("replay", "kite", "landing")


class LiveBars(Protocol):
    """Where today's bars come from during the session."""

    name: str

    def bars_so_far(self, symbol: str, day: date, now: datetime) -> pd.DataFrame:
        """The regular-session bars of ``symbol`` on ``day`` that have closed by ``now`` (contract columns)."""
        ...


class ReplayBars:
    """A stored trading day as if it were live: its published bars, cut at the replay's ``now``."""

    name = "replay"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._days: dict[tuple[str, date], pd.DataFrame] = {}

    def day_bars(self, symbol: str, day: date) -> pd.DataFrame:
        """Every published bar of ``symbol`` on ``day`` (read once); ``ValueError`` when there is none."""
        key = (symbol, day)
        if key not in self._days:
            with connection(self.settings) as conn:
                frame = load_published(conn, symbol, day, day)
            if frame.empty:
                raise ValueError(f"no published bars of {symbol} on {day} to replay (ingest the day first)")
            self._days[key] = frame
        return self._days[key]

    def bars_so_far(self, symbol: str, day: date, now: datetime) -> pd.DataFrame:
        """The stored bars of the day whose minute has ended by ``now``."""
        return completed_bars(self.day_bars(symbol, day), day, now)


def live_bars(name: str, settings: Settings, path: str | Path | None = None) -> LiveBars:
    """The live-bar source called ``name`` (``replay``, ``kite``, ``landing``; ``path``: the landing folder)."""
    if name == "replay":
        return ReplayBars(settings)
    if name in ("kite", "landing"):
        return make_source(name, settings, path)
    raise ValueError(f"unknown live bar source {name!r}; choose one of {', '.join(LIVE_SOURCES)}")
