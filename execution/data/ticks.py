"""NSE equity tick sizes, read from the dated table ``data/tick_rules.csv``.

The rule is data, not code: a new exchange circular is a new block of rows in the CSV.
Each regime names what its price bands are judged on (``flat``, ``price`` or
``prev_month_end_close``); callers pass that reference price.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources

import numpy as np

FLAT, PRICE, PREV_MONTH_END_CLOSE = "flat", "price", "prev_month_end_close"


@dataclass(frozen=True)
class TickRegime:
    """The tick bands in force from ``effective_from`` until the next regime."""

    effective_from: date
    reference: str
    upper_bounds_inr: tuple[float, ...]  # exclusive upper bound of each band, ascending
    ticks_inr: tuple[float, ...]

    def tick_for(self, reference_price: float) -> float:
        """The tick of the band that ``reference_price`` falls in."""
        for bound, tick in zip(self.upper_bounds_inr, self.ticks_inr, strict=True):
            if reference_price < bound:
                return tick
        return self.ticks_inr[-1]


@lru_cache(maxsize=1)
def tick_regimes() -> tuple[TickRegime, ...]:
    """All regimes of the table, oldest first."""
    text = resources.files("execution").joinpath("data/tick_rules.csv").read_text()
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    grouped: dict[tuple[date, str], list[tuple[float, float]]] = {}
    for row in csv.DictReader(rows):
        key = (date.fromisoformat(row["effective_from"]), row["reference"])
        bound = float(row["below_inr"]) if row["below_inr"] else math.inf
        grouped.setdefault(key, []).append((bound, float(row["tick_inr"])))
    regimes = []
    for (start, reference), bands in sorted(grouped.items()):
        bands.sort()
        regimes.append(TickRegime(start, reference, tuple(b for b, _ in bands), tuple(t for _, t in bands)))
    return tuple(regimes)


def regime_on(day: date) -> TickRegime:
    """The regime in force on ``day``."""
    current = None
    for regime in tick_regimes():
        if regime.effective_from <= day:
            current = regime
    if current is None:
        raise ValueError(f"no NSE tick rule is known for {day}")
    return current


def tick_size(day: date, reference_price: float) -> float:
    """Tick in INR on ``day`` for a symbol whose regime reference price is ``reference_price``."""
    return regime_on(day).tick_for(reference_price)


def off_tick(prices: np.ndarray, tick: float | np.ndarray, tolerance: float = 1e-6) -> np.ndarray:
    """Boolean mask of prices that are not a whole multiple of ``tick`` (float-tolerant)."""
    ratio = np.asarray(prices, dtype=float) / tick
    return np.abs(ratio - np.round(ratio)) > tolerance * np.maximum(1.0, np.abs(ratio))


def round_to_tick(prices: np.ndarray, tick: float | np.ndarray) -> np.ndarray:
    """Prices rounded to the nearest multiple of ``tick`` (at least one tick)."""
    rounded = np.round(np.asarray(prices, dtype=float) / tick) * tick
    return np.round(np.maximum(rounded, tick), 4)
