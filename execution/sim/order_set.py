"""Evaluation over a set of orders: every strategy on each (day, order), against the TWAP of that same order.

The per-day backtester (:mod:`execution.sim.backtest`) replays one order shape on every day. A
universal policy serves many: an :class:`OrderSet` holds, per symbol, a list of (day, order) pairs
-- drawn from an :class:`~execution.sim.envelope.OrderEnvelope` with a fixed seed
(:func:`draw_order_set`, ``backtest --order-set N``) or read from a CSV of orders
(:func:`orders_from_frame`, ``backtest --orders FILE``) -- and :func:`evaluate` runs each strategy
on all of them through the pace MDP's batched simulator, one slot per (day, order):

* a **policy** acts greedily on the pace state (``policy_schedule`` semantics, per order);
* ``twap`` is the order's TWAP (:func:`execution.sim.pace.twap_lots`), the reference;

and returns one row per (symbol, day, order, strategy, fill): the order's size as % of ADV, side,
average price, shortfall against the arrival price (bps, + = cost), **advantage over the same
order's TWAP** (bps, + = better), child orders. :func:`summarize_order_set` aggregates by size
bucket (% of ADV) and side, with bootstrap CIs that resample whole days (the orders of one day
share its prices).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from execution.config import OrderParams
from execution.sim.envelope import SESSION_MINUTES, OrderEnvelope
from execution.sim.episode import SESSION_OPEN_MINUTE, side_sign, start_minute
from execution.sim.market import MarketData
from execution.sim.metrics import DEFAULT_BOOTSTRAP
from execution.sim.pace import PaceBatch, PaceOrders, twap_lots
from execution.sim.policy import Policy
from execution.sim.rewards import BPS

TWAP = "twap"
SIZE_BUCKETS_PCT: tuple[float, ...] = (0.0, 0.1, 0.5, 1.0, 5.0, float("inf"))
ORDER_COLUMNS = ("symbol", "day", "side", "quantity", "lot_size", "start_time", "horizon_min", "intervals")


@dataclass
class SymbolOrders:
    """The (day, order) pairs of one symbol: ``days[i]`` indexes ``market``, ``orders`` holds order ``i``."""

    market: MarketData
    days: np.ndarray
    orders: PaceOrders

    @property
    def n(self) -> int:
        """Number of (day, order) pairs."""
        return len(self.days)


OrderSet = list[SymbolOrders]


def draw_order_set(markets: list[MarketData], envelope: OrderEnvelope, per_day: int, seed: int = 0) -> OrderSet:
    """``per_day`` orders on every day of every market, drawn from ``envelope`` with ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for market in markets:
        days = np.repeat(np.arange(market.n_days), per_day)
        out.append(SymbolOrders(market, days, envelope.sample(rng, market, days)))
    return out


def orders_from_frame(markets: list[MarketData], frame: pd.DataFrame) -> OrderSet:
    """The orders of a table (columns :data:`ORDER_COLUMNS`) on the matching days of ``markets``.

    Orders on a day a market does not hold (not published, dropped) are an error naming them.
    """
    missing_columns = [c for c in ORDER_COLUMNS if c not in frame.columns]
    if missing_columns:
        raise ValueError(f"orders file lacks the column(s) {missing_columns}; expected {list(ORDER_COLUMNS)}")
    out = []
    for market in markets:
        mine = frame[frame["symbol"].str.upper() == market.symbol]
        if mine.empty:
            continue
        index = {str(d): i for i, d in enumerate(market.days.astype(object))}
        unknown = sorted({str(d) for d in mine["day"]} - set(index))
        if unknown:
            raise ValueError(f"{market.symbol}: no usable bars on {', '.join(unknown)} for the orders of those days")
        params = [
            OrderParams(
                quantity=int(r.quantity),
                lot_size=int(r.lot_size),
                start_time=str(r.start_time),
                horizon_min=int(r.horizon_min),
                intervals=int(r.intervals),
                side=str(r.side),
            )
            for r in mine.itertuples()
        ]
        days = np.array([index[str(d)] for d in mine["day"]])
        out.append(SymbolOrders(market, days, _as_pace_orders(params)))
    return out


def _as_pace_orders(params: list[OrderParams]) -> PaceOrders:
    def column(name: str) -> np.ndarray:
        return np.array([_field(p, name) for p in params], dtype=np.int64)

    return PaceOrders(*(column(name) for name in PaceOrders.__dataclass_fields__))


def _field(order: OrderParams, name: str) -> int:
    return {
        "side": lambda: side_sign(order),
        "lots": lambda: order.lots,
        "lot_size": lambda: order.lot_size,
        "start": lambda: start_minute(order),
        "interval": lambda: order.interval_min,
        "intervals": lambda: order.intervals,
    }[name]()


# ---------------------------------------------------------------- running


def _batch(entry: SymbolOrders, fill: str) -> PaceBatch:
    batch = PaceBatch(entry.market, OrderParams(), entry.n, fill=fill)
    batch.begin(np.arange(entry.n), entry.days, entry.orders)
    return batch


def _policy_lots(policy: Policy, entry: SymbolOrders, fill: str) -> np.ndarray:
    """Lots the policy sends at each decision of each order, greedily, ``[n, max N]``."""
    batch = _batch(entry, fill)
    lots = np.zeros((entry.n, int(entry.orders.intervals.max())), dtype=np.int64)
    while batch.live().any():
        actions, _ = policy.predict(batch.observe(), deterministic=True)
        live = batch.live()
        result = batch.step(np.asarray(actions, dtype=np.int64).reshape(-1))
        lots[live, result.decision[live]] = result.lots[live]
    return lots


def _fills(entry: SymbolOrders, lots: np.ndarray, fill: str) -> dict[str, np.ndarray]:
    """Average price, arrival, shortfall (bps) and child orders of executing ``lots`` (the rest forced)."""
    o, batch = entry.orders, _batch(entry, fill)
    n_max = lots.shape[1]
    k = np.arange(n_max + 1)[None, :]
    forced = o.lots - lots.sum(axis=1)
    slot_lots = np.concatenate([lots, np.zeros((entry.n, 1), dtype=np.int64)], axis=1)
    slot_lots[np.arange(entry.n), o.intervals] += forced  # the forced order at start + T
    active = k <= o.intervals[:, None]
    minute = np.where(active, o.start[:, None] + k * o.interval[:, None], 0)
    qty = np.where(active, slot_lots * o.lot_size[:, None], 0)
    price = batch._fill_price(entry.days[:, None], minute, o.side[:, None], qty)
    avg = (price * qty).sum(axis=1) / np.maximum(qty.sum(axis=1), 1)
    arrival = batch.arrival
    return {
        "avg_price": avg,
        "arrival_price": arrival,
        "shortfall_bps": o.side * (avg - arrival) / arrival * BPS,
        "child_orders": (qty > 0).sum(axis=1),
    }


def evaluate(order_set: OrderSet, strategies: dict[str, Policy | str], fills: tuple[str, ...]) -> pd.DataFrame:
    """One row per (symbol, day, order, strategy, fill): see the module docstring."""
    frames = []
    for entry in order_set:
        if not entry.n:
            continue
        o, market = entry.orders, entry.market
        adv = market.avg_volume_1m[entry.days] * SESSION_MINUTES
        described = {
            "symbol": market.symbol,
            "day": [d.isoformat() for d in market.days[entry.days].astype(object)],
            "order": np.arange(entry.n),
            "side": np.where(o.side > 0, "buy", "sell"),
            "quantity": o.lots * o.lot_size,
            "pct_adv": 100.0 * o.lots * o.lot_size / adv,
            "start_time": [_clock(s) for s in o.start],
            "horizon_min": o.intervals * o.interval,
        }
        twap = twap_lots(o.lots, o.intervals, int(o.intervals.max()))
        for fill in fills:
            reference = _fills(entry, twap, fill)
            for name, strategy in strategies.items():
                lots = twap if strategy == TWAP else _policy_lots(strategy, entry, fill)
                result = reference if strategy == TWAP else _fills(entry, lots, fill)
                frames.append(
                    pd.DataFrame(
                        {
                            **described,
                            "strategy": name,
                            "fill": fill,
                            **result,
                            "advantage_bps": reference["shortfall_bps"] - result["shortfall_bps"],
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _clock(minute: int) -> str:
    total = SESSION_OPEN_MINUTE + int(minute)
    return f"{total // 60:02d}:{total % 60:02d}"


# ---------------------------------------------------------------- aggregates


def day_bootstrap_ci(frame: pd.DataFrame, n_resamples: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """95 % CI of the mean advantage, resampling whole days (all orders of a drawn day together)."""
    by_day = frame.groupby("day")["advantage_bps"].agg(["sum", "count"])
    if len(by_day) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(by_day), size=(n_resamples, len(by_day)))
    sums, counts = by_day["sum"].to_numpy()[picks].sum(axis=1), by_day["count"].to_numpy()[picks].sum(axis=1)
    low, high = np.percentile(sums / counts, [2.5, 97.5])
    return float(low), float(high)


def summarize_order_set(per_order: pd.DataFrame, n_resamples: int = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
    """Mean advantage over the same order's TWAP with its day-resampled CI, overall, by size bucket and by side."""
    if per_order.empty:
        return pd.DataFrame()
    frame = per_order.assign(
        size_bucket=pd.cut(per_order["pct_adv"], SIZE_BUCKETS_PCT, right=False, labels=_bucket_labels())
    )
    rows = []
    for (strategy, fill), mine in frame.groupby(["strategy", "fill"], sort=False):
        groups = [("all", "all", mine)]
        groups += [("size % ADV", str(b), g) for b, g in mine.groupby("size_bucket", observed=True)]
        groups += [("side", str(s), g) for s, g in mine.groupby("side")]
        for dimension, value, group in groups:
            low, high = day_bootstrap_ci(group, n_resamples)
            rows.append(
                {
                    "strategy": strategy,
                    "fill": fill,
                    "by": dimension,
                    "group": value,
                    "orders": len(group),
                    "days": group["day"].nunique(),
                    "advantage_mean_bps": float(group["advantage_bps"].mean()),
                    "advantage_ci95_low_bps": low,
                    "advantage_ci95_high_bps": high,
                    "child_orders_mean": float(group["child_orders"].mean()),
                }
            )
    return pd.DataFrame(rows)


def _bucket_labels() -> list[str]:
    edges = SIZE_BUCKETS_PCT
    return [f"{low:g}-{high:g}" if np.isfinite(high) else f">={low:g}" for low, high in pairwise(edges)]
