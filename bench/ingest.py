"""Benchmark: the project's bulk load of 3 years x 2 symbols against a plain COPY of one CSV.

Both run in one process against the same PostgreSQL (a fresh embedded server in a temporary
EXEC_HOME, or EXEC_DATABASE_URL when set), on the same synthetic rows:

- project: ``store.stage`` (digest per symbol-day, COPY into bars_staging) + ``store.publish``
  (set-based replace of every day into bars_1m) -- the load path of ``ingest``, without the
  source's generation time and without validation (measured by bench/validate.py);
- plain: ``COPY bars_plain FROM STDIN`` of one CSV file of the same rows into a table shaped like
  bars_1m (same primary key and BRIN index), through psycopg2.

Also prints the whole ``ingest --source synthetic`` (generation + validation + load) for context.
Usage: .venv/bin/python bench/ingest.py [--start 2018-01-01 --end 2020-12-31]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    """Run the benchmark and print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2018-01-01")
    parser.add_argument("--end", default="2020-12-31")
    parser.add_argument("--symbols", default="RELIANCE,SAIL")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each; medians are reported")
    parser.add_argument("--skip-full", action="store_true", help="skip the end-to-end ingest with validation")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    os.environ["EXEC_HOME"] = str(home)

    from execution.config import load_settings
    from execution.data import store
    from execution.data.ingest import ingest
    from execution.data.sources.synthetic import SyntheticSource
    from execution.db import connect, stop_embedded

    settings = load_settings()
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    symbols = args.symbols.split(",")
    t0 = time.perf_counter()
    bars = pd.concat([SyntheticSource().fetch(s, start, end).bars for s in symbols], ignore_index=True)
    generate_s = time.perf_counter() - t0
    rows = len(bars)
    csv_path = home / "bars.csv"
    bars.astype({"volume": "int64"}).to_csv(csv_path, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S%z")
    conn = connect(settings)
    plain_runs, project_runs = [], []
    try:
        for _ in range(args.repeat):  # alternate, so both see the same machine load
            with conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS bars_plain")
                cur.execute("CREATE TABLE bars_plain (LIKE bars_1m INCLUDING ALL)")
                cur.execute("ALTER TABLE bars_plain DROP COLUMN batch_id")
                cur.execute(
                    "TRUNCATE bars_1m, published_days, bars_staging, staged_batches, ingest_days, ingest_runs CASCADE"
                )
            conn.commit()

            # plain COPY of one CSV file
            t0 = time.perf_counter()
            with conn.cursor() as cur, csv_path.open() as fh:
                cur.copy_expert(
                    "COPY bars_plain (symbol, ts, open, high, low, close, volume, source) FROM STDIN WITH (FORMAT csv)",
                    fh,
                )
            conn.commit()
            plain_runs.append(time.perf_counter() - t0)

            # the project's load path: stage (digest + binary COPY) and publish (set-based replace)
            t0 = time.perf_counter()
            run_id = store.start_run(conn, "synthetic", symbols, start, end, "bench", {})
            staged = store.stage(conn, run_id, "synthetic", bars)
            store.publish(conn, staged)
            conn.commit()
            project_runs.append(time.perf_counter() - t0)
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM bars_1m")
                published = cur.fetchone()[0]
            assert published == rows, (published, rows)
        with conn.cursor() as cur:
            cur.execute("DROP TABLE bars_plain")
            cur.execute(
                "TRUNCATE bars_1m, published_days, bars_staging, staged_batches, ingest_days, ingest_runs CASCADE"
            )
        conn.commit()
    finally:
        conn.close()
    plain_s, project_s = statistics.median(plain_runs), statistics.median(project_runs)

    print(f"rows: {rows:,} ({len(symbols)} symbols, {start}..{end}); synthetic generation {generate_s:.2f} s")
    pairs = ", ".join(f"{p:.2f}/{q:.2f}" for p, q in zip(plain_runs, project_runs, strict=True))
    print(f"median of {args.repeat} alternating runs (plain/project each: {pairs} s)")
    print(f"plain COPY of one CSV : {plain_s:7.2f} s  {rows / plain_s:12,.0f} rows/s")
    print(f"project stage+publish : {project_s:7.2f} s  {rows / project_s:12,.0f} rows/s")
    print(f"ratio project/plain   : {plain_s / project_s:7.2f}  (acceptance: >= 0.50)")
    if not args.skip_full:
        t0 = time.perf_counter()
        report = ingest(settings, "synthetic", symbols, start, end, progress=False)
        full_s = time.perf_counter() - t0
        print(
            f"full ingest (generate + validate with Great Expectations + load): {full_s:.1f} s, "
            f"{rows / full_s:,.0f} rows/s, {report.counts()}"
        )
    if not settings.database_url:
        stop_embedded(settings.pg_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
