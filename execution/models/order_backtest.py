"""Registered models over a set of orders (``backtest --orders FILE`` / ``--order-set N``).

Resolves the strategy names a user gives (``champion``, ``model:ID``: pace-MDP models, which serve any
order) to policies, loads each symbol's published bars of the window once, builds the order set --
``per_day`` orders a day drawn with a fixed seed from the envelope the (first) model was trained for,
or the orders of a CSV file (:data:`execution.sim.order_set.ORDER_COLUMNS`) -- and runs
:func:`execution.sim.order_set.evaluate`: every strategy on every (day, order) against that same
order's TWAP, summarised by size bucket (% of ADV) and by side (:func:`summarize_order_set`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from execution.config import Settings
from execution.db import connection
from execution.models import registry
from execution.models.artifacts import load_model
from execution.models.champion import resolve_champion
from execution.sim.envelope import OrderEnvelope
from execution.sim.market import MarketData, load
from execution.sim.order_set import TWAP, draw_order_set, evaluate, orders_from_frame, summarize_order_set
from execution.sim.policy import Policy

DEFAULT_SEED = 0


def _policies(conn: Any, settings: Settings, names: list[str]) -> tuple[dict[str, Policy], OrderEnvelope]:
    """The policies named (pace-MDP models only) and the envelope orders are drawn from."""
    policies: dict[str, Policy] = {}
    envelope = None
    for name in names:
        if name == "champion":
            choice = resolve_champion(conn, settings, registry.UNIVERSAL)
            if choice.policy is None or choice.record is None:
                raise ValueError(f"no usable universal champion: {'; '.join(choice.reasons)}")
            record, policy = choice.record, choice.policy
        elif name.startswith("model:") and name[6:].isdigit():
            record = registry.get(conn, int(name[6:]))
            policy = load_model(settings, record)
        elif name in (TWAP, "twap_seed"):
            continue  # the reference, always computed
        else:
            raise ValueError(f"strategy {name!r}: an order set runs champion, model:ID (pace MDP) and the order's TWAP")
        if record.mdp != "pace":
            raise ValueError(f"{name}: model {record.model_id} is a seed-MDP model, fit for one order shape only")
        policies[name] = policy
        envelope = envelope or OrderEnvelope.from_json(record.envelope)
    return policies, envelope or OrderEnvelope()


def order_set_backtest(
    settings: Settings,
    symbols: list[str],
    start: date,
    end: date,
    strategies: list[str],
    fills: tuple[str, ...],
    *,
    per_day: int | None = None,
    orders: pd.DataFrame | None = None,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """Per-order rows and the summary of ``strategies`` over the order set (``per_day`` drawn, or ``orders``)."""
    if (per_day is None) == (orders is None):
        raise ValueError("give either an order set size (--order-set N) or a file of orders (--orders FILE)")
    with connection(settings) as conn:
        policies, envelope = _policies(conn, settings, strategies)
        markets: list[MarketData] = []
        for symbol in symbols:
            markets.append(load(conn, symbol, start, end, settings.order))
    order_set = orders_from_frame(markets, orders) if orders is not None else draw_order_set(
        markets, envelope, per_day or 1, seed
    )  # fmt: skip
    per_order = evaluate(order_set, {**policies, TWAP: TWAP}, fills)
    return {
        "orders": int(per_order["order"].count() / max(len(policies) + 1, 1) / max(len(fills), 1)),
        "envelope": envelope.as_json(),
        "per_order": per_order,
        "summary": summarize_order_set(per_order),
    }
