"""Brokers that child orders go to: ``paper`` (the default, the simulator's fill) and ``kite`` (Kite Connect).

:func:`make_broker` builds one by name; ``kite`` is refused (:class:`~execution.trading.brokers.base.
LiveTradingRefused`) unless ``EXEC_LIVE_TRADING=1`` and Kite credentials are configured, before
anything is recorded or sent.
"""

from __future__ import annotations

from typing import Any

from execution.config import Settings
from execution.trading.brokers.base import Broker, BrokerReport, LiveTradingRefused

BROKERS: tuple[str, ...] = ("paper", "kite")

__all__ = ["BROKERS", "Broker", "BrokerReport", "LiveTradingRefused", "make_broker"]


def make_broker(
    name: str, settings: Settings, *, environ: dict[str, str] | None = None, client: Any | None = None
) -> Broker:
    """The broker called ``name`` (``paper`` with the configured fill model, or ``kite``)."""
    if name == "paper":
        from execution.trading.brokers.paper import PaperBroker

        return PaperBroker(settings.execution.fill)
    if name == "kite":
        from execution.trading.brokers.kite import KiteBroker

        return KiteBroker(settings.execution, environ=environ, client=client)
    raise ValueError(f"unknown broker {name!r}; choose one of {', '.join(BROKERS)}")
