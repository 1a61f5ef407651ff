"""Airflow for this project (``make airflow``): ``airflow standalone`` with the project's DAGs, its URL and login.

Starts ``airflow standalone`` (API server with the UI, scheduler, DAG processor, triggerer; the
LocalExecutor) as a subprocess, in the environment of :func:`execution.ops.airflow_config.airflow_environment`:
the project's ``dags/`` and ``plugins/``, ``AIRFLOW_HOME=$EXEC_HOME/airflow``, the metadata database
on the service's own PostgreSQL, and the same ``EXEC_HOME`` (bars, models, reports) as every other
command. Login: the SimpleAuthManager's user ``admin``, whose password is kept in
``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated`` (created here on first use, 0600).
The API server listens on 127.0.0.1 only. Ctrl-C stops every component. No Airflow import here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from execution.config import Settings
from execution.ops.airflow_config import POOL_DESCRIPTION, TRAINING_POOL, TRAINING_POOL_SLOTS, airflow_environment

ADMIN_USER = "admin"
PASSWORD_FILE_NAME = "simple_auth_manager_passwords.json.generated"
HEALTH_PATH = "/api/v2/monitor/health"
REPORTS_PATH = "/plugin/nse-reports"


def ensure_login(airflow_home: Path, username: str = ADMIN_USER) -> tuple[str, Path]:
    """The SimpleAuthManager password of ``username``: read from the password file, else generated and saved.

    Returns ``(password, file)``. The file is Airflow's own (``{"user": "password"}``), so Airflow
    uses the same password; it is created readable by its owner only.
    """
    path = airflow_home / PASSWORD_FILE_NAME
    passwords: dict[str, str] = {}
    if path.is_file() and path.read_text().strip():
        passwords = json.loads(path.read_text())
    if username not in passwords:
        passwords[username] = secrets.token_urlsafe(12)
        airflow_home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(passwords) + "\n")
    return passwords[username], path


def ui_environment(settings: Settings, host: str, port: int, metadata_url: str | None = None) -> dict[str, str]:
    """The project's Airflow environment plus what the UI needs: address, login, the airflow CLI on PATH.

    The metadata database is the one ``make demo`` uses (``airflow_environment``), so the UI shows the
    demo's runs. Airflow derives an async URL from it (``postgresql+asyncpg``); without ``asyncpg``
    the async engine is switched off, as the demo does -- the API server only needs it for multi-team
    deployments and the streaming "wait for a DAG run" endpoint.
    """
    env = airflow_environment(settings, metadata_url=metadata_url)
    conn = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if conn.startswith("postgresql") and importlib.util.find_spec("asyncpg") is None:
        env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC", "")
    home = Path(env["AIRFLOW_HOME"])
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]),
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / PASSWORD_FILE_NAME),
        }
    )
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")  # task processes at once (the default 32 is for big hosts)
    env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", None)
    return env


def port_in_use(port: int) -> bool:
    """True when something already accepts connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until_healthy(url: str, process: subprocess.Popen, timeout_s: float) -> bool:
    """Poll ``url`` until it answers 200; False if the process exits or ``timeout_s`` passes first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1.0)  # polling interval of a bounded wait on another process
    return False


class _Terminated(Exception):
    """SIGTERM received: unwind to the shutdown code (never stop processes inside a signal handler)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to every process of ``process``'s group (standalone and its components)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _group_alive(process: subprocess.Popen) -> bool:
    """True while any process of the group runs (standalone itself is reaped first, if it exited)."""
    process.poll()
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_airflow(process: subprocess.Popen, grace_s: float = 20.0) -> None:
    """Stop ``airflow standalone`` and every process it started (its own process group).

    SIGINT first (what Ctrl-C sends: standalone stops its components), then SIGTERM to whatever is
    left of the group after ``grace_s``, then SIGKILL after another ``grace_s / 2``.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if not _group_alive(process):
            break
        _signal_group(process, signum)
        deadline = time.monotonic() + grace_s / 2
        while _group_alive(process) and time.monotonic() < deadline:
            time.sleep(0.2)  # polling the exit of processes that are not our children
    if process.poll() is None:
        process.wait()


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8080,
    metadata_url: str | None = None,
    ready_timeout_s: float = 240.0,
) -> int:
    """Start ``airflow standalone``, print the URL and the login, run until Ctrl-C (or SIGTERM); the exit code."""
    if port_in_use(port):
        print(f"error: port {port} is already in use (another Airflow?); choose one with --port", file=sys.stderr)
        return 2
    env = ui_environment(settings, host, port, metadata_url)
    password, password_file = ensure_login(Path(env["AIRFLOW_HOME"]))
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    url = f"http://{shown_host}:{port}"
    banner = (
        f"Airflow UI:   {url}\n"
        f"login:        {ADMIN_USER} / {password}   (from {password_file})\n"
        f"reports page: {url}{REPORTS_PATH}   (Browse > Reports)\n"
        f"data folder:  {settings.home}   AIRFLOW_HOME: {env['AIRFLOW_HOME']}\n"
        "stop:         Ctrl-C"
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    # the training pool the weekly DAG uses (standalone would migrate too; pools need the schema first)
    for command in (["db", "migrate"], ["pools", "set", TRAINING_POOL, str(TRAINING_POOL_SLOTS), POOL_DESCRIPTION]):
        subprocess.run([airflow, *command], env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"starting Airflow (standalone) ...\n{banner}", flush=True)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    # its own process group: Ctrl-C reaches only this process, which then stops the whole group
    process = subprocess.Popen([airflow, "standalone"], env=env, start_new_session=True)
    try:
        if wait_until_healthy(f"http://127.0.0.1:{port}{HEALTH_PATH}", process, ready_timeout_s):
            print(f"\nAirflow is ready.\n{banner}", flush=True)
        elif process.poll() is None:
            print(f"Airflow did not answer on {url} within {ready_timeout_s:.0f} s; still waiting", flush=True)
        returncode = process.wait()
        if returncode:
            print(f"error: airflow standalone exited with code {returncode}", file=sys.stderr)
        return returncode
    except (KeyboardInterrupt, _Terminated):
        print("stopping Airflow ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the shutdown
        stop_airflow(process)
        signal.signal(signal.SIGTERM, previous)
