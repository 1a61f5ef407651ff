"""Shared fixtures. The environment is set before anything imports Airflow or the settings:
a per-session EXEC_HOME (its own embedded PostgreSQL in EXEC_HOME/pg, or EXEC_DATABASE_URL when
set), a per-session AIRFLOW_HOME with the project's dags/ and plugins/ folders."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="nse-exec-tests-"))
os.environ["EXEC_HOME"] = str(_SESSION_DIR / "exec")
os.environ.setdefault("EXEC_SAMPLES_DIR", str((REPO / ".." / "shared" / "data" / "nse-1m").resolve()))
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)

from execution.config import Settings, load_settings  # noqa: E402
from execution.db import connect, stop_embedded  # noqa: E402

#: the banner of paths that need a service of the machine (external PostgreSQL, Celery/Redis)
pytest_plugins = ["external_services"]

EXTERNAL_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def samples_dir() -> Path:
    """The real NSE samples folder (the one setting, EXEC_SAMPLES_DIR)."""
    return load_settings().samples_dir


requires_samples = pytest.mark.skipif(
    not (samples_dir() / "RELIANCE.csv").is_file(),
    reason=f"real NSE samples not found in {samples_dir()} (set EXEC_SAMPLES_DIR)",
)


@pytest.fixture(scope="session", autouse=True)
def _session_cleanup() -> Iterator[None]:
    yield
    settings = load_settings()
    if not settings.database_url:
        stop_embedded(settings.pg_dir)
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture
def settings() -> Settings:
    """The test session's settings (temporary EXEC_HOME)."""
    return load_settings()


def truncate_all(conn) -> None:
    """Empty every table of the service (not the migration record)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        tables = cur.fetchone()[0]
        if tables:
            cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    conn.commit()


@pytest.fixture
def conn(settings: Settings):
    """A connection to the test database, migrated and emptied before the test."""
    connection = connect(settings)
    truncate_all(connection)
    yield connection
    connection.rollback()
    connection.close()


@pytest.fixture(scope="session")
def dag_bag():
    """The repo's DAG folder, parsed once per session (dags/ put on sys.path as the processor does)."""
    from airflow_support import load_dag_bag

    return load_dag_bag()


@pytest.fixture
def external_database(tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database on the machine's PostgreSQL (127.0.0.1:5432, trust, database ``test``),
    dropped afterwards; the test is skipped, saying so, when that server does not answer."""
    import psycopg2

    try:
        admin = psycopg2.connect(EXTERNAL_POSTGRES_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {str(exc).strip().splitlines()[0]}")
    admin.autocommit = True
    name = f"nse_exec_test_{abs(hash(str(tmp_path))) % 10**8}"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
