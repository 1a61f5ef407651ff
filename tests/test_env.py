"""The gymnasium environment and the market arrays it reads (hand-made days, real samples)."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import requires_samples, samples_dir
from gymnasium.utils.env_checker import check_env
from test_fills_rewards import TINY_ORDER, random_market, tiny_market

from execution.config import OrderParams
from execution.data.exchange_calendar import session_minutes
from execution.sim.execution_env import ExecutionEnv
from execution.sim.fills import execute_schedule
from execution.sim.market import from_bars
from execution.sim.rewards import episode_acr, episode_vr

# ------------------------------------------------------------------ gymnasium contract


@pytest.mark.parametrize("reward", ["vr", "acr"])
@pytest.mark.parametrize("fill", ["seed", "impact"])
def test_check_env_passes(reward, fill):
    env = ExecutionEnv(random_market(5), OrderParams(), reward=reward, fill=fill, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no spec" notice: the env is built directly
        check_env(env, skip_render_check=True)
    assert env.action_space.n == 21
    assert env.observation_space.shape == (18,)


def test_spaces_follow_the_order_parameters():
    env = ExecutionEnv(tiny_market(), TINY_ORDER)
    assert env.action_space.n == 4  # 0..V/m = 0..3 lots
    assert env.observation_space.shape == (6,)  # n_history 3 + volume + inventory + time


# ------------------------------------------------------------------ one episode by hand


def test_state_reward_and_forced_order_of_a_tiny_episode():
    env = ExecutionEnv(tiny_market(), TINY_ORDER, reward="vr", fill="seed")
    obs, info = env.reset(seed=1)
    assert info == {"day_index": 0, "day": "2020-01-31"}
    # closes of minutes 12, 13, 14 over the open 100; volume of minute 14 (2000) over 1000
    np.testing.assert_allclose(obs, [0.99, 0.995, 1.0, 2.0, 1.0, 1.0], rtol=1e-6)
    assert obs.dtype == np.float32

    obs, reward, terminated, truncated, info = env.step(1)
    # delta_0 = (100 - 101) / 100 * 1e4 = -100; x = 1/3 -> -100/3 - 100/9 + 0.1
    assert reward == pytest.approx(-100 / 3 - 100 / 9 + 0.1)
    assert info == {"minute": 15, "qty": 500, "price": 101.0}
    np.testing.assert_allclose(obs, [1.0, 1.01, 1.015, 1.0, 2 / 3, 0.75], rtol=1e-6)
    assert not terminated and not truncated

    for expected_time_left in (0.5, 0.25):
        obs, reward, terminated, _, info = env.step(0)
        assert reward == pytest.approx(0.1) and info["qty"] == 0 and not terminated
        assert obs[-1] == pytest.approx(expected_time_left)

    obs, reward, terminated, _, info = env.step(0)
    # last step: +0.1, then the forced 2/3 at the close of minute 23 (103):
    # delta_4 = (98 - 103) / 100 * 1e4 = -500 -> -500 * 2/3 - 100 * 4/9
    assert reward == pytest.approx(0.1 - 1000 / 3 - 400 / 9)
    assert terminated
    assert (info["forced_minute"], info["forced_qty"], info["forced_price"]) == (23, 1000, 103.0)
    np.testing.assert_allclose(obs, [1.0, 0.98, 1.0, 1.0, 0.0, 0.0], rtol=1e-6)
    with pytest.raises(RuntimeError):
        env.step(0)


def test_an_order_beyond_the_inventory_is_cut_and_ends_the_episode():
    env = ExecutionEnv(tiny_market(), TINY_ORDER)
    env.reset()
    env.step(1)
    _, reward, terminated, _, info = env.step(3)
    assert info["qty"] == 1000 and terminated  # two lots left, not three
    # delta_1 = (101 - 99) / 100 * 1e4 = 200; x = 2/3
    assert reward == pytest.approx(200 * 2 / 3 - 100 * 4 / 9 + 0.1)
    with pytest.raises(ValueError):
        env.reset()
        env.step(4)


def test_impact_fill_in_the_environment_by_hand():
    env = ExecutionEnv(tiny_market(), TINY_ORDER, fill="impact", eta=1.0)
    env.reset()
    for _ in range(3):
        env.step(0)
    *_, info = env.step(0)
    # 1500 forced at minute 23: 103 + 0.05 + 100 * 0.001 * sqrt(1500 / 1000)
    assert info["forced_price"] == pytest.approx(103.05 + 0.1 * 1.5**0.5)


# ------------------------------------------------------------------ day sampling


def test_reset_samples_days_with_the_seeded_rng_and_can_be_pinned():
    market = random_market(40)
    a, b = ExecutionEnv(market, seed=11), ExecutionEnv(market, seed=11)
    days_a = [a.reset()[1]["day_index"] for _ in range(30)]
    days_b = [b.reset()[1]["day_index"] for _ in range(30)]
    assert days_a == days_b and len(set(days_a)) > 10
    c = ExecutionEnv(market, seed=12)
    assert [c.reset()[1]["day_index"] for _ in range(30)] != days_a
    assert a.reset(seed=3)[1]["day_index"] == a.reset(seed=3)[1]["day_index"]

    pinned = ExecutionEnv(market, day_index=7)
    assert {pinned.reset()[1]["day_index"] for _ in range(5)} == {7}
    assert pinned.reset(options={"day_index": 2})[1]["day_index"] == 2
    with pytest.raises(ValueError):
        ExecutionEnv(market, day_index=40)


# ------------------------------------------------------------------ environment == vectorised simulator


@pytest.mark.parametrize("fill", ["seed", "impact"])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_stepping_the_environment_matches_the_vectorised_schedule(fill, side):
    market = random_market(8, seed=5)
    order = OrderParams(side=side)
    schedule = np.random.default_rng(2).choice([0, 0, 0, 1, 2], size=(8, order.intervals))
    execution = execute_schedule(market, order, schedule, fill)
    vr, acr = episode_vr(market, order, execution), episode_acr(market, order, execution, 0.002)
    for reward, expected in (("vr", vr), ("acr", acr)):
        env = ExecutionEnv(market, order, reward=reward, fill=fill, risk_aversion=0.002)
        for day in range(8):
            env.reset(options={"day_index": day})
            total, k, terminated = 0.0, 0, False
            while not terminated:
                _, r, terminated, _, info = env.step(schedule[day, k])
                total += r
                if info["qty"]:
                    assert info["price"] == pytest.approx(execution.price[day, k])
                assert info["qty"] == execution.qty[day, k]
                k += 1
            assert k == execution.steps[day]
            assert info.get("forced_qty", 0) == execution.qty[day, -1]
            assert total == pytest.approx(expected[day], rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------ no look-ahead


def _states(market, order, actions):
    env = ExecutionEnv(market, order, day_index=0)
    states = [env.reset()[0]]
    for a in actions:
        states.append(env.step(a)[0])
    return states


def test_no_state_value_uses_a_bar_at_or_after_the_decision_minute():
    order = OrderParams()
    base = random_market(1, seed=9)
    actions = [0, 1, 0, 0, 2, 0, 1, 0, 0, 0, 1]
    rng = np.random.default_rng(0)
    for k in (0, 3, 10):
        decision_minute = 15 + 2 * k
        changed = {name: getattr(base, name).copy() for name in ("close", "high", "low", "volume")}
        for values in changed.values():
            values[0, decision_minute:] *= rng.uniform(0.5, 1.5, 375 - decision_minute)
        mutated = dataclasses.replace(base, **changed)
        before = _states(base, order, actions[:k])[k]
        after = _states(mutated, order, actions[:k])[k]
        np.testing.assert_array_equal(before, after)
        # the bar just before the decision is in the state: changing it does show
        changed["close"][0, decision_minute - 1] *= 1.01
        changed["volume"][0, decision_minute - 1] += 100
        seen = _states(dataclasses.replace(base, **changed), order, actions[:k])[k]
        assert not np.array_equal(before, seen)


# ------------------------------------------------------------------ market arrays from bars


def _frame(days: list[date], closes: list[np.ndarray], volumes: list[float], symbol: str = "TEST") -> pd.DataFrame:
    parts = []
    for day, close, volume in zip(days, closes, volumes, strict=True):
        parts.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": session_minutes(day),
                    "open": close,
                    "high": close + 0.05,
                    "low": close - 0.05,
                    "close": close,
                    "volume": volume,
                    "source": "test",
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


DAYS = [date(2020, 1, 6), date(2020, 1, 7), date(2020, 1, 8)]


def _alternating(high: float) -> np.ndarray:
    return np.where(np.arange(375) % 2 == 0, 100.0, high)


def test_trailing_statistics_use_previous_days_only():
    frame = _frame(DAYS, [_alternating(101.0), _alternating(102.0), _alternating(101.0)], [1000.0, 3000.0, 5000.0])
    market = from_bars(frame, OrderParams())
    assert market.n_days == 3 and market.dropped_days == ()
    # day 1 has no history: its own 15 bars before 09:30; day 2: day 1; day 3: days 1 and 2
    np.testing.assert_allclose(market.avg_volume_1m, [1000.0, 1000.0, 2000.0])
    np.testing.assert_allclose(market.volume_profile[2], 2000.0)
    r1, r2 = np.log(1.01), np.log(1.02)  # every 1-minute log return is +-r
    np.testing.assert_allclose(market.sigma_1m, [r1, r1, np.sqrt((r1**2 + r2**2) / 2)])
    assert (market.half_spread >= 0.025 / 102).all()  # at least half a 0.05 tick
    np.testing.assert_allclose(market.open_price, [100.0, 100.0, 100.0])

    # changing the last day changes nothing about the earlier days
    other = _frame(DAYS, [_alternating(101.0), _alternating(102.0), _alternating(110.0)], [1000.0, 3000.0, 9.0])
    changed = from_bars(other, OrderParams())
    for name in ("avg_volume_1m", "sigma_1m", "half_spread"):
        np.testing.assert_array_equal(getattr(changed, name), getattr(market, name))


def test_missing_minutes_drop_a_day_only_inside_the_episode_span():
    frame = _frame(DAYS, [_alternating(101.0)] * 3, [1000.0, 3000.0, 5000.0])
    stamps = frame["ts"].dt.tz_localize(None)
    hole_in_span = stamps == pd.Timestamp("2020-01-07 09:40")  # minute 25, inside 0..115
    hole_later = stamps == pd.Timestamp("2020-01-08 12:35")  # minute 200
    market = from_bars(frame[~(hole_in_span | hole_later)], OrderParams())
    assert [str(d) for d in market.days] == ["2020-01-06", "2020-01-08"]
    assert market.dropped_days[0][0] == date(2020, 1, 7) and "missing" in market.dropped_days[0][1]
    assert market.missing_minutes.tolist() == [0, 1]
    assert market.volume[1, 200] == 0.0 and market.close[1, 200] == market.close[1, 199]
    # the dropped day's present bars still count as history, its filled minute does not:
    # (375 * 1000 + 374 * 3000) / 749 for the third day
    assert market.avg_volume_1m[1] == pytest.approx((375 * 1000 + 374 * 3000) / 749, rel=1e-12)


def test_first_day_keeps_earlier_days_as_history_only():
    frame = _frame(DAYS, [_alternating(101.0)] * 3, [1000.0, 3000.0, 5000.0])
    market = from_bars(frame, OrderParams(), first_day=date(2020, 1, 8))
    assert [str(d) for d in market.days] == ["2020-01-08"]
    assert market.avg_volume_1m[0] == pytest.approx(2000.0)


@requires_samples
def test_real_reliance_samples():
    raw = pd.read_csv(samples_dir() / "RELIANCE.csv")
    frame = raw.assign(ts=pd.to_datetime(raw["timestamp"]).dt.tz_localize("Asia/Kolkata"), source="sample")
    market = from_bars(frame, OrderParams())
    dropped = dict(market.dropped_days)
    assert list(dropped) == [date(2021, 7, 12)]  # starts at 13:24: no morning
    assert market.n_days == 23
    holey = market.days.astype(object).tolist().index(date(2021, 7, 23))
    assert market.missing_minutes[holey] == 41  # 11:33-13:28, after the episode: kept
    # about 4.8 million shares a day -> ~13,000 a minute; spreads and volatility of a liquid stock
    assert 5_000 < np.median(market.avg_volume_1m) < 30_000
    assert (market.half_spread * 1e4 < 5).all() and (market.sigma_1m * 1e4 < 20).all()
    check_env_market = ExecutionEnv(market, OrderParams(), fill="impact", seed=0)
    obs, _ = check_env_market.reset()
    assert obs in check_env_market.observation_space
