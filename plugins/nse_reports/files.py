"""The report files the plugin may serve: safe path resolution and the listing of the reports folder.

Only regular files under the reports folder, with a known extension, reached through path
components that are neither ``..`` nor hidden (``.name``) are served; a symbolic link that
resolves outside the folder is refused like ``..``. Nothing here imports Airflow.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

#: Extensions served, with their media types (reports, schedules, charts and the Data Docs' assets).
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ico": "image/x-icon",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".otf": "font/otf",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}

#: Sub-folders of the reports folder and their headings on the index page, in display order.
SECTIONS: dict[str, str] = {
    "daily": "Daily reports",
    "schedules": "Next-day schedules",
    "data-docs": "Data quality (Great Expectations Data Docs)",
}
OTHER_SECTION = "Other reports"
DATA_DOCS_INDEX = "data-docs/index.html"
_DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")


def resolve_report_file(root: Path, relative: str) -> Path | None:
    """The file ``relative`` (a URL path, ``/``-separated) names under ``root``, or None if it may not be served.

    A folder resolves to its ``index.html``. Refused: empty or absolute paths, ``..``, ``.`` or hidden
    components, backslashes, NUL bytes, unknown extensions, and anything whose real path (symbolic
    links followed) is outside ``root``.
    """
    if not relative or "\x00" in relative or "\\" in relative:
        return None
    path = PurePosixPath(relative)
    if path.is_absolute() or relative.startswith("/"):
        return None
    parts = [p for p in relative.split("/") if p]  # "a//b" and a trailing "/" are harmless
    if not parts or any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    try:
        real_root = root.resolve(strict=True)
        candidate = real_root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    if not candidate.is_relative_to(real_root):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
        if not candidate.is_file():
            return None
    if not candidate.is_file() or candidate.suffix.lower() not in CONTENT_TYPES:
        return None
    return candidate


def content_type(path: Path) -> str:
    """The media type a served file is sent with (its extension must be in :data:`CONTENT_TYPES`)."""
    return CONTENT_TYPES[path.suffix.lower()]


@dataclass(frozen=True)
class ReportFile:
    """One servable file of the reports folder."""

    relative: str  # path under the reports folder, "/"-separated
    size_bytes: int
    modified_utc: datetime
    day: date | None  # a YYYY-MM-DD found in its path (the trading day of a daily report)

    @property
    def name(self) -> str:
        """The file name without its folders."""
        return PurePosixPath(self.relative).name


@dataclass
class ReportListing:
    """The reports folder, grouped by section (``daily``, ``schedules``, ``data-docs``, other)."""

    root: Path
    sections: dict[str, list[ReportFile]] = field(default_factory=dict)
    data_docs_index: str | None = None  # relative path of the Data Docs start page, when built

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (what ``/api/reports`` returns)."""
        return {
            "data_docs_index": self.data_docs_index,
            "sections": {
                name: [
                    {
                        "path": f.relative,
                        "size_bytes": f.size_bytes,
                        "modified_utc": f.modified_utc.isoformat(),
                        "day": f.day.isoformat() if f.day else None,
                    }
                    for f in files
                ]
                for name, files in self.sections.items()
            },
        }


def day_in_name(relative: str) -> date | None:
    """The last valid ``YYYY-MM-DD`` in a path (``daily/2020-01-30.html`` -> 2020-01-30), else None."""
    for match in reversed(_DAY_IN_NAME.findall(relative)):
        try:
            return date.fromisoformat(match)
        except ValueError:
            continue
    return None


def _servable_files(root: Path) -> list[str]:
    """Relative paths of every servable file under ``root`` (symbolic links to folders not followed)."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if resolve_report_file(root, relative) is not None:
                found.append(relative)
    return sorted(found)


def list_reports(root: Path) -> ReportListing:
    """Every servable file under ``root`` by section; daily reports newest day first.

    The Data Docs are many small pages: the listing keeps only their start page (and the link to it).
    """
    listing = ReportListing(root=root, sections={name: [] for name in SECTIONS})
    listing.sections[OTHER_SECTION] = []
    if not root.is_dir():
        return listing
    for relative in _servable_files(root):
        top = relative.split("/", 1)[0] if "/" in relative else ""
        if top == "data-docs":
            if relative == DATA_DOCS_INDEX:
                listing.data_docs_index = relative
            else:
                continue
        stat = (root / relative).stat()
        entry = ReportFile(
            relative=relative,
            size_bytes=stat.st_size,
            modified_utc=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
            day=day_in_name(relative),
        )
        listing.sections[top if top in SECTIONS else OTHER_SECTION].append(entry)
    for files in listing.sections.values():
        files.sort(key=lambda f: (f.day or date.min, f.relative), reverse=True)
    return listing


def find_daily_report(root: Path, day: date) -> str | None:
    """Relative path of the daily report of ``day``: an HTML file under ``daily/`` naming the day.

    Prefers ``daily/<day>.html``, then ``daily/<day>/index.html``, then any other HTML file whose path
    holds the day (shortest path first); None when there is none.
    """
    iso = day.isoformat()
    for preferred in (f"daily/{iso}.html", f"daily/{iso}/index.html"):
        if resolve_report_file(root, preferred) is not None:
            return preferred
    daily = root / "daily"
    if not daily.is_dir():
        return None
    candidates = [
        relative
        for relative in _servable_files(root)
        if relative.startswith("daily/") and relative.endswith((".html", ".htm")) and day_in_name(relative) == day
    ]
    return min(candidates, key=lambda r: (len(r), r)) if candidates else None
