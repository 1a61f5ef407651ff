"""Clocks of intraday execution: the wall clock of a live session, and the replay's clock of a stored day.

Both say what time it is on the exchange (:meth:`now`) and wait until an instant (:meth:`sleep_until`).
A :class:`ReplayClock` runs a stored day ``speed`` times faster than real time (``speed=0``: it jumps
straight to the next instant, as fast as the computer goes); :meth:`ReplayClock.wall_time` says when,
in real time, an instant of the replay falls (what an Airflow deferral waits for).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from execution.data.exchange_calendar import EXCHANGE_TZ

log = logging.getLogger(__name__)

LONG_WAIT = timedelta(minutes=5)  # a wait this long says so in the log


class WallClock:
    """Real exchange time; waits by sleeping."""

    speed = 1.0

    def now(self) -> datetime:
        """Now, in exchange time."""
        return datetime.now(EXCHANGE_TZ)

    def sleep_until(self, when: datetime) -> None:
        """Sleep until ``when`` (at once if it has passed)."""
        seconds = (when - self.now()).total_seconds()
        if seconds > LONG_WAIT.total_seconds():
            log.info("waiting until %s (%.0f min)", when.astimezone(EXCHANGE_TZ).strftime("%H:%M:%S"), seconds / 60)
        if seconds > 0:
            time.sleep(seconds)

    def wall_time(self, when: datetime) -> datetime:
        """The real instant of ``when`` (itself)."""
        return when


class ReplayClock:
    """A stored day's time, starting at ``start`` and running ``speed`` times real time (0: jumps)."""

    def __init__(self, start: datetime, speed: float = 0.0) -> None:
        if speed < 0:
            raise ValueError(f"--speed must be >= 0, not {speed}")
        self._now, self.speed = start, float(speed)

    def now(self) -> datetime:
        """The replay's current instant."""
        return self._now

    def sleep_until(self, when: datetime) -> None:
        """Move the replay to ``when`` (sleeping ``(when - now) / speed`` real seconds when ``speed > 0``)."""
        if when <= self._now:
            return
        if self.speed > 0:
            time.sleep((when - self._now).total_seconds() / self.speed)
        self._now = when

    def wall_time(self, when: datetime) -> datetime:
        """The real instant at which the replay reaches ``when`` (now, at speed 0)."""
        real = datetime.now(UTC)
        if self.speed <= 0 or when <= self._now:
            return real
        return real + (when - self._now) / self.speed
