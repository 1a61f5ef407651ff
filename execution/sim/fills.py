"""Fill models: the price a child market order gets, vectorised over days and slots.

Two models (SPEC section 3), both written as ``price(q) = close + side * (spread + coef * sqrt(q))``
so that the environment (one child at a time) and the backtester (whole schedules over all
days at once) share the same arithmetic:

``seed``
    the close of the fill minute; ``spread = coef = 0``. Size does not matter.
``impact``
    close +/- (half-spread + temporary impact), with ``side = +1`` for a buy (pays more) and
    ``-1`` for a sell (receives less):

    * half-spread = ``open * half_spread``, the Corwin-Schultz (2012) high-low spread
      estimator averaged over the trailing days' consecutive 1-minute bars, halved, floored at
      half a tick (:mod:`execution.sim.market`);
    * temporary impact = ``open * eta * sigma_1m * sqrt(q / v)`` -- the square-root law in the
      child's share of the fill minute's volume ``v`` (floored at ``VOLUME_FLOOR_FRACTION`` of the
      trailing average 1-minute volume, so that a zero-volume minute does not give an infinite
      price), with ``sigma_1m`` the day's trailing std of 1-minute log returns. ``eta`` is calibrated on
      Almgren, Thum, Hauptmann & Li (2005), "Direct estimation of equity market impact": their
      temporary impact ``eta_A * sigma_day * (rate / daily volume)**(3/5)`` with ``eta_A = 0.142``,
      for a child executed within one minute (rate = ``q`` per minute, ``sigma_day = sqrt(375)
      sigma_1m``), equals ``0.142 * sqrt(375) * sigma_1m * (q / v_1m)**(3/5)``; the SPEC's square
      root with ``eta = 0.142 * sqrt(375) = 2.75`` matches it at full participation and is
      slightly dearer below (x1.26 at 10 %). ``eta`` is a parameter everywhere.

    Offsets are fractions of the day's open (the normaliser of the state), so one rupee
    amount applies to every minute of a day; this keeps a buy and a sell on a price path
    reflected about the open exact mirror images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from execution.config import OrderParams
from execution.data.exchange_calendar import BARS_PER_SESSION
from execution.sim.episode import decision_minutes, side_sign
from execution.sim.market import MarketData

FILL_MODELS: tuple[str, ...] = ("seed", "impact")
ALMGREN_2005_ETA = 0.142  # temporary-impact coefficient of Almgren et al. (2005), daily units
IMPACT_ETA = ALMGREN_2005_ETA * math.sqrt(BARS_PER_SESSION)  # = 2.75, the same law per 1-minute child
VOLUME_FLOOR_FRACTION = 0.1


@dataclass(frozen=True)
class FillTerms:
    """Per day and slot: ``price(q shares) = base + side * (spread + coef * sqrt(q))``."""

    base: np.ndarray  # [n_days, n_slots] close of the fill minute, INR
    spread: np.ndarray  # [n_days, 1] half-spread in INR (0 for the seed fill)
    coef: np.ndarray  # [n_days, n_slots] INR per sqrt(share) (0 for the seed fill)
    side: int  # +1 buy, -1 sell

    def price(self, qty_shares: np.ndarray) -> np.ndarray:
        """Fill price of child orders ``qty_shares`` (broadcast against ``[n_days, n_slots]``)."""
        return fill_price(self, qty_shares)


def check_fill(fill: str) -> str:
    """``fill`` if it names a fill model, else ``ValueError``."""
    if fill not in FILL_MODELS:
        raise ValueError(f"unknown fill model {fill!r}; choose one of {FILL_MODELS}")
    return fill


def participation_volume(market: MarketData, minutes: np.ndarray) -> np.ndarray:
    """Volume (shares) a child order is compared with at ``minutes``: the minute's, floored, ``[n_days, n]``."""
    floor = VOLUME_FLOOR_FRACTION * market.avg_volume_1m[:, None]
    return np.maximum(market.volume[:, minutes], floor)


def fill_terms(market: MarketData, minutes: np.ndarray, fill: str, side: int, eta: float = IMPACT_ETA) -> FillTerms:
    """The coefficients of the ``fill`` model at the session ``minutes`` of every day."""
    check_fill(fill)
    base = market.close[:, minutes]
    if fill == "seed":
        return FillTerms(base, np.zeros((market.n_days, 1)), np.zeros_like(base), side)
    open_price = market.open_price[:, None]
    spread = open_price * market.half_spread[:, None]
    coef = open_price * eta * market.sigma_1m[:, None] / np.sqrt(participation_volume(market, minutes))
    return FillTerms(base, spread, coef, side)


def fill_price(terms: FillTerms, qty_shares: np.ndarray) -> np.ndarray:
    """``base + side * (spread + coef * sqrt(q))``; ``qty_shares`` broadcasts against the terms."""
    qty = np.asarray(qty_shares, dtype=float)
    extra_dims = qty.ndim - terms.base.ndim
    shape = terms.base.shape + (1,) * max(extra_dims, 0)
    base = terms.base.reshape(shape)
    spread = terms.spread.reshape(terms.spread.shape + (1,) * max(extra_dims, 0))
    coef = terms.coef.reshape(shape)
    return base + terms.side * (spread + coef * np.sqrt(qty))


@dataclass(frozen=True)
class Execution:
    """What a schedule did on every day: one slot per decision plus the forced order at ``t_N``."""

    qty: np.ndarray  # [n_days, N + 1] shares executed in each slot
    price: np.ndarray  # [n_days, N + 1] price per share (NaN where nothing was executed)
    minutes: np.ndarray  # [N + 1] session minute of each slot's fill
    steps: np.ndarray  # [n_days] environment steps the episode lasts (1..N)

    @property
    def avg_price(self) -> np.ndarray:
        """Quantity-weighted average execution price per day."""
        notional = np.nansum(np.where(self.qty > 0, self.qty * self.price, 0.0), axis=1)
        return notional / self.qty.sum(axis=1)


def executed_lots(lots: np.ndarray, total_lots: int) -> tuple[np.ndarray, np.ndarray]:
    """Lots actually executed per decision (orders cut to the inventory left) and the forced remainder."""
    lots = np.asarray(lots)
    if np.any(lots < 0):
        raise ValueError("a schedule cannot hold negative lots")
    done = np.minimum(np.cumsum(lots, axis=1), total_lots)
    per_step = np.diff(done, axis=1, prepend=0)
    return per_step, total_lots - done[:, -1]


def episode_steps(per_step_lots: np.ndarray, total_lots: int) -> np.ndarray:
    """Steps the environment takes: up to the decision that empties the inventory, else all N."""
    done = np.cumsum(per_step_lots, axis=1) >= total_lots
    n = per_step_lots.shape[1]
    return np.where(done.any(axis=1), done.argmax(axis=1) + 1, n)


def execute_schedule(
    market: MarketData, order: OrderParams, lots: np.ndarray, fill: str, eta: float = IMPACT_ETA
) -> Execution:
    """Run a schedule of lots per decision ``[n_days, N]`` through the ``fill`` model."""
    lots = np.asarray(lots)
    if lots.shape != (market.n_days, order.intervals):
        raise ValueError(f"schedule shape {lots.shape} != (days, intervals) {(market.n_days, order.intervals)}")
    per_step, forced = executed_lots(lots, order.lots)
    slot_lots = np.concatenate([per_step, forced[:, None]], axis=1)
    qty = (slot_lots * order.lot_size).astype(float)
    minutes = decision_minutes(order)
    terms = fill_terms(market, minutes, fill, side_sign(order), eta)
    price = np.where(qty > 0, fill_price(terms, qty), np.nan)
    return Execution(qty=qty, price=price, minutes=minutes, steps=episode_steps(per_step, order.lots))
