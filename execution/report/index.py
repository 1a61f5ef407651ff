"""The index page of a reports folder: every daily and experiment report in it, newest first."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from execution import __version__
from execution.data.files import write_text
from execution.report.common import render

INDEX_NAME = "index.html"


def _headline(json_path: Path) -> dict[str, Any]:
    """A few numbers of a report from the JSON beside it (empty when it cannot be read)."""
    try:
        payload = json.loads(json_path.read_text())
    except (OSError, ValueError):
        return {}
    if payload.get("kind") == "experiment":
        sources = (payload.get("data") or {}).get("test") or []
        return {
            "sources": sorted({row.get("source") for row in sources if row.get("source")}),
            "text": f"{len(payload.get('models') or [])} models; missing: "
            + (", ".join(sorted({m["agent"] for m in payload.get("missing") or []})) or "none"),
            "symbols": [],
        }
    out: dict[str, Any] = {"symbols": []}
    for section in payload.get("orders") or []:
        head = section.get("headline") or {}
        out["symbols"].append(
            {
                "symbol": section.get("symbol"),
                "policy": head.get("label"),
                "shortfall_seed_bps": (head.get("shortfall_bps") or {}).get("seed"),
                "advantage_seed_bps": (head.get("advantage_bps") or {}).get("seed"),
                "advantage_impact_bps": (head.get("advantage_bps") or {}).get("impact"),
                "quality": (section.get("quality") or {}).get("status"),
            }
        )
    out["sources"] = sorted({row.get("source") for row in payload.get("data") or [] if row.get("source")})
    return out


def list_reports(folder: Path) -> list[dict[str, Any]]:
    """Every ``daily-*.html`` and ``experiment*.html`` of ``folder``: name, kind, title date, headline numbers."""
    folder = Path(folder)
    reports = []
    for path in sorted(folder.glob("*.html")):
        if path.name == INDEX_NAME:
            continue
        if path.name.startswith("daily-"):
            kind, label = "daily", path.stem.removeprefix("daily-")
        elif path.name.startswith("experiment"):
            kind, label = "experiment", path.stem
        else:
            continue
        reports.append(
            {
                "name": path.name,
                "kind": kind,
                "label": label,
                "json": path.with_suffix(".json").name if path.with_suffix(".json").is_file() else None,
                "modified": datetime.fromtimestamp(path.stat().st_mtime).astimezone(),
                "headline": _headline(path.with_suffix(".json")),
            }
        )
    daily = sorted((r for r in reports if r["kind"] == "daily"), key=lambda r: r["label"], reverse=True)
    other = [r for r in reports if r["kind"] != "daily"]
    return other + daily


def write_index(folder: Path) -> Path:
    """Write ``folder/index.html`` listing the folder's reports; returns its path."""
    folder = Path(folder)
    reports = list_reports(folder)
    html = render(
        "index.html.j2",
        reports=reports,
        folder=str(folder),
        generated_at=datetime.now().astimezone(),
        version=__version__,
    )
    path = folder / INDEX_NAME
    write_text(path, html)
    return path
