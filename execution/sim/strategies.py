"""Strategy names: the six baselines by name, and families of names resolved by a prefix.

A *strategy* is a :data:`~execution.sim.baselines.Schedule`: ``(market, order, fill, *, eta,
risk_aversion) -> lots per decision [n_days, N]``. The simulator knows the baselines only; a layer
above adds families of names by passing *resolvers* -- ``{prefix: factory}``, where ``prefix:REST``
(or the bare ``prefix``) resolves to ``factory(REST)`` -- to :func:`resolve_strategy` and to the
backtester. There is no global table to fill: what a name means depends only on the arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from execution.sim.baselines import BASELINES, Schedule

__all__ = ["Resolver", "Resolvers", "Schedule", "resolve_strategy", "strategy_names"]

#: ``factory(rest) -> Schedule`` for the names ``prefix:rest``; raises ``KeyError`` for a bad ``rest``.
Resolver = Callable[[str], Schedule]
Resolvers = Mapping[str, Resolver]


def strategy_names(resolvers: Resolvers | None = None) -> list[str]:
    """The baseline names, and ``prefix:...`` for each resolver."""
    return [*BASELINES, *(f"{prefix}:..." for prefix in resolvers or {})]


def resolve_strategy(name: str, resolvers: Resolvers | None = None) -> Schedule:
    """The strategy called ``name``; ``KeyError`` with the known names if there is none."""
    if name in BASELINES:
        return BASELINES[name]
    prefix, _, rest = name.partition(":")
    if resolvers and prefix in resolvers:
        return resolvers[prefix](rest)
    raise KeyError(f"unknown strategy {name!r}; known: {', '.join(strategy_names(resolvers))}")
