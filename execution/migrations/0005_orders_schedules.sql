-- Parent orders of a trading day (execution/orders.py) and their planned schedules
-- (execution/schedule.py): one row per (order, strategy, interval), the forced order at the
-- horizon included as interval N, so that planned_qty sums to the order's quantity per strategy.

CREATE TABLE IF NOT EXISTS orders (
    id                 bigserial   PRIMARY KEY,
    trading_day        date        NOT NULL,
    symbol             text        NOT NULL,
    side               text        NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity           integer     NOT NULL CHECK (quantity > 0),         -- shares
    lot_size           integer     NOT NULL CHECK (lot_size > 0),         -- shares per lot
    start_time         time        NOT NULL,                              -- exchange time of the first decision
    horizon_min        integer     NOT NULL CHECK (horizon_min > 0),      -- minutes
    intervals          integer     NOT NULL CHECK (intervals > 0),        -- decisions
    strategy_override  text,                                              -- NULL: the symbol's champion
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text        NOT NULL,
    CHECK (quantity % lot_size = 0),
    CHECK (horizon_min % intervals = 0),
    UNIQUE (trading_day, symbol, side, start_time)
);
CREATE INDEX IF NOT EXISTS orders_day ON orders (trading_day);

CREATE TABLE IF NOT EXISTS schedules (
    order_id      bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    trading_day   date        NOT NULL,
    symbol        text        NOT NULL,
    strategy      text        NOT NULL,          -- champion, twap_seed, twap_even, vwap, ...
    model_id      bigint,                        -- models.model_id of the policy behind 'champion' / 'model:ID'
    is_primary    boolean     NOT NULL DEFAULT false,  -- the plan to execute (override, else champion)
    interval      integer     NOT NULL,          -- 0..N-1 decisions, N = the forced order at the horizon
    planned_time  timestamptz NOT NULL,          -- decision time (the child fills at that minute's close)
    planned_lots  integer     NOT NULL CHECK (planned_lots >= 0),
    planned_qty   integer     NOT NULL CHECK (planned_qty >= 0),  -- shares = planned_lots * lot_size
    nominal_path  text,                          -- the market path the plan was computed on
    note          text,                          -- e.g. why the champion fell back to twap_seed
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, strategy, interval)
);
CREATE INDEX IF NOT EXISTS schedules_day ON schedules (trading_day, symbol);
