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

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from nse_reports.auth import LoginRequired, current_user, login_url, wants_html
from nse_reports.files import ReportListing, content_type, find_daily_report, list_reports, resolve_report_file
from nse_reports.pages import render_index, render_no_report

#: Headers on every response: reports are private (not cached) and only framed by the Airflow UI.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}
#: SVG may carry scripts: served files of that type may not run any.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _prefix(request: Request) -> str:
    """The path the app is mounted at (``/nse-reports`` in the API server, ``""`` on its own)."""
    return request.scope.get("root_path", "").rstrip("/")


def _with_security_headers(response: Response) -> Response:
    """``response`` with :data:`SECURITY_HEADERS` (unless already set) and, for SVG, :data:`SVG_POLICY`."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.headers.get("content-type", "").startswith("image/svg"):
        response.headers["Content-Security-Policy"] = SVG_POLICY
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
        return _with_security_headers(await call_next(request))


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
    def run_report(dag_id: str, run_id: str, request: Request) -> Response:
        """Redirect to the daily report of the trading day a DAG run processed."""
        from nse_reports.runs import day_of_run

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
