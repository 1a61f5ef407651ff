"""Great Expectations Data Docs (static HTML) for validated symbol-days.

Each (symbol, day) becomes one GX validation result -- every expectation of the suite, the
failed ones with their observed values -- in an ephemeral context whose Data Docs site writes
to ``out_dir``; GX renders the pages, the suite page and ``index.html``. Rendering costs about
0.1 s per page, so by default every day with an error or a warning gets a page and only the
most recent passing days do (``max_passing_pages``); ``quality_results`` keeps every verdict.

GX's pages load Bootstrap, jQuery, Font Awesome, bootstrap-datepicker and bootstrap-table from
public CDNs: offline they show an empty index, and online they run third-party code on the
Airflow origin. :func:`localize_assets` copies local files into ``static/vendor/`` (from the
pinned XStatic packages and ``vendor/`` beside this module, see ``vendor/VENDORED.md``) and
rewrites every page to load them; any other external script, stylesheet or image is removed.
"""

from __future__ import annotations

import logging
import os
import re
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

log = logging.getLogger(__name__)

DEFAULT_MAX_PASSING_PAGES = 50
_GENERATED = ("validations", "expectations", "index.html")
VENDOR_SOURCE = Path(__file__).resolve().parent / "vendor"
VENDOR_DIR = "static/vendor"  # under the Data Docs folder

#: What replaces each external asset GX's pages load, by a fragment of its URL: a file under
#: ``static/vendor`` (or ``static/images``), or None to drop the tag (nothing on these pages uses it).
ASSET_MAP: tuple[tuple[str, str | None], ...] = (
    ("bootstrap-table-filter-control", "bootstrap-table/bootstrap-table-filter-control.min.{ext}"),
    ("bootstrap-table", "bootstrap-table/bootstrap-table.min.{ext}"),
    ("bootstrap-datepicker", "bootstrap-datepicker/bootstrap-datepicker{variant}"),
    ("bootstrap-prefers-dark", None),
    ("popper", None),  # Bootstrap's bundle carries Popper
    ("/bootstrap/", "bootstrap/{ext}/bootstrap{bundle}.min.{ext}"),
    ("jquery-", "jquery/jquery.min.js"),
    ("font-awesome", "font-awesome/css/all.min.css"),
    ("vega", None),
    ("logo-long", "../images/logo-long.png"),
)
_EXTERNAL_TAG = re.compile(
    r"<script\b[^>]*\bsrc=\"(?P<script>https?://[^\"]+)\"[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref=\"(?P<link>https?://[^\"]+)\"[^>]*>"
    r"|<img\b(?P<before>[^>]*)\bsrc=\"(?P<img>https?://[^\"]+)\"(?P<after>[^>]*)>",
    re.IGNORECASE,
)


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
    localize_assets(out_dir)
    return out_dir / "index.html"


def _vendor_sources() -> dict[str, Path]:
    """Files to copy under ``static/vendor``: relative destination -> source file."""
    import xstatic.pkg.bootstrap
    import xstatic.pkg.bootstrap_datepicker
    import xstatic.pkg.font_awesome
    import xstatic.pkg.jquery

    bootstrap = Path(xstatic.pkg.bootstrap.BASE_DIR)
    awesome = Path(xstatic.pkg.font_awesome.BASE_DIR)
    datepicker = Path(xstatic.pkg.bootstrap_datepicker.BASE_DIR)
    files = {
        "bootstrap/css/bootstrap.min.css": bootstrap / "css" / "bootstrap.min.css",
        "bootstrap/js/bootstrap.bundle.min.js": bootstrap / "js" / "bootstrap.bundle.min.js",
        "jquery/jquery.min.js": Path(xstatic.pkg.jquery.BASE_DIR) / "jquery.min.js",
        "font-awesome/css/all.min.css": awesome / "css" / "all.min.css",
        "bootstrap-datepicker/bootstrap-datepicker.js": datepicker / "bootstrap-datepicker.js",
        "bootstrap-datepicker/bootstrap-datepicker.css": datepicker / "bootstrap-datepicker3.standalone.css",
    }
    files.update({f"font-awesome/webfonts/{f.name}": f for f in (awesome / "webfonts").glob("*.woff2")})
    files.update({f"bootstrap-table/{f.name}": f for f in (VENDOR_SOURCE / "bootstrap-table").iterdir()})
    return files


def _local_asset(url: str) -> str | None:
    """The file under ``static/vendor`` that replaces the external ``url`` (None: drop it)."""
    ext = "css" if url.split("?")[0].endswith(".css") else "js"
    for fragment, target in ASSET_MAP:
        if fragment in url:
            if target is None:
                return None
            variant = ".css" if ext == "css" else ".js"
            return target.format(ext=ext, variant=variant, bundle=".bundle" if ext == "js" else "")
    log.warning("Data Docs: external asset %s removed (no local copy)", url)
    return None


def _rewrite_page(html: str, vendor_prefix: str) -> str:
    """``html`` with every external script, stylesheet and image replaced by its local copy (or removed)."""

    def replace(match: re.Match) -> str:
        url = match.group("script") or match.group("link") or match.group("img")
        local = _local_asset(url)
        if local is None:
            return ""
        href = f"{vendor_prefix}/{local}"
        if match.group("script"):
            return f'<script src="{href}"></script>'
        if match.group("link"):
            return f'<link rel="stylesheet" href="{href}">'
        return f'<img{match.group("before")}src="{href}"{match.group("after")}>'

    return _EXTERNAL_TAG.sub(replace, html)


def localize_assets(out_dir: Path) -> None:
    """Copy the vendored files under ``out_dir/static/vendor`` and point every page at them."""
    out_dir = Path(out_dir)
    vendor = out_dir / VENDOR_DIR
    for relative, source in _vendor_sources().items():
        target = vendor / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    for page in out_dir.rglob("*.html"):
        if vendor in page.parents:
            continue
        prefix = Path(os.path.relpath(vendor, page.parent)).as_posix()
        text = page.read_text(encoding="utf-8")
        rewritten = _rewrite_page(text, prefix)
        if rewritten != text:
            page.write_text(rewritten, encoding="utf-8")
