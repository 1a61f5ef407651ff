"""Great Expectations Data Docs (static HTML) for validated symbol-days.

Each (symbol, day) becomes one GX validation result -- every expectation of the suite, the
failed ones with their observed values -- in an ephemeral context whose Data Docs site writes
to ``out_dir``; GX renders the pages, the suite page and ``index.html``. Rendering costs about
0.1 s per page, so by default every day with an error or a warning gets a page and only the
most recent passing days do (``max_passing_pages``); ``quality_results`` keeps every verdict.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from execution.config import Settings
from execution.data.exchange_calendar import EXCHANGE_TZ
from execution.data.quality.context import DATA_DOCS_SITE, ephemeral_context
from execution.data.quality.records import verdict_from_row
from execution.data.quality.suite import DAYS, SUITE_NAME, ExpectationSpec, build_suite, expectation_specs
from execution.data.quality.verdict import DayVerdict, FailedExpectation

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult

DEFAULT_MAX_PASSING_PAGES = 50
_GENERATED = ("validations", "expectations", "index.html")


def data_docs_dir(settings: Settings) -> Path:
    """Where the service's Data Docs live: ``$EXEC_HOME/reports/data-docs``."""
    return settings.reports_dir / "data-docs"


def _as_verdicts(items: Iterable[DayVerdict | Mapping[str, Any]]) -> list[DayVerdict]:
    return [item if isinstance(item, DayVerdict) else verdict_from_row(dict(item)) for item in items]


def _pages_to_render(verdicts: list[DayVerdict], max_passing_pages: int | None) -> list[DayVerdict]:
    flagged = [v for v in verdicts if v.errors or v.warnings]
    clean = sorted((v for v in verdicts if not (v.errors or v.warnings)), key=lambda v: (v.day, v.symbol))
    if max_passing_pages is not None:
        clean = clean[-max_passing_pages:] if max_passing_pages > 0 else []
    return flagged + clean


def _spec_key(spec: ExpectationSpec) -> tuple[str, str, str | None]:
    columns = [spec.kwargs[k] for k in ("column", "column_A", "column_B") if spec.kwargs.get(k)]
    columns += list(spec.kwargs.get("column_list") or [])
    return spec.label, spec.severity, ",".join(columns) if columns else None


def _failed_result(failure: FailedExpectation, spec: ExpectationSpec, statistics: Mapping[str, Any]) -> dict:
    observed = failure.observed_value
    if spec.gx_class.startswith("ExpectTable"):
        return {"observed_value": observed}
    row_count = max(int(statistics.get("bars") or 0), failure.unexpected_count, 1)
    element_count = 1 if spec.stage == DAYS else row_count
    partial = observed if isinstance(observed, list) else [observed]
    return {
        "observed_value": observed,
        "element_count": element_count,
        "missing_count": 0,
        "missing_percent": 0.0,
        "unexpected_count": failure.unexpected_count,
        "unexpected_percent": 100.0 * failure.unexpected_count / element_count,
        "unexpected_percent_total": 100.0 * failure.unexpected_count / element_count,
        "unexpected_percent_nonmissing": 100.0 * failure.unexpected_count / element_count,
        "partial_unexpected_list": partial,
        "partial_unexpected_counts": [],
        "details": {"sample_rows": failure.sample_rows},
    }


def _validation_result(
    verdict: DayVerdict, suite: Any, specs: list[ExpectationSpec]
) -> ExpectationSuiteValidationResult:
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier

    failures = {}
    for failure in [*verdict.errors, *verdict.warnings]:
        failures.setdefault((failure.name, failure.severity, failure.column), failure)
    results = []
    for spec, expectation in zip(specs, suite.expectations, strict=True):
        failure = failures.get(_spec_key(spec))
        result = {} if failure is None else _failed_result(failure, spec, verdict.statistics)
        results.append(
            ExpectationValidationResult(
                success=failure is None, expectation_config=expectation.configuration, result=result
            )
        )
    unsuccessful = sum(not r.success for r in results)
    run_time = datetime.combine(verdict.day, time(15, 30), tzinfo=EXCHANGE_TZ)
    return ExpectationSuiteValidationResult(
        success=verdict.passed,
        results=results,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": len(results) - unsuccessful,
            "unsuccessful_expectations": unsuccessful,
            "success_percent": 100.0 * (len(results) - unsuccessful) / max(len(results), 1),
        },
        meta={
            "run_id": RunIdentifier(run_name=f"{verdict.symbol}_{verdict.day.isoformat()}", run_time=run_time),
            "active_batch_definition": {
                "datasource_name": "bars_staging",
                "data_asset_name": verdict.symbol,
                "batch_definition_name": verdict.day.isoformat(),
            },
            "batch_spec": {
                "data_asset_name": f"{verdict.symbol} {verdict.day.isoformat()}",
                "symbol": verdict.symbol,
                "day": verdict.day.isoformat(),
            },
            "batch_markers": {},
            "day_statistics": verdict.statistics,
            "severity_max": verdict.severity_max,
        },
        batch_id=f"{verdict.symbol}-{verdict.day.isoformat()}",
    )


def build_data_docs(
    verdicts_or_results: Iterable[DayVerdict | Mapping[str, Any]],
    out_dir: Path,
    *,
    suite_name: str = SUITE_NAME,
    max_passing_pages: int | None = DEFAULT_MAX_PASSING_PAGES,
) -> Path:
    """Render GX Data Docs for verdicts (or ``quality_results`` rows) into ``out_dir``; returns index.html.

    Pages previously generated in ``out_dir`` are replaced, so the index lists exactly these
    days: every day with an error or warning, and the latest ``max_passing_pages`` passing days
    (``None``: all of them).
    """
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in _GENERATED:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    context = ephemeral_context(data_docs_dir=out_dir)
    specs = expectation_specs()
    suite = context.suites.add(build_suite(suite_name, specs))
    suite_id = ExpectationSuiteIdentifier(name=suite.name)
    for verdict in _pages_to_render(_as_verdicts(verdicts_or_results), max_passing_pages):
        result = _validation_result(verdict, suite, specs)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=result.meta["run_id"], batch_identifier=result.batch_id
        )
        context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=[DATA_DOCS_SITE])
    return out_dir / "index.html"
