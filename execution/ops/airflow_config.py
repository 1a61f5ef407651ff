"""The environment Airflow runs in for this project (no Airflow import here).

Airflow's home is ``$EXEC_HOME/airflow``; its metadata database is a database ``airflow`` on
the service's own PostgreSQL (the embedded server, or the configured one): a real server, so the
scheduler can run tasks in parallel (LocalExecutor) and the metadata survives like the bars do,
with no second server to run. The DAGs and plugins are the project's ``dags/`` and ``plugins/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse, urlunparse

import psycopg2

from execution.config import Settings
from execution.db import database_url

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_DATABASE = "airflow"
#: The pool that bounds concurrent RL training (nse_weekly_retrain): one run at a time on 2 cores.
TRAINING_POOL = "nse_training"
TRAINING_POOL_SLOTS = 1
POOL_DESCRIPTION = "RL training: one run at a time (2 cores)"


def ensure_database(settings: Settings, name: str = AIRFLOW_DATABASE) -> str:
    """Create database ``name`` on the service's server if missing; returns its libpq URL."""
    url = database_url(settings)
    parsed = urlparse(url)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return urlunparse(parsed._replace(path=f"/{name}"))


def sqlalchemy_url(libpq_url: str) -> str:
    """``postgresql://u:p@/db?host=/sock`` -> ``postgresql+psycopg2://u:p@/db?host=/sock``."""
    parsed = urlparse(libpq_url)
    query = parse_qs(parsed.query)
    user = parsed.username or "postgres"
    auth = f"{user}:{parsed.password}@" if parsed.password else f"{user}@"
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    extra = f"?host={query['host'][0]}" if "host" in query else ""
    return f"postgresql+psycopg2://{auth}{host}{port}{parsed.path}{extra}"


def airflow_environment(settings: Settings, metadata_url: str | None = None) -> dict[str, str]:
    """Environment variables for any Airflow process of this project (merged over os.environ)."""
    home = settings.home / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "EXEC_HOME": str(settings.home),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Kolkata",
            "AIRFLOW__CORE__EXECUTOR": env.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url or sqlalchemy_url(ensure_database(settings)),
        }
    )
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    if settings.database_url:
        env["EXEC_DATABASE_URL"] = settings.database_url
    return env
