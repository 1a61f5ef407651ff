"""Map Great Expectations results on a chunk of many symbol-days back to each (symbol, day)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from execution.data.quality.derive import PreparedBars
from execution.data.quality.suite import COLUMNS, DAYS, ROWS
from execution.data.quality.verdict import FailedExpectation
from execution.json_values import json_safe

if TYPE_CHECKING:
    from great_expectations.core import ExpectationValidationResult

SAMPLE_ROWS = 5
OBSERVED_VALUES = 5
_OBSERVED_SCAN = 200  # offending rows of a day scanned for distinct observed values
_SAMPLE_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "volume")


def _records(frame: pd.DataFrame, positions: Iterable[int], columns: list[str]) -> list[dict]:
    rows = frame.iloc[list(positions)][[c for c in columns if c in frame.columns]]
    return [json_safe(record) for record in rows.to_dict(orient="records")]


def _exception_message(result: ExpectationValidationResult) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
        if getattr(value, "raised_exception", False):
            return str(getattr(value, "exception_message", value))
    return None


def _observed_values(frame: pd.DataFrame, positions: np.ndarray, columns: list[str], single: bool) -> Any:
    """The offending values at ``positions`` (a value per row, or a column -> value dict when several
    columns are observed): the first one when ``single``, else the first few distinct ones."""
    values = frame.iloc[positions[:_OBSERVED_SCAN]][columns]
    if len(columns) == 1:
        rows = [json_safe(value) for value in values[columns[0]].tolist()]
    else:
        rows = [json_safe(record) for record in values.to_dict(orient="records")]
    if single:
        return rows[0]
    distinct: dict[str, Any] = {}
    for row in rows:
        distinct.setdefault(repr(row), row)
        if len(distinct) == OBSERVED_VALUES:
            break
    return list(distinct.values())


def columns_read(kwargs: Mapping[str, Any]) -> list[str]:
    """The frame columns an expectation's kwargs name."""
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    return columns + list(kwargs.get("column_list") or [])


@dataclass
class Chunk:
    """One chunk of day codes and its three stage frames."""

    first_code: int
    frames: dict[str, pd.DataFrame]
    codes: dict[str, np.ndarray]  # day code of each row of each stage frame


def chunks(prepared: PreparedBars, days_per_run: int) -> Iterable[Chunk]:
    """The stage frames cut into chunks of ``days_per_run`` day codes (each frame is sorted by code)."""
    for first in range(0, prepared.n_days, days_per_run):
        last = min(first + days_per_run, prepared.n_days)
        frames, codes = {}, {}
        for stage, frame, frame_codes in (
            (COLUMNS, prepared.columns_frame, prepared.columns_codes),
            (ROWS, prepared.rows_frame, prepared.rows_codes),
        ):
            lo, hi = np.searchsorted(frame_codes, [first, last])
            frames[stage] = frame.iloc[lo:hi].reset_index(drop=True)
            codes[stage] = frame_codes[lo:hi]
        frames[DAYS] = prepared.days_frame.iloc[first:last].reset_index(drop=True)
        codes[DAYS] = np.arange(first, last)
        yield Chunk(first, frames, codes)


def failures_of(
    stage: str, result: ExpectationValidationResult, chunk: Chunk, missing_columns: tuple[str, ...]
) -> dict[int, FailedExpectation]:
    """The failure of one expectation on each day code of the chunk it failed on."""
    config = result.expectation_config
    meta = config.meta or {}
    kwargs = dict(config.kwargs)
    read = columns_read(kwargs)
    column = ",".join(read) if read else None
    frame, codes = chunk.frames[stage], chunk.codes[stage]
    base = {"name": meta["label"], "gx_type": config.type, "severity": meta["severity"], "column": column}
    message = _exception_message(result)
    if message is not None:
        if any(c in missing_columns for c in read):
            return {}  # explained by required_columns
        observed: Any = {"exception": message}
        return {
            int(c): FailedExpectation(**base, observed_value=observed, unexpected_count=0) for c in np.unique(codes)
        }
    details = result.result or {}
    if "unexpected_index_list" not in details:  # table-level / aggregate: the whole chunk
        observed = json_safe(details.get("observed_value"))
        if details.get("details", {}).get("mismatched"):
            observed = {"observed_value": observed, "mismatched": json_safe(details["details"]["mismatched"])}
        counts = np.bincount(codes - chunk.first_code) if len(codes) else np.zeros(0, dtype=int)
        return {
            int(chunk.first_code + i): FailedExpectation(**base, observed_value=observed, unexpected_count=int(n))
            for i, n in enumerate(counts)
            if n
        }
    positions = np.asarray(details["unexpected_index_list"], dtype=np.int64)
    failures = {}
    order = np.argsort(codes[positions], kind="stable")
    day_codes = codes[positions][order]
    starts = np.flatnonzero(np.r_[True, day_codes[1:] != day_codes[:-1]]) if len(day_codes) else []
    ends = np.r_[starts[1:], len(day_codes)] if len(day_codes) else []
    observe = list(meta.get("observe") or read)
    sample_columns = list(frame.columns) if stage != ROWS else [*_SAMPLE_COLUMNS, "session_part", *read, *observe]
    for start, end in zip(starts, ends, strict=True):
        picked = order[start:end]
        observed = _observed_values(frame, positions[picked], observe, single=stage == DAYS)
        failures[int(day_codes[start])] = FailedExpectation(
            **base,
            observed_value=observed,
            unexpected_count=int(end - start),
            sample_rows=_records(frame, positions[picked[:SAMPLE_ROWS]], list(dict.fromkeys(sample_columns))),
        )
    return failures
