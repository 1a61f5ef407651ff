"""Training and validation windows: which days a retrain learns from and is judged on.

* **Rolling windows** (the weekly retrain's default, :func:`rolling_windows`): the validation
  window keeps the configured length (``settings.windows``, seed: 2019-11-01..2019-12-31) and ends
  the day before ``as_of``; the training window is the ``train_years`` years (default 2) right
  before it. ``as_of=2020-01-01`` gives the seed's validation window and trains on
  2017-11-01..2019-10-31. :func:`resolve_windows` applies a run's params (``window``,
  ``as_of``, ``train_years`` and any of the four dates) -- the weekly DAG and the demo both use it.
* **The validation window of one training run** (:func:`validation_window`): the configured one
  when it has published bars and does not overlap training, else the same length right after
  training.
* **Window health** (:func:`window_health`, :func:`unusable_reason`): the quarantined and missing
  trading days of a window, so that a retrain skips a symbol whose data has too many holes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from execution.config import Settings, Windows
from execution.data.exchange_calendar import trading_days
from execution.data.store import active_quarantine, published_days
from execution.db import connection

DEFAULT_TRAIN_YEARS = 2
DEFAULT_MAX_BAD_DAY_FRACTION = 0.05
WINDOW_DATES = ("train_start", "train_end", "validation_start", "validation_end")


def years_before(day: date, years: int) -> date:
    """``day`` moved back ``years`` calendar years (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def rolling_windows(configured: Windows, as_of: date, train_years: int = DEFAULT_TRAIN_YEARS) -> Windows:
    """The training and validation windows of a retrain run on ``as_of``.

    The validation window keeps the configured length and ends the day before ``as_of``; the
    training window is the ``train_years`` years right before the validation window. The test
    window is left as configured.
    """
    if train_years < 1:
        raise ValueError(f"train_years must be >= 1, not {train_years}")
    validation_end = as_of - timedelta(days=1)
    validation_start = validation_end - (configured.validation_end - configured.validation_start)
    return replace(
        configured,
        train_start=years_before(validation_start, train_years),
        train_end=validation_start - timedelta(days=1),
        validation_start=validation_start,
        validation_end=validation_end,
    )


def resolve_windows(configured: Windows, params: dict[str, Any], run_date: date) -> Windows:
    """The windows of a run: rolling (as of ``params['as_of']`` or ``run_date``) or configured, then overrides.

    ``params`` may hold ``window`` (``"rolling"``, the default, or ``"configured"``), ``as_of``,
    ``train_years`` and any of :data:`WINDOW_DATES` as ISO dates.
    """
    mode = params.get("window") or "rolling"
    if mode == "configured":
        windows = configured
    elif mode == "rolling":
        as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else run_date
        windows = rolling_windows(configured, as_of, int(params.get("train_years") or DEFAULT_TRAIN_YEARS))
    else:
        raise ValueError(f"window must be 'rolling' or 'configured', not {mode!r}")
    overrides = {name: date.fromisoformat(params[name]) for name in WINDOW_DATES if params.get(name)}
    windows = replace(windows, **overrides)
    if windows.train_start > windows.train_end or windows.validation_start > windows.validation_end:
        raise ValueError(
            f"empty window: train {windows.train_start}..{windows.train_end}, "
            f"validation {windows.validation_start}..{windows.validation_end}"
        )
    return windows


@dataclass(frozen=True)
class ValidationWindow:
    """The days a new model is validated on, and why those."""

    start: date
    end: date
    source: str  # "configured" or "after_training"
    note: str


def validation_window(
    conn: Any, settings: Settings, symbol: str, train_start: date, train_end: date
) -> ValidationWindow | None:
    """The configured validation window if it has published bars and does not overlap training; else the
    same number of calendar days right after the training window; ``None`` when neither has bars."""
    w = settings.windows
    overlaps = w.validation_start <= train_end and w.validation_end >= train_start
    if not overlaps and published_days(conn, symbol, w.validation_start, w.validation_end):
        return ValidationWindow(w.validation_start, w.validation_end, "configured", "configured validation window")
    why = (
        f"the configured window {w.validation_start}..{w.validation_end} overlaps training"
        if overlaps
        else f"the configured window {w.validation_start}..{w.validation_end} has no published bars"
    )
    start = train_end + timedelta(days=1)
    end = start + (w.validation_end - w.validation_start)
    days = published_days(conn, symbol, start, end)
    if not days:
        return None
    return ValidationWindow(start, min(end, days[-1]), "after_training", f"days after the training window ({why})")


def window_health(settings: Settings, symbol: str, start: date, end: date) -> dict[str, Any]:
    """Trading days of ``start..end`` for ``symbol``: published, quarantined (and not published), missing.

    ``unusable_fraction`` = (quarantined + missing) / trading days (0 for a window without trading days).
    """
    expected = trading_days(start, end)
    with connection(settings) as conn:
        published = set(published_days(conn, symbol, start, end))
        held = {row["day"] for row in active_quarantine(conn, symbol) if start <= row["day"] <= end}
    quarantined = sorted(d for d in held if d not in published)
    missing = [d for d in expected if d not in published and d not in held]
    n = len(expected)
    return {
        "symbol": symbol,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "trading_days": n,
        "published_days": len(published),
        "quarantined_days": len(quarantined),
        "missing_days": len(missing),
        "quarantined": [d.isoformat() for d in quarantined],
        "missing": [d.isoformat() for d in missing],
        "unusable_fraction": (len(quarantined) + len(missing)) / n if n else 0.0,
    }


def max_bad_day_fraction(params: dict[str, Any]) -> float:
    """The share of unusable days a run tolerates: ``params["max_bad_day_fraction"]``, else the default (5 %)."""
    value = params.get("max_bad_day_fraction")
    return DEFAULT_MAX_BAD_DAY_FRACTION if value is None else float(value)


def unusable_reason(health: dict[str, Any], max_fraction: float) -> str | None:
    """Why a window of :func:`window_health` is unusable, or ``None`` when it is fine."""
    if health["trading_days"] == 0:
        return f"{health['start']}..{health['end']} has no trading days"
    if health["unusable_fraction"] <= max_fraction:
        return None
    bad = sorted(health["quarantined"] + health["missing"])
    shown = ", ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else "")
    return (
        f"{health['start']}..{health['end']}: {health['quarantined_days']} quarantined + {health['missing_days']} "
        f"missing of {health['trading_days']} trading days = {health['unusable_fraction']:.1%} "
        f"> {max_fraction:.1%} allowed ({shown})"
    )


def data_verdict(settings: Settings, symbol: str, windows: Windows, max_fraction: float) -> tuple[str | None, list]:
    """Why ``symbol``'s training or validation window is unusable (``None`` when both are fine), and both healths."""
    reasons, healths = [], []
    for name in ("train", "validation"):
        start, end = getattr(windows, f"{name}_start"), getattr(windows, f"{name}_end")
        health = window_health(settings, symbol, start, end)
        healths.append({"window": name, **health})
        reason = unusable_reason(health, max_fraction)
        if reason:
            reasons.append(f"{name} window {reason}")
    return "; ".join(reasons) or None, healths
