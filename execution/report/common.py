"""Shared pieces of the reports: JSON-safe values, the Jinja2 environment, number formats, data provenance."""

from __future__ import annotations

import json
import math
import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from execution.data.exchange_calendar import SESSION_OPEN
from execution.data.files import write_text
from execution.data.quality import data_docs_dir, load_verdicts
from execution.data.sources.synthetic import planted_from_label
from execution.data.store import active_quarantine
from execution.json_values import json_safe
from execution.report.charts import cell_colours

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


# ---------------------------------------------------------------- values


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (made JSON-safe) with stable key order, atomically; returns the path."""
    return write_text(path, json.dumps(json_safe(payload), indent=1, sort_keys=False, allow_nan=False) + "\n")


def minute_label(minute: int) -> str:
    """Exchange time ``HH:MM`` of session minute index ``minute`` (0 = 09:15)."""
    total = SESSION_OPEN.hour * 60 + SESSION_OPEN.minute + int(minute)
    return f"{total // 60:02d}:{total % 60:02d}"


# ---------------------------------------------------------------- formats (Jinja2 filters)


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float | np.number) and math.isfinite(float(value))


def fmt_bps(value: Any, signed: bool = True) -> str:
    """``+1.23`` (bps); an em dash for a missing value."""
    if not _finite(value):
        return "—"
    return f"{float(value):+,.2f}" if signed else f"{float(value):,.2f}"


def fmt_inr(value: Any, digits: int = 2) -> str:
    """``₹1,411.25``."""
    return f"₹{float(value):,.{digits}f}" if _finite(value) else "—"


def fmt_num(value: Any, digits: int = 0) -> str:
    """``10,000`` / ``1.5``."""
    return f"{float(value):,.{digits}f}" if _finite(value) else "—"


def fmt_pct(value: Any, digits: int = 0) -> str:
    """``45%`` from a fraction."""
    return f"{100 * float(value):.{digits}f}%" if _finite(value) else "—"


def sign_class(value: Any) -> str:
    """CSS class of a signed number: ``pos`` (better), ``neg`` (worse) or ``zero``."""
    if not _finite(value) or abs(float(value)) < 1e-9:
        return "zero"
    return "pos" if float(value) > 0 else "neg"


def environment():
    """The Jinja2 environment of the report templates (autoescaped, with the number filters)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(bps=fmt_bps, inr=fmt_inr, num=fmt_num, pct=fmt_pct, sign=sign_class)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)


def inline_svg(svg: str):
    """Mark chart markup as safe HTML for the templates."""
    from markupsafe import Markup

    return Markup(svg)


# ---------------------------------------------------------------- provenance and quality


def bar_sources(conn: Any, symbols: list[str], start: date, end: date) -> list[dict[str, Any]]:
    """Per symbol and source: days and bars published in ``start..end`` (what the numbers ran on)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, source, count(DISTINCT (ts AT TIME ZONE 'Asia/Kolkata')::date), count(*),"
            " min((ts AT TIME ZONE 'Asia/Kolkata')::date), max((ts AT TIME ZONE 'Asia/Kolkata')::date)"
            " FROM bars_1m WHERE symbol = ANY(%s)"
            " AND ts >= (%s::date::timestamp AT TIME ZONE 'Asia/Kolkata')"
            " AND ts < ((%s::date + 1)::timestamp AT TIME ZONE 'Asia/Kolkata')"
            " GROUP BY symbol, source ORDER BY symbol, source",
            (list(symbols), start, end),
        )
        rows = cur.fetchall()
        cur.execute(
            "SELECT DISTINCT ON (source) source, params FROM ingest_runs WHERE symbols && %s::text[]"
            " ORDER BY source, run_id DESC",
            (list(symbols),),
        )
        origins = {source: params for source, params in cur.fetchall()}
    out = []
    for symbol, source, days, bars, first, last in rows:
        out.append(
            {
                "symbol": symbol,
                "source": source,
                "synthetic": planted_from_label(source) is not None,
                "days": int(days),
                "bars": int(bars),
                "first_day": first,
                "last_day": last,
                "origin": describe_source(source, origins.get(source) or {}),
            }
        )
    return out


def describe_source(source: str, params: dict[str, Any]) -> str:
    """Where bars of ``source`` come from, in words."""
    planted = planted_from_label(source)
    if planted is not None:
        text = "synthetic: the seeded generator calibrated to NSE intraday patterns (execution/sources/synthetic.py)"
        if planted.active:
            text += (
                f", with a planted predictable component (a deviation of sd {planted.strength:g} 1-minute sds"
                f" and half-life {planted.half_life_min:g} min): an edge exists by construction"
            )
        return text
    if source == "landing":
        where = params.get("path") or "the configured samples folder"
        return f"real NSE 1-minute bars from the landing folder {where} (vendor CSV/Parquet exports)"
    if source == "kite":
        return "real NSE 1-minute bars from the Kite Connect historical API"
    if source == "yfinance":
        return "real NSE 1-minute bars from Yahoo Finance (recent days only)"
    return f"source {source!r}"


def data_docs_link(settings: Any, out_dir: Path, symbol: str, day: date) -> dict[str, str | None]:
    """Relative links from ``out_dir`` to the Data Docs index and to the (symbol, day) page, when they exist."""
    docs = data_docs_dir(settings)
    index = docs / "index.html"
    pages = sorted(docs.glob(f"validations/*/{symbol}_{day.isoformat()}/*/*.html")) if docs.is_dir() else []
    return {
        "index": os.path.relpath(index, out_dir) if index.is_file() else None,
        "page": os.path.relpath(pages[-1], out_dir) if pages else None,
        "folder": str(docs),
    }


def quality_status(conn: Any, symbol: str, day: date) -> dict[str, Any]:
    """The day's validation verdict and any active quarantine of ``symbol``, with a one-word status."""
    verdicts = load_verdicts(conn, [symbol], day, day)
    held = active_quarantine(conn, symbol, day)
    verdict = verdicts[0] if verdicts else None
    if held:
        status = "quarantined"
    elif verdict is None:
        status = "not validated"
    elif not verdict.passed:
        status = "failed"
    elif verdict.warnings:
        status = "passed with warnings"
    else:
        status = "passed"
    failures = [] if verdict is None else [f.to_json() for f in [*verdict.errors, *verdict.warnings]]
    return {
        "status": status,
        "statistics": {} if verdict is None else verdict.statistics,
        "failures": [
            {k: f[k] for k in ("name", "severity", "column", "observed_value", "unexpected_count")} for f in failures
        ],
        "quarantine": [{"reason": q["reason"], "quarantined_at": q["quarantined_at"]} for q in held],
    }


def heat_table(values: np.ndarray, row_labels: list, column_labels: list) -> dict[str, Any]:
    """A decision table ready for the ``heat_table`` macro: labels and ``(value, background, text colour)`` cells."""
    colours = cell_colours(values)
    rows = []
    for label, row, row_colours in zip(row_labels, np.asarray(values).tolist(), colours, strict=True):
        rows.append({"label": label, "cells": [(v, bg, fg) for v, (bg, fg) in zip(row, row_colours, strict=True)]})
    return {"columns": list(column_labels), "rows": rows}
