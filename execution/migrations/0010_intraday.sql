-- Intraday execution (issue 14, execution/trading/executor.py): each parent order of the day is worked
-- decision by decision; every decision is a row of child_orders, written (status 'pending') before
-- anything is sent, so that a restart resumes from here and never sends a decision twice
-- (UNIQUE (order_id, decision_index) is the idempotency key); fills are what the broker reported.

-- One row per parent order being (or having been) worked: the broker, the fill model of the paper
-- broker, and the strategy pinned at the first decision (a restart keeps it, even if the champion changed).
CREATE TABLE IF NOT EXISTS order_executions (
    order_id      bigint      PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    broker        text        NOT NULL CHECK (broker IN ('paper', 'kite')),
    fill_model    text,                              -- paper broker: seed / impact; kite: NULL
    replay        boolean     NOT NULL DEFAULT false,-- bars of a stored day replayed as if live
    strategy      text,                              -- champion / model:ID / twap_seed / a baseline override
    model_id      bigint,                            -- models.model_id of the policy, NULL for a baseline
    mdp           text,                              -- the batch the decisions step through: seed / pace
    reason        text,                              -- why this strategy (e.g. the champion's fallback)
    status        text        NOT NULL DEFAULT 'working'
                  CHECK (status IN ('working', 'done', 'cancelled')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS child_orders (
    id               bigserial   PRIMARY KEY,
    order_id         bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    decision_index   integer     NOT NULL CHECK (decision_index >= 0),  -- 0..N-1; N = the forced order at the horizon
    decision_time    timestamptz NOT NULL,           -- when the decision was due (exchange time)
    fill_bar         timestamptz NOT NULL,           -- start of the bar whose close fills it (paper)
    action           integer,                        -- the policy's action (lots, or the pace multiple's index); NULL: forced
    intended_qty     integer     NOT NULL CHECK (intended_qty >= 0),     -- shares the strategy asked for
    sent_qty         integer     NOT NULL CHECK (sent_qty >= 0),         -- shares sent (cut to the inventory left)
    strategy         text        NOT NULL,
    model_id         bigint,
    reason           text,                           -- e.g. "forced order at the horizon", a late bar
    broker           text        NOT NULL,
    order_type       text        NOT NULL DEFAULT 'MARKET' CHECK (order_type IN ('MARKET', 'LIMIT')),
    limit_price      double precision,
    broker_order_id  text,                           -- set once the broker accepted it
    status           text        NOT NULL CHECK (status IN
                     ('pending', 'sent', 'filled', 'partial', 'rejected', 'cancelled', 'skipped')),
    status_detail    text,                           -- the broker's message (rejections)
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, decision_index)
);
CREATE INDEX IF NOT EXISTS child_orders_open ON child_orders (order_id) WHERE status IN ('pending', 'sent');

CREATE TABLE IF NOT EXISTS fills (
    id               bigserial   PRIMARY KEY,
    child_order_id   bigint      NOT NULL REFERENCES child_orders (id) ON DELETE CASCADE,
    order_id         bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    quantity         integer     NOT NULL CHECK (quantity > 0),
    price            double precision NOT NULL CHECK (price > 0),  -- exact: the paper fill is the simulator's float
    filled_at        timestamptz NOT NULL,
    broker_fill_id   text        NOT NULL,           -- paper: paper-<child id>; kite: the order id
    fill_model       text,                           -- paper: seed / impact
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (child_order_id, broker_fill_id)
);
CREATE INDEX IF NOT EXISTS fills_order ON fills (order_id);

-- The kill switch: `execute cancel ORDER --reason ...`; who, when and why (append-only).
CREATE TABLE IF NOT EXISTS execution_cancellations (
    id            bigserial   PRIMARY KEY,
    order_id      bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    reason        text        NOT NULL CHECK (length(btrim(reason)) > 0),
    requested_by  text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    children_sent integer     NOT NULL,              -- child orders already sent when it was recorded
    shares_sent   integer     NOT NULL
);
CREATE INDEX IF NOT EXISTS execution_cancellations_order ON execution_cancellations (order_id);
