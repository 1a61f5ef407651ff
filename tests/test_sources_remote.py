"""Kite Connect and Yahoo sources against recorded responses: never the network.

Kite: the real ``kiteconnect`` client is used, with a requests adapter that replays recorded
HTTP responses, so kiteconnect's own parsing of candles runs. Yahoo: a recorded
``Ticker.history(interval="1m")`` frame (float32 noise in prices, tz-aware index).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import requests
from kiteconnect import KiteConnect

from execution.data.sources.base import SourceError
from execution.data.sources.kite import KiteSource, kite_credentials
from execution.data.sources.yahoo import YahooSource
from execution.data.ticks import off_tick

DATA = Path(__file__).parent / "data"


class ReplayAdapter(requests.adapters.BaseAdapter):
    """Answers Kite's endpoints from recorded files and remembers the requests it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def send(self, request, **kwargs):
        self.seen.append(request.url)
        url = urlparse(request.url)
        response = requests.Response()
        response.request, response.url, response.status_code = request, request.url, 200
        if url.path == "/instruments/NSE":
            response._content = (DATA / "kite_instruments_NSE.csv").read_bytes()
            response.headers["content-type"] = "text/csv"
        elif url.path.startswith("/instruments/historical/738561/minute"):
            query = parse_qs(url.query)
            assert query["interval"] == ["minute"]
            recorded = json.loads((DATA / "kite_historical_RELIANCE_2021-07-13.json").read_text())
            frm, to = query["from"][0][:10], query["to"][0][:10]
            candles = [c for c in recorded["data"]["candles"] if frm <= c[0][:10] <= to]
            response._content = json.dumps({"status": "success", "data": {"candles": candles}}).encode()
            response.headers["content-type"] = "application/json"
        else:
            response.status_code = 404
            response._content = b'{"status": "error", "message": "not recorded", "error_type": "GeneralException"}'
            response.headers["content-type"] = "application/json"
        return response

    def close(self) -> None:
        pass


def replayed_kite() -> tuple[KiteConnect, ReplayAdapter]:
    client = KiteConnect(api_key="recorded-key", access_token="recorded-token")
    adapter = ReplayAdapter()
    client.reqsession.mount("https://", adapter)
    return client, adapter


def test_kite_candles_become_contract_bars():
    client, adapter = replayed_kite()
    result = KiteSource(client=client, environ={}).fetch("RELIANCE", date(2021, 7, 13), date(2021, 7, 13))
    bars = result.bars
    assert result.problems == []
    assert len(bars) == 375 and set(bars["source"]) == {"kite"}
    assert str(bars["ts"].dt.tz) == "Asia/Kolkata"
    assert bars["ts"].iloc[0].strftime("%Y-%m-%d %H:%M") == "2021-07-13 09:15"
    recorded = json.loads((DATA / "kite_historical_RELIANCE_2021-07-13.json").read_text())["data"]["candles"]
    assert bars["close"].tolist() == [c[4] for c in recorded]
    assert any("/instruments/NSE" in u for u in adapter.seen)  # token looked up from the instruments dump


def test_kite_splits_long_windows_into_60_day_requests():
    client, adapter = replayed_kite()
    KiteSource(client=client, environ={}).fetch("RELIANCE", date(2021, 5, 1), date(2021, 8, 31))
    historical = [u for u in adapter.seen if "/historical/" in u]
    assert len(historical) == 3  # 123 days -> 60 + 60 + 3


def test_kite_unknown_symbol_and_credentials_are_clear_errors():
    client, _ = replayed_kite()
    with pytest.raises(SourceError, match="NOSUCH is not an NSE equity"):
        KiteSource(client=client, environ={}).fetch("NOSUCH", date(2021, 7, 13), date(2021, 7, 13))
    with pytest.raises(SourceError, match="KITE_API_KEY"):
        kite_credentials({})
    assert kite_credentials({"AIRFLOW_CONN_KITE_DEFAULT": '{"login": "k", "password": "t"}'}) == ("k", "t")
    assert kite_credentials({"AIRFLOW_CONN_KITE_DEFAULT": "kite://key1:tok%2F1@"}) == ("key1", "tok/1")


def recorded_yahoo(ticker: str, start: date, end_exclusive: date) -> pd.DataFrame:
    assert ticker == "RELIANCE.NS"
    frame = pd.read_csv(DATA / "yfinance_RELIANCE.NS_1m.csv", index_col="Datetime")
    frame.index = pd.to_datetime(frame.index)
    days = frame.index.date
    return frame[(days >= start) & (days < end_exclusive)]


def test_yahoo_recorded_frame_becomes_contract_bars_on_the_tick():
    source = YahooSource(downloader=recorded_yahoo, today=date(2021, 7, 20))
    result = source.fetch("RELIANCE", date(2021, 7, 12), date(2021, 7, 16))
    bars = result.bars
    assert len(bars) == 375 and set(bars["source"]) == {"yfinance"}
    assert not off_tick(bars[["open", "high", "low", "close"]].to_numpy(), 0.05).any()  # float32 noise removed
    assert bars["ts"].iloc[-1].strftime("%H:%M") == "15:29"


def test_yahoo_refuses_days_it_no_longer_keeps():
    source = YahooSource(downloader=recorded_yahoo, today=date(2021, 9, 30))
    result = source.fetch("RELIANCE", date(2021, 7, 12), date(2021, 7, 16))
    assert result.bars.empty
    assert "keeps 1-minute bars from 2021-09-01 only" in str(result.problems[0])
