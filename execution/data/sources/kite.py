"""Zerodha Kite Connect historical API: minute candles of NSE equities.

Credentials come from the environment (``KITE_API_KEY`` and ``KITE_ACCESS_TOKEN``) or from an
Airflow connection ``kite_default`` as Airflow exposes it to tasks (``AIRFLOW_CONN_KITE_DEFAULT``,
JSON ``{"login": API_KEY, "password": ACCESS_TOKEN}`` or URI ``kite://API_KEY:ACCESS_TOKEN@``),
read here without importing Airflow. Instrument tokens come from the NSE instruments dump, or
``KITE_INSTRUMENT_TOKENS`` (``RELIANCE=738561,SAIL=758529``) to skip that call.
The API serves at most 60 days of minute candles per request: longer windows are split.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from execution.data.sources.base import BarSource, FetchResult, SourceError
from execution.data.sources.contract import ContractError, normalise

MAX_DAYS_PER_REQUEST = 60


def kite_credentials(environ: dict[str, str] | None = None) -> tuple[str, str]:
    """(api_key, access_token) from the environment or the Airflow connection ``kite_default``."""
    env = os.environ if environ is None else environ
    key, token = env.get("KITE_API_KEY"), env.get("KITE_ACCESS_TOKEN")
    conn = env.get("AIRFLOW_CONN_KITE_DEFAULT")
    if (not key or not token) and conn:
        if conn.lstrip().startswith("{"):
            spec = json.loads(conn)
            key, token = key or spec.get("login"), token or spec.get("password")
        else:
            parsed = urlparse(conn)
            key = key or (unquote(parsed.username) if parsed.username else None)
            token = token or (unquote(parsed.password) if parsed.password else None)
    if not key or not token:
        raise SourceError(
            "Kite Connect needs an API key and access token: set KITE_API_KEY and KITE_ACCESS_TOKEN, "
            "or an Airflow connection 'kite_default' (login = API key, password = access token)"
        )
    return key, token


def _token_overrides(environ: dict[str, str]) -> dict[str, int]:
    text = environ.get("KITE_INSTRUMENT_TOKENS", "")
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {sym.strip().upper(): int(tok) for sym, tok in pairs}


class KiteSource(BarSource):
    """Minute candles from the Kite Connect historical API."""

    name = "kite"

    def __init__(self, client: Any | None = None, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        self._tokens = _token_overrides(env)
        if client is None:
            from kiteconnect import KiteConnect

            api_key, access_token = kite_credentials(env)
            client = KiteConnect(api_key=api_key, access_token=access_token, timeout=30)
        self.client = client

    def instrument_token(self, symbol: str) -> int:
        """The NSE instrument token of ``symbol`` (from the override or the instruments dump)."""
        if symbol not in self._tokens:
            try:
                dump = self.client.instruments("NSE")
            except Exception as exc:  # kiteconnect raises its own exception tree
                raise SourceError(f"Kite instruments list cannot be fetched: {exc}") from exc
            for row in dump:
                if row.get("segment", "NSE") == "NSE" and row.get("instrument_type", "EQ") == "EQ":
                    self._tokens.setdefault(str(row["tradingsymbol"]).upper(), int(row["instrument_token"]))
        if symbol not in self._tokens:
            raise SourceError(f"{symbol} is not an NSE equity in the Kite instruments list")
        return self._tokens[symbol]

    def fetch(self, symbol: str, start: date, end: date) -> FetchResult:
        """Candles of ``symbol`` for ``start..end``, in chunks of at most 60 days."""
        token = self.instrument_token(symbol)
        records: list[dict[str, Any]] = []
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + timedelta(days=MAX_DAYS_PER_REQUEST - 1))
            try:
                records += self.client.historical_data(
                    token, f"{chunk_start} 00:00:00", f"{chunk_end} 23:59:59", "minute"
                )
            except Exception as exc:
                raise SourceError(
                    f"Kite historical data for {symbol} {chunk_start}..{chunk_end} failed: {exc}"
                ) from exc
            chunk_start = chunk_end + timedelta(days=1)
        if not records:
            return FetchResult.empty()
        frame = pd.DataFrame.from_records(records)
        origin = f"kite historical {symbol} ({token})"
        try:
            return normalise(frame, source=self.name, origin=origin, symbol=symbol, start=start, end=end)
        except ContractError as exc:
            raise SourceError(str(exc)) from exc
