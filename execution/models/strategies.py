"""Registered models as backtest strategies: ``model:ID`` and ``champion``.

:func:`registry_resolvers` gives the simulator's strategy resolution (:mod:`execution.sim.strategies`)
the two name families of the registry, bound to one settings object:

* ``model:ID`` -- the registered model acting greedily, loaded and verified when the name is
  resolved (a missing or corrupt artifact is an error: that exact model was asked for);
* ``champion`` -- each symbol's champion, with the fallback of
  :func:`execution.models.champion.resolve_champion` (previous champion, then ``twap_seed``).

:func:`resolve_strategy` is the one function the layers above use to turn a name into a strategy.
"""

from __future__ import annotations

import logging

import numpy as np

from execution.config import OrderParams, Settings
from execution.db import connection
from execution.models import registry
from execution.models.artifacts import check_compatible, load_model, model_label
from execution.models.champion import resolve_champion
from execution.sim import strategies as sim_strategies
from execution.sim.baselines import Schedule
from execution.sim.market import MarketData
from execution.sim.policy import policy_strategy
from execution.sim.strategies import Resolvers

log = logging.getLogger(__name__)


def model_strategy(settings: Settings, model_id: int) -> Schedule:
    """Backtest strategy ``model:ID``: the registered model acting greedily (loaded and verified now)."""
    with connection(settings) as conn:
        record = registry.get(conn, model_id)
    model = load_model(settings, record)
    strategy = policy_strategy(model, record.mdp)

    def schedule(market: MarketData, order: OrderParams, fill: str = "seed", **simulation: float) -> np.ndarray:
        check_compatible(model, order, model_label(record), record.mdp)
        return strategy(market, order, fill, **simulation)

    return schedule


def champion_strategy(settings: Settings) -> Schedule:
    """Backtest strategy ``champion``: each symbol's champion, with the fallback of :func:`resolve_champion`."""
    per_symbol: dict[str, Schedule] = {}

    def schedule(market: MarketData, order: OrderParams, fill: str = "seed", **simulation: float) -> np.ndarray:
        if market.symbol not in per_symbol:
            with connection(settings) as conn:
                choice = resolve_champion(conn, settings, market.symbol, order)
            log.info("champion of %s", choice.describe())
            per_symbol[market.symbol] = choice.schedule()
        return per_symbol[market.symbol](market, order, fill, **simulation)

    return schedule


def registry_resolvers(settings: Settings) -> Resolvers:
    """``{"model": ..., "champion": ...}`` for :func:`execution.sim.strategies.resolve_strategy`."""

    def model_factory(rest: str) -> Schedule:
        if not rest.strip().isdigit():
            raise KeyError(f"strategy 'model:{rest}': expected model:ID with a numeric registry id")
        return model_strategy(settings, int(rest))

    def champion_factory(rest: str) -> Schedule:
        if rest:
            raise KeyError(f"strategy 'champion:{rest}': 'champion' takes no argument (it is per symbol)")
        return champion_strategy(settings)

    return {"model": model_factory, "champion": champion_factory}


def strategy_names() -> list[str]:
    """Every strategy name a user can give: the baselines, ``model:ID`` and ``champion``."""
    return [*sim_strategies.strategy_names(), "model:ID", "champion"]


def resolve_strategy(name: str, settings: Settings) -> Schedule:
    """The strategy called ``name`` (a baseline, ``model:ID`` or ``champion``); ``KeyError`` naming the known ones."""
    return sim_strategies.resolve_strategy(name, registry_resolvers(settings))
