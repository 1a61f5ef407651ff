"""The six baselines: hand-computed prices on the tiny day, TWAP's 20 lots, oracle optimality."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from test_fills_rewards import TINY_ORDER, mirrored, random_market, tiny_market

from execution.config import OrderParams
from execution.sim.baselines import (
    BASELINES,
    almgren_chriss,
    almgren_chriss_fraction,
    immediate,
    lots_from_fraction,
    oracle,
    twap_even,
    twap_seed,
    vwap,
)
from execution.sim.fills import execute_schedule

# tiny day (V = 3 lots, N = 4): seed fills 101, 99, 102, 98 at the decisions, 103 forced at t_N
TINY_EXPECTED = {
    "twap_seed": ([1, 1, 1, 0], (101 + 99 + 102) / 3),  # one lot at each of the first V/m = 3 decisions
    "twap_even": ([1, 1, 0, 1], (101 + 99 + 98) / 3),  # round(3 * (k+1)/4) = 1, 2, 2, 3 lots done
    "vwap": ([2, 0, 0, 1], (2 * 101 + 98) / 3),  # interval volumes 2, 1, 0, 1: round(3 * [.5, .75, .75, 1])
    "immediate": ([3, 0, 0, 0], 101.0),
    "oracle": ([0, 0, 0, 3], 98.0),  # cheapest close among 101, 99, 102, 98 and the forced 103
}


@pytest.mark.parametrize("name", list(TINY_EXPECTED))
def test_baseline_schedules_and_average_prices_on_the_tiny_day(name):
    market = tiny_market()
    lots = BASELINES[name](market, TINY_ORDER, "seed")
    expected_lots, expected_price = TINY_EXPECTED[name]
    assert lots.tolist() == [expected_lots]
    assert execute_schedule(market, TINY_ORDER, lots, "seed").avg_price[0] == pytest.approx(expected_price)


def test_almgren_chriss_limits_on_the_tiny_day():
    market = tiny_market()
    # no risk aversion: the straight line, i.e. twap_even; huge risk aversion: everything now
    assert almgren_chriss(market, TINY_ORDER, risk_aversion=0.0).tolist() == [[1, 1, 0, 1]]
    assert almgren_chriss(market, TINY_ORDER, risk_aversion=1e9).tolist() == [[3, 0, 0, 0]]


def test_almgren_chriss_holdings_follow_the_sinh_trajectory():
    market = random_market(6, seed=4)
    order = OrderParams()
    holdings = almgren_chriss_fraction(market, order, risk_aversion=1e-3)
    assert np.allclose(holdings[:, 0], 1.0) and np.allclose(holdings[:, -1], 0.0)
    assert (np.diff(holdings, axis=1) < 0).all()
    # x_j = sinh(k (T - t_j)) / sinh(k T) solves x_{j-1} + x_{j+1} = 2 cosh(k tau) x_j: the ratio is one constant > 2
    ratio = (holdings[:, :-2] + holdings[:, 2:]) / holdings[:, 1:-1]
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones_like(ratio), rtol=1e-9)
    assert (ratio[:, 0] > 2.0).all()
    # more risk aversion trades faster: less held at every interior time
    faster = almgren_chriss_fraction(market, order, risk_aversion=1e-2)
    assert (faster[:, 1:-1] < holdings[:, 1:-1]).all()


def test_twap_seed_sends_twenty_lots_of_500_in_the_first_twenty_intervals():
    order = OrderParams()
    market = random_market(5, seed=1)
    execution = execute_schedule(market, order, twap_seed(market, order), "seed")
    assert (execution.qty[:, :20] == 500).all() and (execution.qty[:, 20:] == 0).all()
    np.testing.assert_array_equal(execution.minutes[:20], 15 + 2 * np.arange(20))  # 09:30, 09:32, ... 10:08
    np.testing.assert_array_equal(execution.price[:, :20], market.close[:, 15:55:2])
    np.testing.assert_allclose(execution.avg_price, market.close[:, 15:55:2].mean(axis=1))
    assert execution.steps.tolist() == [20] * 5


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_sends_whole_lots_that_add_up_to_the_order(name):
    """The oracle alone may leave lots to the forced order at t_N, when that minute is the cheapest."""
    order = OrderParams()
    market = random_market(12, seed=2)
    for fill in ("seed", "impact"):
        lots = BASELINES[name](market, order, fill)
        assert lots.shape == (12, order.intervals)
        assert np.issubdtype(lots.dtype, np.integer) and (lots >= 0).all()
        sent = lots.sum(axis=1)
        assert (sent <= order.lots).all() if name == "oracle" else (sent == order.lots).all()


def test_vwap_with_a_flat_profile_is_twap_even():
    order = OrderParams()
    market = dataclasses.replace(random_market(3), volume_profile=np.ones((3, 375)))
    np.testing.assert_array_equal(vwap(market, order), twap_even(market, order))
    assert twap_even(market, order)[0].tolist().count(1) == 20


def test_lots_from_fraction_rounds_the_cumulative_target():
    lots = lots_from_fraction(np.array([[0.1, 0.2, 0.6, 0.9]]), 10)
    assert lots.tolist() == [[1, 1, 4, 4]]  # done 1, 2, 6, then all 10 at the last decision


# ------------------------------------------------------------------ oracle


@pytest.mark.parametrize("fill", ["seed", "impact"])
def test_oracle_equals_brute_force_over_every_tiny_schedule(fill):
    schedules = np.array(list(itertools.product(range(4), repeat=4)))  # all 256 lot vectors
    copies = tiny_market().subset(np.zeros(len(schedules), dtype=int))
    prices = execute_schedule(copies, TINY_ORDER, schedules, fill, eta=1.0).avg_price
    best = execute_schedule(copies, TINY_ORDER, oracle(copies, TINY_ORDER, fill, eta=1.0), fill, eta=1.0).avg_price
    assert best[0] == pytest.approx(prices.min(), rel=1e-12)


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("fill", ["seed", "impact"])
def test_oracle_is_never_worse_than_any_strategy(side, fill):
    order = OrderParams(side=side)
    sign = 1 if side == "buy" else -1
    market = random_market(25, seed=7)
    best = sign * execute_schedule(market, order, oracle(market, order, fill), fill).avg_price
    rng = np.random.default_rng(0)
    others = [BASELINES[n](market, order, fill) for n in BASELINES if n != "oracle"]
    others += [rng.choice([0, 0, 0, 1, 2, 5], size=(25, order.intervals)) for _ in range(40)]
    for lots in others:
        cost = sign * execute_schedule(market, order, lots, fill).avg_price
        assert (best <= cost + 1e-9).all()


def test_immediate_pays_most_impact_and_oracle_least_on_a_flat_price():
    """With a constant close, only the impact fill differs: cost grows with the child size."""
    market = random_market(10, seed=3)
    flat = dataclasses.replace(market, close=np.full_like(market.close, 100.0), open_price=np.full(10, 100.0))
    order = OrderParams()
    prices = {
        n: execute_schedule(flat, order, BASELINES[n](flat, order, "impact"), "impact").avg_price for n in BASELINES
    }
    for name in BASELINES:
        if name not in ("immediate", "oracle"):
            assert (prices["immediate"] > prices[name]).all()
            assert (prices["oracle"] <= prices[name] + 1e-12).all()
    assert (immediate(flat, order)[:, 0] == 20).all()


@pytest.mark.parametrize("name", list(BASELINES))
def test_sell_on_the_reflected_path_mirrors_a_buy(name):
    market = random_market(10, seed=6)
    buy, sell = OrderParams(), OrderParams(side="sell")
    for fill in ("seed", "impact"):
        buy_lots = BASELINES[name](market, buy, fill)
        sell_lots = BASELINES[name](mirrored(market), sell, fill)
        np.testing.assert_array_equal(buy_lots, sell_lots)
        bought = execute_schedule(market, buy, buy_lots, fill).avg_price
        sold = execute_schedule(mirrored(market), sell, sell_lots, fill).avg_price
        np.testing.assert_allclose(sold, 2 * market.open_price - bought, rtol=1e-12)
