"""The two rewards of SPEC section 3, as elementwise functions (floats or arrays).

Notation for one episode on day ``d`` (see :mod:`execution.sim.market` for the minutes):
``V`` parent quantity, ``M = V / m`` lots, decisions ``k = 0..N-1`` at minutes ``j_k``, the
forced order in slot ``N`` at minute ``s + T``; ``side = +1`` buy, ``-1`` sell;
``O`` the day's open; ``c_j`` the close of minute ``j``; ``p_k = c_{j_k}``, ``p_{-1} = c_{s-1}``
(the arrival price).

Vanilla reward (VR), paid by the step of decision ``k``::

    x_k     = shares executed at step k / V                       (fraction of the order)
    delta_k = side * (p_{k-1} - p_k) / O * 1e4                    (bps of the open; > 0 = favourable)
    r_k     = delta_k * x_k + beta_impact * x_k**2 + beta_timestep

with ``beta_impact = -100`` (everything at once costs -100, one lot of 20 costs -0.25) and
``beta_timestep = +0.1`` for every step taken (every interval survived), whether or not the
step executes anything. When the horizon is reached with inventory left, the last step also
pays the forced order's terms ``delta_N * x_N + beta_impact * x_N**2`` (no step bonus: the
forced order is not a decision). VR uses closes only, so it is the same under both fill models.

Almgren-Chriss reward (ACR), after Almgren & Chriss (2000): the per-step cost is the child
order's implementation shortfall plus ``lambda`` times the price variance of the inventory
still held over the next interval, both in basis points, and the reward is its negative::

    P_k     = fill price of the child order of step k (under the environment's fill model)
    IS_k    = side * (P_k - p_{-1}) / p_{-1} * 1e4 * x_k          (bps of the parent notional)
    Var_k   = (1e4 * sigma_1m)**2 * tau * y_{k+1}**2              (bps**2; y = inventory left / V)
    r_k     = -(IS_k + lambda * Var_k)

``sum_k IS_k`` is the episode's implementation shortfall, so ACR's return is minus the
mean-variance objective ``E[IS] + lambda Var[IS]`` of Almgren & Chriss, with ``lambda`` in
1/bps (default 1e-3). The forced order adds its ``IS_N`` to the last step. Under the seed fill
there is no impact, so ACR alone favours trading at once; pair it with the impact fill.
"""

from __future__ import annotations

import numpy as np

from execution.config import OrderParams
from execution.sim.episode import side_sign, start_minute
from execution.sim.fills import Execution
from execution.sim.market import MarketData

REWARDS: tuple[str, ...] = ("vr", "acr")
BPS = 1e4
DEFAULT_RISK_AVERSION_PER_BPS = 1e-3


def check_reward(reward: str) -> str:
    """``reward`` if it names a reward, else ``ValueError``."""
    if reward not in REWARDS:
        raise ValueError(f"unknown reward {reward!r}; choose one of {REWARDS}")
    return reward


def vanilla_reward(delta_bps, executed_frac, beta_impact: float, beta_timestep: float):
    """``delta_bps * x + beta_impact * x**2 + beta_timestep`` (pass ``beta_timestep=0`` for the forced order)."""
    return delta_bps * executed_frac + beta_impact * executed_frac * executed_frac + beta_timestep


def almgren_chriss_reward(shortfall_bps, variance_bps2, risk_aversion: float):
    """``-(shortfall_bps + risk_aversion * variance_bps2)``."""
    return -(shortfall_bps + risk_aversion * variance_bps2)


def price_change_bps(market: MarketData, order: OrderParams, minutes: np.ndarray) -> np.ndarray:
    """``delta`` of every slot ``[n_days, len(minutes)]``: signed close change since the previous slot, bps of open."""
    s = start_minute(order)
    closes = market.close[:, np.concatenate([[s - 1], minutes])]
    return side_sign(order) * (closes[:, :-1] - closes[:, 1:]) / market.open_price[:, None] * BPS


def interval_variance_bps2(market: MarketData, order: OrderParams) -> np.ndarray:
    """Price variance over one interval per unit of inventory fraction, ``(1e4 sigma)^2 tau`` per day."""
    return (BPS * market.sigma_1m) ** 2 * order.interval_min


def _step_taken(execution: Execution) -> np.ndarray:
    n = execution.qty.shape[1] - 1
    return np.arange(n)[None, :] < execution.steps[:, None]


def episode_vr(market: MarketData, order: OrderParams, execution: Execution) -> np.ndarray:
    """Undiscounted VR return of each day's episode ``[n_days]`` (what the environment pays in total)."""
    frac = execution.qty / order.quantity
    delta = price_change_bps(market, order, execution.minutes)
    taken = _step_taken(execution)
    per_step = np.where(taken, vanilla_reward(delta[:, :-1], frac[:, :-1], order.beta_impact, order.beta_timestep), 0)
    forced = vanilla_reward(delta[:, -1], frac[:, -1], order.beta_impact, 0.0)
    return per_step.sum(axis=1) + forced


def episode_acr(
    market: MarketData,
    order: OrderParams,
    execution: Execution,
    risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
) -> np.ndarray:
    """Undiscounted ACR return of each day's episode ``[n_days]``."""
    s = start_minute(order)
    arrival = market.close[:, s - 1][:, None]
    frac = execution.qty / order.quantity
    price = np.where(execution.qty > 0, execution.price, arrival)
    shortfall = side_sign(order) * (price - arrival) / arrival * BPS * frac
    left_after = (order.quantity - np.cumsum(execution.qty[:, :-1], axis=1)) / order.quantity
    variance = interval_variance_bps2(market, order)[:, None] * left_after**2
    taken = _step_taken(execution)
    per_step = np.where(taken, almgren_chriss_reward(shortfall[:, :-1], variance, risk_aversion), 0.0)
    return per_step.sum(axis=1) - shortfall[:, -1]
