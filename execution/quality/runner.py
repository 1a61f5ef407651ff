"""Run the suite with Great Expectations over many symbol-days at once, one verdict per day.

One GX run has a fixed cost (tens of milliseconds whatever the rows), so the bars of many
(symbol, day) pairs are validated together: for each chunk of ``days_per_run`` day codes, one
checkpoint per stage (``columns``, ``rows``, ``days``) runs on that chunk's frame, with the
``COMPLETE`` result format; the ``unexpected_index_list`` of each failed expectation maps the
offending rows back to their (symbol, day).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from execution.quality.derive import PreparedBars, prepare
from execution.quality.suite import (
    COLUMNS,
    DAYS,
    ROWS,
    STAGES,
    SUITE_NAME,
    build_suite,
    specs_by_stage,
    stage_suite_name,
)
from execution.quality.verdict import ERROR, DayVerdict, FailedExpectation

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.data_context import AbstractDataContext

log = logging.getLogger(__name__)

DEFAULT_DAYS_PER_RUN = 1000
DATA_DOCS_SITE = "local_site"
SAMPLE_ROWS = 5
OBSERVED_VALUES = 5
_OBSERVED_SCAN = 200  # offending rows of a day scanned for distinct observed values
RESULT_FORMAT: dict[str, Any] = {"result_format": "COMPLETE", "return_unexpected_index_query": False}
_SAMPLE_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "volume")


def ephemeral_context(data_docs_dir: Path | None = None) -> AbstractDataContext:
    """An in-memory GX context: no progress bars, no analytics, and a Data Docs site only when
    ``data_docs_dir`` is given (GX's default would pick a temporary folder)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if data_docs_dir is not None:
        sites[DATA_DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


class GxStages:
    """An ephemeral GX context holding, per stage, a pandas asset, suite, validation definition and checkpoint."""

    def __init__(self, suite_name: str = SUITE_NAME) -> None:
        import great_expectations as gx

        self.suite_name = suite_name
        self.context = ephemeral_context()
        source = self.context.data_sources.add_pandas(name=f"{suite_name}_frames")
        self.checkpoints = {}
        self.expectation_counts = {}
        for stage, specs in specs_by_stage().items():
            name = stage_suite_name(suite_name, stage)
            batch = source.add_dataframe_asset(name=stage).add_batch_definition_whole_dataframe(name=f"{stage}_frame")
            suite = self.context.suites.add(build_suite(name, specs))
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
            self.checkpoints[stage] = self.context.checkpoints.add(
                gx.Checkpoint(name=name, validation_definitions=[definition], result_format=RESULT_FORMAT)
            )
            self.expectation_counts[stage] = len(specs)

    def run(self, stage: str, frame: pd.DataFrame) -> ExpectationSuiteValidationResult:
        """Validate ``frame`` (RangeIndex) with the checkpoint of ``stage``."""
        result = self.checkpoints[stage].run(batch_parameters={"dataframe": frame})
        return next(iter(result.run_results.values()))


def json_safe(value: Any) -> Any:
    """``value`` made JSON-serialisable: numpy scalars -> Python, NaN/NA -> None, timestamps -> ISO."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, pd.Timestamp | date):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


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


def _columns_read(kwargs: Mapping[str, Any]) -> list[str]:
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    return columns + list(kwargs.get("column_list") or [])


@dataclass
class _Chunk:
    """One chunk of day codes and its three stage frames."""

    first_code: int
    frames: dict[str, pd.DataFrame]
    codes: dict[str, np.ndarray]  # day code of each row of each stage frame


def _chunks(prepared: PreparedBars, days_per_run: int) -> Iterable[_Chunk]:
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
        yield _Chunk(first, frames, codes)


def _failures_of(
    stage: str, result: ExpectationValidationResult, chunk: _Chunk, missing_columns: tuple[str, ...]
) -> dict[int, FailedExpectation]:
    """The failure of one expectation on each day code of the chunk it failed on."""
    config = result.expectation_config
    meta = config.meta or {}
    kwargs = dict(config.kwargs)
    read = _columns_read(kwargs)
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


def validate_prepared(
    prepared: PreparedBars, suite_name: str = SUITE_NAME, days_per_run: int = DEFAULT_DAYS_PER_RUN
) -> list[DayVerdict]:
    """Verdicts for bars already derived by :func:`execution.quality.derive.prepare`."""
    if prepared.n_days == 0:
        return []
    stages = GxStages(suite_name)
    failures: list[list[FailedExpectation]] = [[] for _ in range(prepared.n_days)]
    skipped = np.zeros(prepared.n_days, dtype=int)
    for chunk in _chunks(prepared, max(1, days_per_run)):
        for stage in STAGES:
            suite_result = stages.run(stage, chunk.frames[stage])
            for result in suite_result.results:
                read = _columns_read(result.expectation_config.kwargs)
                if any(c in prepared.missing_columns for c in read):
                    skipped[chunk.codes[DAYS]] += 1
                if result.success:
                    continue
                for code, failure in _failures_of(stage, result, chunk, prepared.missing_columns).items():
                    failures[code].append(failure)
    evaluated = sum(stages.expectation_counts.values())
    verdicts = []
    for code, (symbol, day) in enumerate(zip(prepared.keys["symbol"], prepared.keys["day"], strict=True)):
        errors = [f for f in failures[code] if f.severity == ERROR]
        warnings = [f for f in failures[code] if f.severity != ERROR]
        statistics = {**prepared.statistics[code], "evaluated_expectations": int(evaluated - skipped[code])}
        verdicts.append(
            DayVerdict(
                symbol=str(symbol),
                day=day,
                passed=not errors,
                errors=errors,
                warnings=warnings,
                statistics=statistics,
                suite=suite_name,
            )
        )
    return verdicts


def validate_days(
    bars: pd.DataFrame,
    suite_name: str = SUITE_NAME,
    *,
    reference_closes: Mapping[tuple[str, date], float] | None = None,
    days_per_run: int = DEFAULT_DAYS_PER_RUN,
) -> list[DayVerdict]:
    """Validate every (symbol, day) present in ``bars`` with Great Expectations; one verdict per day.

    ``bars`` holds contract columns (``execution.sources.base.BAR_COLUMNS``) -- e.g. the staged
    rows of those days, pre-open and post-close rows included. Days are validated
    ``days_per_run`` at a time (one GX run per stage per chunk). ``reference_closes`` maps
    (symbol, trading day) to that day's close: give the previous month-end closes of published
    data for the 2025 tick regime when the batch does not hold them (otherwise the day's first
    close is used, as recorded in ``statistics["tick_reference"]``). Verdicts come sorted by
    (symbol, day).
    """
    prepared = prepare(bars, reference_closes)
    verdicts = validate_prepared(prepared, suite_name, days_per_run)
    failed = [v for v in verdicts if not v.passed]
    log.info("validated %d symbol-days with %s: %d failed", len(verdicts), suite_name, len(failed))
    return verdicts
