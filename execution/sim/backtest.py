"""Run strategies over every day of a window, compute the SPEC section 6 metrics, store them.

A *strategy* is a callable ``(market, order, fill, *, eta, risk_aversion) -> lots per decision
[n_days, N]`` (:data:`execution.sim.baselines.Schedule`; accept ``**kwargs`` to ignore the
simulation parameters), given as a ``(name, callable)`` pair or by name: the six baselines, and
whatever the ``resolvers`` passed in add (:mod:`execution.sim.strategies`; the registry's
``model:ID`` and ``champion`` are added by :mod:`execution.models.strategies`). A policy becomes a
strategy through :func:`execution.sim.policy.policy_strategy`.

Since every child is a market order and fills are deterministic given the bars, a schedule
determines everything; the metrics are computed for all days at once from it
(:mod:`execution.sim.metrics`). ``advantage_bps`` is measured against ``twap_seed`` under the
same fill model on the same day, which is always computed, as is the oracle for the
TWAP->oracle gap.

Results are stored in ``backtest_results`` (one row per day x symbol x strategy x fill) under
a run id derived from the backtest's parameters; re-running the same backtest replaces its rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from execution.config import OrderParams
from execution.json_values import json_safe
from execution.sim.baselines import Schedule, oracle, twap_seed
from execution.sim.fills import FILL_MODELS, IMPACT_ETA, check_fill, execute_schedule
from execution.sim.market import DEFAULT_LOOKBACK_DAYS, MarketData, load
from execution.sim.metrics import DEFAULT_BOOTSTRAP, day_metrics, summarize
from execution.sim.rewards import DEFAULT_RISK_AVERSION_PER_BPS
from execution.sim.strategies import Resolvers, resolve_strategy

#: The per-day metrics of one strategy, fill model and day (SPEC section 6), in table order.
METRIC_COLUMNS = [
    "avg_price",
    "arrival_price",
    "shortfall_bps",
    "advantage_bps",
    "oracle_gap_bps",
    "vwap_slippage_bps",
    "child_orders",
    "completion_min",
    "peak_participation",
    "reward_vr",
    "reward_acr",
]
PER_DAY_COLUMNS = ["symbol", "day", "strategy", "fill", "side", *METRIC_COLUMNS]


# ---------------------------------------------------------------- running


@dataclass
class BacktestResult:
    """Per-day rows and the aggregate table, with the run id they are stored under."""

    run_id: str
    per_day: pd.DataFrame
    summary: pd.DataFrame


def run_id_for(params: dict[str, Any]) -> str:
    """A stable id of a backtest's parameters (same parameters -> same id)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return "bt-" + hashlib.sha1(text.encode()).hexdigest()[:16]


def _as_named(
    strategies: Iterable[str | tuple[str, Schedule]], resolvers: Resolvers | None = None
) -> list[tuple[str, Schedule]]:
    named = []
    for item in strategies:
        named.append((item, resolve_strategy(item, resolvers)) if isinstance(item, str) else (item[0], item[1]))
    return named


def run_strategies(
    markets: Sequence[MarketData],
    order: OrderParams,
    strategies: Iterable[str | tuple[str, Schedule]],
    fills: Sequence[str] = FILL_MODELS,
    risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
    eta: float = IMPACT_ETA,
    resolvers: Resolvers | None = None,
) -> pd.DataFrame:
    """Per-day metrics of every strategy on every day of every market, under each fill model."""
    named = _as_named(strategies, resolvers)
    frames = []
    for market in markets:
        days = [d.isoformat() for d in market.days.astype(object)]
        for fill in fills:
            check_fill(fill)

            def shortfall_of(lots: np.ndarray, fill: str = fill, market: MarketData = market) -> np.ndarray:
                return day_metrics(market, order, execute_schedule(market, order, lots, fill, eta))["shortfall_bps"]

            twap = shortfall_of(twap_seed(market, order, fill))
            gap = twap - shortfall_of(oracle(market, order, fill, eta=eta))
            for name, strategy in named:
                lots = strategy(market, order, fill, eta=eta, risk_aversion=risk_aversion)
                execution = execute_schedule(market, order, lots, fill, eta)
                metrics = day_metrics(market, order, execution, risk_aversion)
                frame = pd.DataFrame(
                    {
                        "symbol": market.symbol,
                        "day": days,
                        "strategy": name,
                        "fill": fill,
                        "side": order.side,
                        **metrics,
                        "advantage_bps": twap - metrics["shortfall_bps"],
                        "oracle_gap_bps": gap,
                    }
                )
                frames.append(frame[PER_DAY_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=PER_DAY_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def run_backtest(
    markets: Sequence[MarketData],
    order: OrderParams,
    strategies: Iterable[str | tuple[str, Schedule]],
    fills: Sequence[str] = FILL_MODELS,
    *,
    risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
    eta: float = IMPACT_ETA,
    n_resamples: int = DEFAULT_BOOTSTRAP,
    bootstrap_seed: int = 0,
    run_id: str | None = None,
    resolvers: Resolvers | None = None,
) -> BacktestResult:
    """Run and aggregate (nothing stored); ``run_id`` defaults to one derived from the parameters."""
    named = _as_named(strategies, resolvers)
    per_day = run_strategies(markets, order, named, fills, risk_aversion, eta)
    summary = summarize(per_day, n_resamples, bootstrap_seed) if len(per_day) else pd.DataFrame()
    if run_id is None:
        run_id = run_id_for(
            {
                "symbols": [m.symbol for m in markets],
                "days": [[str(m.days[0]), str(m.days[-1]), m.n_days] for m in markets],
                "strategies": [n for n, _ in named],
                "fills": list(fills),
                "order": asdict(order),
                "risk_aversion": risk_aversion,
                "eta": eta,
            }
        )
    return BacktestResult(run_id, per_day, summary)


# ---------------------------------------------------------------- storage


def store_results(conn: Any, result: BacktestResult, params: dict[str, Any] | None = None) -> int:
    """Replace the stored rows of ``result.run_id`` with ``result.per_day``; returns the rows written."""
    from psycopg2.extras import execute_values

    columns = PER_DAY_COLUMNS
    rows = [tuple(json_safe(list(row))) for row in result.per_day[columns].itertuples(index=False)]
    with conn.cursor() as cur:
        cur.execute("DELETE FROM backtest_runs WHERE run_id = %s", (result.run_id,))
        cur.execute(
            "INSERT INTO backtest_runs (run_id, params) VALUES (%s, %s)",
            (result.run_id, json.dumps(params or {}, sort_keys=True, default=str)),
        )
        if rows:
            execute_values(
                cur,
                f"INSERT INTO backtest_results (run_id, {', '.join(columns)}) VALUES %s",
                [(result.run_id, *row) for row in rows],
                page_size=1000,
            )
    conn.commit()
    return len(rows)


def load_results(conn: Any, run_id: str) -> pd.DataFrame:
    """The stored per-day rows of a run, in the column order of :data:`PER_DAY_COLUMNS`."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(PER_DAY_COLUMNS)} FROM backtest_results WHERE run_id = %s"
            " ORDER BY symbol, strategy, fill, day",
            (run_id,),
        )
        frame = pd.DataFrame(cur.fetchall(), columns=PER_DAY_COLUMNS)
    frame["day"] = [d.isoformat() for d in frame["day"]]
    return frame


def backtest(
    conn: Any,
    symbols: Sequence[str],
    start: date,
    end: date,
    order: OrderParams,
    strategies: Sequence[str],
    fills: Sequence[str] = FILL_MODELS,
    *,
    store: bool = True,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    resolvers: Resolvers | None = None,
    **kwargs: Any,
) -> BacktestResult:
    """Load the published bars of ``symbols`` for ``start..end``, run the strategies, store and return the results.

    Strategy names are the baselines' and those ``resolvers`` add (:mod:`execution.sim.strategies`).
    """
    markets = [load(conn, symbol, start, end, order, lookback_days) for symbol in symbols]
    params = {
        "symbols": list(symbols),
        "start": start,
        "end": end,
        "strategies": list(strategies),
        "fills": list(fills),
        "order": asdict(order),
        "lookback_days": lookback_days,
        **{k: v for k, v in kwargs.items() if k != "run_id"},
    }
    kwargs.setdefault("run_id", run_id_for(params))
    result = run_backtest(markets, order, strategies, fills, resolvers=resolvers, **kwargs)
    if store:
        store_results(conn, result, params)
    return result
