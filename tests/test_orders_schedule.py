"""Parent orders and next-day schedules: defaults, validation, whole lots, the horizon, idempotence, policies."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from test_report import HISTORY, ingested

from execution import cli
from execution.config import OrderParams
from execution.models import champion as policies_module
from execution.models.champion import PolicyChoice
from execution.trading.orders import add_order, ensure_default_orders, list_orders
from execution.trading.schedules import decision_table, load_schedules, schedules_dir, slot_lots, write_schedules

IST = ZoneInfo("Asia/Kolkata")
PLAN_DAY = date(2020, 2, 3)  # a Monday; the bars before it end on Friday 2020-01-31


@pytest.fixture
def one_symbol(settings):
    """Settings with RELIANCE only (the configured order is the seed's)."""
    return settings.with_overrides(symbols=("RELIANCE",))


@pytest.fixture
def history(conn, one_symbol):
    """Five published synthetic days of RELIANCE before PLAN_DAY."""
    ingested(conn, one_symbol, ("RELIANCE",), *HISTORY)
    return one_symbol


# ------------------------------------------------------------------ orders


def test_a_day_without_orders_gets_the_seed_order_for_every_configured_symbol(conn, settings):
    orders = ensure_default_orders(conn, settings, PLAN_DAY)
    assert [o.symbol for o in orders] == sorted(settings.symbols)
    for order in orders:
        assert (order.side, order.quantity, order.lot_size) == ("buy", 10_000, 500)
        assert (order.start_time, order.horizon_min, order.intervals) == ("09:30", 100, 50)
        assert order.strategy_override is None and order.created_by == "config"
    again = ensure_default_orders(conn, settings, PLAN_DAY)
    assert [o.id for o in again] == [o.id for o in orders]  # no duplicates


def test_a_day_with_an_order_is_not_filled_from_configuration(conn, settings):
    order, new = add_order(conn, PLAN_DAY, "sail", "sell", 5000, 500, "10:00", 60, 30, "vwap")
    assert new and order.symbol == "SAIL" and order.lots == 10
    assert [o.id for o in ensure_default_orders(conn, settings, PLAN_DAY)] == [order.id]
    # the same (day, symbol, side, start) replaces the order instead of adding one
    replaced, new = add_order(conn, PLAN_DAY, "SAIL", "sell", 2500, 500, "10:00", 60, 30)
    assert not new and replaced.id == order.id and replaced.quantity == 2500 and replaced.strategy_override is None
    assert len(list_orders(conn, PLAN_DAY)) == 1


@pytest.mark.parametrize(
    ("day", "kwargs", "message"),
    [
        (date(2020, 2, 1), {}, "weekend"),
        (date(2020, 2, 21), {}, "holiday"),  # Mahashivratri 2020
        (PLAN_DAY, {"quantity": 10_250}, "whole number of lots"),
        (PLAN_DAY, {"intervals": 30}, "whole-minute intervals"),
        (PLAN_DAY, {"start_time": "15:00"}, "past the last bar"),
        (PLAN_DAY, {"start_time": "9h30"}, "HH:MM"),
        (PLAN_DAY, {"side": "hold"}, "side"),
        (PLAN_DAY, {"strategy_override": "twap_fancy"}, "unknown strategy"),
        (PLAN_DAY, {"strategy_override": "model:best"}, "numeric registry id"),
    ],
)
def test_orders_are_checked(conn, day, kwargs, message):
    args = {"symbol": "RELIANCE", "side": "buy", "quantity": 10_000, "lot_size": 500} | kwargs
    with pytest.raises(ValueError, match=message):
        add_order(conn, day, **args)


def test_orders_cli_adds_and_lists(conn, capsys):
    add = ["orders", "add", "--symbol", "SAIL", "--side", "sell", "--quantity", "3000"]
    code = cli.main([*add, "--date", "2020-02-03"])
    assert code == 0 and "added order" in capsys.readouterr().out
    assert cli.main(["orders", "list", "--date", "2020-02-03", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(o["symbol"], o["side"], o["quantity"], o["lot_size"]) for o in listed] == [("SAIL", "sell", 3000, 500)]
    assert cli.main([*add, "--date", "2020-02-02"]) == 2
    assert "weekend" in capsys.readouterr().err


# ------------------------------------------------------------------ whole lots and the horizon


def test_slot_lots_cut_orders_to_the_inventory_and_force_the_rest_at_the_horizon():
    order = OrderParams()  # 20 lots, 50 intervals
    greedy = np.zeros(50, dtype=int)
    greedy[:3] = [5, 30, 7]  # 5, then the 15 left, then nothing
    lots = slot_lots(greedy, order)
    assert lots.shape == (51,) and lots[:3].tolist() == [5, 15, 0] and lots.sum() == 20
    idle = slot_lots(np.zeros(50, dtype=int), order)
    assert idle[-1] == 20 and idle[:-1].sum() == 0  # everything goes at t_N = 11:10


class LatePolicy:
    """Waits until 20 decisions are left, then sends ``ceil(lots left / steps left)`` (a known decision table)."""

    def __init__(self, order: OrderParams) -> None:
        self.order = order

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        obs = np.atleast_2d(obs)
        left = np.rint(obs[:, self.order.n_history + 1] * self.order.lots)
        steps = np.rint(obs[:, self.order.n_history + 2] * self.order.intervals)
        return np.where(steps <= 20, np.ceil(left / np.maximum(steps, 1)), 0).astype(int), state


class IdlePolicy:
    """Never sends anything (its plan is the forced order at the horizon)."""

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        return np.zeros(np.atleast_2d(obs).shape[0], dtype=int), state


def test_decision_table_is_the_policy_on_constructed_states():
    order = OrderParams()
    table = decision_table(LatePolicy(order), order)
    assert table.shape == (20, 50)
    assert list(table.index[:2]) == [20, 19] and list(table.columns[:2]) == [100, 98] and table.columns[-1] == 2
    # 20 lots, 100 min (50 steps) left: wait; 40 min (20 steps): ceil(20/20) = 1; 7 lots, 6 min: ceil(7/3) = 3
    assert table.loc[20, 100] == 0 and table.loc[20, 42] == 0 and table.loc[20, 40] == 1
    assert table.loc[7, 6] == 3 and table.loc[5, 2] == 5 and table.loc[1, 2] == 1


def _check_plans(rows, csv_folder, order: OrderParams, strategies: set[str], champion_column: bool = True) -> None:
    """Rows and CSV of the plans; without a model the champion's plan is the ``twap_seed`` column
    of the CSV (no ``champion_lots`` column: the file says which strategy it is)."""
    start = datetime(2020, 2, 3, 9, 30, tzinfo=IST)
    assert set(rows["strategy"]) == strategies
    for strategy, plan in rows.groupby("strategy"):
        plan = plan.sort_values("interval")
        assert plan["interval"].tolist() == list(range(order.intervals + 1)), strategy
        assert plan["planned_qty"].sum() == order.quantity, strategy
        assert (plan["planned_qty"] == plan["planned_lots"] * order.lot_size).all(), strategy
        assert (plan["planned_lots"] >= 0).all()
        times = [t.astimezone(IST) for t in plan["planned_time"]]
        assert times[0] == start and times[-1] == start + timedelta(minutes=order.horizon_min), strategy
    csv_files = sorted(csv_folder.glob("order-*-RELIANCE-buy-0930.csv"))
    assert len(csv_files) == 1
    lines = csv_files[0].read_text().splitlines()
    assert lines[0].startswith("# order #") and lines[1].startswith("# plan to execute: ")
    table = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    assert len(table) == order.intervals + 1 and table[-1]["planned_time"] == "11:10" and table[-1]["forced"] == "1"
    columns = {f"{s}_lots" for s in strategies if s != "champion" or champion_column}
    assert {c for c in table[0] if c.endswith("_lots")} == columns
    for column in columns:
        assert sum(int(r[column]) for r in table) == order.lots


def test_baseline_schedules_sum_to_the_order_in_whole_lots_within_the_horizon(conn, history):
    summary = write_schedules(history, PLAN_DAY)
    rows = load_schedules(conn, PLAN_DAY)
    baselines = {"champion", "twap_seed", "twap_even", "vwap", "almgren_chriss", "immediate"}
    _check_plans(rows, schedules_dir(history, PLAN_DAY), history.order, baselines, champion_column=False)
    champion = rows[rows["strategy"] == "champion"].sort_values("interval")
    twap = rows[rows["strategy"] == "twap_seed"].sort_values("interval")
    assert champion["planned_lots"].tolist() == twap["planned_lots"].tolist()  # no trained model: twap_seed
    assert champion["is_primary"].all() and champion["note"].iloc[0].startswith("no trained model yet")
    assert twap["planned_lots"].tolist() == [1] * 20 + [0] * 31  # the seed's base case
    assert (
        "flat at the last published close" in rows["nominal_path"].iloc[0]
        and "2020-01-31" in summary["orders"][0]["nominal_path"]
    )
    # re-running replaces the day's rows: same count, same plans
    write_schedules(history, PLAN_DAY)
    again = load_schedules(conn, PLAN_DAY)
    assert len(again) == len(rows) == 6 * 51


def test_the_nominal_path_is_flat_at_the_last_close_with_the_trailing_volume_profile(conn, history):
    from execution.data.store import load_published
    from execution.trading.schedules import nominal_path

    bars = load_published(conn, "RELIANCE", *HISTORY)
    nominal = nominal_path(conn, "RELIANCE", PLAN_DAY, history.order)
    market = nominal.market
    assert market.n_days == 1 and market.day(0) == PLAN_DAY
    assert nominal.last_close == bars["close"].iloc[-1] and np.all(market.close == nominal.last_close)
    minute_of_day = bars["ts"].dt.hour * 60 + bars["ts"].dt.minute
    at_1000 = bars.loc[minute_of_day == 600, "volume"].mean()  # 10:00 is session minute 45
    assert market.volume[0, 45] == pytest.approx(round(at_1000))


def test_a_policy_plan_is_its_rollout_and_respects_whole_lots_and_the_horizon(conn, history, monkeypatch):
    def fake_choice(conn, settings, symbol, order=None):  # the champion is resolved once per symbol
        return PolicyChoice(symbol, "champion", 7, LatePolicy(history.order), record=None, champion_record=object())

    monkeypatch.setattr(policies_module, "resolve_champion", fake_choice)
    summary = write_schedules(history, PLAN_DAY)
    rows = load_schedules(conn, PLAN_DAY)
    _check_plans(
        rows,
        schedules_dir(history, PLAN_DAY),
        history.order,
        {"champion", "twap_seed", "twap_even", "vwap", "almgren_chriss", "immediate"},
    )
    champion = rows[rows["strategy"] == "champion"].sort_values("interval")
    # nothing for 30 decisions, then ceil(20/20) = 1 lot at each of the last 20
    assert champion["planned_lots"].tolist() == [0] * 30 + [1] * 20 + [0]
    assert (champion["model_id"] == 7).all()
    plan = summary["orders"][0]
    assert plan["decision_table"]["lots"][0][0] == 0 and plan["decision_table"]["lots"][0][30] == 1  # 20 lots left
    assert (schedules_dir(history, PLAN_DAY) / "order-1-RELIANCE-buy-0930-decision-table.csv").is_file()

    monkeypatch.setattr(
        policies_module,
        "resolve_champion",
        lambda conn, settings, symbol, order=None: PolicyChoice(
            symbol, "champion", 8, IdlePolicy(), champion_record=object()
        ),
    )
    write_schedules(history, PLAN_DAY)
    idle = load_schedules(conn, PLAN_DAY)
    idle = idle[idle["strategy"] == "champion"].sort_values("interval")
    assert idle["planned_lots"].iloc[-1] == 20 and idle["planned_qty"].sum() == 10_000  # the forced order counts


def test_an_override_is_the_primary_plan(conn, history):
    add_order(conn, PLAN_DAY, "RELIANCE", "buy", 5000, 500, "09:30", 100, 50, "vwap")
    conn.commit()
    write_schedules(history, PLAN_DAY)
    rows = load_schedules(conn, PLAN_DAY)
    primary = rows[rows["is_primary"]]
    assert set(primary["strategy"]) == {"vwap"} and primary["planned_qty"].sum() == 5000


def test_schedule_needs_a_trading_day_and_history(conn, one_symbol, capsys):
    with pytest.raises(ValueError, match="weekend"):
        write_schedules(one_symbol, date(2020, 2, 1))
    with pytest.raises(ValueError, match="no published bars of RELIANCE"):
        write_schedules(one_symbol, PLAN_DAY)
    assert cli.main(["schedule", "--date", "2020-02-02"]) == 2
    assert "not an NSE trading day" in capsys.readouterr().err
