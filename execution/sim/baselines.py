"""The SPEC section 5 baselines as schedules: lots per decision ``[n_days, N]`` for a window.

Every baseline has the signature ``(market, order, fill, *, eta, risk_aversion) -> np.ndarray[int]``
(:data:`Schedule`): the fill model and its impact coefficient, and the Almgren-Chriss risk
aversion, so that a backtest hands every strategy the same parameters. Only the oracle looks at
``fill`` and ``eta`` for its choice, only ``almgren_chriss`` at ``eta`` and ``risk_aversion``.
Schedules whose lots do not reach ``V/m`` by the last decision leave the rest to the forced
order at ``t_N`` (:mod:`execution.sim.fills`); only the oracle does so, when that minute is cheapest.

Whole lots from a target trajectory: where a baseline has a real-valued cumulative fraction
``F_k`` of the order done after decision ``k``, the lots done are ``floor(M F_k + 1/2)``
(``M = V/m``, ``F_{N-1} = 1``), so the lots are whole, non-negative and sum to ``M``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from execution.config import OrderParams
from execution.sim.episode import decision_minutes, side_sign, start_minute
from execution.sim.fills import IMPACT_ETA, fill_price, fill_terms
from execution.sim.market import MarketData
from execution.sim.rewards import BPS, DEFAULT_RISK_AVERSION_PER_BPS

#: ``strategy(market, order, fill, *, eta=..., risk_aversion=...) -> lots [n_days, N]``
Schedule = Callable[..., np.ndarray]


def lots_from_fraction(fraction_done: np.ndarray, total_lots: int) -> np.ndarray:
    """Whole lots per decision from the cumulative fraction done after each decision ``[n_days, N]``."""
    fraction = np.clip(np.asarray(fraction_done, dtype=float), 0.0, 1.0)
    fraction = np.maximum.accumulate(fraction, axis=1)
    fraction[:, -1] = 1.0
    done = np.floor(total_lots * fraction + 0.5).astype(np.int64)
    return np.diff(done, axis=1, prepend=0)


def twap_seed(market: MarketData, order: OrderParams, fill: str = "seed", **_: float) -> np.ndarray:
    """The order's TWAP: its ``V/m`` lots evenly over the first ``n = min(N, V/m)`` decisions.

    The seed's base case for the seed's order (20 lots, 50 decisions): one lot at each of the first
    20. An order with at least one lot per interval spreads evenly over all N (``twap_even``). The
    pace MDP's neutral action reproduces it (:func:`execution.sim.pace.twap_lots`).
    """
    n = min(order.intervals, order.lots)
    fraction = np.minimum(np.arange(1, order.intervals + 1) / n, 1.0)
    return lots_from_fraction(np.broadcast_to(fraction, (market.n_days, order.intervals)), order.lots)


def twap_even(market: MarketData, order: OrderParams, fill: str = "seed", **_: float) -> np.ndarray:
    """``V/m`` lots spread as evenly as whole lots allow over all N decisions (``F_k = (k+1)/N``)."""
    fraction = np.broadcast_to(np.arange(1, order.intervals + 1) / order.intervals, (market.n_days, order.intervals))
    return lots_from_fraction(fraction, order.lots)


def vwap(market: MarketData, order: OrderParams, fill: str = "seed", **_: float) -> np.ndarray:
    """Lots in proportion to the trailing mean volume of each interval's minutes (``[j_k, j_k + tau)``)."""
    s, tau = start_minute(order), order.interval_min
    window = market.volume_profile[:, s : s + order.horizon_min]
    per_interval = window.reshape(market.n_days, order.intervals, tau).sum(axis=2)
    total = per_interval.sum(axis=1, keepdims=True)
    fraction = np.where(total > 0, np.cumsum(per_interval, axis=1) / np.where(total > 0, total, 1.0), 0.0)
    flat = np.arange(1, order.intervals + 1) / order.intervals
    fraction = np.where(total > 0, fraction, flat)
    return lots_from_fraction(fraction, order.lots)


def almgren_chriss_fraction(
    market: MarketData,
    order: OrderParams,
    risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
    eta: float = IMPACT_ETA,
) -> np.ndarray:
    """Almgren-Chriss (2000) optimal holdings ``x_j / X`` at ``t_j = j tau``, ``j = 0..N``, per day ``[n_days, N+1]``.

    Discrete-time solution without permanent impact: ``x_j = X sinh(kappa (T - t_j)) / sinh(kappa T)``
    with ``cosh(kappa tau) = 1 + kappa_tilde^2 tau^2 / 2`` and ``kappa_tilde^2 = lambda sigma^2 / eta_lin``.
    Calibration per day from the trailing bars: ``sigma = open * sigma_1m`` (INR per sqrt(min));
    ``eta_lin`` (INR per share per share/min) makes the linear impact ``eta_lin n / tau`` equal the
    square-root impact of the impact fill, ``open * eta * sigma_1m * sqrt(n / avg_volume_1m)``, at the
    even child ``n = V / N``; ``lambda`` (per INR) is ``risk_aversion`` (per bps, as in ACR) times
    ``1e4 / (V * open)``, so the trajectory minimises ``E[IS_bps] + risk_aversion * Var[IS_bps]``.
    """
    tau, horizon = order.interval_min, order.horizon_min
    child = order.quantity / order.intervals
    open_price = market.open_price
    sigma_inr = open_price * market.sigma_1m
    impact_at_child = open_price * eta * market.sigma_1m * np.sqrt(child / market.avg_volume_1m)
    eta_lin = tau * impact_at_child / child
    lam = risk_aversion * BPS / (order.quantity * open_price)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa_tilde_sq = np.where(eta_lin > 0, lam * sigma_inr**2 / eta_lin, 0.0)
    kappa = np.arccosh(1.0 + kappa_tilde_sq * tau**2 / 2.0) / tau
    t = tau * np.arange(order.intervals + 1)
    k = kappa[:, None]
    linear = 1.0 - t[None, :] / horizon
    # sinh(k (T - t)) / sinh(k T) written with decaying exponentials (no overflow for large k T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        curved = np.exp(-k * t) * -np.expm1(-2.0 * k * (horizon - t)) / -np.expm1(-2.0 * k * horizon)
    return np.where(k * horizon < 1e-9, linear, curved)


def almgren_chriss(
    market: MarketData,
    order: OrderParams,
    fill: str = "seed",
    *,
    risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
    eta: float = IMPACT_ETA,
    **_: float,
) -> np.ndarray:
    """The Almgren-Chriss closed-form trajectory (:func:`almgren_chriss_fraction`) in whole lots."""
    holdings = almgren_chriss_fraction(market, order, risk_aversion, eta)
    return lots_from_fraction(1.0 - holdings[:, 1:], order.lots)


def immediate(market: MarketData, order: OrderParams, fill: str = "seed", **_: float) -> np.ndarray:
    """Everything at the first decision."""
    lots = np.zeros((market.n_days, order.intervals), dtype=np.int64)
    lots[:, 0] = order.lots
    return lots


def slot_costs(market: MarketData, order: OrderParams, fill: str, eta: float = IMPACT_ETA) -> np.ndarray:
    """Signed cost (INR; a sell's proceeds count negative) of ``a = 0..M`` lots in each slot, ``[n_days, N+1, M+1]``."""
    minutes = decision_minutes(order)
    side = side_sign(order)
    qty = order.lot_size * np.arange(order.lots + 1, dtype=float)
    prices = fill_price(fill_terms(market, minutes, fill, side, eta), np.broadcast_to(qty, (1, 1, qty.shape[0])))
    return side * qty * prices


def oracle(
    market: MarketData, order: OrderParams, fill: str = "seed", *, eta: float = IMPACT_ETA, **_: float
) -> np.ndarray:
    """The cheapest schedule in hindsight under ``fill``: dynamic programming over (decision, lots left).

    All days at once.

    ``cost_k(L) = min_{a <= L} c_k(a) + cost_{k+1}(L - a)`` with ``cost_N(L) = c_N(L)`` (the forced
    order at ``t_N``) and ``c_k(a)`` from :func:`slot_costs`; ties go to the smaller order.
    """
    costs = slot_costs(market, order, fill, eta)
    n_days, n_lots = market.n_days, order.lots + 1
    left = np.arange(n_lots)[:, None]
    sent = np.arange(n_lots)[None, :]
    feasible = sent <= left  # [L, a]
    rest = np.maximum(left - sent, 0)
    value = costs[:, -1, :]  # cost-to-go at t_N: the forced order of everything left
    choice = np.zeros((order.intervals, n_days, n_lots), dtype=np.int64)
    for k in range(order.intervals - 1, -1, -1):
        candidates = costs[:, k, None, :] + value[:, rest]  # [D, L, a]
        candidates = np.where(feasible[None], candidates, np.inf)
        choice[k] = candidates.argmin(axis=2)
        value = np.take_along_axis(candidates, choice[k][..., None], axis=2)[..., 0]
    lots = np.zeros((n_days, order.intervals), dtype=np.int64)
    remaining = np.full(n_days, order.lots)
    rows = np.arange(n_days)
    for k in range(order.intervals):
        lots[:, k] = choice[k][rows, remaining]
        remaining -= lots[:, k]
    return lots


BASELINES: dict[str, Schedule] = {
    "twap_seed": twap_seed,
    "twap_even": twap_even,
    "vwap": vwap,
    "almgren_chriss": almgren_chriss,
    "immediate": immediate,
    "oracle": oracle,
}
