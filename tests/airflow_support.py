"""Helpers for tests that need Airflow: environment, a migrated metadata DB, the DAG folder.

Airflow reads ``AIRFLOW_HOME`` and its configuration when it is first imported, so
:func:`configure_airflow_env` must run before anything imports ``airflow`` (tests/conftest.py
does it for the whole session; a test module may call it at its top as well -- it only fills in
variables that are not set yet). Everything else imports Airflow lazily.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO_ROOT / "dags"

_migrated_homes: set[str] = set()


def configure_airflow_env(root: Path | None = None) -> dict[str, str]:
    """Point Airflow (and the service's ``EXEC_HOME``) at private temp folders, unless already set.

    Sets, with ``setdefault``: ``AIRFLOW_HOME`` (SQLite metadata DB inside it),
    ``AIRFLOW__CORE__LOAD_EXAMPLES=False``, ``AIRFLOW__CORE__DAGS_FOLDER`` (the repo's dags/) and
    ``EXEC_HOME``. ``unit_test_mode`` stays off. Returns the values in force.
    """
    if "airflow" in sys.modules and "AIRFLOW_HOME" not in os.environ:
        raise RuntimeError("airflow was imported before AIRFLOW_HOME was set: it now uses ~/airflow")
    names = ("AIRFLOW_HOME", "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__DAGS_FOLDER", "EXEC_HOME")
    if not all(os.environ.get(name) for name in names):
        root = root or Path(tempfile.mkdtemp(prefix="nse-airflow-"))
        os.environ.setdefault("AIRFLOW_HOME", str(root / "airflow"))
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS_FOLDER))
        os.environ.setdefault("EXEC_HOME", str(root / "exec"))
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return {name: os.environ[name] for name in names}


def migrate_airflow_db() -> Path:
    """Create or upgrade the Airflow metadata DB of ``$AIRFLOW_HOME`` (once per process); return its home.

    Same as ``airflow db migrate``, in-process (a new SQLite DB is created from the ORM models
    and stamped, about 1 s).
    """
    home = os.environ.get("AIRFLOW_HOME")
    if not home:
        raise RuntimeError("AIRFLOW_HOME is not set: call configure_airflow_env() before importing airflow")
    if home not in _migrated_homes:
        from airflow.utils.db import upgradedb

        upgradedb()
        _migrated_homes.add(home)
    return Path(home)


def load_dag_bag(dags_folder: Path = DAGS_FOLDER) -> Any:
    """Parse the DAG folder the way the DAG processor does (its root on ``sys.path``, as for a bundle).

    Airflow 3 puts the root of a DAG bundle on ``sys.path`` so DAG files can import siblings such
    as ``common``; a bare ``DagBag`` no longer does, hence the path entry added here.
    """
    from airflow.dag_processing.dagbag import DagBag

    if str(dags_folder) not in sys.path:
        sys.path.append(str(dags_folder))
    return DagBag(dag_folder=str(dags_folder))


def task_states(dag_run: Any) -> dict[str, list[str | None]]:
    """``{task_id: [state of each task instance, by map index]}`` of a finished DAG run."""
    from airflow.utils.session import create_session

    states: dict[str, list[str | None]] = {}
    with create_session() as session:
        tis = sorted(dag_run.get_task_instances(session=session), key=lambda ti: (ti.task_id, ti.map_index))
        for ti in tis:
            states.setdefault(ti.task_id, []).append(str(ti.state) if ti.state is not None else None)
    return states


def rendered_map_indexes(dag_run: Any, task_id: str) -> list[str | None]:
    """The map-index labels (``map_index_template`` output) of a mapped task of a DAG run, by map index."""
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = [ti for ti in dag_run.get_task_instances(session=session) if ti.task_id == task_id]
        return [ti.rendered_map_index for ti in sorted(tis, key=lambda ti: ti.map_index)]


def asset_event_extras(asset_name: str, source_run_id: str) -> list[dict[str, Any]]:
    """The ``extra`` of every event a DAG run emitted on the asset named ``asset_name``."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == asset_name, AssetEvent.source_run_id == source_run_id)
        ).all()
        return [dict(row.extra or {}) for row in rows]
