"""Parent orders of a trading day: the ``orders`` table (migration 0005).

A parent order is what the trader has to get done on one trading day: buy or sell ``quantity``
shares of ``symbol`` in lots of ``lot_size``, starting at ``start_time`` (exchange time) over
``horizon_min`` minutes split into ``intervals`` decisions. ``strategy_override`` names the
strategy to execute it with (any backtest strategy name: ``vwap``, ``model:ID`` ...); ``NULL``
means the symbol's champion policy.

A trading day with no order gets the configured order (``settings.order``, the seed's: buy
10,000 at 09:30 over 100 minutes in 50 intervals, lots of 500) for every configured symbol
(:func:`ensure_default_orders`), recorded with ``created_by = 'config'``.

Functions take an open connection and do not commit, except where said.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any

from execution.config import OrderParams, Settings
from execution.data.exchange_calendar import why_not_trading
from execution.sim.episode import start_minute
from execution.sim.strategies import resolve_strategy

CONFIG_AUTHOR = "config"
_COLUMNS = (
    "id",
    "trading_day",
    "symbol",
    "side",
    "quantity",
    "lot_size",
    "start_time",
    "horizon_min",
    "intervals",
    "strategy_override",
    "created_at",
    "created_by",
)


@dataclass(frozen=True)
class ParentOrder:
    """One row of ``orders``."""

    id: int
    trading_day: date
    symbol: str
    side: str
    quantity: int
    lot_size: int
    start_time: str  # "HH:MM", exchange time
    horizon_min: int
    intervals: int
    strategy_override: str | None
    created_at: datetime | None
    created_by: str

    @property
    def lots(self) -> int:
        """Whole lots in the order."""
        return self.quantity // self.lot_size

    def params(self, base: OrderParams) -> OrderParams:
        """The MDP parameters of this order: ``base`` (history length, reward constants) with its fields."""
        return replace(
            base,
            quantity=self.quantity,
            lot_size=self.lot_size,
            start_time=self.start_time,
            horizon_min=self.horizon_min,
            intervals=self.intervals,
            side=self.side,
        )

    def describe(self) -> str:
        """One line: ``#3 2020-02-03 RELIANCE buy 10,000 (20 lots of 500) at 09:30 over 100 min in 50 intervals``."""
        strategy = f", strategy {self.strategy_override}" if self.strategy_override else ""
        return (
            f"#{self.id} {self.trading_day} {self.symbol} {self.side} {self.quantity:,} ({self.lots} lots of "
            f"{self.lot_size}) at {self.start_time} over {self.horizon_min} min in {self.intervals} intervals{strategy}"
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field (dates as ISO strings)."""
        out = {name: getattr(self, name) for name in _COLUMNS}
        out["trading_day"] = self.trading_day.isoformat()
        out["created_at"] = self.created_at.isoformat() if self.created_at else None
        return out


def check_trading_day(day: date) -> date:
    """``day`` if NSE trades on it, else ``ValueError`` saying why not (weekend, holiday, out of calendar)."""
    reason = why_not_trading(day)
    if reason:
        raise ValueError(f"{day} ({day:%A}) is not an NSE trading day: {reason}")
    return day


def _time_text(value: str | time) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    try:
        return time.fromisoformat(value.strip()).strftime("%H:%M")
    except ValueError:
        raise ValueError(f"start time must be HH:MM, not {value!r}") from None


def _from_row(row: tuple) -> ParentOrder:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["start_time"] = _time_text(values["start_time"])
    return ParentOrder(**values)


def validate_order(
    symbol: str, side: str, quantity: int, lot_size: int, start_time: str, horizon_min: int, intervals: int
) -> OrderParams:
    """The order as :class:`OrderParams`, or ``ValueError`` on whole-lot / whole-minute / session violations."""
    if not symbol or not symbol.strip():
        raise ValueError("an order needs a symbol")
    if quantity <= 0 or lot_size <= 0 or horizon_min <= 0 or intervals <= 0:
        raise ValueError("quantity, lot size, horizon and intervals must be positive")
    params = OrderParams(
        quantity=quantity,
        lot_size=lot_size,
        start_time=_time_text(start_time),
        horizon_min=horizon_min,
        intervals=intervals,
        side=side,
    )
    start_minute(params)  # inside the session, with a bar before the start
    return params


def check_strategy(name: str | None) -> str | None:
    """``name`` if it can execute an order (``champion``, ``model:ID``, a baseline...), else ``ValueError``."""
    if not name or name == "champion":
        return None
    prefix, _, rest = name.partition(":")
    if prefix == "model":
        if not rest.isdigit():
            raise ValueError(f"strategy {name!r}: expected model:ID with a numeric registry id")
        return name
    try:
        resolve_strategy(name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    return name


def add_order(
    conn: Any,
    trading_day: date,
    symbol: str,
    side: str,
    quantity: int,
    lot_size: int,
    start_time: str = "09:30",
    horizon_min: int = 100,
    intervals: int = 50,
    strategy_override: str | None = None,
    created_by: str = "cli",
) -> tuple[ParentOrder, bool]:
    """Insert an order (or replace the one with the same day, symbol, side and start); returns it and "was new".

    Raises ``ValueError`` for a day NSE does not trade or an order that is not whole lots / minutes.
    """
    check_trading_day(trading_day)
    symbol = symbol.strip().upper()
    params = validate_order(symbol, side, quantity, lot_size, start_time, horizon_min, intervals)
    strategy_override = check_strategy(strategy_override)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO orders (trading_day, symbol, side, quantity, lot_size, start_time, horizon_min, intervals,"
            " strategy_override, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (trading_day, symbol, side, start_time) DO UPDATE SET quantity = EXCLUDED.quantity,"
            " lot_size = EXCLUDED.lot_size, horizon_min = EXCLUDED.horizon_min, intervals = EXCLUDED.intervals,"
            " strategy_override = EXCLUDED.strategy_override, created_by = EXCLUDED.created_by, created_at = now()"
            f" RETURNING {', '.join(_COLUMNS)}, (xmax = 0) AS inserted",
            (
                trading_day,
                symbol,
                params.side,
                params.quantity,
                params.lot_size,
                params.start_time,
                params.horizon_min,
                params.intervals,
                strategy_override,
                created_by,
            ),
        )
        *row, inserted = cur.fetchone()
    return _from_row(tuple(row)), bool(inserted)


def list_orders(conn: Any, trading_day: date | None = None, symbol: str | None = None) -> list[ParentOrder]:
    """Orders of one day (or all days), by day, symbol, start time and side."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM orders"
            " WHERE (%s::date IS NULL OR trading_day = %s) AND (%s::text IS NULL OR symbol = %s)"
            " ORDER BY trading_day, symbol, start_time, side, id",
            (trading_day, trading_day, symbol, symbol),
        )
        return [_from_row(row) for row in cur.fetchall()]


def default_orders(settings: Settings) -> list[dict[str, Any]]:
    """The configured order for every configured symbol, as :func:`add_order` keyword arguments."""
    order = settings.order
    return [
        {
            "symbol": symbol,
            "side": order.side,
            "quantity": order.quantity,
            "lot_size": order.lot_size,
            "start_time": order.start_time,
            "horizon_min": order.horizon_min,
            "intervals": order.intervals,
        }
        for symbol in settings.symbols
    ]


def ensure_default_orders(conn: Any, settings: Settings, trading_day: date) -> list[ParentOrder]:
    """The orders of ``trading_day``; a day without any first gets the configured ones (committed)."""
    check_trading_day(trading_day)
    orders = list_orders(conn, trading_day)
    if orders:
        return orders
    for kwargs in default_orders(settings):
        add_order(conn, trading_day, created_by=CONFIG_AUTHOR, **kwargs)
    conn.commit()
    return list_orders(conn, trading_day)
