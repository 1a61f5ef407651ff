"""The Kite broker: refused without the live switch (nothing sent); with it, recorded responses through the real
``kiteconnect`` client place the children, poll their history and record the fills (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from intraday_support import DAY, clear_intraday, fresh_world
from kiteconnect import KiteConnect

from execution.cli import main as cli_main
from execution.config import ExecutionParams
from execution.db import connect
from execution.trading.brokers import LiveTradingRefused, make_broker
from execution.trading.brokers.kite import KiteBroker
from execution.trading.intraday import ExecuteOptions, execute_day
from execution.trading.orders import add_order

RECORDED = json.loads((Path(__file__).parent / "data" / "kite_orders_RELIANCE_2020-01-31.json").read_text())
LIVE = {"EXEC_LIVE_TRADING": "1", "KITE_API_KEY": "recorded-key", "KITE_ACCESS_TOKEN": "recorded-token"}


class RecordedOrders(requests.adapters.BaseAdapter):
    """Answers Kite's order endpoints from the recorded file; keeps every request it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, dict]] = []
        self.placed = 0
        self.polls: dict[str, int] = {}

    def _answer(self, request) -> dict:
        path = urlparse(request.url).path
        if request.method == "POST" and path == "/orders/regular":
            self.placed += 1
            return RECORDED["place_order"][self.placed - 1]
        if request.method == "GET" and path == "/orders":
            return RECORDED["orders"]
        if request.method == "GET" and path.startswith("/orders/"):
            order_id = path.rsplit("/", 1)[1]
            stages = RECORDED["order_history"][order_id]
            self.polls[order_id] = self.polls.get(order_id, 0) + 1
            return stages[min(self.polls[order_id], len(stages)) - 1]
        return {
            "status": "error",
            "message": f"not recorded: {request.method} {path}",
            "error_type": "GeneralException",
        }

    def send(self, request, **kwargs):
        body = {k: v[0] for k, v in parse_qs(request.body or "").items()}
        self.seen.append((request.method, urlparse(request.url).path, body))
        response = requests.Response()
        response.request, response.url, response.status_code = request, request.url, 200
        response._content = json.dumps(self._answer(request)).encode()
        response.headers["content-type"] = "application/json"
        return response

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def world():
    """RELIANCE published, no model at all (orders trade twap_seed); order ids start at 1 (the recorded tags)."""
    settings = fresh_world(("RELIANCE",))
    return settings


@pytest.fixture
def order(world):
    """Buy 2,000 RELIANCE (4 lots of 500) from 09:30 over 8 minutes in 4 intervals: one lot a decision (twap_seed)."""
    conn = connect(world)
    clear_intraday(conn, orders=True)
    with conn.cursor() as cur:
        cur.execute("ALTER SEQUENCE orders_id_seq RESTART WITH 1")
    made, _ = add_order(conn, DAY, "RELIANCE", "buy", 2_000, 500, "09:30", 8, 4)
    conn.commit()
    conn.close()
    assert made.id == 1
    return made


def _count(settings, table: str) -> int:
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_kite_is_refused_without_the_live_switch_and_sends_nothing(world, order, monkeypatch, capsys):
    built = []
    monkeypatch.setattr("kiteconnect.KiteConnect.__init__", lambda self, *a, **k: built.append(a) or None)
    for name in ("EXEC_LIVE_TRADING", "KITE_API_KEY", "KITE_ACCESS_TOKEN", "AIRFLOW_CONN_KITE_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KITE_API_KEY", "k")
    monkeypatch.setenv("KITE_ACCESS_TOKEN", "t")  # credentials alone are not enough
    code = cli_main(["execute", "--date", DAY.isoformat(), "--replay", "--broker", "kite"])
    assert code == 2
    assert "refused unless EXEC_LIVE_TRADING=1" in capsys.readouterr().err
    with pytest.raises(LiveTradingRefused, match="KITE_API_KEY"):  # the switch alone is not enough either
        make_broker("kite", world, environ={"EXEC_LIVE_TRADING": "1"})
    with pytest.raises(LiveTradingRefused, match="EXEC_LIVE_TRADING"):
        make_broker("kite", world, environ={**LIVE, "EXEC_LIVE_TRADING": "yes"})
    assert built == []  # no client was ever made: nothing could be sent
    assert (_count(world, "order_executions"), _count(world, "child_orders"), _count(world, "fills")) == (0, 0, 0)


def _recorded_broker(world) -> tuple[KiteBroker, RecordedOrders]:
    client = KiteConnect(api_key="recorded-key", access_token="recorded-token")
    adapter = RecordedOrders()
    client.reqsession.mount("https://", adapter)
    return make_broker("kite", world, environ=LIVE, client=client), adapter


def test_kite_places_polls_and_records_fills_from_recorded_responses(world, order):
    broker, adapter = _recorded_broker(world)
    summary = execute_day(world, ExecuteOptions(DAY, replay=True), broker=broker)[0]
    assert summary["status"] == "done" and summary["strategy"] == "twap_seed"
    placed = [body for method, path, body in adapter.seen if method == "POST"]
    assert [p["tag"] for p in placed] == ["nse1d0", "nse1d1", "nse1d2", "nse1d3"]  # the idempotency keys
    assert {(p["quantity"], p["transaction_type"], p["order_type"], p["product"], p["exchange"]) for p in placed} == {
        ("500", "BUY", "MARKET", "MIS", "NSE")
    }
    assert adapter.polls["200131000000101"] == 2  # OPEN at the first poll, COMPLETE at the next
    conn = connect(world)
    with conn.cursor() as cur:
        cur.execute("SELECT decision_index, broker_order_id, status, status_detail FROM child_orders ORDER BY 1")
        children = cur.fetchall()
        cur.execute("SELECT c.decision_index, f.quantity, f.price, f.broker_fill_id, f.filled_at FROM fills f"
                    " JOIN child_orders c ON c.id = f.child_order_id ORDER BY 1")  # fmt: skip
        fills = cur.fetchall()
    conn.close()
    assert [(k, oid, status) for k, oid, status, _ in children] == [
        (0, "200131000000101", "filled"),
        (1, "200131000000102", "filled"),
        (2, "200131000000103", "rejected"),
        (3, "200131000000104", "filled"),
    ]
    assert children[2][3].startswith("RMS:Margin Exceeds")
    assert [(k, q, p, i) for k, q, p, i, _ in fills] == [
        (0, 500, 1425.6, "200131000000101"),
        (1, 500, 1425.95, "200131000000102"),
        (3, 500, 1426.3, "200131000000104"),
    ]
    assert fills[0][4].strftime("%H:%M:%S") == "09:30:02"  # the exchange's timestamp, exchange time
    assert summary["shares_filled"] == 1_500 and summary["avg_price"] == pytest.approx((1425.6 + 1425.95 + 1426.3) / 3)


def test_a_child_placed_before_a_crash_is_found_by_its_tag_not_placed_again(world, order):
    broker, adapter = _recorded_broker(world)
    execute_day(world, ExecuteOptions(DAY, replay=True, stop_after=1), broker=broker)
    conn = connect(world)
    with conn.cursor() as cur:  # the crash: Kite took order 101, its id never reached the database
        cur.execute("UPDATE child_orders SET status = 'pending', broker_order_id = NULL WHERE decision_index = 0")
        cur.execute("DELETE FROM fills")
    conn.commit()
    conn.close()
    execute_day(world, ExecuteOptions(DAY, replay=True, stop_after=0), broker=broker)
    posts = [body["tag"] for method, _, body in adapter.seen if method == "POST"]
    assert posts == ["nse1d0"]  # placed once, before the crash
    assert ("GET", "/orders", {}) in adapter.seen  # looked up in the order book instead
    conn = connect(world)
    with conn.cursor() as cur:
        cur.execute("SELECT broker_order_id, status FROM child_orders WHERE decision_index = 0")
        assert cur.fetchone() == ("200131000000101", "filled")
    conn.close()


def test_a_limit_child_is_priced_on_the_tick_towards_the_last_close(world):
    broker = KiteBroker(ExecutionParams(order_type="LIMIT", limit_offset_bps=10), environ=LIVE, client=object())
    assert broker.limit_price("buy", 1425.0, DAY) == 1426.4  # 1426.425 -> down to the 0.05 tick
    assert broker.limit_price("sell", 1425.0, DAY) == 1423.6  # 1423.575 -> up to the tick
    market = KiteBroker(ExecutionParams(), environ=LIVE, client=object())
    assert market.limit_price("buy", 1425.0, DAY) is None
