"""NSE RL execution service: ingest, validate, simulate, train, schedule and report.

The package is cut into layers, each a subpackage whose ``__init__`` says its job; imports point
down only (an import-linter contract in ``pyproject.toml`` keeps it so)::

    cli, commands        the command line (python -m execution ...)
    ops | report         demo, Airflow environment, alerts | daily and experiment reports (read only)
    trading              parent orders and next-day schedules
    models               registry, artifacts, champion, promotion, retrain, training windows
    agents               stable-baselines3 code only: networks, algorithm families, training
    sim                  market arrays, episode geometry, env, fills, rewards, baselines, metrics, backtest
    data                 sources, Great Expectations quality, the bar store, ingest, ticks, exchange calendar
    db, config, json_values

A package's public names are importable from the package itself (``from execution.sim import
MarketData``); they load on first use (:func:`lazy_exports`), so importing a package never pulls in
torch, stable-baselines3 or Great Expectations by itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__version__ = "0.1.0"


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose public ``name`` lives in ``package.exports[name]``.

    Use in a package ``__init__``: ``__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)``
    with ``__all__ = sorted(_EXPORTS)``; the submodule is imported when the name is first read.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
