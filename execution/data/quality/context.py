"""Great Expectations plumbing: an in-memory context, and one checkpoint per stage of the suite."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from execution.data.quality.suite import SUITE_NAME, build_suite, specs_by_stage, stage_suite_name

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context import AbstractDataContext

DATA_DOCS_SITE = "local_site"
#: every unexpected row's index (to attribute it to its symbol-day), without GX's query string
RESULT_FORMAT: dict[str, Any] = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


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
