"""The shapes validation returns: one verdict per (symbol, day), each failure named."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

ERROR, WARNING = "error", "warning"
SEVERITIES: tuple[str, ...] = (ERROR, WARNING)


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold on one (symbol, day)."""

    name: str  # our stable label, e.g. "prices_on_tick", "bars_per_day"
    gx_type: str  # the Great Expectations expectation type, e.g. "expect_column_values_to_be_in_set"
    severity: str  # "error" (quarantines the symbol-day) or "warning" (publishes and reports)
    column: str | None
    observed_value: Any  # JSON-serialisable
    unexpected_count: int
    sample_rows: list[dict] = field(default_factory=list)  # up to 5 offending rows, JSON-serialisable

    def to_json(self) -> dict[str, Any]:
        """A plain dict (JSON-serialisable) of every field."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FailedExpectation:
        """The inverse of :meth:`to_json`."""
        return cls(
            name=data["name"],
            gx_type=data["gx_type"],
            severity=data["severity"],
            column=data.get("column"),
            observed_value=data.get("observed_value"),
            unexpected_count=int(data.get("unexpected_count", 0)),
            sample_rows=list(data.get("sample_rows") or []),
        )


@dataclass
class DayVerdict:
    """The outcome of validating one (symbol, day)."""

    symbol: str
    day: date
    passed: bool  # no error-severity failure
    errors: list[FailedExpectation] = field(default_factory=list)
    warnings: list[FailedExpectation] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    suite: str = "nse_bars_1m"

    @property
    def severity_max(self) -> str | None:
        """ "error", "warning", or None when every expectation held."""
        if self.errors:
            return ERROR
        return WARNING if self.warnings else None

    @property
    def failed_names(self) -> list[str]:
        """Labels of the failed expectations, errors first, without repeats."""
        return list(dict.fromkeys(f.name for f in [*self.errors, *self.warnings]))

    def failed_expectations_json(self) -> list[dict[str, Any]]:
        """Errors then warnings as plain dicts (what ``quality_results`` and ``quarantine`` store)."""
        return [f.to_json() for f in [*self.errors, *self.warnings]]

    def summary(self) -> str:
        """One line for logs: ``RELIANCE 2021-07-12 FAIL bars_per_day, longest_gap``."""
        status = "pass" if self.passed else "FAIL"
        names = ", ".join(f.name for f in self.errors)
        warned = ", ".join(f.name for f in self.warnings)
        parts = [f"{self.symbol} {self.day.isoformat()} {status}"]
        if names:
            parts.append(f"errors: {names}")
        if warned:
            parts.append(f"warnings: {warned}")
        return " ".join(parts)
