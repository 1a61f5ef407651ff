"""Ingest: fetch -> stage -> validate (Great Expectations) -> publish or quarantine.

Two entry points over the same steps:

- :func:`ingest` (the CLI's ``ingest``): many symbols and days, committed in chunks of days, each
  chunk one transaction (a chunk is staged, validated and settled together, or not at all);
- :func:`fetch_and_stage`, :func:`validate_staged`, :func:`publish_validated`: the three tasks of
  the daily Airflow DAG, passing JSON-serialisable dicts.

Re-running any ingest changes nothing: content already staged is found by its digest, content
already published or quarantined is left as it is.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from execution.config import Settings
from execution.data import audit, quality, store, ticks
from execution.data.exchange_calendar import trading_days
from execution.data.sources import make_source
from execution.data.sources.base import DayProblem, FetchResult
from execution.data.store import Connection, StagedDay
from execution.db import connect
from execution.json_values import json_safe

log = logging.getLogger(__name__)

DAYS_PER_TRANSACTION = 250  # symbol-days staged, validated (one GX run) and published per transaction


class IngestError(ValueError):
    """The request itself is wrong (unknown symbol, bad window): nothing was fetched."""


class DaysQuarantined(RuntimeError):
    """Raised after committing when some days failed validation: names each day and expectation."""


@dataclass
class DayOutcome:
    """What happened to one (symbol, day) in a run."""

    symbol: str
    day: date
    status: str  # published | quarantined | failed | unchanged
    rows_fetched: int = 0
    rows_published: int = 0
    batch_id: int | None = None
    error: str | None = None
    errors: list[str] = field(default_factory=list)  # failed error-severity expectations
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """The outcome of an ingest run."""

    run_id: int
    status: str
    outcomes: list[DayOutcome]

    def counts(self) -> dict[str, int]:
        """Number of symbol-days per outcome status."""
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return counts


def requested_by() -> str:
    """``user@host`` of the caller (the OS account of the process), with the Airflow task if any."""
    return audit.current_actor().label


def check_request(
    settings: Settings, symbols: list[str], start: date | None, end: date | None, source: str = ""
) -> None:
    """Refuse unknown symbols and bad windows before anything is fetched."""
    unknown = [s for s in symbols if s not in settings.symbols]
    if unknown:
        raise IngestError(
            f"symbol(s) {', '.join(unknown)} not configured (configured: {', '.join(settings.symbols)}); "
            "add them to EXEC_SYMBOLS or the config file"
        )
    if (start is None or end is None) and source != "landing":
        raise IngestError(f"source {source or '?'} needs a window: --start and --end")
    if start is not None and end is not None and end < start:
        raise IngestError(f"window ends ({end}) before it starts ({start})")


def expected_days(start: date | None, end: date | None) -> list[date]:
    """The trading days that must be delivered (none when the window is open)."""
    return trading_days(start, end) if start is not None and end is not None else []


def run_status(outcomes: list[DayOutcome]) -> str:
    """success (all published/unchanged), unchanged, partial, or failed (nothing usable)."""
    statuses = {o.status for o in outcomes}
    if not outcomes or statuses <= {"failed"}:
        return "failed"
    if statuses <= {"unchanged"}:
        return "unchanged"
    if statuses <= {"published", "unchanged"}:
        return "success"
    return "partial"


def problem_outcomes(
    symbol: str, problems: list[DayProblem], expected_days: list[date], covered: set[date]
) -> list[DayOutcome]:
    """Failed outcomes for the source's problems and for trading days it delivered nothing for."""
    outcomes: dict[date, DayOutcome] = {}
    symbol_wide = [p.message for p in problems if p.day is None]
    for p in problems:
        if p.day is not None:
            outcomes[p.day] = DayOutcome(symbol, p.day, "failed", error=p.message)
    for day in expected_days:
        if day not in covered and day not in outcomes:
            reason = "; ".join(symbol_wide) if symbol_wide else "the source has no bars for this trading day"
            outcomes[day] = DayOutcome(symbol, day, "failed", error=reason)
    return sorted(outcomes.values(), key=lambda o: o.day)


@dataclass
class Judgement:
    """Validation's word on one staged (symbol, day): unchanged, passed or failed."""

    day: StagedDay
    state: str  # unchanged | passed | failed
    errors: list[dict[str, Any]] = field(default_factory=list)  # failed error-severity expectations
    warnings: list[str] = field(default_factory=list)


def judge(conn: Connection, run_id: int, staged: list[StagedDay], force: bool = False) -> list[Judgement]:
    """Validate the staged days whose content is new (all of them with ``force``); records
    quality_results; no commit."""
    states = store.batch_states(conn, [s.batch_id for s in staged])
    to_validate = [s for s in staged if force or states.get(s.batch_id, "none") == "none"]
    verdicts = {}
    if to_validate:
        frame = store.load_staged(conn, [s.batch_id for s in to_validate]).drop(columns="batch_id")
        references = _tick_references(conn, to_validate)
        verdicts = {(v.symbol, v.day): v for v in quality.validate_days(frame, reference_closes=references)}
        quality.record_results(conn, list(verdicts.values()), run_id)
    judgements = []
    for s in staged:
        verdict = verdicts.get((s.symbol, s.day))
        if verdict is None:  # same content as what is already published or held back
            judgements.append(Judgement(s, "unchanged"))
        else:
            judgements.append(
                Judgement(
                    s,
                    "passed" if verdict.passed else "failed",
                    [asdict(f) for f in verdict.errors],
                    [f.name for f in verdict.warnings],
                )
            )
    return judgements


def _tick_references(conn: Connection, staged: list[StagedDay]) -> dict[tuple[str, date], float]:
    """Previous month-end closes of published data for days whose tick bands depend on them."""
    banded = [s for s in staged if ticks.regime_on(s.day).reference == ticks.PREV_MONTH_END_CLOSE]
    if not banded:
        return {}
    first = min(s.day for s in banded) - timedelta(days=40)
    return store.month_end_closes(conn, sorted({s.symbol for s in banded}), first, max(s.day for s in banded))


def refresh_data_docs(settings: Settings) -> Path | None:
    """Rebuild the Great Expectations Data Docs from the latest verdict of every symbol-day."""
    conn = connect(settings)
    try:
        verdicts = quality.load_verdicts(conn)
    finally:
        conn.close()
    if not verdicts:
        return None
    try:
        return quality.build_data_docs(verdicts, quality.data_docs_dir(settings))
    except Exception as exc:  # the docs are a view: never fail an ingest over them
        log.warning("Data Docs not rebuilt: %s", exc)
        return None


@dataclass(frozen=True)
class _Settling:
    """What settling one judgement does: its outcome, and whether to publish, unpublish or quarantine."""

    outcome: DayOutcome
    publish: bool = False
    unpublish: bool = False
    quarantine: bool = False
    release_kept: bool = False


def _settling(j: Judgement, state: str, run_id: int, newer_run: int | None) -> _Settling:
    """The rule for one judgement, given its batch's state and the run that published the day.

    * a day published from a newer run's fetch is not replaced by this (older) run: ``superseded``;
    * a batch an operator released stays published whatever validation says now (its failure is
      recorded, the release is kept: ``unchanged``);
    * otherwise: passed -> published (``unchanged`` if it is already), failed -> quarantined (and
      unpublished when it is the published content).
    """
    names = [e["name"] for e in j.errors]
    day = j.day
    outcome = DayOutcome(day.symbol, day.day, "unchanged", day.rows, 0, day.batch_id, None, names, j.warnings)
    if j.state == "unchanged":
        if state == "quarantined":  # the same content is still held back: say so again (the run fails loudly)
            outcome.status = "quarantined"
            outcome.error = "still quarantined" + (f": failed {', '.join(names)}" if names else "")
        return _Settling(outcome)
    published = state in ("published", "released")
    if newer_run is not None and newer_run > run_id and not published:
        outcome.status = "superseded"
        outcome.error = f"run {newer_run} fetched and published newer content of this day; run {run_id}'s is not"
        return _Settling(outcome)
    if j.state == "passed":
        outcome.status = "unchanged" if published else "published"
        return _Settling(outcome, publish=not published)
    failure = "failed " + ", ".join(names)
    if state == "released":
        outcome.error = f"{failure}; released by an operator, kept published"
        return _Settling(outcome, release_kept=True)
    outcome.status, outcome.error = "quarantined", failure
    return _Settling(outcome, unpublish=published, quarantine=True)


def apply_judgements(
    conn: Connection, run_id: int, judgements: list[Judgement], actor: audit.Actor | None = None
) -> list[DayOutcome]:
    """Publish the passed days atomically and quarantine the failed ones; no commit.

    Each (symbol, day) is locked first (:func:`store.lock_days`), so concurrent runs of a day
    settle one after the other, and publishing is monotonic: a run never replaces content that a
    newer run's fetch published (see :func:`_settling`).
    """
    actor = actor or audit.current_actor()
    keys = sorted({(j.day.symbol, j.day.day) for j in judgements})
    store.lock_days(conn, keys)
    states = store.batch_states(conn, [j.day.batch_id for j in judgements])
    held = store.held_expectations(conn, [j.day.batch_id for j in judgements if j.state == "unchanged"])
    judgements = [replace(j, errors=held[j.day.batch_id]) if j.day.batch_id in held else j for j in judgements]
    runs = store.publishing_runs(conn, keys)
    settlings = [
        _settling(j, states.get(j.day.batch_id, "none"), run_id, runs.get((j.day.symbol, j.day.day)))
        for j in judgements
    ]
    for j, s in zip(judgements, settlings, strict=True):
        if s.unpublish:  # bad bars must not stay where training reads
            store.unpublish(conn, j.day.symbol, j.day.day)
        if s.quarantine:
            store.quarantine(conn, j.day, run_id, j.errors, s.outcome.error or "", actor)
        if s.release_kept:
            audit.record_event(
                conn, actor, j.day.symbol, j.day.day, "release_kept", s.outcome.error or "",
                batch_id=j.day.batch_id, run_id=run_id, details={"failed_expectations": j.errors},
            )  # fmt: skip
    to_publish = [j.day for j, s in zip(judgements, settlings, strict=True) if s.publish]
    published = store.publish(conn, to_publish, fetch_run_id=run_id, actor=actor)
    outcomes = [s.outcome for s in settlings]
    for o in outcomes:
        if o.status == "published":
            o.rows_published = published.get(o.batch_id or -1, 0)
    return outcomes


def settle(conn: Connection, run_id: int, staged: list[StagedDay]) -> list[DayOutcome]:
    """Validate what is new in ``staged`` and publish or quarantine it; no commit."""
    return apply_judgements(conn, run_id, judge(conn, run_id, staged))


def _record(conn: Connection, run_id: int, outcomes: list[DayOutcome]) -> None:
    store.record_days(conn, run_id, [asdict(o) for o in outcomes])


def ingest(
    settings: Settings,
    source_name: str,
    symbols: list[str],
    start: date | None,
    end: date | None,
    path: str | None = None,
    progress: bool = True,
    who: str | None = None,
) -> IngestReport:
    """Fetch, stage, validate and publish ``symbols`` over ``start..end`` from one source.

    The landing source accepts an open window (None) and ingests whole export files.
    """
    check_request(settings, symbols, start, end, source_name)
    source = make_source(source_name, settings, path)
    expected = expected_days(start, end)
    conn = connect(settings)
    outcomes: list[DayOutcome] = []
    try:
        params = {"path": str(path) if path else None}
        run_id = store.start_run(conn, source.name, symbols, start, end, who or requested_by(), params)
        conn.commit()
        bar = tqdm(total=len(symbols) * len(expected), unit="symbol-day", desc="ingest", disable=not progress)
        try:
            # symbol-days of several symbols share a transaction and a validation run
            pending: list[pd.DataFrame] = []
            pending_days = 0
            for symbol in symbols:
                failed, bars = _fetch_symbol(conn, run_id, source, symbol, start, end, expected, bar)
                outcomes += failed
                for chunk, n_days in _day_chunks(bars, DAYS_PER_TRANSACTION):
                    pending.append(chunk)
                    pending_days += n_days
                    if pending_days >= DAYS_PER_TRANSACTION:
                        outcomes += _load_chunk(conn, run_id, source.name, pending, bar)
                        pending, pending_days = [], 0
            if pending:
                outcomes += _load_chunk(conn, run_id, source.name, pending, bar)
        except BaseException as exc:
            if conn.closed:  # the database went away: nothing to record on it, keep the cause
                raise
            conn.rollback()
            store.finish_run(conn, run_id, "failed", f"{type(exc).__name__}: {exc}")
            conn.commit()
            raise
        finally:
            bar.close()
        status = run_status(outcomes)
        store.finish_run(conn, run_id, status)
        conn.commit()
    finally:
        conn.close()
    if any(o.status in ("published", "quarantined") for o in outcomes):
        refresh_data_docs(settings)
    outcomes.sort(key=lambda o: (o.symbol, o.day))
    return IngestReport(run_id, status, outcomes)


def _fetch_symbol(
    conn: Connection,
    run_id: int,
    source: Any,
    symbol: str,
    start: date | None,
    end: date | None,
    expected: list[date],
    bar: tqdm,
) -> tuple[list[DayOutcome], pd.DataFrame]:
    """Fetch one symbol; record (and commit) the days it could not deliver; return its bars."""
    try:
        fetched: FetchResult = source.fetch(symbol, start, end)
    except Exception as exc:  # a source that cannot deliver at all: every day of the symbol failed
        log.error("%s: fetch from %s failed: %s", symbol, source.name, exc)
        failed = problem_outcomes(symbol, [DayProblem(symbol, None, f"{source.name}: {exc}")], expected, set())
        _record(conn, run_id, failed)
        conn.commit()
        bar.update(len(expected))
        return failed, pd.DataFrame()
    bars = fetched.bars
    delivered = set(bars["ts"].dt.date) if len(bars) else set()
    failed = problem_outcomes(symbol, fetched.problems, expected, delivered)
    _record(conn, run_id, failed)
    conn.commit()
    window = set(expected)
    beyond = {d for d in delivered if d not in window} | {o.day for o in failed if o.day not in window}
    if beyond:  # a landing export holding more days than the window: they are ingested too
        if window:
            log.info("%s: %d day(s) outside the window in the source, ingested too", symbol, len(beyond))
        bar.total += len(beyond)
        bar.refresh()
    bar.update(len(failed))
    return failed, bars


def _day_chunks(bars: pd.DataFrame, days_per_chunk: int) -> list[tuple[pd.DataFrame, int]]:
    """``bars`` cut into pieces of at most ``days_per_chunk`` days, with their day counts."""
    if bars.empty:
        return []
    days = bars["ts"].dt.date
    ordered = sorted(set(days))
    chunks = []
    for lo in range(0, len(ordered), days_per_chunk):
        chunk_days = ordered[lo : lo + days_per_chunk]
        chunks.append((bars[days.isin(chunk_days).to_numpy()], len(chunk_days)))
    return chunks


def _load_chunk(
    conn: Connection, run_id: int, source_name: str, frames: list[pd.DataFrame], bar: tqdm
) -> list[DayOutcome]:
    """Stage, validate and publish or quarantine some symbol-days in one transaction."""
    staged = store.stage(conn, run_id, source_name, pd.concat(frames, ignore_index=True))
    settled = settle(conn, run_id, staged)
    _record(conn, run_id, settled)
    conn.commit()
    bar.update(len(settled))
    return settled


# --- the three tasks of the daily DAG -------------------------------------------------------


def fetch_and_stage(
    settings: Settings,
    source_name: str,
    symbol: str,
    start: date,
    end: date,
    path: str | None = None,
    run_id: int | None = None,
    who: str = "cli",
) -> dict[str, Any]:
    """Fetch one symbol and COPY it into staging (committed). Raises when the source cannot deliver."""
    check_request(settings, [symbol], start, end, source_name)
    source = make_source(source_name, settings, path)
    conn = connect(settings)
    try:
        if run_id is None:
            run_id = store.start_run(conn, source.name, [symbol], start, end, who, {"path": path})
            conn.commit()
        try:
            fetched = source.fetch(symbol, start, end)
        except Exception as exc:  # recorded, then raised again so the task's retries take over
            store.finish_run(conn, run_id, "failed", f"{type(exc).__name__}: {exc}")
            conn.commit()
            raise
        delivered = set(fetched.bars["ts"].dt.date) if len(fetched.bars) else set()
        failed = problem_outcomes(symbol, fetched.problems, expected_days(start, end), delivered)
        _record(conn, run_id, failed)
        staged = store.stage(conn, run_id, source.name, fetched.bars)
        conn.commit()
    finally:
        conn.close()
    return {
        "run_id": run_id,
        "symbol": symbol,
        "source": source.name,
        "days": [
            {"day": s.day.isoformat(), "batch_id": s.batch_id, "rows": s.rows, "unchanged": not s.is_new}
            for s in staged
        ],
        "failed": [{"day": o.day.isoformat(), "error": o.error} for o in failed],
    }


def _staged_from(payload: dict[str, Any]) -> list[StagedDay]:
    return [
        StagedDay(
            payload["symbol"], date.fromisoformat(d["day"]), int(d["batch_id"]), int(d["rows"]), not d["unchanged"]
        )
        for d in payload["days"]
    ]


def validate_staged(settings: Settings, staged: dict[str, Any]) -> dict[str, Any]:
    """Run the Great Expectations suite on the staged days (quality_results committed).

    Returns the payload plus, per day, ``state`` (unchanged/passed/failed), ``errors`` (failed
    expectations with observed values and samples) and ``warnings``. Staged batches are immutable,
    so publishing them in a later task publishes exactly what was validated here.
    """
    conn = connect(settings)
    try:
        judgements = judge(conn, staged["run_id"], _staged_from(staged))
        conn.commit()
    finally:
        conn.close()
    by_day = {j.day.day.isoformat(): j for j in judgements}
    days = [
        {**d, "state": by_day[d["day"]].state, "errors": by_day[d["day"]].errors, "warnings": by_day[d["day"]].warnings}
        for d in staged["days"]
    ]
    return json_safe({**staged, "days": days})


def publish_validated(settings: Settings, validated: dict[str, Any]) -> dict[str, Any]:
    """Publish passed days atomically and quarantine failed ones (committed), close the run.

    Returns ``{"symbol", "run_id", "published", "unchanged", "superseded", "quarantined", "failed"}``.
    It does not raise for held-back days, so that the caller can announce what was published (the
    daily DAG emits its Asset event) before :func:`raise_if_held_back` fails loudly.
    """
    symbol, run_id = validated["symbol"], validated["run_id"]
    judgements = [
        Judgement(
            StagedDay(symbol, date.fromisoformat(d["day"]), int(d["batch_id"]), int(d["rows"]), not d["unchanged"]),
            d["state"],
            d["errors"],
            d["warnings"],
        )
        for d in validated["days"]
    ]
    failed = [DayOutcome(symbol, date.fromisoformat(f["day"]), "failed", error=f["error"]) for f in validated["failed"]]
    conn = connect(settings)
    try:
        outcomes = apply_judgements(conn, run_id, judgements)
        _record(conn, run_id, outcomes)
        store.finish_run(conn, run_id, run_status(outcomes + failed))
        conn.commit()
    finally:
        conn.close()
    if any(o.status in ("published", "quarantined") for o in outcomes):
        refresh_data_docs(settings)
    summary = {
        "symbol": symbol,
        "run_id": run_id,
        "published": [o.day.isoformat() for o in outcomes if o.status == "published"],
        "unchanged": [o.day.isoformat() for o in outcomes if o.status == "unchanged"],
        "superseded": [o.day.isoformat() for o in outcomes if o.status == "superseded"],
        "quarantined": [{"day": o.day.isoformat(), "errors": o.errors} for o in outcomes if o.status == "quarantined"],
        "failed": validated["failed"],
    }
    return summary


def held_back(summary: dict[str, Any]) -> list[str]:
    """One line per symbol-day a publish summary held back: quarantined (with the failed expectations)
    or not fetched (with why)."""
    symbol = summary["symbol"]
    problems = [f"{symbol} {q['day']}: quarantined, failed {', '.join(q['errors'])}" for q in summary["quarantined"]]
    problems += [f"{symbol} {f['day']}: fetch failed: {f['error']}" for f in summary["failed"]]
    return problems


def raise_if_held_back(summary: dict[str, Any]) -> dict[str, Any]:
    """:class:`DaysQuarantined` naming every held-back symbol-day of a publish summary; else the summary."""
    problems = held_back(summary)
    if problems:
        raise DaysQuarantined("; ".join(problems))
    return summary


# --- operator commands ------------------------------------------------------------------------


def revalidate(settings: Settings, symbols: list[str], start: date, end: date, who: str | None = None) -> IngestReport:
    """Validate again the latest staged batch of every (symbol, day) in the window, and settle it."""
    check_request(settings, symbols, start, end, "revalidate")
    conn = connect(settings)
    try:
        run_id = store.start_run(conn, "revalidate", symbols, start, end, who or requested_by(), {})
        staged = store.latest_batches(conn, symbols, start, end)
        outcomes = apply_judgements(conn, run_id, judge(conn, run_id, staged, force=True))
        _record(conn, run_id, outcomes)
        status = run_status(outcomes)
        store.finish_run(conn, run_id, status)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
    refresh_data_docs(settings)
    return IngestReport(run_id, status, outcomes)


def release(settings: Settings, symbol: str, day: date, reason: str, who: str | None = None) -> int:
    """Publish a quarantined (symbol, day) on an operator's word; returns rows published.

    Recorded under the process's identity (:func:`execution.data.audit.current_actor`: OS user@host,
    the Airflow task if any); ``who`` is a name the operator declares, kept beside it. The release
    is an ``released`` event of ``quarantine_events`` and marks the quarantine entry and the day.
    """
    if not reason.strip():
        raise IngestError("a release needs a reason (--reason TEXT)")
    actor = audit.current_actor(declared_by=who)
    conn = connect(settings)
    try:
        store.lock_days(conn, [(symbol, day)])
        held = store.active_quarantine(conn, symbol, day)
        if not held:
            raise IngestError(f"{symbol} {day} is not in quarantine")
        entry = held[0]
        staged = StagedDay(symbol, day, int(entry["batch_id"]), 0, False)
        fetched_by = int(entry["run_id"]) if entry["run_id"] is not None else None
        rows = store.publish(conn, [staged], released_by=actor.label, fetch_run_id=fetched_by, actor=actor)
        rows = rows.get(staged.batch_id, 0)
        store.mark_released(conn, symbol, day, staged.batch_id, actor.label, reason)
        audit.record_event(
            conn, actor, symbol, day, "released", reason,
            batch_id=staged.batch_id, run_id=fetched_by, details={"rows_published": rows},
        )  # fmt: skip
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
    log.info("%s %s released from quarantine by %s (%s): %d bars published", symbol, day, actor.label, reason, rows)
    return rows
