"""The reports FastAPI app the plugin mounts in the Airflow API server (at ``/nse-reports``).

Routes (every one behind :func:`nse_reports.auth.current_user`):

=================================  ==============================================================
``GET /``                          index page: daily reports, schedules, Data Docs, other files
``GET /api/reports``               the same listing as JSON
``GET /files/{path}``              one file of the reports folder (HTML, JSON, CSV, PNG, SVG, ...)
``GET /daily/{YYYY-MM-DD}``        redirect to that day's daily report (``/daily/latest``: newest)
``GET /runs/{dag_id}/{run_id}``    redirect to the report of the day a DAG run processed
=================================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from nse_reports.auth import LoginRequired, can_read_dag_runs, current_user, login_url, wants_html
from nse_reports.files import ReportListing, content_type, find_daily_report, list_reports, resolve_report_file
from nse_reports.pages import render_index, render_no_report

#: Headers on every response: reports are private (not cached) and only framed by the Airflow UI.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}
#: Every response carries a Content-Security-Policy. The service's own pages (reports, index) are
#: static HTML with inline styles and inline SVG: they may load nothing and run no script.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
#: SVG may carry scripts: served files of that type may not run any.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'self'"
#: The Great Expectations Data Docs run GX's inline code and the vendored libraries beside them
#: (``static/vendor``, nothing from another host). Their scripts run on the Airflow origin, so they
#: are boxed in: no fetch/XHR (``connect-src``), no form, no frame, no pop-up or top-level
#: navigation (``sandbox`` without ``allow-popups``/``allow-top-navigation``), and the pages may not
#: be framed (by the Airflow UI either), so a script can reach neither the API nor the UI's window.
DATA_DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'; sandbox allow-scripts allow-same-origin"
)
#: Anything else (JSON, CSV, images, the vendored CSS/JS themselves): not a document, loads nothing.
OTHER_POLICY = "default-src 'none'; base-uri 'none'; frame-ancestors 'self'"
DATA_DOCS_PREFIX = "/files/data-docs/"


def _prefix(request: Request) -> str:
    """The path the app is mounted at (``/nse-reports`` in the API server, ``""`` on its own)."""
    return request.scope.get("root_path", "").rstrip("/")


def content_security_policy(path: str, content_type: str) -> str:
    """The Content-Security-Policy of a response: by what it is (HTML, SVG, other) and where (Data Docs)."""
    if content_type.startswith("image/svg"):
        return SVG_POLICY
    if content_type.startswith("text/html"):
        return DATA_DOCS_POLICY if DATA_DOCS_PREFIX in path else PAGE_POLICY
    return OTHER_POLICY


def _with_security_headers(response: Response, path: str = "") -> Response:
    """``response`` with :data:`SECURITY_HEADERS` (unless already set) and its Content-Security-Policy."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    policy = content_security_policy(path, response.headers.get("content-type", ""))
    response.headers["Content-Security-Policy"] = policy
    if "frame-ancestors 'none'" in policy:
        response.headers["X-Frame-Options"] = "DENY"
    return response


def _daily_target(root: Path, listing: ReportListing, day: str) -> tuple[str | None, date | None]:
    """The daily report ``day`` names (its relative path, None without one) and the day it is of.

    ``latest`` is the newest daily report in ``listing``; any other ``day`` must be ``YYYY-MM-DD`` (else 404).
    """
    if day == "latest":
        newest = next((f for f in listing.sections.get("daily", []) if f.relative.endswith(".html")), None)
        return (newest.relative if newest else None), (newest.day if newest else None)
    try:
        the_day = date.fromisoformat(day)
    except ValueError as exc:
        raise HTTPException(status_code=404, detail="not a day (YYYY-MM-DD)") from exc
    return find_daily_report(root, the_day), the_day


def _add_login_and_headers(app: FastAPI) -> None:
    """Refuse callers without a login (redirect browsers, 401 otherwise) and set the headers of every response."""

    @app.exception_handler(LoginRequired)
    async def _refuse(request: Request, exc: LoginRequired) -> Response:
        if wants_html(request):
            return RedirectResponse(login_url(request), status_code=307)
        return JSONResponse({"detail": exc.reason}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Callable) -> Response:
        relative = request.url.path.removeprefix(_prefix(request)) if _prefix(request) else request.url.path
        return _with_security_headers(await call_next(request), relative)


def _add_listing_routes(app: FastAPI, reports_dir: Callable[[], Path]) -> None:
    """``GET /``, ``GET /api/reports`` and ``GET /files/{path}``: the folder ``reports_dir()`` and its files."""

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        """The index page of every report."""
        return HTMLResponse(render_index(list_reports(reports_dir()), _prefix(request)))

    @app.get("/api/reports")
    def reports_json() -> JSONResponse:
        """The listing of the reports folder as JSON."""
        return JSONResponse(list_reports(reports_dir()).as_dict())

    @app.get("/files/{relative:path}")
    def report_file(relative: str, request: Request) -> Response:
        """One report file; 404 for anything outside the reports folder or of an unknown type."""
        root = reports_dir()
        path = resolve_report_file(root, relative)
        if path is None:
            raise HTTPException(status_code=404, detail="no such report")
        if path.name == "index.html" and not relative.endswith(("index.html", "/")):
            # a folder: its index.html links relatively, so it must be addressed with a trailing slash
            return RedirectResponse(f"{_prefix(request)}/files/{relative}/", status_code=307)
        return FileResponse(path, media_type=content_type(path))


def _add_redirect_routes(app: FastAPI, reports_dir: Callable[[], Path]) -> None:
    """``GET /daily/{day}`` and ``GET /runs/{dag_id}/{run_id}``: redirects to a daily report (404 page without one)."""

    @app.get("/daily/{day}")
    def daily_report(day: str, request: Request) -> Response:
        """Redirect to the daily report of ``day`` (``latest``: the newest one)."""
        root = reports_dir()
        listing = list_reports(root)
        found, the_day = _daily_target(root, listing, day)
        if found is None:
            page = render_no_report(_prefix(request), "Daily report", the_day, listing)
            return HTMLResponse(page, status_code=404)
        return RedirectResponse(f"{_prefix(request)}/files/{found}", status_code=307)

    @app.get("/runs/{dag_id}/{run_id}")
    def run_report(dag_id: str, run_id: str, request: Request, user: Annotated[Any, Depends(current_user)]) -> Response:
        """Redirect to the daily report of the trading day a DAG run processed (403 without read access to the DAG)."""
        from nse_reports.runs import day_of_run

        if not can_read_dag_runs(user, dag_id):
            raise HTTPException(status_code=403, detail=f"not allowed to read the runs of {dag_id}")
        root = reports_dir()
        day = day_of_run(dag_id, run_id)
        found = find_daily_report(root, day) if day else None
        if found is None:
            page = render_no_report(_prefix(request), f"Run {run_id} of {dag_id}", day, list_reports(root))
            return HTMLResponse(page, status_code=404)
        return RedirectResponse(f"{_prefix(request)}/files/{found}", status_code=307)


def create_app(reports_dir: Callable[[], Path]) -> FastAPI:
    """The reports app serving the folder ``reports_dir()`` (called per request, so it follows EXEC_HOME)."""
    app = FastAPI(
        title="NSE execution reports",
        description="Daily reports, schedules and Data Docs of the NSE execution service",
        dependencies=[Depends(current_user)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    _add_login_and_headers(app)
    _add_listing_routes(app, reports_dir)
    _add_redirect_routes(app, reports_dir)
    return app
