"""The Kite Connect broker: real orders through ``kiteconnect`` (``place_order``, ``order_history``).

**Refused unless asked for twice**: the environment must hold ``EXEC_LIVE_TRADING=1`` *and* Kite
credentials (``KITE_API_KEY`` + ``KITE_ACCESS_TOKEN``, or the Airflow connection ``kite_default``, as
for the Kite bar source). Otherwise :class:`KiteBroker` raises
:class:`~execution.trading.brokers.base.LiveTradingRefused` when it is built -- before the executor has
recorded or sent anything.

Each child goes out as a ``regular`` NSE order of the configured product (``[execution] product``,
``MIS`` by default), ``MARKET`` or ``LIMIT`` (``[execution] order_type``; a limit is the last close
plus / minus ``limit_offset_bps``, on the tick), tagged with the child's idempotency key
(:attr:`~execution.trading.ledger.ChildOrder.tag`): after a crash between placing an order and
recording its id, :meth:`KiteBroker.find` finds it in the day's order book by that tag instead of
placing it again. A child is settled from its order history: ``COMPLETE`` -> filled at the average
price; ``REJECTED`` / ``CANCELLED`` -> rejected / cancelled (``partial`` with the filled quantity when some
of it traded), with Kite's status message.
"""

from __future__ import annotations

import math
import os
from datetime import date, datetime
from typing import Any

from execution.config import ExecutionParams
from execution.data.exchange_calendar import EXCHANGE_TZ
from execution.data.sources.base import SourceError
from execution.data.sources.kite import kite_credentials
from execution.data.ticks import tick_size
from execution.trading.brokers.base import Broker, BrokerReport, LiveTradingRefused, Market, OrderRejected
from execution.trading.ledger import ChildOrder

LIVE_SWITCH = "EXEC_LIVE_TRADING"
VARIETY = "regular"
EXCHANGE = "NSE"


def _check_live(env: dict[str, str] | os._Environ) -> tuple[str, str]:
    """The credentials, once the live switch is on; :class:`LiveTradingRefused` otherwise."""
    if env.get(LIVE_SWITCH) != "1":
        raise LiveTradingRefused(
            f"the kite broker places real orders and is refused unless {LIVE_SWITCH}=1 is set "
            "(nothing was recorded or sent); use --broker paper to trade on paper"
        )
    try:
        return kite_credentials(dict(env))
    except SourceError as exc:
        raise LiveTradingRefused(f"the kite broker is refused: {exc} (nothing was recorded or sent)") from None


def _aware(stamp: Any) -> datetime:
    """Kite's naive exchange-time timestamps as aware datetimes (now when Kite gave none)."""
    if not isinstance(stamp, datetime):
        return datetime.now(EXCHANGE_TZ)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=EXCHANGE_TZ)


class KiteBroker(Broker):
    """Child orders to Kite Connect (see the module docstring)."""

    name = "kite"
    fill_model = None

    def __init__(
        self, params: ExecutionParams, *, environ: dict[str, str] | None = None, client: Any | None = None
    ) -> None:
        api_key, access_token = _check_live(os.environ if environ is None else environ)
        if client is None:
            from kiteconnect import KiteConnect

            client = KiteConnect(api_key=api_key, access_token=access_token, timeout=30)
        self.client, self.params = client, params

    def order_type(self) -> str:
        """The configured order type (``MARKET`` or ``LIMIT``)."""
        return self.params.order_type

    def limit_price(self, side: str, last_close: float, day: date) -> float | None:
        """Last close +/- ``limit_offset_bps`` (a buy above, a sell below), on the tick in force towards the close;
        None for MARKET."""
        if self.params.order_type != "LIMIT":
            return None
        tick = tick_size(day, last_close)
        if side == "buy":
            ticks = math.floor(last_close * (1 + self.params.limit_offset_bps / 1e4) / tick + 1e-9)
        else:
            ticks = math.ceil(last_close * (1 - self.params.limit_offset_bps / 1e4) / tick - 1e-9)
        return round(ticks * tick, 2)

    def send(self, child: ChildOrder, symbol: str, side: str) -> str:
        """``place_order`` with the child's tag; :class:`OrderRejected` when Kite refuses it."""
        from kiteconnect import exceptions

        arguments: dict[str, Any] = {
            "variety": VARIETY,
            "exchange": EXCHANGE,
            "tradingsymbol": symbol,
            "transaction_type": "BUY" if side == "buy" else "SELL",
            "quantity": int(child.sent_qty),
            "product": self.params.product,
            "order_type": child.order_type,
            "validity": "DAY",
            "tag": child.tag,
        }
        if child.order_type == "LIMIT":
            arguments["price"] = child.limit_price
        try:
            return str(self.client.place_order(**arguments))
        except (exceptions.InputException, exceptions.OrderException, exceptions.PermissionException) as exc:
            raise OrderRejected(f"Kite refused child {child.tag} ({child.sent_qty} {symbol}): {exc}") from exc

    def find(self, child: ChildOrder) -> str | None:
        """The id of the day's order tagged with the child's key, if Kite has one."""
        for entry in self.client.orders():
            tags = [entry.get("tag"), *(entry.get("tags") or [])]
            if child.tag in tags:
                return str(entry["order_id"])
        return None

    def poll(self, child: ChildOrder, side: str, market: Market | None) -> BrokerReport:
        """The child's last state in its order history."""
        history = self.client.order_history(child.broker_order_id)
        if not history:
            return BrokerReport("sent")
        last = history[-1]
        status = str(last.get("status", "")).upper()
        filled = int(last.get("filled_quantity") or 0)
        fills = []
        if filled > 0 and status in ("COMPLETE", "CANCELLED", "REJECTED"):
            fills.append(
                {
                    "quantity": filled,
                    "price": float(last["average_price"]),
                    "filled_at": _aware(last.get("exchange_timestamp") or last.get("order_timestamp")),
                    "fill_id": str(last.get("order_id") or child.broker_order_id),
                }
            )
        detail = last.get("status_message")
        if status == "COMPLETE":
            return BrokerReport("filled", fills, detail)
        if status in ("CANCELLED", "REJECTED"):
            return BrokerReport("partial" if filled else status.lower(), fills, detail)
        return BrokerReport("sent", [], detail)
