"""Database connection: the configured PostgreSQL, or an embedded one, with migrations applied.

``EXEC_DATABASE_URL`` set -> that server is used. Not set -> an embedded PostgreSQL
(``pgserver``) is started in ``$EXEC_HOME/pg``, or reused when it already runs; it keeps
running after the process exits so that the next command starts at once (stop it with
``python -m execution db stop``).

Migrations are the files ``execution/migrations/NNNN_name.sql``, applied in order, each in
its own transaction, recorded in ``schema_migrations``, under an advisory lock so that
concurrent processes (Airflow tasks) apply them once.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import psycopg2
import psycopg2.extensions

from execution.config import Settings

log = logging.getLogger(__name__)
logging.getLogger("pgserver").setLevel(logging.WARNING)  # its INFO lines are start-up chatter

MIGRATION_LOCK_KEY = 74_117_001  # arbitrary, fixed advisory-lock key for migrations
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_migrated_urls: set[str] = set()


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached (or the embedded one cannot start)."""


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def embedded_url(pg_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL in ``pg_dir`` and return its URL."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        pg_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_server(pg_dir)
        try:
            server = pgserver.get_server(pg_dir, cleanup_mode=None)
        except Exception as exc:  # pgserver raises plain exceptions with pg_ctl output
            raise DatabaseUnavailable(f"cannot start the embedded PostgreSQL in {pg_dir}: {exc}") from exc
    return server.get_uri()


def _alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie (a killed server not yet reaped)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _forget_dead_server(pg_dir: Path) -> None:
    """Let a crashed (killed) embedded server start again: drop this process's cached handle of it,
    and its ``postmaster.pid`` when that names a zombie (PostgreSQL would take a zombie for a live
    server and refuse to start). The next ``get_server`` starts the server; it recovers from its WAL."""
    from pgserver.postgres_server import PostgresServer

    pid_file = pg_dir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        lines, pid = [], None
    if pid is not None and _alive(pid):
        return
    cached = PostgresServer._instances.pop(pg_dir.resolve(), None)
    if cached is not None:
        atexit.unregister(cached._cleanup)
    if pid is None:
        return
    log.warning("the embedded PostgreSQL in %s is not running any more (pid %s): starting it again", pg_dir, pid)
    if len(lines) >= 5 and lines[3].strip().isdigit():  # port, socket directory: the socket's lock file
        (Path(lines[4].strip() or pg_dir) / f".s.PGSQL.{lines[3].strip()}.lock").unlink(missing_ok=True)
    pid_file.unlink(missing_ok=True)


def stop_embedded(pg_dir: Path) -> bool:
    """Stop the embedded server of ``pg_dir`` if it runs (whoever started it); True when stopped."""
    if not (pg_dir / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl
        from pgserver.postgres_server import PostgresServer

    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs postgres as this user under root
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pg_dir.resolve(), user=user)
    except subprocess.CalledProcessError:
        return False  # not running after all (a stale pid file)
    finally:  # forget this process's cached handle, and its exit hook
        cached = PostgresServer._instances.pop(pg_dir.resolve(), None)
        if cached is not None:
            atexit.unregister(cached._cleanup)
        _migrated_urls.clear()
    return True


def database_url(settings: Settings) -> str:
    """The URL of the service's database (configured, else embedded)."""
    return settings.database_url or embedded_url(settings.pg_dir)


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with the package, in order."""
    folder = resources.files("execution").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version number: {[n for _, n, _ in found]}")
    return found


def apply_migrations(conn: psycopg2.extensions.connection) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    applied_now = []
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    conn.commit()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
        conn.commit()
        for version, name, sql in migration_files():
            if version in done:
                continue
            with conn.cursor() as cur:
                cur.execute(sql)
                cur.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            conn.commit()
            applied_now.append(name)
            log.info("applied migration %s", name)
    except Exception:
        conn.rollback()
        raise
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        conn.commit()
    return applied_now


def connect(settings: Settings, *, migrate: bool = True) -> psycopg2.extensions.connection:
    """A new connection to the service's database, migrations applied (once per process and URL)."""
    url = database_url(settings)
    try:
        conn = psycopg2.connect(url, connect_timeout=10, application_name="nse-execution")
    except psycopg2.OperationalError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to the database at {_redact(url)}: {detail}") from exc
    conn.set_session(autocommit=False)
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'Asia/Kolkata'")
    conn.commit()
    if migrate and url not in _migrated_urls:
        apply_migrations(conn)
        _migrated_urls.add(url)
    return conn


@contextmanager
def connection(settings: Settings) -> Iterator[psycopg2.extensions.connection]:
    """Context manager: a connection that is committed on success, rolled back on error, closed."""
    conn = connect(settings)
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
