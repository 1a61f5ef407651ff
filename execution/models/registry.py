"""Model registry: trained policies in the ``models`` table, their events, promotions and rollbacks.

* A model is **registered** as a ``candidate`` with everything needed to reproduce and trust it:
  agent, symbol, training window, hyperparameters, reward and fill model, code version, the
  artifact's path (relative to ``$EXEC_HOME/models``) and SHA-256, and later its validation
  metrics (:mod:`execution.models.promotion`).
* At most one ``champion`` per symbol (a partial unique index). **Promoting** a model retires the
  current champion and remembers it (``replaced_model_id``); **rolling back** retires the champion
  and restores the one it replaced (none: no champion, the service uses ``twap_seed``).
* Every change of status and every fallback is an event in ``model_events`` (append-only).

Artifacts (files, checksums, loading) are :mod:`execution.models.artifacts`; which policy serves
a symbol is :mod:`execution.models.champion`.

Every writing function works inside the caller's transaction; the caller commits.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from execution import __version__
from execution.config import OrderParams
from execution.json_values import json_dumps, json_safe

log = logging.getLogger(__name__)

STATUSES = ("candidate", "champion", "retired")
#: The symbol a universal model is registered under: it serves every configured symbol, and its
#: champion is the one universal champion (beside any per-symbol champions of the seed's experiment).
UNIVERSAL = "*"
_LOCK_NAMESPACE = 74_117_005  # advisory-lock class of per-symbol registry changes


@dataclass(frozen=True)
class ModelRecord:
    """One row of ``models``."""

    model_id: int
    agent: str
    symbol: str
    train_start: date
    train_end: date
    train_days: int
    episodes: int
    timesteps: int
    seed: int
    reward: str
    fill: str
    mdp: str  # 'seed' or 'pace' (execution.sim.mdp)
    symbols: list[str]  # the symbols it was trained on (one, or every configured one for a universal model)
    envelope: dict[str, Any] | None  # the orders it was trained for (execution.sim.envelope.OrderEnvelope)
    hyperparameters: dict[str, Any]
    order_params: dict[str, Any]
    code_version: str
    artifact_path: str
    sha256: str
    curve_path: str | None
    wall_s: float | None
    parent_model_id: int | None
    replaced_model_id: int | None
    validation_start: date | None
    validation_end: date | None
    validation_metrics: dict[str, Any] | None
    status: str
    created_at: datetime
    updated_at: datetime
    promoted_at: datetime | None
    retired_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """The record with dates as ISO strings (JSON-serialisable)."""
        return json_safe(asdict(self))


_COLUMNS = [f.name for f in fields(ModelRecord)]


# ---------------------------------------------------------------- code version


def code_version() -> str:
    """``nse-execution X.Y.Z`` plus ``+git.<commit>`` when the package runs from a git checkout with commits."""
    version = f"nse-execution {__version__}"
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return version
    commit = result.stdout.strip()
    return f"{version}+git.{commit}" if result.returncode == 0 and commit else version


# ---------------------------------------------------------------- rows


def reserve_model_id(conn: Any) -> int:
    """A fresh model id (so that the artifact can be named after it before the row is written)."""
    with conn.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence('models', 'model_id'))")
        return int(cur.fetchone()[0])


def register(
    conn: Any,
    *,
    agent: str,
    symbol: str,
    train_start: date,
    train_end: date,
    train_days: int,
    episodes: int,
    timesteps: int,
    seed: int,
    reward: str,
    fill: str,
    hyperparameters: dict[str, Any],
    order: OrderParams,
    artifact_path: str,
    sha256: str,
    curve_path: str | None = None,
    wall_s: float | None = None,
    parent_model_id: int | None = None,
    model_id: int | None = None,
    version: str | None = None,
    mdp: str = "seed",
    symbols: Sequence[str] | None = None,
    envelope: dict[str, Any] | None = None,
) -> int:
    """Insert a ``candidate`` model (and a ``registered`` event); returns its id."""
    model_id = reserve_model_id(conn) if model_id is None else int(model_id)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO models (model_id, agent, symbol, train_start, train_end, train_days, episodes, timesteps,"
            " seed, reward, fill, mdp, symbols, envelope, hyperparameters, order_params, code_version,"
            " artifact_path, sha256, curve_path, wall_s, parent_model_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                model_id,
                agent,
                symbol,
                train_start,
                train_end,
                int(train_days),
                int(episodes),
                int(timesteps),
                int(seed),
                reward,
                fill,
                mdp,
                list(symbols or [symbol]),
                None if envelope is None else json_dumps(envelope),
                json_dumps(hyperparameters),
                json_dumps(asdict(order)),
                version or code_version(),
                artifact_path,
                sha256,
                curve_path,
                wall_s,
                parent_model_id,
            ),
        )
    record_event(
        conn,
        symbol,
        "registered",
        f"{agent} ({mdp} MDP) trained on {train_start}..{train_end}, {episodes} episodes",
        model_id,
        {"artifact_path": artifact_path, "sha256": sha256, "parent_model_id": parent_model_id},
    )
    return model_id


def record_episodes(conn: Any, model_id: int, rewards: Sequence[float], steps: Sequence[int]) -> int:
    """Store the learning curve of ``model_id`` (episodes numbered from 1); returns the rows written."""
    from psycopg2.extras import execute_values

    rows = [(model_id, i, float(r), int(s)) for i, (r, s) in enumerate(zip(rewards, steps, strict=True), start=1)]
    with conn.cursor() as cur:
        execute_values(
            cur, "INSERT INTO training_episodes (model_id, episode, reward, steps) VALUES %s", rows, page_size=1000
        )
    return len(rows)


def learning_curve(conn: Any, model_id: int) -> list[tuple[int, float, int]]:
    """``(episode, reward, steps)`` of every training episode of ``model_id``, in order."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT episode, reward, steps FROM training_episodes WHERE model_id = %s ORDER BY episode", (model_id,)
        )
        return [(int(e), float(r), int(s)) for e, r, s in cur.fetchall()]


def _records(conn: Any, where: str, params: tuple) -> list[ModelRecord]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM models {where}", params)
        return [ModelRecord(*row) for row in cur.fetchall()]


def get(conn: Any, model_id: int) -> ModelRecord:
    """The model ``model_id``; ``ValueError`` if there is none."""
    found = _records(conn, "WHERE model_id = %s", (int(model_id),))
    if not found:
        raise ValueError(f"no model with id {model_id} in the registry")
    return found[0]


def list_models(conn: Any, symbol: str | None = None, status: str | None = None) -> list[ModelRecord]:
    """Registered models, oldest first, optionally of one symbol and/or status."""
    return _records(
        conn,
        "WHERE (%s::text IS NULL OR symbol = %s) AND (%s::text IS NULL OR status = %s) ORDER BY model_id",
        (symbol, symbol, status, status),
    )


def champion(conn: Any, symbol: str) -> ModelRecord | None:
    """The champion of ``symbol``, if any."""
    found = _records(conn, "WHERE symbol = %s AND status = 'champion'", (symbol,))
    return found[0] if found else None


def set_validation(conn: Any, model_id: int, start: date | None, end: date | None, metrics: dict[str, Any]) -> None:
    """Store the validation window and metrics of ``model_id``."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE models SET validation_start = %s, validation_end = %s, validation_metrics = %s, updated_at = now()"
            " WHERE model_id = %s",
            (start, end, json_dumps(metrics), model_id),
        )


def record_event(
    conn: Any, symbol: str, event: str, reason: str, model_id: int | None = None, details: dict | None = None
) -> None:
    """Append to ``model_events``."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO model_events (symbol, model_id, event, reason, details) VALUES (%s, %s, %s, %s, %s)",
            (symbol, model_id, event, reason, json_dumps(details or {})),
        )


def events(conn: Any, symbol: str | None = None, model_id: int | None = None, limit: int = 100) -> list[dict]:
    """The latest ``model_events`` rows (newest first), optionally of one symbol or model."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT event_id, created_at, symbol, model_id, event, reason, details FROM model_events"
            " WHERE (%s::text IS NULL OR symbol = %s) AND (%s::bigint IS NULL OR model_id = %s)"
            " ORDER BY event_id DESC LIMIT %s",
            (symbol, symbol, model_id, model_id, limit),
        )
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


# ---------------------------------------------------------------- champion changes


def lock_symbol(conn: Any, symbol: str) -> None:
    """Serialise registry changes of ``symbol`` until the end of the transaction (concurrent retrains)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, symbol))


def _set_status(conn: Any, model_id: int, status: str, **extra: Any) -> None:
    sets = ", ".join([f"{name} = %s" for name in extra])
    with conn.cursor() as cur:
        cur.execute(
            f"UPDATE models SET status = %s, updated_at = now(){', ' + sets if sets else ''} WHERE model_id = %s",
            (status, *extra.values(), model_id),
        )


def promote(conn: Any, model_id: int, reason: str, details: dict | None = None) -> dict[str, int | None]:
    """Make ``model_id`` its symbol's champion, retiring the current one; ``{"promoted", "retired"}`` ids."""
    record = get(conn, model_id)
    lock_symbol(conn, record.symbol)
    current = champion(conn, record.symbol)
    if current is not None and current.model_id == record.model_id:
        raise ValueError(f"model {model_id} is already the champion of {record.symbol}")
    retired = None
    if current is not None:
        _set_status(conn, current.model_id, "retired", retired_at=datetime.now().astimezone())
        record_event(conn, record.symbol, "retired", f"replaced by model {model_id}", current.model_id)
        retired = current.model_id
    _set_status(
        conn,
        record.model_id,
        "champion",
        promoted_at=datetime.now().astimezone(),
        retired_at=None,
        replaced_model_id=retired,
    )
    record_event(conn, record.symbol, "promoted", reason, record.model_id, {**(details or {}), "replaced": retired})
    return {"promoted": record.model_id, "retired": retired}


def rollback(conn: Any, symbol: str, reason: str = "rollback") -> dict[str, int | None]:
    """Retire the champion of ``symbol`` and restore the champion it replaced (if any); ``{"retired", "restored"}``."""
    lock_symbol(conn, symbol)
    current = champion(conn, symbol)
    if current is None:
        raise ValueError(f"{symbol} has no champion to roll back")
    _set_status(conn, current.model_id, "retired", retired_at=datetime.now().astimezone())
    record_event(conn, symbol, "rolled_back", reason, current.model_id, {"restored": current.replaced_model_id})
    restored = current.replaced_model_id
    if restored is not None:
        _set_status(conn, restored, "champion", promoted_at=datetime.now().astimezone(), retired_at=None)
        record_event(conn, symbol, "restored", f"rollback of model {current.model_id}: {reason}", restored)
    return {"retired": current.model_id, "restored": restored}
