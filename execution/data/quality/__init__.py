"""Data quality of 1-minute bars: a Great Expectations suite, run in batches, one verdict per (symbol, day).

Importing this package is cheap; Great Expectations itself is imported on first validation.
"""

from execution.data.quality.docs import build_data_docs, data_docs_dir
from execution.data.quality.records import load_verdicts, record_results
from execution.data.quality.runner import validate_days
from execution.data.quality.suite import SUITE_NAME
from execution.data.quality.verdict import DayVerdict, FailedExpectation

__all__ = [
    "SUITE_NAME",
    "DayVerdict",
    "FailedExpectation",
    "build_data_docs",
    "data_docs_dir",
    "load_verdicts",
    "record_results",
    "validate_days",
]
