"""One policy for every order and every symbol: the envelope, order sets, universal training and planning."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest
from test_report import ingested

from execution.config import OrderParams
from execution.data.sources.synthetic import PLANTED_STRENGTH, SyntheticSource
from execution.models import registry
from execution.models.order_backtest import order_set_backtest
from execution.models.universal import retrain_universal
from execution.sim.envelope import SESSION_MINUTES, OrderEnvelope
from execution.sim.market import MarketData, from_bars
from execution.sim.order_set import TWAP, draw_order_set, evaluate, summarize_order_set
from execution.sim.pace import PaceBatch, PaceSpec
from execution.trading.orders import add_order
from execution.trading.schedules import load_schedules, write_schedules

PLAN_DAY = date(2020, 2, 3)
HISTORY = (date(2019, 11, 1), date(2020, 1, 31))


class Pace:
    """The same pace action at every decision (index into the multipliers)."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.full(len(observation), self.action), state


@pytest.fixture(scope="module")
def markets() -> list[MarketData]:
    """Two months of RELIANCE and SAIL (with trailing history)."""
    out = []
    for symbol in ("RELIANCE", "SAIL"):
        bars = SyntheticSource(seed=7).fetch(symbol, date(2019, 10, 1), date(2019, 12, 31)).bars
        out.append(from_bars(bars, OrderParams(), first_day=date(2019, 11, 1)))
    return out


# ------------------------------------------------------------------ the envelope


def test_orders_drawn_from_the_envelope_stay_inside_it_and_the_session(markets):
    envelope = OrderEnvelope()
    market = markets[1]
    days = np.repeat(np.arange(market.n_days), 50)
    orders = envelope.sample(np.random.default_rng(0), market, days)
    pct = 100 * orders.lots * orders.lot_size / (market.avg_volume_1m[days] * SESSION_MINUTES)
    assert pct.min() >= envelope.size_pct_adv[0] * 0.99 and pct.max() <= envelope.size_pct_adv[1] * 1.01
    assert pct.min() < 0.02 and pct.max() > 1.0  # the whole log-uniform range is drawn
    horizon = orders.intervals * orders.interval
    assert horizon.min() >= 20 and horizon.max() <= 180 and set(orders.interval) == {2}
    assert orders.start.min() >= 1 and (orders.start + horizon).max() <= 374  # the forced order's bar exists
    assert set(orders.side) == {1, -1} and set(orders.lot_size) == {1}


def test_an_order_outside_the_envelope_is_named_why():
    envelope = OrderEnvelope()
    order = OrderParams(quantity=7300, lot_size=100, start_time="13:00", horizon_min=60, intervals=30, side="sell")
    assert envelope.reason_outside(order, adv_shares=10e6) is None
    assert "horizon 240 min" in envelope.reason_outside(
        dataclasses.replace(order, horizon_min=240, intervals=120), 10e6
    )
    assert "of ADV outside" in envelope.reason_outside(order, adv_shares=50_000)  # 14.6 % of a thin day
    buys_only = OrderEnvelope(sides=("buy",))
    assert "buy orders only, not a sell" in buys_only.reason_outside(order, 10e6)
    seed_shape = OrderEnvelope.of_order(OrderParams())
    assert seed_shape.reason_outside(OrderParams(), None) is None
    assert "one order shape only" in seed_shape.reason_outside(dataclasses.replace(OrderParams(), quantity=5000), None)
    assert OrderEnvelope.from_json(envelope.as_json()) == envelope


# ------------------------------------------------------------------ order sets


def test_an_order_set_compares_each_order_with_its_own_twap(markets):
    order_set = draw_order_set(markets, OrderEnvelope(), per_day=3, seed=1)
    twap_pace = PaceSpec().twap_action
    frame = evaluate(order_set, {TWAP: TWAP, "pace1": Pace(twap_pace), "wait": Pace(0)}, ("seed", "impact"))
    assert len(frame) == 3 * 2 * sum(m.n_days for m in markets) * 3
    by = frame.set_index(["strategy", "fill"])
    np.testing.assert_allclose(by.loc[(TWAP, "impact"), "advantage_bps"], 0.0)
    np.testing.assert_allclose(by.loc[("pace1", "impact"), "advantage_bps"], 0.0, atol=1e-9)  # pace 1 = TWAP
    waited = by.loc[("wait", "impact")]
    assert (waited["child_orders"] == 1).all()  # everything in the forced order at the horizon
    assert waited["advantage_bps"].mean() < -1.0  # one big child pays the square-root impact
    summary = summarize_order_set(frame)
    wait_all = summary[(summary.strategy == "wait") & (summary.fill == "impact") & (summary.by == "all")].iloc[0]
    assert wait_all.advantage_ci95_high_bps < 0 and wait_all.orders == len(waited)
    buckets = summary[(summary.strategy == "wait") & (summary.fill == "impact") & (summary.by == "size % ADV")]
    big = buckets.set_index("group")["advantage_mean_bps"]
    assert big.iloc[-1] < big.iloc[0]  # larger orders lose more when sent at once


# ------------------------------------------------------------------ universal training and planning


@pytest.fixture
def two_symbols(conn, settings):
    """RELIANCE and SAIL published for Nov 2019 .. Jan 2020."""
    both = settings.with_overrides(symbols=("RELIANCE", "SAIL"))
    ingested(conn, both, ("RELIANCE", "SAIL"), *HISTORY)
    return both


def test_one_universal_model_plans_a_sell_and_a_buy_of_other_shapes(conn, two_symbols):
    summary = retrain_universal(
        two_symbols, ["RELIANCE", "SAIL"], "ppo", date(2019, 11, 1), date(2019, 12, 31), episodes=40, seed=1
    )
    model = registry.get(conn, summary["model_id"])
    assert (model.symbol, model.symbols, model.mdp) == ("*", ["RELIANCE", "SAIL"], "pace")
    assert model.envelope["sides"] == ["buy", "sell"] and summary["validation"]["orders"] > 0
    registry.promote(conn, model.model_id, "test: the universal champion")
    conn.commit()
    sell, _ = add_order(conn, PLAN_DAY, "RELIANCE", "sell", 7300, 100, "13:00", 60, 30)
    buy, _ = add_order(conn, PLAN_DAY, "SAIL", "buy", 2000, 1, "10:00", 30, 15)
    outside, _ = add_order(conn, PLAN_DAY, "SAIL", "sell", 20_000, 1, "09:30", 240, 120)  # 4 h: outside
    conn.commit()
    write_schedules(two_symbols, PLAN_DAY)
    rows = load_schedules(conn, PLAN_DAY)
    primary = rows[rows["is_primary"]]
    for order in (sell, buy):
        plan = primary[primary["order_id"] == order.id]
        assert plan["planned_qty"].sum() == order.quantity and (plan["planned_lots"] >= 0).all()
        assert (plan["model_id"] == model.model_id).all() and set(plan["strategy"]) == {"champion"}
    far = primary[primary["order_id"] == outside.id]
    assert far["planned_qty"].sum() == 20_000 and far["model_id"].isna().all()  # TWAP, not the model
    assert "horizon 240 min outside" in far["note"].iloc[0]
    events = [e for e in registry.events(conn, "SAIL") if e["event"] == "outside_envelope"]
    assert events and "240 min" in events[0]["reason"]


def test_order_set_backtest_of_the_champion_by_size_and_side(conn, two_symbols):
    summary = retrain_universal(
        two_symbols, ["RELIANCE", "SAIL"], "a3c_sl", date(2019, 11, 1), date(2019, 12, 31), episodes=40, seed=2
    )
    registry.promote(conn, summary["model_id"], "test")
    conn.commit()
    result = order_set_backtest(
        two_symbols, ["RELIANCE", "SAIL"], date(2020, 1, 1), date(2020, 1, 31), ["champion"], ("impact",), per_day=2
    )
    table = result["summary"]
    assert set(table["strategy"]) == {"champion", TWAP}
    assert {"all", "size % ADV", "side"} <= set(table["by"])
    assert set(table[table.by == "side"]["group"]) == {"buy", "sell"}
    orders = pd.DataFrame(
        [
            {"symbol": "RELIANCE", "day": "2020-01-30", "side": "sell", "quantity": 7300, "lot_size": 100,
             "start_time": "13:00", "horizon_min": 60, "intervals": 30},
        ]
    )  # fmt: skip
    one = order_set_backtest(
        two_symbols, ["RELIANCE"], date(2020, 1, 1), date(2020, 1, 31), ["champion"], ("impact",), orders=orders
    )
    assert len(one["per_order"]) == 2  # the champion and the order's TWAP, one order


# ------------------------------------------------------------------ the side


@pytest.fixture(scope="module")
def reverting_policy():
    """A universal A3C-SL trained on two months of both symbols with the planted (mean-reverting) component."""
    from execution.agents.training import train_agent

    source = SyntheticSource(seed=7, planted_strength=PLANTED_STRENGTH, intraday_martingale=True)
    markets = [
        from_bars(
            source.fetch(s, date(2019, 9, 1), date(2019, 12, 31)).bars, OrderParams(), first_day=date(2019, 10, 1)
        )
        for s in ("RELIANCE", "SAIL")
    ]
    run = train_agent(
        "a3c_sl", MarketData.concat(markets), OrderParams(), episodes=6000, seed=1, mdp="pace", envelope=OrderEnvelope()
    )
    return run.model


def trending_day(slope_per_min: float, day: date = date(2020, 1, 31)) -> pd.DataFrame:
    """A session whose price moves by the same share every minute (up or down), on 21 flat days of history."""
    days = pd.bdate_range(end=day, periods=22)
    frames = []
    for i, d in enumerate(days):
        ts = pd.date_range(f"{d.date()} 09:15", periods=375, freq="min", tz="Asia/Kolkata")
        drift = slope_per_min if i == len(days) - 1 else 0.0
        noise = np.random.default_rng(i).normal(0, 4e-4, 375) if i < len(days) - 1 else 0.0
        close = 1000.0 * np.exp(drift * np.arange(375) + np.cumsum(noise))
        opens = np.r_[close[0], close[:-1]]
        frames.append(
            pd.DataFrame(
                {"symbol": "TREND", "ts": ts, "open": opens, "high": np.maximum(opens, close) * 1.0002,
                 "low": np.minimum(opens, close) * 0.9998, "close": close, "volume": 50_000.0, "source": "test"}
            )
        )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def sold_by_half_time(policy, slope: float, side: str) -> float:
    """Share of a 60-minute order done after its first 15 decisions, on a day trending by ``slope`` a minute."""
    order = OrderParams(quantity=60_000, lot_size=1, start_time="11:00", horizon_min=60, intervals=30, side=side)
    market = from_bars(trending_day(slope), order, first_day=date(2020, 1, 31))
    batch = PaceBatch(market, order, 1)
    batch.begin(np.array([0]), np.array([0]))
    for _ in range(15):
        actions, _ = policy.predict(batch.observe(), deterministic=True)
        batch.step(actions)
    return float(batch.done_lots[0] / order.lots)


def test_a_sell_order_is_worked_faster_on_a_rising_day_than_on_a_falling_one(reverting_policy):
    """The state multiplies price moves by the side: a mean-reverting seller sells into a rise, waits out a fall."""
    rising, falling = (
        sold_by_half_time(reverting_policy, 3e-4, "sell"),
        sold_by_half_time(reverting_policy, -3e-4, "sell"),
    )
    assert rising > falling + 0.05
    # and a buyer does the mirror image: what the seller does on a rising day, the buyer does on a falling one
    assert sold_by_half_time(reverting_policy, -3e-4, "buy") == pytest.approx(rising, abs=1e-9)
