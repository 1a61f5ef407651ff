"""``airflow-ui``: run Airflow for this project (``make airflow``) and print its URL and login.

The work is :func:`execution.ops.airflow_ui.serve` (``airflow standalone`` with the project's DAGs,
plugin and data folder); this module only reads the command line.
"""

from __future__ import annotations

import argparse

from execution.config import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``airflow-ui``."""
    p = subparsers.add_parser(
        "airflow-ui", help="start Airflow (UI, scheduler, ...) with the project's DAGs and reports"
    )
    p.add_argument("--host", default="127.0.0.1", help="address the API server listens on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port of the API server and UI (default 8080)")
    p.add_argument("--metadata-url", help="SQLAlchemy URL of Airflow's metadata DB (default: as make demo)")
    p.add_argument("--ready-timeout-s", type=float, default=240.0, help="how long to wait for the UI to answer")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start Airflow and run until Ctrl-C (or SIGTERM)."""
    from execution.ops.airflow_ui import serve

    return serve(settings, args.host, args.port, args.metadata_url, args.ready_timeout_s)
