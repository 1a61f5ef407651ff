"""HTML of the reports app's own pages (the index and the "no report" page); every value escaped."""

from __future__ import annotations

from datetime import date
from html import escape
from urllib.parse import quote

from nse_reports.files import OTHER_SECTION, SECTIONS, ReportFile, ReportListing

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5rem; color: #1a202c; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem 0; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem 0; border-bottom: 1px solid #e2e8f0; padding-bottom: .25rem; }
p.muted, td.muted { color: #718096; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; max-width: 60rem; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #edf2f7; font-size: .9rem; }
th { color: #4a5568; font-weight: 600; }
a { color: #017cee; text-decoration: none; }
a:hover { text-decoration: underline; }
.card { display: inline-block; padding: .6rem 1rem; border: 1px solid #e2e8f0; border-radius: .4rem; }
@media (prefers-color-scheme: dark) {
  body { background: #1a202c; color: #e2e8f0; }
  th { color: #a0aec0; } th, td { border-color: #2d3748; } h2 { border-color: #2d3748; }
  .card { border-color: #2d3748; } a { color: #63b3ed; }
}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )


def _file_url(prefix: str, relative: str) -> str:
    return f"{prefix}/files/{quote(relative)}"


def _size(size_bytes: int) -> str:
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.1f} KiB"
    return f"{size_bytes / 1024 / 1024:.1f} MiB"


def _table(prefix: str, files: list[ReportFile]) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{escape(f.day.isoformat()) if f.day else ''}</td>"
        f"<td><a href='{escape(_file_url(prefix, f.relative))}'>{escape(f.relative)}</a></td>"
        f"<td class='muted'>{_size(f.size_bytes)}</td>"
        f"<td class='muted'>{escape(f.modified_utc.strftime('%Y-%m-%d %H:%M UTC'))}</td>"
        "</tr>"
        for f in files
    )
    return f"<table><tr><th>day</th><th>file</th><th>size</th><th>written</th></tr>{rows}</table>"


def render_index(listing: ReportListing, prefix: str) -> str:
    """The index page: daily reports (newest first), schedules, the Data Docs link, anything else."""
    parts = [
        "<h1>NSE execution reports</h1>",
        f"<p class='muted'>Files in {escape(str(listing.root))}, written by the nse_daily_bars, "
        "nse_weekly_retrain and nse_execution_reports DAGs. "
        f"<a href='{escape(prefix)}/api/reports'>JSON</a></p>",
    ]
    if listing.data_docs_index:
        parts.append(
            f"<p class='card'><a href='{escape(_file_url(prefix, listing.data_docs_index))}' target='_blank' "
            "rel='noopener'>Great Expectations Data Docs</a> &mdash; every validation of the 1-minute bars "
            "(opens in its own tab: the Data Docs may not be framed)</p>"
        )
    for section, title in [*SECTIONS.items(), (OTHER_SECTION, OTHER_SECTION)]:
        if section == "data-docs":
            continue
        files = listing.sections.get(section, [])
        if section == OTHER_SECTION and not files:
            continue
        parts.append(f"<h2>{escape(title)}</h2>")
        parts.append(_table(prefix, files) if files else "<p class='muted'>none yet</p>")
    if not listing.data_docs_index:
        parts.append("<h2>Data quality</h2><p class='muted'>no Data Docs built yet</p>")
    return _page("NSE execution reports", "".join(parts))


def render_no_report(prefix: str, what: str, day: date | None, listing: ReportListing) -> str:
    """Page shown when a run or a day has no daily report (yet): what was looked for and what exists."""
    looked_for = f"the daily report of {day.isoformat()}" if day else "the trading day of this run"
    daily = listing.sections.get("daily", [])
    body = (
        "<h1>No report yet</h1>"
        f"<p>{escape(what)}: {escape(looked_for)} was not found in {escape(str(listing.root / 'daily'))}.</p>"
        f"<p><a href='{escape(prefix)}/'>All reports</a></p>"
    )
    if daily:
        body += "<h2>Daily reports</h2>" + _table(prefix, daily[:20])
    return _page("No report yet", body)
