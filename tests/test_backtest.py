"""The backtester: per-day metrics by hand, aggregates, policies, storage and the CLI."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from test_fills_rewards import TINY_ORDER, random_market, tiny_market

from execution.config import OrderParams
from execution.sim.backtest import (
    BacktestResult,
    load_results,
    run_backtest,
    run_strategies,
    store_results,
)
from execution.sim.baselines import BASELINES
from execution.sim.execution_env import ExecutionEnv
from execution.sim.market import from_bars
from execution.sim.metrics import bootstrap_mean_ci, gain_loss_ratio, summarize
from execution.sim.policy import policy_schedule, policy_strategy
from execution.sim.strategies import resolve_strategy

SIX = list(BASELINES)


def _row(frame: pd.DataFrame, strategy: str) -> dict:
    return frame[frame["strategy"] == strategy].iloc[0].to_dict()


# ------------------------------------------------------------------ per-day metrics by hand


def test_per_day_metrics_of_the_tiny_day():
    wait = ("wait", lambda market, order, fill, **_: np.zeros((market.n_days, order.intervals), dtype=int))
    frame = run_strategies([tiny_market()], TINY_ORDER, [*SIX, wait], fills=["seed"])
    twap = _row(frame, "twap_seed")
    # lots at 101, 99, 102: avg 100.6667 against the arrival close 100 -> +66.67 bps
    assert twap["avg_price"] == pytest.approx(302 / 3)
    assert twap["arrival_price"] == 100.0
    assert twap["shortfall_bps"] == pytest.approx(200 / 3)
    assert twap["advantage_bps"] == 0.0
    assert (twap["child_orders"], twap["completion_min"]) == (3, 5)  # last fill at the close of minute 19
    assert twap["peak_participation"] == pytest.approx(0.5)  # 500 of 1000 shares
    # interval VWAP of minutes 15..19 (equal volumes, typical price = close): 100.7
    assert twap["vwap_slippage_bps"] == pytest.approx((302 / 3 - 100.7) / 100.7 * 1e4)
    assert twap["reward_vr"] == pytest.approx(-200 / 3 - 100 / 3 + 0.3)

    even = _row(frame, "twap_even")  # 101, 99, 98 -> avg 99.3333: -66.67 bps, 133.33 better than TWAP
    assert even["shortfall_bps"] == pytest.approx(-200 / 3)
    assert even["advantage_bps"] == pytest.approx(400 / 3)

    best = _row(frame, "oracle")  # all at 98: -200 bps; the TWAP->oracle gap is 266.67 bps every row
    assert best["shortfall_bps"] == pytest.approx(-200.0)
    np.testing.assert_allclose(frame["oracle_gap_bps"], 800 / 3)

    now = _row(frame, "immediate")
    assert (now["child_orders"], now["completion_min"], now["peak_participation"]) == (1, 1, 1.5)

    late = _row(frame, "wait")  # nothing sent: the forced order at minute 23 (103)
    assert (late["avg_price"], late["child_orders"], late["completion_min"]) == (103.0, 1, 9)


def test_a_sell_shortfall_is_positive_when_it_receives_less_than_arrival():
    frame = run_strategies([tiny_market()], OrderParams(**{**TINY_ORDER.__dict__, "side": "sell"}), SIX, ["seed"])
    assert _row(frame, "immediate")["shortfall_bps"] == pytest.approx(-100.0)  # sold at 101 > 100: a gain
    assert _row(frame, "twap_even")["shortfall_bps"] == pytest.approx(200 / 3)  # sold at 99.33 on average
    assert _row(frame, "oracle")["avg_price"] == 103.0  # a seller waits for the forced 103


# ------------------------------------------------------------------ aggregates


def test_summary_aggregates_by_hand():
    per_day = pd.DataFrame(
        {
            "symbol": "X",
            "day": ["d1", "d2", "d3", "d4"],
            "strategy": "s",
            "fill": "seed",
            "shortfall_bps": [1.0, 2.0, 3.0, 10.0],
            "advantage_bps": [2.0, -1.0, 4.0, -3.0],
            "oracle_gap_bps": 10.0,
            "vwap_slippage_bps": 0.0,
            "child_orders": 20,
            "completion_min": 39,
            "peak_participation": 0.1,
            "reward_vr": -3.0,
        }
    )
    row = summarize(per_day, n_resamples=500, seed=1).iloc[0]
    assert row["shortfall_mean_bps"] == 4.0 and row["shortfall_median_bps"] == 2.5
    assert row["advantage_mean_bps"] == 0.5 and row["share_beating_twap"] == 0.5
    assert row["gain_loss_ratio"] == pytest.approx(1.5)  # mean gain 3 / mean loss 2
    assert row["oracle_gap_captured"] == pytest.approx(0.05)  # 0.5 of a 10 bps gap
    assert row["advantage_std_bps"] == pytest.approx(np.std([2, -1, 4, -3], ddof=1))
    assert row["advantage_ci95_low_bps"] <= 0.5 <= row["advantage_ci95_high_bps"]
    assert row["advantage_ci95_low_bps"] >= -3.0 and row["advantage_ci95_high_bps"] <= 4.0


def test_bootstrap_is_seeded_and_gain_loss_handles_one_sided_days():
    values = np.random.default_rng(0).normal(1.0, 2.0, 300)
    assert bootstrap_mean_ci(values, seed=4) == bootstrap_mean_ci(values, seed=4)
    low, high = bootstrap_mean_ci(values, seed=4)
    # about mean +- 1.96 * 2 / sqrt(300) = +-0.23
    assert low < values.mean() < high and 0.3 < high - low < 0.6
    assert bootstrap_mean_ci(np.full(10, 2.0)) == (2.0, 2.0)
    assert np.isnan(gain_loss_ratio(np.array([1.0, 2.0])))


def test_backtest_over_several_symbols_adds_an_all_row():
    markets = [random_market(15, seed=1), dataclasses.replace(random_market(10, seed=2), symbol="OTHER")]
    result = run_backtest(markets, OrderParams(), SIX, n_resamples=200)
    assert len(result.per_day) == 25 * 6 * 2
    summary = result.summary.set_index(["symbol", "strategy", "fill"])
    assert summary.loc[("ALL", "twap_seed", "seed"), "days"] == 25
    assert summary.loc[("ALL", "oracle", "impact"), "oracle_gap_captured"] == pytest.approx(1.0)
    assert (result.per_day.query("strategy == 'twap_seed'")["advantage_bps"] == 0).all()
    assert (result.per_day.query("strategy == 'oracle'")["advantage_bps"] >= -1e-9).all()
    assert result.run_id == run_backtest(markets, OrderParams(), SIX, n_resamples=200).run_id


@pytest.mark.parametrize("eta", [0.3, 10.0])
def test_every_strategy_gets_the_backtest_impact_coefficient(eta):
    """The oracle must optimise under the very fill it is scored with, whatever eta is."""
    frame = run_strategies([random_market(12, seed=4)], OrderParams(), SIX, ["impact"], eta=eta)
    assert (frame.query("strategy == 'oracle'")["advantage_bps"] >= -1e-9).all()
    best = frame[frame["strategy"] == "oracle"]["shortfall_bps"].to_numpy()
    for name in SIX:
        assert (best <= frame[frame["strategy"] == name]["shortfall_bps"].to_numpy() + 1e-9).all()


def test_on_synthetic_2020_impact_makes_immediate_the_dearest_and_oracle_the_cheapest():
    from execution.data.sources import synthetic

    order = OrderParams()
    markets = [
        from_bars(
            synthetic.SyntheticSource(seed=7).fetch(s, date(2019, 11, 25), date(2020, 12, 31)).bars,
            order,
            date(2020, 1, 1),
        )
        for s in ("RELIANCE", "SAIL")
    ]
    result = run_backtest(markets, order, SIX, fills=["impact"], n_resamples=100)
    mean = result.per_day.groupby("strategy")["shortfall_bps"].mean()
    assert mean.idxmax() == "immediate" and mean.idxmin() == "oracle"
    assert mean["immediate"] > mean.drop(["immediate", "oracle"]).max() + 3.0  # bps: clearly


# ------------------------------------------------------------------ policies and the registry


class TimeRulePolicy:
    """Nothing until half the time is gone, then 3 lots a decision (batched, like SB3's predict)."""

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        obs = np.asarray(observation)
        return np.where(obs[..., -1] <= 0.5, 3, 0), state


def test_policy_schedule_matches_stepping_the_environment():
    market, order, policy = random_market(6, seed=8), OrderParams(), TimeRulePolicy()
    lots = policy_schedule(policy, market, order, "seed")
    env = ExecutionEnv(market, order)
    for day in range(6):
        obs, _ = env.reset(options={"day_index": day})
        stepped, terminated = [], False
        while not terminated:
            action, _ = policy.predict(obs[None], deterministic=True)
            obs, _, terminated, _, info = env.step(int(action[0]))
            stepped.append(info["qty"] // order.lot_size)
        assert lots[day, : len(stepped)].tolist() == stepped
        assert lots[day].sum() == order.lots
    assert (lots[:, :25] == 0).all() and (lots[:, 25:31] == 3).all()  # time left <= 0.5 from decision 25


def test_names_resolve_to_baselines_and_through_the_resolvers_given():
    resolvers = {"fixed": lambda rest: policy_strategy(TimeRulePolicy(), "seed") if rest == "time" else None}
    strategy = resolve_strategy("fixed:time", resolvers)
    market = random_market(3)
    assert strategy(market, OrderParams(), "seed").sum() == 60
    assert resolve_strategy("twap_seed") is BASELINES["twap_seed"]
    with pytest.raises(KeyError, match="twap_seed"):
        resolve_strategy("no_such_strategy", resolvers)
    with pytest.raises(KeyError, match="fixed:time"):
        resolve_strategy("fixed:time")  # no global table: without the resolver the name is unknown
    frame = run_strategies([market], OrderParams(), ["fixed:time", "immediate"], ["impact"], resolvers=resolvers)
    assert set(frame["strategy"]) == {"fixed:time", "immediate"}


# ------------------------------------------------------------------ database and command line


def _publish_synthetic(conn, symbols, start, end):
    """Put synthetic bars straight into bars_1m (what ingest publishes after validation)."""
    from psycopg2.extras import execute_values

    from execution.data.sources import synthetic

    for symbol in symbols:
        bars = synthetic.SyntheticSource(seed=7).fetch(symbol, start, end).bars
        minutes = bars["ts"].dt.hour * 60 + bars["ts"].dt.minute
        bars = bars[(minutes >= 555) & (minutes < 930)]
        rows = [
            (r.symbol, r.ts.to_pydatetime(), r.open, r.high, r.low, r.close, int(r.volume), r.source, 0)
            for r in bars.itertuples(index=False)
        ]
        with conn.cursor() as cur:
            execute_values(
                cur,
                "INSERT INTO bars_1m (symbol, ts, open, high, low, close, volume, source, batch_id) VALUES %s",
                rows,
            )
    conn.commit()


def test_backtest_results_are_stored_and_replaced(conn):
    from execution.sim.backtest import backtest

    _publish_synthetic(conn, ["RELIANCE"], date(2019, 12, 1), date(2020, 1, 20))
    result = backtest(conn, ["RELIANCE"], date(2020, 1, 1), date(2020, 1, 20), OrderParams(), SIX, n_resamples=50)
    n_days = 14  # trading days 1..20 Jan 2020: 1-3, 6-10, 13-17, 20
    assert len(result.per_day) == n_days * 6 * 2
    stored = load_results(conn, result.run_id)
    assert len(stored) == len(result.per_day)
    merged = stored.merge(result.per_day, on=["symbol", "day", "strategy", "fill"], suffixes=("_db", ""))
    np.testing.assert_allclose(merged["shortfall_bps_db"], merged["shortfall_bps"])
    again = backtest(conn, ["RELIANCE"], date(2020, 1, 1), date(2020, 1, 20), OrderParams(), SIX, n_resamples=50)
    assert again.run_id == result.run_id
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM backtest_results WHERE run_id = %s", (result.run_id,))
        assert cur.fetchone()[0] == n_days * 12
    store_results(conn, BacktestResult(result.run_id, result.per_day.iloc[:5], result.summary))
    assert len(load_results(conn, result.run_id)) == 5


def test_backtest_command_prints_json_and_the_table(conn, capsys):
    from execution.cli import main

    _publish_synthetic(conn, ["RELIANCE", "SAIL"], date(2019, 12, 1), date(2020, 1, 10))
    args = ["backtest", "--symbols", "RELIANCE,SAIL", "--start", "2020-01-01", "--end", "2020-01-10"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["strategy"] for r in out["per_day"]} == set(SIX)
    assert len(out["per_day"]) == 2 * 8 * 6 * 2  # symbols x trading days x strategies x fills
    assert all(isinstance(r["shortfall_bps"], float) for r in out["per_day"])
    assert {(r["symbol"], r["fill"]) for r in out["summary"]} >= {("ALL", "seed"), ("ALL", "impact")}
    assert main([*args, "--fill", "impact", "--strategies", "twap_seed,immediate"]) == 0
    table = capsys.readouterr().out
    assert "immediate" in table and "impact" in table and " seed " not in table
    assert main([*args, "--strategies", "nope"]) == 2
