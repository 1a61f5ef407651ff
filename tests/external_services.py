"""pytest plugin: say loudly which paths that need a service of the machine ran, and which were skipped.

Tests marked ``external_postgres`` (the machine's PostgreSQL on 127.0.0.1:5432, trust, database
``test``) or ``celery`` (Redis on 127.0.0.1:6379 as the Celery broker) run when the service answers
and are skipped, saying why, when it does not. At the end of every run a banner names each path
and what happened to it. With ``NSE_REQUIRE_SERVICES`` set (``.ci/run`` sets it to
``postgres,celery``), a required path that did not run fails the session: CI cannot be green
with them skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

#: marker -> what it exercises
PATHS = {
    "external_postgres": "external PostgreSQL (127.0.0.1:5432, database test)",
    "celery": "CeleryExecutor (Redis broker 127.0.0.1:6379, a real worker)",
}
#: names accepted in NSE_REQUIRE_SERVICES -> marker
REQUIRABLE = {"postgres": "external_postgres", "external_postgres": "external_postgres", "celery": "celery"}
REQUIRE_VARIABLE = "NSE_REQUIRE_SERVICES"


@dataclass
class PathOutcome:
    """What the tests of one path did."""

    passed: int = 0
    failed: int = 0
    skipped: list[str] = field(default_factory=list)  # skip reasons

    @property
    def ran(self) -> bool:
        return self.passed + self.failed > 0


_outcomes: dict[str, PathOutcome] = {}
_notes: list[str] = []


def note(line: str) -> None:
    """Add a line to the end-of-run banner (e.g. how a fault was injected on this machine)."""
    if line not in _notes:
        _notes.append(line)


def required_paths() -> list[str]:
    """Markers whose path must run (from ``NSE_REQUIRE_SERVICES``); unknown names are an error."""
    names = [n.strip().lower() for n in os.environ.get(REQUIRE_VARIABLE, "").split(",") if n.strip()]
    unknown = [n for n in names if n not in REQUIRABLE]
    if unknown:
        raise pytest.UsageError(f"{REQUIRE_VARIABLE}: unknown service(s) {unknown}; known: {sorted(REQUIRABLE)}")
    return sorted({REQUIRABLE[n] for n in names})


def pytest_configure(config: pytest.Config) -> None:
    for marker, what in PATHS.items():
        config.addinivalue_line("markers", f"{marker}: needs the {what}; reported at the end of the run")
    required_paths()
    _outcomes.clear()
    _notes.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    markers = set(report.keywords) & set(PATHS)
    for marker in markers:
        outcome = _outcomes.setdefault(marker, PathOutcome())
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            outcome.skipped.append(reason.removeprefix("Skipped: "))
        elif report.when == "call":
            if report.passed:
                outcome.passed += 1
            else:
                outcome.failed += 1
        elif report.failed:  # an error in set-up or tear-down
            outcome.failed += 1


def summary_lines() -> list[str]:
    """One line per path: RAN (n passed, n failed) or SKIPPED (why), and REQUIRED when it must run."""
    required = required_paths()
    lines = []
    for marker, what in PATHS.items():
        outcome = _outcomes.get(marker, PathOutcome())
        if outcome.ran:
            state = f"RAN ({outcome.passed} passed, {outcome.failed} failed)"
        elif outcome.skipped:
            state = f"SKIPPED: {outcome.skipped[0]}"
        else:
            state = "NOT COLLECTED"
        flag = " [required, did not run: FAILS THE RUN]" if marker in required and not outcome.ran else ""
        lines.append(f"{what}: {state}{flag}")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    terminalreporter.section("paths needing a service of this machine", sep="!", bold=True)
    for line in summary_lines():
        terminalreporter.write_line(line, bold=True, red="SKIPPED" in line or "NOT" in line, green="RAN" in line)
    for line in _notes:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    missing = [m for m in required_paths() if not _outcomes.get(m, PathOutcome()).ran]
    if missing and session.exitstatus == 0 and session.testscollected:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
