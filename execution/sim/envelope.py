"""The orders a universal policy is trained for, drawn at random, and whether a given order is one of them.

An :class:`OrderEnvelope` describes a distribution of parent orders relative to the market they
trade in, so that one policy serves every order of every symbol (the pace MDP is scale-free):

* **size** as a share of the symbol's average daily volume (ADV, trailing: the 1-minute average x
  375), log-uniform between ``size_pct_adv`` bounds (default 0.005 % .. 5 %: from a few thousand
  shares of a liquid name to a large order);
* **side**: buy or sell with equal probability;
* **horizon** in minutes, uniform between ``horizon_min`` bounds (20 .. 180), in decisions every
  ``interval_min`` minutes (2, as the seed's order);
* **start** anywhere in the session that leaves the horizon inside it (from 09:16: the arrival
  price is the close of the bar before the start);
* **lot**: ``lot_size`` shares (1, the NSE cash-market lot).

:meth:`OrderEnvelope.sample` draws such orders for the batched simulator
(:class:`~execution.sim.pace.PaceOrders`); :meth:`OrderEnvelope.reason_outside` says why an order is
not one of them (``None`` when it is): a policy is asked only for orders inside the envelope it was
trained on. The envelope is recorded with every model (:meth:`OrderEnvelope.as_json`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from execution.config import OrderParams
from execution.data.exchange_calendar import BARS_PER_SESSION
from execution.sim.episode import side_sign, start_minute
from execution.sim.market import MarketData
from execution.sim.pace import PaceOrders

#: Shares traded in a regular session per unit of average 1-minute volume.
SESSION_MINUTES = BARS_PER_SESSION
#: Orders may exceed the envelope's size bounds by this factor before they are refused.
SIZE_TOLERANCE = 1.25


@dataclass(frozen=True)
class OrderEnvelope:
    """A distribution of parent orders relative to each symbol's trailing volume (module docstring)."""

    size_pct_adv: tuple[float, float] = (0.005, 5.0)
    sides: tuple[str, ...] = ("buy", "sell")
    horizon_min: tuple[int, int] = (20, 180)
    interval_min: int = 2
    lot_size: int = 1
    first_start_minute: int = 1  # 09:16: a bar before the start gives the arrival price
    kind: str = "universal"  # "universal", or "fixed": exactly one order shape (the seed's)
    fixed: dict = field(default_factory=dict)  # the fixed order's fields (kind "fixed")

    @classmethod
    def of_order(cls, order: OrderParams, market: MarketData | None = None) -> OrderEnvelope:
        """The envelope of a policy trained on one order shape only (``order``): that shape and side."""
        size = (0.0, float("inf"))
        if market is not None and market.n_days:
            pct = 100.0 * order.quantity / (market.avg_volume_1m * SESSION_MINUTES)
            size = (float(pct.min()), float(pct.max()))
        fixed = {k: getattr(order, k) for k in ("quantity", "lot_size", "start_time", "horizon_min", "intervals")}
        return cls(size, (order.side,), (order.horizon_min, order.horizon_min), order.interval_min, order.lot_size,
                   start_minute(order), "fixed", fixed)  # fmt: skip

    @classmethod
    def from_json(cls, data: dict | None) -> OrderEnvelope | None:
        """An envelope recorded by :meth:`as_json` (None for a model registered without one)."""
        if not data:
            return None
        values = dict(data)
        for name in ("size_pct_adv", "sides", "horizon_min"):
            values[name] = tuple(values[name])
        return cls(**values)

    def as_json(self) -> dict:
        """The envelope as plain JSON values (recorded in the registry)."""
        return asdict(self)

    # ------------------------------------------------------------ drawing orders

    def sample(self, rng: np.random.Generator, market: MarketData, days: np.ndarray) -> PaceOrders:
        """One random order per day index of ``days`` (``market``'s trailing volume sets the sizes)."""
        n = len(days)
        low, high = np.log(self.size_pct_adv[0]), np.log(self.size_pct_adv[1])
        pct = np.exp(rng.uniform(low, high, size=n))
        adv = market.avg_volume_1m[days] * SESSION_MINUTES
        quantity = np.maximum(np.round(pct / 100.0 * adv / self.lot_size), 1).astype(np.int64)
        steps = rng.integers(self.horizon_min[0] // self.interval_min, self.horizon_min[1] // self.interval_min + 1, n)
        horizon = steps * self.interval_min
        last_start = BARS_PER_SESSION - 1 - horizon  # the forced order's bar must be in the session
        start = self.first_start_minute + np.floor(rng.random(n) * (last_start - self.first_start_minute + 1))
        side = np.where(rng.random(n) < 0.5, 1, -1) if len(self.sides) == 2 else np.full(n, _sign(self.sides[0]))
        return PaceOrders(
            side=side.astype(np.int64),
            lots=quantity,
            lot_size=np.full(n, self.lot_size, dtype=np.int64),
            start=start.astype(np.int64),
            interval=np.full(n, self.interval_min, dtype=np.int64),
            intervals=steps.astype(np.int64),
        )

    # ------------------------------------------------------------ fitting an order

    def reason_outside(self, order: OrderParams, adv_shares: float | None) -> str | None:
        """Why ``order`` is outside this envelope (size against ``adv_shares``, side, horizon); None inside."""
        if order.side not in self.sides:
            return f"trained for {'/'.join(self.sides)} orders only, not a {order.side}"
        if self.kind == "fixed":
            mine = {k: getattr(order, k) for k in self.fixed}
            if mine != self.fixed:
                return f"trained for one order shape only ({_describe(self.fixed)}), not {_describe(mine)}"
            return None
        if not self.horizon_min[0] <= order.horizon_min <= self.horizon_min[1]:
            return (
                f"horizon {order.horizon_min} min outside the {self.horizon_min[0]}-{self.horizon_min[1]} min trained"
            )
        if adv_shares and adv_shares > 0:
            pct = 100.0 * order.quantity / adv_shares
            low, high = self.size_pct_adv
            if not low / SIZE_TOLERANCE <= pct <= high * SIZE_TOLERANCE:
                return f"size {pct:.3g} % of ADV outside the {low:g}-{high:g} % trained"
        return None


def _sign(side: str) -> int:
    return side_sign(OrderParams(side=side))


def _describe(fields: dict) -> str:
    return (
        f"{fields['quantity']:,} in lots of {fields['lot_size']} at {fields['start_time']} over "
        f"{fields['horizon_min']} min in {fields['intervals']} intervals"
    )


def adv_shares(market: MarketData) -> float:
    """The average daily volume (shares) of the last day of ``market`` (its trailing statistics)."""
    return float(market.avg_volume_1m[-1] * SESSION_MINUTES)
