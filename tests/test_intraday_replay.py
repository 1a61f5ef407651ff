"""Intraday execution on a replayed day equals the backtester's replay of the same policy, and sees no bar early."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from intraday_support import (
    DAY,
    TRAIN,
    backtest_of,
    clear_intraday,
    executed_of,
    fresh_world,
    promote,
    with_fill,
)

from execution.db import connect
from execution.models.retrain import retrain
from execution.models.universal import retrain_universal
from execution.report.daily import render_daily_report
from execution.trading.decisions import DecisionBatch, OrderStrategy
from execution.trading.intraday import ExecuteOptions, execute_day
from execution.trading.live_market import LiveMarket, LookAhead
from execution.trading.orders import add_order
from execution.trading.schedules import planned_times

RTOL = 1e-9


@pytest.fixture(scope="module")
def world():
    """RELIANCE and SAIL published Dec 2019 - Jan 2020; a pace-MDP PPO (the universal champion) and a seed-MDP DQN."""
    settings = fresh_world(("RELIANCE", "SAIL"))
    pace = retrain_universal(settings, ["RELIANCE"], "ppo", *TRAIN, episodes=8, seed=1)["model_id"]
    promote(settings, pace)
    seed = retrain(settings, "RELIANCE", "dqn_sl", *TRAIN, episodes=2, seed=1, mdp="seed")["model_id"]
    return settings, pace, seed


@pytest.fixture
def db(world):
    """A connection; the day's orders and executions are forgotten before the test."""
    settings = world[0]
    conn = connect(settings)
    clear_intraday(conn, orders=True)
    yield conn
    conn.rollback()
    conn.close()


def test_replay_equals_the_backtest_for_both_mdps_both_sides_and_both_fills(world, db):
    settings, pace, seed = world
    cases = []  # (order, symbol, the backtester's strategy)
    for side in ("buy", "sell"):
        for strategy, start in ((f"model:{pace}", "09:30"), (f"model:{seed}", "10:00")):
            order, _ = add_order(db, DAY, "RELIANCE", side, 10_000, 500, start, 100, 50, strategy)
            cases.append((order, strategy))
    champion, _ = add_order(db, DAY, "SAIL", "buy", 10_000, 500, "09:30", 100, 50)  # no override: the champion
    cases.append((champion, "champion"))
    db.commit()
    for fill in ("seed", "impact"):
        clear_intraday(db)
        summaries = execute_day(with_fill(settings, fill), ExecuteOptions(DAY, replay=True))
        assert [s["status"] for s in summaries] == ["done"] * len(cases)
        for order, strategy in cases:
            params = order.params(settings.order)
            qty, avg, indexes = executed_of(db, order.id, order.intervals)
            expected_qty, expected_avg = backtest_of(settings, db, order.symbol, params, strategy, fill)
            np.testing.assert_array_equal(qty, expected_qty, err_msg=f"{order.describe()} {fill}")
            assert abs(avg - expected_avg) <= RTOL * expected_avg, (order.describe(), fill, avg, expected_avg)
            assert len(indexes) == len(set(indexes))
    policies = {s["strategy"] for s in summaries}
    assert policies == {"champion", f"model:{pace}", f"model:{seed}"}


def test_a_state_that_would_read_a_bar_not_yet_closed_is_refused(world, db):
    settings, pace, _ = world
    from execution.models.champion import model_policy

    order, _ = add_order(db, DAY, "RELIANCE", "buy", 10_000, 500, "09:30", 100, 50)
    params = order.params(settings.order)
    _, policy = model_policy(db, settings, pace, params)
    live = LiveMarket(db, "RELIANCE", DAY, params)
    from execution.data.live import ReplayBars

    decision_time = planned_times(DAY, params)[3]  # decision 3 at 09:36, session minute 21
    today = ReplayBars(settings).bars_so_far("RELIANCE", DAY, decision_time)
    assert live.visible_minutes(today) == 21  # bars 09:15 .. 09:35 have closed, 09:36 has not
    market = live.market(today, 21)
    assert np.isnan(market.close[0, 21:]).all() and np.isfinite(market.close[0, :21]).all()
    batch = DecisionBatch(OrderStrategy("model", "pace", pace, policy), market, params)
    batch.replay([(2, 1), (2, 1), (2, 1)])
    assert batch.decide().k == 3  # the state of decision 3 reads closed bars only
    short = DecisionBatch(OrderStrategy("model", "pace", pace, policy), live.market(today, 20), params)
    short.replay([(2, 1), (2, 1), (2, 1)])
    with pytest.raises(LookAhead, match="decision 3"):
        short.decide()  # with the 09:35 bar unknown, the state of 09:36 cannot be built
    assert (
        ReplayBars(settings).bars_so_far("RELIANCE", DAY, decision_time - timedelta(seconds=1))["ts"].iloc[-1].minute
        == 34
    )  # 09:35 closes at 09:36:00, not before


def test_the_daily_report_has_a_section_per_executed_order(world, db, tmp_path):
    settings = world[0]
    order, _ = add_order(db, DAY, "SAIL", "sell", 10_000, 500, "09:30", 100, 50)
    idle, _ = add_order(db, DAY, "SAIL", "buy", 5_000, 500, "11:00", 20, 10)  # never executed: no section
    db.commit()
    execute_day(settings, ExecuteOptions(DAY, order_ids=(order.id,), replay=True))
    path = render_daily_report(settings, DAY, tmp_path, strict=False)
    import json

    payload = json.loads(path.with_suffix(".json").read_text())
    sections = payload["executed_intraday"]
    assert [s["order"]["id"] for s in sections] == [order.id] and idle.id != order.id
    section = sections[0]
    _, avg, _ = executed_of(db, order.id, order.intervals)
    assert section["metrics"]["executed"]["avg_price"] == pytest.approx(avg, rel=1e-12)
    assert {"executed", "planned", "twap_seed"} == set(section["metrics"])
    assert section["metrics"]["twap_seed"]["advantage_bps"] == 0.0
    assert sum(c["sent_qty"] for c in section["children"]) == 10_000
    html = path.read_text()
    assert f"Executed intraday — order #{order.id} SAIL sell" in html
    assert html.count('data-chart="executed"') == 1 and "executed fills" in html


def test_live_bars_from_a_landing_folder_are_the_closed_minutes_only(tmp_path):
    from datetime import datetime

    from execution.data.exchange_calendar import EXCHANGE_TZ
    from execution.data.sources.landing import LandingSource
    from execution.data.sources.synthetic import SyntheticSource

    bars = SyntheticSource(seed=7).fetch("SAIL", DAY, DAY).bars
    dropped = bars[bars["ts"].dt.strftime("%H:%M") <= "09:21"]  # the vendor's file at 09:21:40
    dropped.assign(ts=dropped["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")).drop(columns=["source"]).to_csv(
        tmp_path / "SAIL.csv", index=False
    )
    now = datetime(2020, 1, 31, 9, 21, 40, tzinfo=EXCHANGE_TZ)
    live = LandingSource(tmp_path).bars_so_far("SAIL", DAY, now)
    assert live["ts"].dt.strftime("%H:%M").tolist() == [f"09:{m}" for m in range(15, 21)]  # 09:21 is still forming
    closed = bars[(bars["ts"].dt.strftime("%H:%M") >= "09:15") & (bars["ts"].dt.strftime("%H:%M") <= "09:20")]
    assert live["close"].tolist() == closed["close"].tolist()
