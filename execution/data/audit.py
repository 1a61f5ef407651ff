"""Who did it, and the append-only log of quarantine decisions (``quarantine_events``).

:func:`current_actor` names the process that acts: the OS account it runs under (from the
process's effective uid, not from ``$USER``, which anyone can set), the host and, inside an
Airflow task, the DAG, run and task (the ``AIRFLOW_CTX_*`` variables Airflow's task runner
exports). A name an operator declares (``quarantine release --by``) is kept beside it, never
instead of it. :func:`record_event` appends one row; the table refuses UPDATE and DELETE (a
trigger of migration 0006), as ``model_events`` keeps the history of models.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg2.extensions

from execution.json_values import json_safe

Connection = psycopg2.extensions.connection

#: Airflow's task context as its task runner exports it to the environment of a running task.
AIRFLOW_CONTEXT_VARIABLES = {
    "dag_id": "AIRFLOW_CTX_DAG_ID",
    "run_id": "AIRFLOW_CTX_DAG_RUN_ID",
    "task_id": "AIRFLOW_CTX_TASK_ID",
    "try_number": "AIRFLOW_CTX_TRY_NUMBER",
    "dag_owner": "AIRFLOW_CTX_DAG_OWNER",
}
EVENTS = ("quarantined", "released", "superseded", "release_kept")


@dataclass(frozen=True)
class Actor:
    """The identity an action is recorded under."""

    name: str  # user@host of the process
    context: dict[str, Any] = field(default_factory=dict)  # os_user, host, sudo_user, airflow, declared_by

    @property
    def label(self) -> str:
        """``user@host``, with the Airflow task and a declared name when there are any."""
        text = self.name
        airflow = self.context.get("airflow")
        if airflow:
            text += (
                f" (airflow {airflow.get('dag_id', '?')}/{airflow.get('run_id', '?')}/{airflow.get('task_id', '?')})"
            )
        declared = self.context.get("declared_by")
        if declared:
            text = f"{declared} via {text}"
        return text


def _os_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return f"uid{os.geteuid()}"


def current_actor(declared_by: str | None = None) -> Actor:
    """The process's identity: OS user@host, the Airflow task if any, and ``declared_by`` beside them."""
    user, host = _os_user(), socket.gethostname()
    context: dict[str, Any] = {"os_user": user, "host": host}
    if os.environ.get("SUDO_USER"):
        context["sudo_user"] = os.environ["SUDO_USER"]
    airflow = {key: os.environ[var] for key, var in AIRFLOW_CONTEXT_VARIABLES.items() if os.environ.get(var)}
    if airflow:
        context["airflow"] = airflow
    if declared_by and declared_by.strip():
        context["declared_by"] = declared_by.strip()
    return Actor(f"{user}@{host}", context)


def record_event(
    conn: Connection,
    actor: Actor,
    symbol: str,
    day: date,
    event: str,
    reason: str,
    *,
    batch_id: int | None = None,
    run_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one quarantine event (in the caller's transaction)."""
    if event not in EVENTS:
        raise ValueError(f"unknown quarantine event {event!r} (one of {', '.join(EVENTS)})")
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO quarantine_events"
            " (symbol, day, batch_id, run_id, event, actor, actor_context, reason, details)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                symbol,
                day,
                batch_id,
                run_id,
                event,
                actor.label,
                json.dumps(json_safe(actor.context)),
                reason,
                json.dumps(json_safe(details or {})),
            ),
        )


def events(conn: Connection, symbol: str | None = None, day: date | None = None) -> list[dict[str, Any]]:
    """Quarantine events, oldest first, optionally of one symbol and/or day."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT event_id, created_at, symbol, day, batch_id, run_id, event, actor, actor_context, reason, details"
            " FROM quarantine_events WHERE (%s::text IS NULL OR symbol = %s) AND (%s::date IS NULL OR day = %s)"
            " ORDER BY event_id",
            (symbol, symbol, day, day),
        )
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
