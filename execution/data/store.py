"""The bar store: staging (COPY), content-addressed batches, atomic publishing, quarantine.

All functions take an open connection and do NOT commit: the caller owns the transaction,
so a (symbol, day) is staged, validated and published or quarantined in one transaction.
SQL lives here and in the migrations, always parameterised.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg2.extensions
from psycopg2.extras import execute_values

from execution.data import audit
from execution.data.exchange_calendar import EXCHANGE_TZ_NAME
from execution.data.sources.base import BAR_COLUMNS

Connection = psycopg2.extensions.connection

_DAY_START = "(d.day::timestamp AT TIME ZONE 'Asia/Kolkata')"
_DAY_END = "((d.day + 1)::timestamp AT TIME ZONE 'Asia/Kolkata')"


@dataclass(frozen=True)
class StagedDay:
    """One (symbol, day) of a fetch, as it sits in staging."""

    symbol: str
    day: date
    batch_id: int
    rows: int
    is_new: bool  # False when the same content was staged before (the batch was found, not copied)
    session_rows: int | None = None  # rows inside 09:15..15:29, when known (saves a count at publish)


def start_run(
    conn: Connection, source: str, symbols: list[str], start: date, end: date, requested_by: str, params: dict
) -> int:
    """Record a new ingest run and return its id (the caller commits so it survives failures)."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ingest_runs (source, symbols, start_day, end_day, requested_by, params)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING run_id",
            (source, list(symbols), start, end, requested_by, json.dumps(params, default=str)),
        )
        return int(cur.fetchone()[0])


def finish_run(conn: Connection, run_id: int, status: str, error: str | None = None) -> None:
    """Close a run: its status and the row counts summed from its day records."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest_runs r SET finished_at = now(), status = %s, error = %s,"
            " rows_fetched = COALESCE(s.fetched, 0), rows_staged = COALESCE(s.staged, 0),"
            " rows_published = COALESCE(s.published, 0)"
            " FROM (SELECT sum(rows_fetched) AS fetched, sum(rows_published) AS published,"
            "        (SELECT COALESCE(sum(rows), 0) FROM staged_batches WHERE run_id = %s) AS staged"
            "       FROM ingest_days WHERE run_id = %s) s"
            " WHERE r.run_id = %s",
            (status, error, run_id, run_id, run_id),
        )


SESSION_FIRST_S, SESSION_LAST_S = 9 * 3600 + 15 * 60, 15 * 3600 + 29 * 60  # time of day of 09:15 and 15:29


_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NS_PER_DAY = 86_400 * 10**9


def content_digests(bars: pd.DataFrame) -> pd.DataFrame:
    """One row per (symbol, day) of ``bars``: first/last row positions, regular-session rows, sha256.

    ``bars`` must be sorted by (symbol, ts). The digest covers ts and the five numbers, so the
    same rows fetched again give the same digest whatever the window around them. Vectorised:
    days are integer divisions of exchange-time nanoseconds, no Python per row.
    """
    local_ns = bars["ts"].dt.tz_convert(EXCHANGE_TZ_NAME).dt.tz_localize(None).dt.as_unit("ns").astype("int64")
    local_ns = local_ns.to_numpy()
    day_number = local_ns // _NS_PER_DAY
    codes, symbols = pd.factorize(bars["symbol"])
    change = np.ones(len(bars), dtype=bool)
    change[1:] = (codes[1:] != codes[:-1]) | (day_number[1:] != day_number[:-1])
    boundaries = np.flatnonzero(change)
    ends = np.append(boundaries[1:], len(bars))
    seconds_of_day = (local_ns // 10**9) % 86_400
    in_session = ((seconds_of_day >= SESSION_FIRST_S) & (seconds_of_day <= SESSION_LAST_S)).astype(np.int64)
    session_counts = np.add.reduceat(in_session, boundaries) if len(bars) else np.array([], dtype=np.int64)
    ts_ns = bars["ts"].dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()
    numbers = bars[["open", "high", "low", "close", "volume"]].to_numpy(dtype="float64")
    digests = []
    for lo, hi in zip(boundaries, ends, strict=True):
        h = hashlib.sha256(ts_ns[lo:hi].tobytes())
        h.update(np.ascontiguousarray(numbers[lo:hi]).tobytes())
        digests.append(h.hexdigest())
    return pd.DataFrame(
        {
            "symbol": np.asarray(symbols, dtype=object)[codes[boundaries]],
            "day": [date.fromordinal(_UNIX_EPOCH_ORDINAL + int(d)) for d in day_number[boundaries]],
            "lo": boundaries,
            "hi": ends,
            "session_rows": session_counts,
            "sha256": digests,
        }
    )


def sorted_by_symbol_and_time(bars: pd.DataFrame) -> pd.DataFrame:
    """``bars`` ordered by (symbol, ts), stable; returned as is when already in that order."""
    codes, _ = pd.factorize(bars["symbol"], sort=True)
    ts_ns = bars["ts"].dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()
    order = np.lexsort((ts_ns, codes))
    if np.array_equal(order, np.arange(len(bars))):
        return bars.reset_index(drop=True)
    return bars.take(order).reset_index(drop=True)


_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z in microseconds since 1970
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")


def binary_copy_payload(batch_ids: np.ndarray, bars: pd.DataFrame) -> bytes:
    """Staging rows (batch id, ts and the five numbers of ``bars``) in PostgreSQL's binary COPY format.

    One numpy structured array for all rows, so no Python runs per row; NaN prices or volumes
    are sent as float NaN, as fetched.
    """
    numbers = ("open", "high", "low", "close", "volume")
    fields = [("n", ">i2"), ("l_batch", ">i4"), ("batch", ">i8"), ("l_ts", ">i4"), ("ts", ">i8")]
    fields += [item for col in numbers for item in ((f"l_{col}", ">i4"), (col, ">f8"))]
    template = np.zeros(1, dtype=np.dtype(fields))
    template["n"] = 2 + len(numbers)
    for length_field in ("l_batch", "l_ts", *(f"l_{col}" for col in numbers)):
        template[length_field] = 8
    rec = np.tile(template, len(bars))  # the constant parts in one pass
    rec["batch"] = np.asarray(batch_ids, dtype=np.int64).astype(">i8")  # numpy byte-swaps, then copies
    ts_us = bars["ts"].dt.tz_convert("UTC").dt.as_unit("us").astype("int64").to_numpy()
    rec["ts"] = (ts_us - _PG_EPOCH_US).astype(">i8")
    for col in numbers:
        rec[col] = bars[col].to_numpy(dtype="float64").astype(">f8")
    return _COPY_HEADER + rec.tobytes() + (-1).to_bytes(2, "big", signed=True)


def _copy_rows(conn: Connection, batch_ids: np.ndarray, bars: pd.DataFrame) -> None:
    with conn.cursor() as cur:
        cur.copy_expert(
            "COPY bars_staging (batch_id, ts, open, high, low, close, volume) FROM STDIN WITH (FORMAT binary)",
            io.BytesIO(binary_copy_payload(batch_ids, bars)),
        )


def stage(conn: Connection, run_id: int, source: str, bars: pd.DataFrame) -> list[StagedDay]:
    """Put fetched bars into staging, one batch per (symbol, day); identical content is reused."""
    if bars.empty:
        return []
    bars = sorted_by_symbol_and_time(bars)
    groups = content_digests(bars)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, day, content_sha256, batch_id FROM staged_batches"
            " WHERE source = %s AND symbol = ANY(%s) AND day BETWEEN %s AND %s",
            (source, list(groups["symbol"].unique()), groups["day"].min(), groups["day"].max()),
        )
        found = {(s, d, h): b for s, d, h, b in cur.fetchall()}
        candidates = groups[[(r.symbol, r.day, r.sha256) not in found for r in groups.itertuples()]]
        inserted: dict[tuple, int] = {}
        if len(candidates):
            # ON CONFLICT: a concurrent run staging the same content at the same moment wins, this one reuses it
            rows = execute_values(
                cur,
                "INSERT INTO staged_batches (run_id, source, symbol, day, rows, content_sha256) VALUES %s"
                " ON CONFLICT (source, symbol, day, content_sha256) DO NOTHING"
                " RETURNING symbol, day, content_sha256, batch_id",
                [(run_id, source, r.symbol, r.day, int(r.hi - r.lo), r.sha256) for r in candidates.itertuples()],
                fetch=True,
                page_size=1000,
            )
            inserted = {(s, d, h): int(b) for s, d, h, b in rows}
            if len(inserted) < len(candidates):
                cur.execute(
                    "SELECT symbol, day, content_sha256, batch_id FROM staged_batches"
                    " WHERE source = %s AND symbol = ANY(%s) AND day BETWEEN %s AND %s",
                    (source, list(groups["symbol"].unique()), groups["day"].min(), groups["day"].max()),
                )
                found = {(s, d, h): b for s, d, h, b in cur.fetchall()}
        new = candidates[[(r.symbol, r.day, r.sha256) in inserted for r in candidates.itertuples()]]
        new_ids = [inserted[(r.symbol, r.day, r.sha256)] for r in new.itertuples()]
    if new_ids:
        batch_of_row = np.zeros(len(bars), dtype=np.int64)
        take = np.zeros(len(bars), dtype=bool)
        for batch_id, r in zip(new_ids, new.itertuples(), strict=True):
            batch_of_row[r.lo : r.hi] = batch_id
            take[r.lo : r.hi] = True
        _copy_rows(conn, batch_of_row[take], bars.loc[take])
    new_by_key = {(r.symbol, r.day): b for b, r in zip(new_ids, new.itertuples(), strict=True)}
    staged = []
    for r in groups.itertuples():
        key = (r.symbol, r.day)
        is_new = key in new_by_key
        batch_id = new_by_key[key] if is_new else found[(r.symbol, r.day, r.sha256)]
        staged.append(StagedDay(r.symbol, r.day, int(batch_id), int(r.hi - r.lo), is_new, int(r.session_rows)))
    return staged


def batch_states(conn: Connection, batch_ids: list[int]) -> dict[int, str]:
    """For each batch: 'released' (published on an operator's word after validation held it back),
    'published' (the day's published content), 'quarantined' (active), or 'none'."""
    if not batch_ids:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT b.batch_id,"
            " CASE WHEN p.batch_id IS NOT NULL AND r.batch_id IS NOT NULL THEN 'released'"
            "      WHEN p.batch_id IS NOT NULL THEN 'published'"
            "      WHEN q.batch_id IS NOT NULL THEN 'quarantined' ELSE 'none' END"
            " FROM unnest(%s::bigint[]) AS b(batch_id)"
            " LEFT JOIN published_days p ON p.batch_id = b.batch_id"
            " LEFT JOIN quarantine r ON r.batch_id = b.batch_id AND r.released_at IS NOT NULL"
            " LEFT JOIN quarantine q ON q.batch_id = b.batch_id AND q.released_at IS NULL AND q.superseded_at IS NULL",
            (batch_ids,),
        )
        return {int(b): s for b, s in cur.fetchall()}


def held_expectations(conn: Connection, batch_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """batch id -> the failed expectations it is held back for, for the batches in active quarantine."""
    if not batch_ids:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT batch_id, failed_expectations FROM quarantine WHERE batch_id = ANY(%s)"
            " AND released_at IS NULL AND superseded_at IS NULL",
            (list(batch_ids),),
        )
        return {int(b): list(f or []) for b, f in cur.fetchall()}


PUBLISH_LOCK_NAMESPACE = 74_117_002  # seed of the advisory-lock keys of (symbol, day) publishing


def lock_days(conn: Connection, keys: list[tuple[str, date]]) -> None:
    """Take the transaction-scoped advisory lock of each (symbol, day), in one fixed order.

    Whoever publishes, quarantines or releases a symbol-day holds its lock until commit, so two
    runs of the same day settle one after the other (no deadlock: every caller locks in key order).
    """
    if not keys:
        return
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT DISTINCT"
            " hashtextextended(s || '|' || d::text, %s) AS k FROM unnest(%s::text[], %s::date[]) AS t(s, d)"
            " ORDER BY k) keys",
            (PUBLISH_LOCK_NAMESPACE, [k[0] for k in keys], [k[1] for k in keys]),
        )


def publishing_runs(conn: Connection, keys: list[tuple[str, date]]) -> dict[tuple[str, date], int]:
    """(symbol, day) -> the ingest run whose fetch delivered the day's published content (when known)."""
    if not keys:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT p.symbol, p.day, p.fetch_run_id FROM published_days p"
            " JOIN unnest(%s::text[], %s::date[]) AS t(s, d) ON p.symbol = t.s AND p.day = t.d"
            " WHERE p.fetch_run_id IS NOT NULL",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        return {(s, d): int(r) for s, d, r in cur.fetchall()}


def load_staged(conn: Connection, batch_ids: list[int]) -> pd.DataFrame:
    """Staged rows of the given batches, in the contract plus ``batch_id``, sorted by symbol and ts."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT s.batch_id, b.symbol, s.ts, s.open, s.high, s.low, s.close, s.volume, b.source"
            " FROM bars_staging s JOIN staged_batches b ON b.batch_id = s.batch_id"
            " WHERE s.batch_id = ANY(%s) ORDER BY b.symbol, s.ts, s.batch_id",
            (list(batch_ids),),
        )
        rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=["batch_id", *BAR_COLUMNS])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(EXCHANGE_TZ_NAME)
    for col in ("open", "high", "low", "close", "volume"):
        frame[col] = frame[col].astype("float64")
    return frame


def publish(
    conn: Connection,
    days: list[StagedDay],
    released_by: str | None = None,
    *,
    fetch_run_id: int | None = None,
    actor: audit.Actor | None = None,
) -> dict[int, int]:
    """Replace the published bars of each (symbol, day) by its batch's regular-session rows.

    Set-based: one DELETE and one INSERT for all days, inside the caller's transaction, so every
    day is replaced atomically. ``fetch_run_id`` is the ingest run whose fetch delivered the
    batches (the monotonic rule of :func:`execution.data.ingest.apply_judgements` compares it);
    ``released_by`` marks an operator's release (kept when the same batch is published again).
    Quarantine entries of other batches of these days are superseded, each with an event.
    Returns rows published per batch id.
    """
    if not days:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS publish_set (symbol text, day date, batch_id bigint) ON COMMIT DELETE ROWS"
        )
        cur.execute("TRUNCATE publish_set")
        execute_values(
            cur, "INSERT INTO publish_set VALUES %s", [(d.symbol, d.day, d.batch_id) for d in days], page_size=1000
        )
        cur.execute(
            f"DELETE FROM bars_1m b USING publish_set d WHERE b.symbol = d.symbol"
            f" AND b.ts >= {_DAY_START} AND b.ts < {_DAY_END}"
        )
        session_rows = (
            " FROM bars_staging s JOIN publish_set d ON s.batch_id = d.batch_id"
            " JOIN staged_batches b ON b.batch_id = d.batch_id"
            " WHERE (s.ts AT TIME ZONE 'Asia/Kolkata')::time BETWEEN '09:15' AND '15:29'"
        )
        cur.execute(
            "INSERT INTO bars_1m (symbol, ts, open, high, low, close, volume, source, batch_id)"
            " SELECT d.symbol, s.ts, s.open, s.high, s.low, s.close, s.volume::bigint, b.source, s.batch_id"
            + session_rows
        )
        published = {d.batch_id: d.session_rows for d in days if d.session_rows is not None}
        if len(published) < len(days):  # e.g. a release: count what was inserted
            cur.execute("SELECT d.batch_id, count(s.batch_id)" + session_rows + " GROUP BY d.batch_id")
            published = {d.batch_id: 0 for d in days}
            published.update({int(b): int(n) for b, n in cur.fetchall()})
        cur.execute(
            "INSERT INTO published_days (symbol, day, batch_id, rows, released_by, fetch_run_id)"
            " SELECT d.symbol, d.day, d.batch_id, (%s::jsonb ->> d.batch_id::text)::int, %s, %s FROM publish_set d"
            " ON CONFLICT (symbol, day) DO UPDATE SET batch_id = EXCLUDED.batch_id, rows = EXCLUDED.rows,"
            " published_at = now(),"
            " released_by = CASE WHEN published_days.batch_id = EXCLUDED.batch_id"
            "   THEN COALESCE(EXCLUDED.released_by, published_days.released_by) ELSE EXCLUDED.released_by END,"
            " fetch_run_id = CASE WHEN published_days.batch_id = EXCLUDED.batch_id"
            "   THEN COALESCE(EXCLUDED.fetch_run_id, published_days.fetch_run_id) ELSE EXCLUDED.fetch_run_id END",
            (json.dumps({str(k): v for k, v in published.items()}), released_by, fetch_run_id),
        )
        cur.execute(
            "UPDATE quarantine q SET superseded_at = now() FROM publish_set d"
            " WHERE q.symbol = d.symbol AND q.day = d.day AND q.batch_id <> d.batch_id"
            " AND q.released_at IS NULL AND q.superseded_at IS NULL"
            " RETURNING q.symbol, q.day, q.batch_id, d.batch_id"
        )
        superseded = cur.fetchall()
    who = actor or audit.current_actor()
    for symbol, day, held, by in superseded:
        reason = f"batch {by} of the day was published instead"
        audit.record_event(conn, who, symbol, day, "superseded", reason, batch_id=held, run_id=fetch_run_id)
    return published


def quarantine(
    conn: Connection,
    day: StagedDay,
    run_id: int | None,
    failed: list[dict[str, Any]],
    reason: str,
    actor: audit.Actor | None = None,
) -> bool:
    """Hold a staged (symbol, day) back from publication, with the expectations it failed.

    An operator's release of the batch is never undone here (a released batch stays released).
    A batch that was not held already gets a ``quarantined`` event. Returns True when it is newly held.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT released_at IS NOT NULL, superseded_at IS NULL FROM quarantine"
            " WHERE symbol = %s AND day = %s AND batch_id = %s",
            (day.symbol, day.day, day.batch_id),
        )
        before = cur.fetchone()
        if before is not None and before[0]:
            return False
        cur.execute(
            "INSERT INTO quarantine (symbol, day, batch_id, run_id, failed_expectations, reason)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (symbol, day, batch_id) DO UPDATE SET failed_expectations = EXCLUDED.failed_expectations,"
            " reason = EXCLUDED.reason, run_id = EXCLUDED.run_id, quarantined_at = now(), superseded_at = NULL"
            " WHERE quarantine.released_at IS NULL",
            (day.symbol, day.day, day.batch_id, run_id, json.dumps(failed, default=str), reason),
        )
    newly = before is None or not before[1]
    if newly:
        details = {"failed_expectations": failed}
        who = actor or audit.current_actor()
        audit.record_event(
            conn, who, day.symbol, day.day, "quarantined", reason, batch_id=day.batch_id, run_id=run_id, details=details
        )
    return newly


def active_quarantine(conn: Connection, symbol: str | None = None, day: date | None = None) -> list[dict[str, Any]]:
    """Quarantined symbol-days not yet released or superseded, newest first."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, day, batch_id, run_id, reason, failed_expectations, quarantined_at FROM quarantine"
            " WHERE released_at IS NULL AND superseded_at IS NULL"
            " AND (%s::text IS NULL OR symbol = %s) AND (%s::date IS NULL OR day = %s)"
            " ORDER BY symbol, day, quarantined_at DESC",
            (symbol, symbol, day, day),
        )
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def mark_released(conn: Connection, symbol: str, day: date, batch_id: int, who: str, reason: str) -> None:
    """Record an operator's release of a quarantined batch."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE quarantine SET released_at = now(), released_by = %s, release_reason = %s"
            " WHERE symbol = %s AND day = %s AND batch_id = %s",
            (who, reason, symbol, day, batch_id),
        )


def record_days(conn: Connection, run_id: int, outcomes: list[dict[str, Any]]) -> None:
    """Write the per-(symbol, day) outcomes of a run (re-recording a day replaces it)."""
    if not outcomes:
        return
    with conn.cursor() as cur:
        execute_values(
            cur,
            "INSERT INTO ingest_days (run_id, symbol, day, batch_id, status, rows_fetched, rows_published, error)"
            " VALUES %s ON CONFLICT (run_id, symbol, day) DO UPDATE SET batch_id = EXCLUDED.batch_id,"
            " status = EXCLUDED.status, rows_fetched = EXCLUDED.rows_fetched,"
            " rows_published = EXCLUDED.rows_published, error = EXCLUDED.error, recorded_at = now()",
            [
                (
                    run_id,
                    o["symbol"],
                    o["day"],
                    o.get("batch_id"),
                    o["status"],
                    o.get("rows_fetched", 0),
                    o.get("rows_published", 0),
                    o.get("error"),
                )
                for o in outcomes
            ],
            page_size=1000,
        )


def unpublish(conn: Connection, symbol: str, day: date) -> None:
    """Remove a (symbol, day) from the published bars (its staged rows stay)."""
    with conn.cursor() as cur:
        cur.execute(
            "DELETE FROM bars_1m WHERE symbol = %s AND ts >= (%s::date::timestamp AT TIME ZONE 'Asia/Kolkata')"
            " AND ts < ((%s::date + 1)::timestamp AT TIME ZONE 'Asia/Kolkata')",
            (symbol, day, day),
        )
        cur.execute("DELETE FROM published_days WHERE symbol = %s AND day = %s", (symbol, day))


def latest_batches(conn: Connection, symbols: list[str], start: date, end: date) -> list[StagedDay]:
    """The most recently staged batch of every (symbol, day) in the window."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT ON (symbol, day) symbol, day, batch_id, rows FROM staged_batches"
            " WHERE symbol = ANY(%s) AND day BETWEEN %s AND %s ORDER BY symbol, day, batch_id DESC",
            (list(symbols), start, end),
        )
        return [StagedDay(s, d, int(b), int(n), False) for s, d, b, n in cur.fetchall()]


def month_end_closes(conn: Connection, symbols: list[str], start: date, end: date) -> dict[tuple[str, date], float]:
    """(symbol, last published day of a month) -> that day's last close, for months ending in
    ``start..end``: the reference prices of the 2025 NSE tick bands."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT m.symbol, m.day, (SELECT b.close FROM bars_1m b WHERE b.symbol = m.symbol"
            "   AND b.ts < ((m.day + 1)::timestamp AT TIME ZONE 'Asia/Kolkata') ORDER BY b.ts DESC LIMIT 1)"
            " FROM (SELECT symbol, max(day) AS day FROM published_days"
            "       WHERE symbol = ANY(%s) AND day BETWEEN %s AND %s"
            "       GROUP BY symbol, date_trunc('month', day)) m",
            (list(symbols), start, end),
        )
        return {(s, d): float(c) for s, d, c in cur.fetchall() if c is not None}


def load_published(conn: Connection, symbol: str, start: date, end: date) -> pd.DataFrame:
    """Published bars of ``symbol`` on days ``start..end`` (exchange time), contract columns, by ts."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, ts, open, high, low, close, volume, source FROM bars_1m"
            " WHERE symbol = %s AND ts >= (%s::date::timestamp AT TIME ZONE 'Asia/Kolkata')"
            " AND ts < ((%s::date + 1)::timestamp AT TIME ZONE 'Asia/Kolkata') ORDER BY ts",
            (symbol, start, end),
        )
        rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=list(BAR_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(EXCHANGE_TZ_NAME)
    for col in ("open", "high", "low", "close", "volume"):
        frame[col] = frame[col].astype("float64")
    return frame


def published_days(conn: Connection, symbol: str, start: date, end: date) -> list[date]:
    """Days of ``symbol`` with published bars in ``start..end``."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT day FROM published_days WHERE symbol = %s AND day BETWEEN %s AND %s ORDER BY day",
            (symbol, start, end),
        )
        return [r[0] for r in cur.fetchall()]


def real_days(conn: Connection, symbol: str) -> list[date]:
    """Days of ``symbol`` whose published bars come from a real source (anything but the synthetic generator)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT (ts AT TIME ZONE 'Asia/Kolkata')::date FROM bars_1m"
            " WHERE symbol = %s AND source NOT LIKE 'synthetic%%' ORDER BY 1",
            (symbol,),
        )
        return [r[0] for r in cur.fetchall()]


def status(conn: Connection) -> dict[str, Any]:
    """Per symbol: published bars and days, first/last day, quarantined days, failed days, runs.

    Only state that changes when data changes is reported, so re-running an ingest that finds
    nothing new leaves it identical (the no-op runs themselves are listed by ``runs``).
    """
    with conn.cursor() as cur:
        cur.execute("SELECT symbol, sum(rows), count(*), min(day), max(day) FROM published_days GROUP BY symbol")
        published = {s: (int(n), int(d), lo, hi) for s, n, d, lo, hi in cur.fetchall()}
        cur.execute(
            "SELECT symbol, day, reason FROM quarantine WHERE released_at IS NULL AND superseded_at IS NULL"
            " ORDER BY symbol, day"
        )
        quarantined: dict[str, list[dict[str, str]]] = {}
        for s, d, reason in cur.fetchall():
            quarantined.setdefault(s, []).append({"day": d.isoformat(), "reason": reason})
        # days whose latest ingest record is a failure and that have no published content
        cur.execute(
            "SELECT l.symbol, l.day, l.error FROM ("
            "  SELECT DISTINCT ON (symbol, day) symbol, day, status, error FROM ingest_days"
            "  ORDER BY symbol, day, run_id DESC) l"
            " LEFT JOIN published_days p ON p.symbol = l.symbol AND p.day = l.day"
            " WHERE l.status = 'failed' AND p.day IS NULL ORDER BY l.symbol, l.day"
        )
        failed: dict[str, list[dict[str, str]]] = {}
        for s, d, err in cur.fetchall():
            failed.setdefault(s, []).append({"day": d.isoformat() if d else None, "error": err})
        # runs that brought new content (staged a new batch) per symbol
        cur.execute("SELECT symbol, count(DISTINCT run_id), max(run_id) FROM staged_batches GROUP BY symbol")
        runs = {s: (int(n), int(last)) for s, n, last in cur.fetchall()}
    symbols = sorted(set(published) | set(quarantined) | set(failed) | set(runs))
    out: dict[str, Any] = {"symbols": {}}
    for s in symbols:
        bars, days, first, last = published.get(s, (0, 0, None, None))
        n_runs, last_run = runs.get(s, (0, None))
        out["symbols"][s] = {
            "published_bars": bars,
            "trading_days": days,
            "first_day": first.isoformat() if first else None,
            "last_day": last.isoformat() if last else None,
            "quarantined_days": quarantined.get(s, []),
            "failed_days": failed.get(s, []),
            "ingest_runs_with_changes": n_runs,
            "last_changing_run_id": last_run,
        }
    return out
