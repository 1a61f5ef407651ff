"""Episode geometry: when an order's decisions happen, which bar fills them, what the arrival price is.

Layout of a day: session minute ``j`` is the regular-session bar that starts at 09:15 + ``j``
minutes (exchange time), ``j = 0..374``.

Episode geometry (SPEC section 3): decision ``k = 0..N-1`` happens at minute
``j_k = s + k * tau`` where ``s`` is the start (09:30 -> 15); the child order of decision ``k``
fills at the close of bar ``j_k`` (the bar that *starts* at the decision time, so its close is
one minute later) and the state of decision ``k`` uses bars ``< j_k`` only. The forced market
order after the last interval fills at the close of bar ``s + T`` (``t_N``). The arrival price is
the close of bar ``s - 1`` (the last close known when the order arrives).
"""

from __future__ import annotations

import numpy as np

from execution.config import OrderParams
from execution.data.exchange_calendar import BARS_PER_SESSION, SESSION_OPEN

__all__ = ["SESSION_OPEN_MINUTE", "decision_minutes", "episode_span", "side_sign", "start_minute"]

SESSION_OPEN_MINUTE = SESSION_OPEN.hour * 60 + SESSION_OPEN.minute


def start_minute(order: OrderParams) -> int:
    """Session minute index ``s`` of the first decision (09:30 -> 15)."""
    hours, minutes = (int(part) for part in order.start_time.split(":"))
    index = hours * 60 + minutes - SESSION_OPEN_MINUTE
    if index < 1:
        raise ValueError(f"start {order.start_time} leaves no bar before it for the arrival price")
    if index + order.horizon_min >= BARS_PER_SESSION:
        raise ValueError(f"start {order.start_time} + {order.horizon_min} min runs past the last bar of the session")
    return index


def decision_minutes(order: OrderParams) -> np.ndarray:
    """Minute index of each fill slot: the N decisions ``s + k*tau``, then the forced order at ``s + T``."""
    s = start_minute(order)
    return s + order.interval_min * np.arange(order.intervals + 1)


def episode_span(order: OrderParams) -> tuple[int, int]:
    """First and last session minute an episode reads (state history .. forced order), inclusive."""
    s = start_minute(order)
    return max(0, s - max(order.n_history, 1)), s + order.horizon_min


def side_sign(order: OrderParams) -> int:
    """+1 for a buy (a higher price is a cost), -1 for a sell."""
    return 1 if order.side == "buy" else -1
