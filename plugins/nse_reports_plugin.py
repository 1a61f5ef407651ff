"""Airflow plugin: the service's reports (daily reports, schedules, Data Docs) inside the Airflow UI.

* ``fastapi_apps``: the reports app (:mod:`nse_reports.app`) mounted by the API server at
  ``/nse-reports``. Airflow mounts it as it is, without authentication: the app checks the caller's
  Airflow token itself (:mod:`nse_reports.auth`).
* ``external_views``: a "Reports" entry in the UI's Browse menu that shows ``/nse-reports/`` in the UI
  (``/plugin/nse-reports``), and a "Report" tab on every DAG run that opens the daily report of the day
  that run processed (``/nse-reports/runs/{DAG_ID}/{RUN_ID}``).

The reports folder is ``$EXEC_HOME/reports`` (``execution.config.Settings.reports_dir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from nse_reports.app import create_app

URL_PREFIX = "/nse-reports"


def reports_dir() -> Path:
    """The service's reports folder, from the current settings (EXEC_HOME)."""
    from execution.config import load_settings

    return load_settings().reports_dir


reports_app = create_app(reports_dir)

REPORTS_VIEW = {
    "name": "Reports",
    "href": f"{URL_PREFIX}/",
    "url_route": "nse-reports",
    "destination": "nav",
    "category": "browse",
}
RUN_REPORT_VIEW = {
    "name": "Report",
    "href": f"{URL_PREFIX}/runs/{{DAG_ID}}/{{RUN_ID}}",
    "url_route": "nse-run-report",
    "destination": "dag_run",
}


class NseReportsPlugin(AirflowPlugin):
    """Serves ``$EXEC_HOME/reports`` at ``/nse-reports`` behind Airflow's login, with menu entries."""

    name = "nse_reports"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": reports_app, "url_prefix": URL_PREFIX, "name": "NSE execution reports"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [REPORTS_VIEW, RUN_REPORT_VIEW]
