"""One rule for turning Python, numpy and pandas values into plain JSON (and SQL) values.

Used wherever the service stores or exchanges values: JSONB columns, report JSON files, Airflow
XCom, backtest rows. The rule, applied recursively:

================================  ======================================================
value                             becomes
================================  ======================================================
``dict``                          ``dict`` with ``str`` keys
``list``, ``tuple``, ndarray      ``list``
``pandas.DataFrame``              list of records (one dict per row)
numpy scalar                      the Python scalar, then this rule
``float`` NaN or +-inf            ``None`` (JSON has neither; a missing number is null)
``None``, ``pd.NA``, ``pd.NaT``   ``None``
date, datetime, time, Timestamp   ISO 8601 text
``Path``                          its text
a class                           ``module.QualifiedName``
``bool``, ``int``, ``float``,     unchanged
``str``
anything else                     ``str(value)``
================================  ======================================================
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_dumps", "json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON values (see the module docstring for the rule)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        return [json_safe(r) for r in value.to_dict(orient="records")]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):  # pd.Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return str(value)


def json_dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_safe` ``(value)`` with sorted keys (stable text for storage and digests)."""
    kwargs.setdefault("sort_keys", True)
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)
