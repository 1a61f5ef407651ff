"""The paper broker: a child fills at the close of the bar that starts at its decision, by the fill model.

Exactly the simulator's rule (:mod:`execution.sim.fills`): price = ``close + side * (half-spread +
eta * sigma * sqrt(q / v))`` for the ``impact`` model, the close for ``seed``, computed by the same
functions on the same arrays, so a replayed day gives the backtester's prices to the last bit. The fill
waits for that bar to close (the executor's market hides later minutes as NaN): nothing is known early.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from execution.sim.fills import check_fill, fill_price, fill_terms
from execution.trading.brokers.base import Broker, BrokerReport, Market
from execution.trading.ledger import ChildOrder
from execution.trading.live_market import session_minute


class PaperBroker(Broker):
    """Fills every child in full at its fill bar's close (``fill``: ``seed`` or ``impact``)."""

    name = "paper"
    needs_market = True

    def __init__(self, fill: str = "impact") -> None:
        self.fill_model = check_fill(fill)

    def send(self, child: ChildOrder, symbol: str, side: str) -> str:
        """Nothing leaves the process: the id names the child (sending again is harmless)."""
        return f"paper-{child.id}"

    def find(self, child: ChildOrder) -> str | None:
        """Nothing was sent anywhere: a pending child is simply sent (again)."""
        return None

    def poll(self, child: ChildOrder, side: str, market: Market | None) -> BrokerReport:
        """``filled`` once the fill bar has closed, at the fill model's price; else still ``sent``."""
        minute = int(session_minute(pd.Series([pd.Timestamp(child.fill_bar)]))[0])
        if market is None or minute >= market.visible:
            return BrokerReport("sent")
        terms = fill_terms(market.data, np.array([minute]), self.fill_model, 1 if side == "buy" else -1)
        price = float(fill_price(terms, np.array([[float(child.sent_qty)]]))[0, 0])
        if not np.isfinite(price):
            raise RuntimeError(f"child {child.id}: the fill bar {child.fill_bar} has no price")
        fill = {
            "quantity": child.sent_qty,
            "price": price,
            "filled_at": child.fill_bar + timedelta(minutes=1),
            "fill_id": f"paper-{child.id}",
            "fill_model": self.fill_model,
        }
        return BrokerReport("filled", [fill])
