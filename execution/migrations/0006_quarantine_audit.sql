-- Hardening: an append-only audit of quarantine decisions, monotonic publishing, stale runs recorded.

-- Every quarantine decision, append-only (as model_events is for models): who (the OS user@host
-- and, inside Airflow, the DAG run and task), when, what and why. Rows are never updated or deleted.
CREATE TABLE quarantine_events (
    event_id      bigserial   PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    symbol        text        NOT NULL,
    day           date        NOT NULL,
    batch_id      bigint      REFERENCES staged_batches (batch_id),
    run_id        bigint      REFERENCES ingest_runs (run_id),
    event         text        NOT NULL CHECK (event IN (
                      'quarantined',      -- validation held the batch back
                      'released',         -- an operator published the held batch
                      'superseded',       -- a later batch of the day was published instead
                      'release_kept')),   -- the released batch failed validation again and stayed published
    actor         text        NOT NULL,   -- user@host of the process (never only a self-declared name)
    actor_context jsonb       NOT NULL DEFAULT '{}',  -- os_user, host, airflow dag/run/task, declared_by
    reason        text        NOT NULL,
    details       jsonb       NOT NULL DEFAULT '{}'   -- failed expectations, rows published, ...
);
CREATE INDEX quarantine_events_symbol_day ON quarantine_events (symbol, day, created_at);

CREATE FUNCTION quarantine_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'quarantine_events is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER quarantine_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON quarantine_events
    FOR EACH ROW EXECUTE FUNCTION quarantine_events_append_only();

-- The ingest run whose fetch delivered the published content: a publish from an older run than the
-- one that published the day is refused (monotonic per symbol-day); NULL for content published
-- outside a run (an operator's release keeps the run that fetched the batch).
ALTER TABLE published_days ADD COLUMN fetch_run_id bigint REFERENCES ingest_runs (run_id);

-- 'superseded': the run's batch was not published because a newer run had published the day.
ALTER TABLE ingest_days DROP CONSTRAINT ingest_days_status_check;
ALTER TABLE ingest_days ADD CONSTRAINT ingest_days_status_check
    CHECK (status IN ('published', 'quarantined', 'failed', 'unchanged', 'superseded'));
