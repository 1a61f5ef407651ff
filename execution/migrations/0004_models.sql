-- Model registry (execution/registry.py): trained policies, their learning curves, and the
-- history of promotions, rollbacks and load fallbacks.

CREATE TABLE models (
    model_id            bigserial        PRIMARY KEY,
    agent               text             NOT NULL,   -- dqn_sl, dqn_3l, ddqn_3l, a3c_sl, a3c_3l, ppo
    symbol              text             NOT NULL,
    train_start         date             NOT NULL,
    train_end           date             NOT NULL,
    train_days          integer          NOT NULL,   -- episode days of the training window
    episodes            integer          NOT NULL,
    timesteps           bigint           NOT NULL,
    seed                bigint           NOT NULL,
    reward              text             NOT NULL CHECK (reward IN ('vr', 'acr')),
    fill                text             NOT NULL CHECK (fill IN ('seed', 'impact')),
    hyperparameters     jsonb            NOT NULL DEFAULT '{}',
    order_params        jsonb            NOT NULL DEFAULT '{}',   -- OrderParams the model was trained for
    code_version        text             NOT NULL,   -- package version [+ git commit]
    artifact_path       text             NOT NULL,   -- relative to EXEC_HOME/models, or absolute
    sha256              text             NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    curve_path          text,                        -- learning-curve CSV, same convention
    wall_s              double precision,            -- training wall time
    parent_model_id     bigint           REFERENCES models (model_id),  -- fine-tuned from
    replaced_model_id   bigint           REFERENCES models (model_id),  -- champion it replaced
    validation_start    date,
    validation_end      date,
    validation_metrics  jsonb,                       -- see execution/promotion.py
    status              text             NOT NULL DEFAULT 'candidate'
                                         CHECK (status IN ('candidate', 'champion', 'retired')),
    created_at          timestamptz      NOT NULL DEFAULT now(),
    updated_at          timestamptz      NOT NULL DEFAULT now(),
    promoted_at         timestamptz,
    retired_at          timestamptz,
    CHECK (train_end >= train_start)
);
CREATE UNIQUE INDEX models_one_champion_per_symbol ON models (symbol) WHERE status = 'champion';
CREATE INDEX models_symbol_created ON models (symbol, created_at);

-- Learning curve: the undiscounted reward and steps of every training episode, in order.
CREATE TABLE training_episodes (
    model_id  bigint           NOT NULL REFERENCES models (model_id) ON DELETE CASCADE,
    episode   integer          NOT NULL CHECK (episode >= 1),
    reward    double precision NOT NULL,
    steps     integer          NOT NULL CHECK (steps >= 1),
    PRIMARY KEY (model_id, episode)
);

-- Why the registry changed, or why the service did not use the champion.
CREATE TABLE model_events (
    event_id    bigserial   PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    symbol      text        NOT NULL,
    model_id    bigint      REFERENCES models (model_id) ON DELETE SET NULL,
    event       text        NOT NULL CHECK (event IN (
                    'registered', 'evaluated', 'promoted', 'kept_candidate', 'retired',
                    'rolled_back', 'restored', 'load_failed', 'fallback')),
    reason      text        NOT NULL,
    details     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX model_events_symbol_created ON model_events (symbol, created_at);
