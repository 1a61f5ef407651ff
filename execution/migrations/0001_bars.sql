-- Foundation: ingest runs, staging (everything fetched, as fetched), published bars, quarantine.

CREATE TABLE ingest_runs (
    run_id          bigserial PRIMARY KEY,
    source          text        NOT NULL,
    symbols         text[]      NOT NULL,
    start_day       date,                               -- NULL: the whole landing export
    end_day         date,
    requested_by    text        NOT NULL,               -- user@host, or the Airflow dag/task/run
    params          jsonb       NOT NULL DEFAULT '{}',  -- path, seed, ...
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text        NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'success', 'partial', 'failed', 'unchanged')),
    rows_fetched    bigint      NOT NULL DEFAULT 0,
    rows_staged     bigint      NOT NULL DEFAULT 0,
    rows_published  bigint      NOT NULL DEFAULT 0,
    error           text
);

-- One fetch of one (symbol, day), identified by its content: fetching the same rows again
-- finds the existing batch instead of staging a copy (re-runs change nothing).
CREATE TABLE staged_batches (
    batch_id        bigserial PRIMARY KEY,
    run_id          bigint      NOT NULL REFERENCES ingest_runs (run_id),
    source          text        NOT NULL,
    symbol          text        NOT NULL,
    day             date        NOT NULL,
    rows            integer     NOT NULL,
    content_sha256  text        NOT NULL,
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, symbol, day, content_sha256)
);
CREATE INDEX staged_batches_symbol_day ON staged_batches (symbol, day);

-- Every row fetched, as fetched (pre-open and post-close rows included), never deleted by ingest.
-- Symbol, source, fetch run and time are the batch's (staged_batches): not repeated per row.
-- The two bulk tables carry no foreign key on batch_id: a per-row FK trigger would cost more than
-- the COPY itself; the store writes batch ids it has just created in the same transaction.
CREATE TABLE bars_staging (
    batch_id  bigint           NOT NULL,
    ts        timestamptz      NOT NULL,
    open      double precision,
    high      double precision,
    low       double precision,
    close     double precision,
    volume    double precision
);
-- batch ids grow with insertion order: a BRIN index finds a batch at a fraction of a btree's write cost
CREATE INDEX bars_staging_batch ON bars_staging USING brin (batch_id) WITH (pages_per_range = 16);

-- Published, validated regular-session bars (09:15..15:29 exchange time). BRIN on ts keeps
-- range scans over years of many symbols cheap; the primary key serves (symbol, ts) look-ups.
CREATE TABLE bars_1m (
    symbol    text             NOT NULL,
    ts        timestamptz      NOT NULL,
    open      double precision NOT NULL CHECK (open > 0),
    high      double precision NOT NULL CHECK (high > 0),
    low       double precision NOT NULL CHECK (low > 0),
    close     double precision NOT NULL CHECK (close > 0),
    volume    bigint           NOT NULL CHECK (volume >= 0),
    source    text             NOT NULL,
    batch_id  bigint           NOT NULL,
    PRIMARY KEY (symbol, ts)
);
CREATE INDEX bars_1m_ts_brin ON bars_1m USING brin (ts);

-- Which batch is the published content of each (symbol, day).
CREATE TABLE published_days (
    symbol        text        NOT NULL,
    day           date        NOT NULL,
    batch_id      bigint      NOT NULL REFERENCES staged_batches (batch_id),
    rows          integer     NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    released_by   text,        -- set when an operator released it from quarantine
    PRIMARY KEY (symbol, day)
);

-- Outcome of each (symbol, day) in each run: the audit trail of ingest.
CREATE TABLE ingest_days (
    run_id          bigint      NOT NULL REFERENCES ingest_runs (run_id),
    symbol          text        NOT NULL,
    day             date        NOT NULL,
    batch_id        bigint      REFERENCES staged_batches (batch_id),
    status          text        NOT NULL
                    CHECK (status IN ('published', 'quarantined', 'failed', 'unchanged')),
    rows_fetched    integer     NOT NULL DEFAULT 0,
    rows_published  integer     NOT NULL DEFAULT 0,
    error           text,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, symbol, day)
);
CREATE INDEX ingest_days_symbol_day ON ingest_days (symbol, day);

-- Symbol-days held back by validation. Active while released_at and superseded_at are null.
CREATE TABLE quarantine (
    symbol               text        NOT NULL,
    day                  date        NOT NULL,
    batch_id             bigint      NOT NULL REFERENCES staged_batches (batch_id),
    run_id               bigint      REFERENCES ingest_runs (run_id),
    failed_expectations  jsonb       NOT NULL DEFAULT '[]',
    reason               text        NOT NULL,
    quarantined_at       timestamptz NOT NULL DEFAULT now(),
    released_at          timestamptz,
    released_by          text,
    release_reason       text,
    superseded_at        timestamptz,  -- a later batch of the same day was published
    PRIMARY KEY (symbol, day, batch_id)
);
