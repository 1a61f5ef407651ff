"""The batched simulator: the seed MDP's batch against the gymnasium environment, and the pace MDP."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import date

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from test_fills_rewards import random_market

from execution.config import OrderParams
from execution.data.sources.synthetic import SyntheticSource
from execution.sim.baselines import twap_even, twap_seed
from execution.sim.batch import SeedBatch, SingleEpisodeEnv
from execution.sim.execution_env import ExecutionEnv
from execution.sim.fills import execute_schedule
from execution.sim.market import MarketData, from_bars
from execution.sim.metrics import day_metrics
from execution.sim.pace import PACE_FEATURES, PaceBatch, PaceOrders, PaceSpec
from execution.sim.policy import policy_schedule, rollout_lots

ORDER = OrderParams()
TWAP = PaceSpec().twap_action


@pytest.fixture(scope="module")
def market() -> MarketData:
    """Ten synthetic RELIANCE days (with trailing history)."""
    bars = SyntheticSource(seed=7).fetch("RELIANCE", date(2019, 10, 1), date(2019, 11, 15)).bars
    return from_bars(bars, ORDER, first_day=date(2019, 11, 1))


class ConstantPolicy:
    """Always the same action."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.full(len(observation), self.action), state


# ------------------------------------------------------------------ the seed MDP's batch is the environment


@pytest.mark.parametrize("reward", ["vr", "acr"])
@pytest.mark.parametrize("fill", ["seed", "impact"])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_seed_batch_steps_exactly_as_the_gymnasium_environment(reward, fill, side):
    market = random_market(6)
    order = dataclasses.replace(ORDER, side=side)
    rng = np.random.default_rng(3)
    actions = rng.integers(0, 3, size=(market.n_days, order.intervals))  # small orders: episodes reach the horizon
    batch = SeedBatch(market, order, market.n_days, reward, fill)
    days = np.arange(market.n_days)
    batch.begin(days, days)
    env = ExecutionEnv(market, order, reward=reward, fill=fill)
    for day in days:
        obs, _ = env.reset(options={"day_index": int(day)})
        np.testing.assert_allclose(batch.observe(np.array([day]))[0], obs, rtol=1e-6)
    expected = []
    for day in days:
        env.reset(options={"day_index": int(day)})
        trace, done, k = [], False, 0
        while not done:
            obs, r, done, _, info = env.step(actions[day, k])
            trace.append((obs, r, done, info["qty"] // order.lot_size))
            k += 1
        expected.append(trace)
    for k in range(order.intervals):
        live = batch.live()
        if not live.any():
            break
        step = batch.step(actions[:, k])
        for day in np.flatnonzero(live):
            obs, r, done, lots = expected[day][k]
            np.testing.assert_allclose(step.obs[day], obs, rtol=1e-6)
            assert step.reward[day] == pytest.approx(r, rel=1e-9, abs=1e-9)
            assert (bool(step.done[day]), int(step.lots[day])) == (done, lots)
    assert not batch.live().any()


def test_a_rollout_is_the_environment_played_greedily(market):
    policy = ConstantPolicy(3)
    lots = policy_schedule(policy, market, ORDER, "seed")
    # 3 lots a decision until the 20 lots are done: 3 x 6 + 2
    assert (lots[:, :6] == 3).all() and (lots[:, 6] == 2).all() and (lots[:, 7:] == 0).all()


# ------------------------------------------------------------------ the pace MDP


def pace_batch(market: MarketData, order: OrderParams = ORDER, fill: str = "impact", **kwargs) -> PaceBatch:
    return PaceBatch(market, order, market.n_days, fill=fill, **kwargs)


@pytest.mark.parametrize("fill", ["seed", "impact"])
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize(("quantity", "twap"), [(10_000, twap_seed), (30_000, twap_even)])
def test_the_twap_pace_is_the_orders_twap_and_earns_exactly_zero(market, fill, side, quantity, twap):
    """20 lots in 50 intervals: the seed's base case, one lot per interval; 60 lots: spread evenly."""
    order = dataclasses.replace(ORDER, side=side, quantity=quantity)
    batch = pace_batch(market, order, fill)
    days = np.arange(market.n_days)
    batch.begin(days, days)
    total = np.zeros(market.n_days)
    lots = np.zeros((market.n_days, order.intervals), dtype=np.int64)
    while batch.live().any():
        live = batch.live()
        step = batch.step(np.full(market.n_days, TWAP))
        lots[live, step.decision[live]] = step.lots[live]
        total += step.reward
    np.testing.assert_array_equal(lots, twap(market, order))
    np.testing.assert_allclose(total, 0.0, atol=1e-9)


def test_the_pa_return_is_the_advantage_over_the_orders_twap_minus_the_pace_penalty(market):
    spec = PaceSpec(pace_penalty_bps=0.7, tracking_aversion=0.0)
    rng = np.random.default_rng(11)
    batch = pace_batch(market, spec=spec)
    days = np.arange(market.n_days)
    batch.begin(days, days)
    total, lots = np.zeros(market.n_days), np.zeros((market.n_days, ORDER.intervals), dtype=np.int64)
    multipliers = np.asarray(spec.multipliers)
    left = np.full(market.n_days, float(ORDER.lots))  # the planned lots, recomputed here from the actions
    squares = np.zeros(market.n_days)
    while batch.live().any():
        live = batch.live()
        actions = rng.integers(0, len(spec.multipliers), size=market.n_days)
        step = batch.step(actions)
        k = step.decision
        intervals_left = np.where(k < ORDER.lots, ORDER.lots - k, ORDER.intervals - k)  # 20 lots < 50 intervals
        child = np.minimum(multipliers[actions] * left / intervals_left, left)
        squares += np.where(live, child**2, 0.0)
        left = np.where(live, left - child, left)
        squares += np.where(step.done, left**2, 0.0)  # what is still planned at the end counts once more
        lots[live, k[live]] = step.lots[live]
        total += step.reward
    metrics_agent = day_metrics(market, ORDER, execute_schedule(market, ORDER, lots, "impact"))
    metrics_twap = day_metrics(market, ORDER, execute_schedule(market, ORDER, twap_seed(market, ORDER), "impact"))
    arrival = metrics_agent["arrival_price"]
    advantage = (metrics_twap["avg_price"] - metrics_agent["avg_price"]) / arrival * 1e4  # a buy: cheaper is better
    penalty = spec.pace_penalty_bps * (ORDER.lots * squares / ORDER.lots**2 - 1)  # spread over 20 intervals
    np.testing.assert_allclose(total, advantage - penalty, rtol=1e-9, atol=1e-9)
    assert (lots.sum(axis=1) <= ORDER.lots).all() and (penalty > -1e-9).any()


def test_waiting_leaves_everything_to_the_forced_order_at_the_horizon(market):
    batch = pace_batch(market)
    lots = rollout_lots(ConstantPolicy(0), batch, ORDER.intervals)
    assert (lots == 0).all()  # multiplier 0 throughout: nothing sent by a decision
    assert (batch.done_lots == ORDER.lots).all() and not batch.live().any()


def test_every_plan_sums_to_the_order_in_whole_lots_by_the_horizon(market):
    for action in range(len(PaceSpec().multipliers)):
        batch = pace_batch(market)
        lots = rollout_lots(ConstantPolicy(action), batch, ORDER.intervals)
        forced = ORDER.lots - lots.sum(axis=1)
        assert (lots >= 0).all() and (forced >= 0).all() and (batch.done_lots == ORDER.lots).all()
    fast = rollout_lots(ConstantPolicy(5), pace_batch(market), ORDER.intervals)  # 3x the pace: done early
    assert (fast[:, -10:] == 0).all()


def test_the_state_is_scale_free_and_mirrors_the_side(market):
    scaled = dataclasses.replace(
        market,
        close=market.close * 7.0,
        high=market.high * 7.0,
        low=market.low * 7.0,
        open_price=market.open_price * 7.0,
        volume=market.volume * 3.0,
        volume_profile=market.volume_profile * 3.0,
        avg_volume_1m=market.avg_volume_1m * 3.0,
    )
    big = dataclasses.replace(ORDER, quantity=30_000, lot_size=1_500)  # 3x the shares, same 20 lots
    a, b = pace_batch(market), pace_batch(scaled, big)
    days = np.arange(market.n_days)
    for batch in (a, b):
        batch.begin(days, days)
    np.testing.assert_allclose(a.observe(), b.observe(), rtol=1e-5, atol=1e-6)
    sell = pace_batch(market, dataclasses.replace(ORDER, side="sell"))
    sell.begin(days, days)
    price_features = [PACE_FEATURES.index(n) for n in ("ret_1m", "ret_5m", "ret_15m", "dev_15m", "vs_arrival")]
    np.testing.assert_allclose(sell.observe()[:, price_features], -a.observe()[:, price_features], atol=1e-6)


def test_no_pace_state_value_uses_a_bar_at_or_after_the_decision_minute(market):
    k = 7
    j = 15 + 2 * k  # the minute of decision k (09:30 start, 2-minute intervals)
    changed = dataclasses.replace(market, close=market.close.copy(), volume=market.volume.copy())
    changed.close[:, j:] *= 1.05
    changed.volume[:, j:] *= 9.0
    states = []
    for bars in (market, changed):
        batch = pace_batch(bars)
        days = np.arange(market.n_days)
        batch.begin(days, days)
        for _ in range(k):
            batch.step(np.full(market.n_days, TWAP))
        states.append(batch.observe())
    np.testing.assert_allclose(states[1], states[0], rtol=1e-6)
    batch = pace_batch(changed)  # the check can fail: the next decision sees the changed bar
    batch.begin(np.arange(market.n_days), np.arange(market.n_days))
    for _ in range(k + 1):
        batch.step(np.full(market.n_days, TWAP))
    assert not np.allclose(batch.observe()[:, 0], states[0][:, 0])


def test_episodes_of_one_batch_can_execute_different_orders(market):
    batch = pace_batch(market)
    slots = np.array([0, 1])
    orders = PaceOrders(
        side=np.array([1, -1]),
        lots=np.array([7300, 2000]),
        lot_size=np.array([1, 1]),
        start=np.array([225, 45]),  # 13:00 and 10:00
        interval=np.array([2, 2]),
        intervals=np.array([30, 15]),
    )
    batch.begin(slots, np.array([0, 1]), orders)
    live_slots = np.zeros(market.n_days, dtype=bool)
    live_slots[slots] = True
    sent = np.zeros(2, dtype=np.int64)
    while (batch.live() & live_slots).any():
        step = batch.step(np.full(market.n_days, TWAP))
        sent += step.lots[slots]
    np.testing.assert_array_equal(sent, [7300, 2000])
    np.testing.assert_array_equal(batch.k[slots], [30, 15])


def test_the_pace_mdp_passes_gymnasiums_check_and_plays_one_episode(market):
    env = SingleEpisodeEnv(PaceBatch(market, ORDER, 1, fill="impact"), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)
    obs, info = env.reset(options={"day_index": 2})
    assert obs.shape == (len(PACE_FEATURES),) and info == {"day_index": 2}
    assert obs[PACE_FEATURES.index("inventory_left")] == 1.0 and obs[PACE_FEATURES.index("time_left")] == 1.0
    steps = 0
    done = False
    while not done:
        obs, _, done, _, _ = env.step(TWAP)
        steps += 1
    last_lot = np.flatnonzero(twap_seed(market, ORDER)[2])[-1]  # the episode ends with the last lot
    assert steps == last_lot + 1 and obs[PACE_FEATURES.index("inventory_left")] == 0.0


def test_the_tracking_risk_charges_a_deviation_from_the_twap_holdings_when_it_is_taken(market):
    days = np.arange(market.n_days)

    def first_step(action: int, tracking: float) -> np.ndarray:
        batch = pace_batch(market, spec=PaceSpec(pace_penalty_bps=0.0, tracking_aversion=tracking), fill="seed")
        batch.begin(days, days)
        return batch.step(np.full(market.n_days, action)).reward

    risk = {name: first_step(a, 0.0) - first_step(a, 0.05) for name, a in (("twap", TWAP), ("wait", 0), ("rush", 5))}
    np.testing.assert_allclose(risk["twap"], 0.0, atol=1e-12)  # on the TWAP's holdings: no risk added
    # waiting: one lot behind the TWAP's 1 of 20 lots after the first decision, held over one interval
    expected = 0.05 * (1 / 20) ** 2 * (1e4 * market.sigma_1m) ** 2 * ORDER.interval_min
    np.testing.assert_allclose(risk["wait"], expected, rtol=1e-9)
    np.testing.assert_allclose(first_step(0, 0.0), 0.0)  # nothing filled: no advantage term either
    assert (risk["rush"] > risk["wait"]).all()  # 3x the pace: 2 lots ahead, four times the risk
