"""What the executor needs of a broker: send a child, find it again after a crash, hear how it went."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from execution.sim.market import MarketData
from execution.trading.ledger import ChildOrder

#: What a child can end as (``child_orders.status``); ``sent`` means the broker has not finished with it.
FINAL_STATUSES = ("filled", "partial", "rejected", "cancelled")


class OrderRejected(RuntimeError):
    """The broker refused to take a child (bad input, margins, a closed market): it is recorded as rejected."""


class LiveTradingRefused(ValueError):
    """A live broker was asked for without the explicit switch or without credentials: nothing was sent."""


@dataclass(frozen=True)
class BrokerReport:
    """The broker's word on one child: ``sent`` (still working) or a final status, with its fills."""

    status: str
    fills: list[dict[str, Any]] = field(default_factory=list)  # quantity, price, filled_at, fill_id[, fill_model]
    detail: str | None = None

    @property
    def final(self) -> bool:
        """True once nothing more will happen to the child."""
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class Market:
    """Today's market as the executor knows it when it asks the broker (minutes from ``visible`` on are NaN)."""

    data: MarketData
    visible: int  # session minutes whose bar has closed


class Broker(ABC):
    """A place child orders go to."""

    name: str = "broker"
    fill_model: str | None = None
    needs_market: bool = False  # poll() prices fills from the market (the paper broker)

    @abstractmethod
    def send(self, child: ChildOrder, symbol: str, side: str) -> str:
        """Send ``child`` (``sent_qty`` shares, ``limit_price`` if LIMIT); returns the broker's order id."""

    @abstractmethod
    def find(self, child: ChildOrder) -> str | None:
        """The broker's id of ``child`` if the broker already has it (after a crash between send and record)."""

    @abstractmethod
    def poll(self, child: ChildOrder, side: str, market: Market | None) -> BrokerReport:
        """How ``child`` stands now (``market``: today as known now, for a broker that ``needs_market``)."""

    def order_type(self) -> str:
        """``MARKET`` or ``LIMIT``: how children are sent."""
        return "MARKET"

    def limit_price(self, side: str, last_close: float, day: Any) -> float | None:
        """The limit of a LIMIT child given the last close (None for market orders)."""
        return None
