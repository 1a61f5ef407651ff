"""Fill models and rewards on a tiny hand-made day (numbers worked out in the comments).

The helpers ``tiny_market`` / ``random_market`` / ``mirrored`` are shared with the other
simulator tests (test_env, test_baselines, test_backtest).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from execution.config import OrderParams
from execution.sim.episode import decision_minutes
from execution.sim.fills import execute_schedule, fill_price, fill_terms
from execution.sim.market import MarketData, corwin_schultz_spread
from execution.sim.rewards import almgren_chriss_reward, episode_acr, episode_vr, vanilla_reward

# V = 1500 (3 lots of 500), T = 8 min, N = 4 -> tau = 2; start 09:30 = minute 15.
# Decisions fill at minutes 15, 17, 19, 21; the forced order at 15 + 8 = 23; arrival = close of 14.
TINY_ORDER = OrderParams(quantity=1500, horizon_min=8, intervals=4, lot_size=500, n_history=3)
TINY_CLOSES = {12: 99.0, 13: 99.5, 14: 100.0, 15: 101.0, 16: 101.5, 17: 99.0, 18: 100.0}
TINY_CLOSES |= {19: 102.0, 20: 100.0, 21: 98.0, 22: 100.0, 23: 103.0}


def tiny_market() -> MarketData:
    """One day, open 100, closes as above (100 elsewhere), volume 1000 a minute (2000 at 09:29)."""
    close = np.full((1, 375), 100.0)
    for minute, price in TINY_CLOSES.items():
        close[0, minute] = price
    volume = np.full((1, 375), 1000.0)
    volume[0, 14] = 2000.0
    profile = np.ones((1, 375))
    profile[0, 15:23] = [1.0, 1.0, 0.5, 0.5, 0.0, 0.0, 0.5, 0.5]  # interval weights 2, 1, 0, 1
    return MarketData(
        symbol="TINY",
        days=np.array(["2020-01-31"], dtype="datetime64[D]"),
        open_price=np.array([100.0]),
        close=close,
        high=close + 0.1,
        low=close - 0.1,
        volume=volume,
        avg_volume_1m=np.array([1000.0]),
        volume_profile=profile,
        sigma_1m=np.array([0.001]),
        half_spread=np.array([0.0005]),
        missing_minutes=np.array([0]),
    )


def random_market(n_days: int = 30, seed: int = 0) -> MarketData:
    """Random-walk days around 100 with random volumes (some zero) and calibration values."""
    rng = np.random.default_rng(seed)
    open_price = 100.0 * np.exp(rng.normal(0, 0.02, n_days))
    close = open_price[:, None] * np.exp(np.cumsum(rng.normal(0, 0.002, (n_days, 375)), axis=1))
    wiggle = np.abs(rng.normal(0, 0.001, (n_days, 375))) * close
    volume = rng.integers(0, 6000, (n_days, 375)).astype(float)
    volume[rng.random((n_days, 375)) < 0.05] = 0.0
    return MarketData(
        symbol="RAND",
        days=np.datetime64("2020-01-01") + np.arange(n_days),
        open_price=open_price,
        close=close,
        high=close + wiggle,
        low=close - wiggle,
        volume=volume,
        avg_volume_1m=rng.uniform(1000, 5000, n_days),
        volume_profile=rng.uniform(0.1, 2.0, (n_days, 375)),
        sigma_1m=rng.uniform(5e-4, 3e-3, n_days),
        half_spread=rng.uniform(1e-4, 1e-3, n_days),
        missing_minutes=np.zeros(n_days, dtype=int),
    )


def mirrored(market: MarketData) -> MarketData:
    """Prices reflected about each day's open (high and low swap); the rest unchanged."""
    ref = 2.0 * market.open_price[:, None]
    return dataclasses.replace(market, close=ref - market.close, high=ref - market.low, low=ref - market.high)


# ------------------------------------------------------------------ fills


def test_seed_fill_is_the_close_of_each_decision_minute_and_the_horizon_forces_the_rest():
    market = tiny_market()
    execution = execute_schedule(market, TINY_ORDER, np.array([[1, 0, 0, 0]]), "seed")
    assert execution.minutes.tolist() == [15, 17, 19, 21, 23]
    assert execution.qty.tolist() == [[500.0, 0.0, 0.0, 0.0, 1000.0]]
    assert execution.price[0, 0] == 101.0 and execution.price[0, 4] == 103.0
    assert np.isnan(execution.price[0, 1:4]).all()
    # (500 * 101 + 1000 * 103) / 1500
    assert execution.avg_price[0] == pytest.approx((50_500 + 103_000) / 1500)
    assert execution.steps.tolist() == [4]


def test_an_order_larger_than_the_inventory_is_cut_to_it():
    execution = execute_schedule(tiny_market(), TINY_ORDER, np.array([[2, 5, 1, 0]]), "seed")
    assert execution.qty.tolist() == [[1000.0, 500.0, 0.0, 0.0, 0.0]]
    assert execution.steps.tolist() == [2]  # the inventory is empty after the second decision


def test_impact_fill_adds_half_spread_and_square_root_impact_by_hand():
    market = tiny_market()
    # buy 1500 at minute 15 with eta = 1: half-spread 100 * 0.0005 = 0.05;
    # impact 100 * 1 * 0.001 * sqrt(1500 / 1000) = 0.1224745; price 101 + 0.05 + 0.1224745
    buy = execute_schedule(market, TINY_ORDER, np.array([[3, 0, 0, 0]]), "impact", eta=1.0)
    assert buy.price[0, 0] == pytest.approx(101.1724745, abs=1e-7)
    sell = execute_schedule(
        market, dataclasses.replace(TINY_ORDER, side="sell"), np.array([[3, 0, 0, 0]]), "impact", eta=1.0
    )
    assert sell.price[0, 0] == pytest.approx(101.0 - 0.1724745, abs=1e-7)
    # one lot at minute 17: 99 + 0.05 + 0.1 * sqrt(0.5)
    one = execute_schedule(market, TINY_ORDER, np.array([[0, 1, 0, 2]]), "impact", eta=1.0)
    assert one.price[0, 1] == pytest.approx(99.05 + 0.1 * math.sqrt(0.5))


def test_impact_fill_floors_a_zero_volume_minute_at_a_tenth_of_the_average():
    market = tiny_market()
    market.volume[0, 15] = 0.0  # floor = 0.1 * 1000 = 100 shares
    terms = fill_terms(market, decision_minutes(TINY_ORDER), "impact", side=1, eta=1.0)
    price = fill_price(terms, np.array([[500.0, 0, 0, 0, 0]]))
    assert price[0, 0] == pytest.approx(101.0 + 0.05 + 0.1 * math.sqrt(5.0))
    assert np.isfinite(price).all()


def test_corwin_schultz_of_two_identical_bars_is_their_relative_range():
    # equal bars H/L = 1.01: beta = 2 ln(1.01)^2, gamma = ln(1.01)^2 -> alpha = ln(1.01)
    # S = 2 (e^alpha - 1) / (1 + e^alpha) = 2 * 0.01 / 2.01
    spread = corwin_schultz_spread(np.array([101.0, 101.0]), np.array([100.0, 100.0]), np.array([100.5, 100.5]))
    assert spread[0] == pytest.approx(0.02 / 2.01)
    # a trending pair (range of the two > each range) gives a negative estimate, set to 0
    trend = corwin_schultz_spread(np.array([101.0, 103.0]), np.array([100.0, 102.0]), np.array([101.0, 103.0]))
    assert trend[0] == 0.0


# ------------------------------------------------------------------ rewards


def test_vanilla_reward_of_one_step_by_hand():
    # one lot of three (x = 1/3) after the close rose 100 bps (delta = -100 for a buyer):
    # -100 / 3 - 100 / 9 + 0.1
    assert vanilla_reward(-100.0, 1 / 3, -100.0, 0.1) == pytest.approx(-33.3333333 - 11.1111111 + 0.1)
    # the seed's scale: everything at once costs -100, one lot of 20 costs -0.25
    assert vanilla_reward(0.0, 1.0, -100.0, 0.0) == -100.0
    assert vanilla_reward(0.0, 0.05, -100.0, 0.0) == pytest.approx(-0.25)


@pytest.mark.parametrize(
    ("lots", "expected"),
    [
        # delta (bps of open 100) at slots 0..4 for a buyer: -100, +200, -300, +400, forced -500
        ([1, 1, 1, 0], (-100 + 200 - 300) / 3 - 3 * 100 / 9 + 0.3),  # 3 steps
        ([1, 1, 0, 1], (-100 + 200 + 400) / 3 - 3 * 100 / 9 + 0.4),
        ([3, 0, 0, 0], -100 - 100 + 0.1),
        ([0, 0, 0, 0], 0.4 - 500 - 100),  # four idle steps, then all three lots forced at 103
        ([1, 0, 0, 0], -100 / 3 - 100 / 9 + 0.4 + (-500) * 2 / 3 - 100 * 4 / 9),
    ],
)
def test_episode_vr_by_hand(lots, expected):
    market = tiny_market()
    execution = execute_schedule(market, TINY_ORDER, np.array([lots]), "seed")
    assert episode_vr(market, TINY_ORDER, execution)[0] == pytest.approx(expected)
    # VR uses closes only: the impact fill changes nothing
    impact = execute_schedule(market, TINY_ORDER, np.array([lots]), "impact")
    assert episode_vr(market, TINY_ORDER, impact)[0] == pytest.approx(expected)


def test_episode_acr_by_hand():
    market = tiny_market()
    # immediate, seed fill: IS = (101 - 100) / 100 * 1e4 * 1 = 100 bps, nothing held afterwards
    now = execute_schedule(market, TINY_ORDER, np.array([[3, 0, 0, 0]]), "seed")
    assert episode_acr(market, TINY_ORDER, now, risk_aversion=0.01)[0] == pytest.approx(-100.0)
    # one lot then nothing: IS_0 = 100 / 3; 2/3 held over four intervals, each costing
    # 0.01 * (1e4 * 0.001)^2 * 2 * (2/3)^2 = 0.8889; forced 2/3 at 103: IS = 300 * 2/3 = 200
    late = execute_schedule(market, TINY_ORDER, np.array([[1, 0, 0, 0]]), "seed")
    expected = -(100 / 3 + 4 * 0.01 * 100 * 2 * 4 / 9 + 200)
    assert episode_acr(market, TINY_ORDER, late, risk_aversion=0.01)[0] == pytest.approx(expected)
    assert almgren_chriss_reward(10.0, 50.0, 0.1) == -15.0


# ------------------------------------------------------------------ buy and sell mirror each other


@pytest.mark.parametrize("fill", ["seed", "impact"])
def test_a_sell_on_the_reflected_path_mirrors_a_buy(fill):
    market = random_market(20, seed=3)
    buy_order = OrderParams()
    sell_order = dataclasses.replace(buy_order, side="sell")
    lots = np.random.default_rng(1).integers(0, 3, (20, buy_order.intervals))
    buy = execute_schedule(market, buy_order, lots, fill)
    sell = execute_schedule(mirrored(market), sell_order, lots, fill)
    reflected = 2.0 * market.open_price[:, None] - buy.price
    np.testing.assert_allclose(sell.price, reflected, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        episode_vr(mirrored(market), sell_order, sell), episode_vr(market, buy_order, buy), rtol=1e-9, atol=1e-9
    )
