-- Backtests (execution/backtest.py): one row per (run, symbol, day, strategy, fill model).
-- A run id is derived from the backtest's parameters; re-running the same backtest deletes
-- its run (and, by cascade, its rows) and writes them again.

CREATE TABLE backtest_runs (
    run_id      text        PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    params      jsonb       NOT NULL DEFAULT '{}'   -- symbols, window, strategies, fills, order, ...
);

CREATE TABLE backtest_results (
    run_id              text             NOT NULL REFERENCES backtest_runs (run_id) ON DELETE CASCADE,
    created_at          timestamptz      NOT NULL DEFAULT now(),
    symbol              text             NOT NULL,
    day                 date             NOT NULL,
    strategy            text             NOT NULL,   -- twap_seed, oracle, model:ID, ...
    fill                text             NOT NULL CHECK (fill IN ('seed', 'impact')),
    side                text             NOT NULL CHECK (side IN ('buy', 'sell')),
    avg_price           double precision NOT NULL,   -- INR
    arrival_price       double precision NOT NULL,   -- INR, close of the bar before the start
    shortfall_bps       double precision NOT NULL,   -- positive = cost
    advantage_bps       double precision NOT NULL,   -- over twap_seed, positive = better
    oracle_gap_bps      double precision NOT NULL,   -- twap_seed shortfall - oracle shortfall
    vwap_slippage_bps   double precision,            -- against the interval VWAP, positive = cost
    child_orders        integer          NOT NULL,
    completion_min      integer          NOT NULL,
    peak_participation  double precision,            -- child qty / minute volume
    reward_vr           double precision NOT NULL,
    reward_acr          double precision,
    PRIMARY KEY (run_id, symbol, day, strategy, fill)
);
CREATE INDEX backtest_results_symbol_day ON backtest_results (symbol, day);
