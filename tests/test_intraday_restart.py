"""Restart safety: stop and resume, SIGKILL and re-run, a decision written but not sent, the kill switch, one worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from intraday_support import DAY, TRAIN, backtest_of, clear_intraday, executed_of, fresh_world, promote

from execution.cli import main as cli_main
from execution.data.live import ReplayBars
from execution.db import connect
from execution.models.universal import retrain_universal
from execution.trading.brokers import make_broker
from execution.trading.executor import OrderBusy, OrderExecutor
from execution.trading.intraday import ExecuteOptions, cancel_order, execute_day
from execution.trading.orders import add_order

REPO = Path(__file__).resolve().parent.parent
KILL_WAIT_S = 120  # the longest the killed run may take to reach its first decisions (imports, model load)


@pytest.fixture(scope="module")
def world():
    """RELIANCE published Dec 2019 - Jan 2020 and a universal pace-MDP PPO champion."""
    settings = fresh_world(("RELIANCE",))
    promote(settings, retrain_universal(settings, ["RELIANCE"], "ppo", *TRAIN, episodes=8, seed=3)["model_id"])
    return settings


@pytest.fixture
def order(world):
    """The seed's order on DAY (buy 10,000 at 09:30 over 100 min in 50 intervals, lots of 500), nothing executed."""
    conn = connect(world)
    clear_intraday(conn, orders=True)
    made, _ = add_order(conn, DAY, "RELIANCE", "buy", 10_000, 500, "09:30", 100, 50)
    conn.commit()
    conn.close()
    return made


def _rows(settings, order_id: int) -> list[tuple]:
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT c.decision_index, c.sent_qty, c.status, count(f.id) FROM child_orders c"
                " LEFT JOIN fills f ON f.child_order_id = c.id WHERE c.order_id = %s GROUP BY c.id ORDER BY 1",
                (order_id,),
            )
            return cur.fetchall()
    finally:
        conn.close()


def assert_same_end_state_as_the_backtest(settings, order) -> None:
    """Every share filled once, one row per decision index, the backtester's shares per slot and price."""
    conn = connect(settings)
    try:
        qty, avg, indexes = executed_of(conn, order.id, order.intervals)
        expected_qty, expected_avg = backtest_of(settings, conn, "RELIANCE", order.params(settings.order), "champion",
                                                 settings.execution.fill)  # fmt: skip
    finally:
        conn.close()
    assert indexes == list(range(len(indexes)))  # no decision index twice, none skipped
    np.testing.assert_array_equal(qty, expected_qty)
    assert abs(avg - expected_avg) <= 1e-9 * expected_avg
    rows = _rows(settings, order.id)
    assert all(status in ("filled", "skipped") and fills == (status == "filled") for _, _, status, fills in rows)


def test_stop_after_decisions_then_a_second_run_completes_without_sending_a_decision_twice(world, order):
    first = execute_day(world, ExecuteOptions(DAY, replay=True, stop_after=10))
    assert first[0]["status"] == "stopped" and first[0]["decisions"] == 10
    assert [r[0] for r in _rows(world, order.id)] == list(range(10))
    second = execute_day(world, ExecuteOptions(DAY, replay=True))
    assert second[0]["status"] == "done" and second[0]["shares_filled"] == 10_000
    assert_same_end_state_as_the_backtest(world, order)
    done = _rows(world, order.id)
    assert execute_day(world, ExecuteOptions(DAY, replay=True))[0]["status"] == "done"
    assert _rows(world, order.id) == done  # a third run changes nothing


def _child_count(settings, order_id: int) -> int:
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM child_orders WHERE order_id = %s", (order_id,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_sigkill_mid_way_then_a_rerun_ends_in_the_same_state(world, order):
    command = [sys.executable, "-m", "execution", "execute", "--date", DAY.isoformat(), "--replay", "--speed", "600"]
    process = subprocess.Popen(command, cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + KILL_WAIT_S
        while _child_count(world, order.id) < 4:  # wait on the database, not on a clock
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no decision written in time"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = _child_count(world, order.id)
    assert process.returncode == -signal.SIGKILL and 4 <= killed_at < 14
    rerun = execute_day(world, ExecuteOptions(DAY, replay=True))
    assert rerun[0]["status"] == "done"
    assert_same_end_state_as_the_backtest(world, order)


def test_a_decision_written_but_never_sent_is_sent_once_on_resume(world, order):
    execute_day(world, ExecuteOptions(DAY, replay=True, stop_after=4))
    conn = connect(world)
    with conn.cursor() as cur:  # as if the process died between writing decision 3 and sending it
        cur.execute(
            "UPDATE child_orders SET status = 'pending', broker_order_id = NULL, sent_at = NULL"
            " WHERE order_id = %s AND decision_index = 3 AND sent_qty > 0 RETURNING id",
            (order.id,),
        )
        pending = cur.fetchall()
        cur.execute("DELETE FROM fills WHERE child_order_id = ANY(%s)", ([p[0] for p in pending],))
    conn.commit()
    conn.close()
    assert pending, "decision 3 sent nothing: no crash window to test"
    execute_day(world, ExecuteOptions(DAY, replay=True))
    assert_same_end_state_as_the_backtest(world, order)


def test_the_kill_switch_stops_further_children_and_records_why(world, order, capsys):
    execute_day(world, ExecuteOptions(DAY, replay=True, stop_after=5))
    before = _rows(world, order.id)
    code = cli_main(["execute", "cancel", str(order.id), "--reason", "desk halted RELIANCE", "--by", "trader-7"])
    assert code == 0 and "cancelled by trader-7 via" in capsys.readouterr().out
    again = execute_day(world, ExecuteOptions(DAY, replay=True))
    assert again[0]["status"] == "cancelled"
    after = _rows(world, order.id)
    assert [r[:2] for r in after] == [r[:2] for r in before]  # not one more decision
    assert all(status in ("filled", "skipped") for _, _, status, _ in after)  # what was sent is settled
    conn = connect(world)
    with conn.cursor() as cur:
        cur.execute("SELECT reason, requested_by, children_sent FROM execution_cancellations WHERE order_id = %s",
                    (order.id,))  # fmt: skip
        reason, who, sent = cur.fetchone()
        cur.execute("SELECT status, finished_at IS NOT NULL FROM order_executions WHERE order_id = %s", (order.id,))
        assert cur.fetchone() == ("cancelled", True)
    conn.close()
    assert (
        reason == "desk halted RELIANCE"
        and who.startswith("trader-7 via ")
        and sent == sum(1 for r in before if r[1] > 0)
    )
    with pytest.raises(ValueError, match="no order #999999"):
        cancel_order(world, 999_999, "typo")


def test_an_order_is_worked_by_one_process_at_a_time(world, order):
    broker = make_broker("paper", world)
    busy = pytest.raises(OrderBusy, match=f"order #{order.id} is being worked by another process")
    with OrderExecutor(world, order, broker, ReplayBars(world), replay=True), busy:
        OrderExecutor(world, order, broker, ReplayBars(world), replay=True)
    OrderExecutor(world, order, broker, ReplayBars(world), replay=True).close()  # released with the first one
