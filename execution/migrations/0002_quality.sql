-- Data quality: one row per validation of one (symbol, day) with the Great Expectations suite.
-- No foreign keys: results are kept for days that were never staged (re-validation, tests).

CREATE TABLE IF NOT EXISTS quality_results (
    id                   bigserial   PRIMARY KEY,
    run_id               bigint,                              -- ingest_runs.run_id when run by ingest
    symbol               text        NOT NULL,
    day                  date        NOT NULL,
    suite                text        NOT NULL,
    success              boolean     NOT NULL,                -- no error-severity failure
    severity_max         text        CHECK (severity_max IN ('error', 'warning')),  -- NULL: all held
    statistics           jsonb       NOT NULL DEFAULT '{}',   -- bars, regular_session_bars, longest_gap_min, ...
    failed_expectations  jsonb       NOT NULL DEFAULT '[]',   -- [{name, gx_type, severity, column,
                                                              --   observed_value, unexpected_count, sample_rows}]
    validated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS quality_results_symbol_day ON quality_results (symbol, day);
CREATE INDEX IF NOT EXISTS quality_results_run ON quality_results (run_id);
