-- Universal models (issue 12): one model per agent serves every order of every configured symbol.
-- Such a model is registered under the symbol '*' (so that one universal champion exists beside any
-- per-symbol ones), with the symbols it was trained on and the envelope of orders it was trained for
-- (execution/sim/envelope.py: sizes as % of ADV, sides, horizons, lot). A model outside whose envelope
-- an order falls is never asked for that order: its plan is TWAP, with the reason.

ALTER TABLE models ADD COLUMN symbols text[] NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN envelope jsonb;
UPDATE models SET symbols = ARRAY[symbol] WHERE symbols = '{}';

-- Events of universal models: an order left to TWAP because it is outside the champion's envelope, and a
-- symbol left out of a universal training run (no published bars in its window).
ALTER TABLE model_events DROP CONSTRAINT model_events_event_check;
ALTER TABLE model_events ADD CONSTRAINT model_events_event_check CHECK (event IN (
    'registered', 'evaluated', 'promoted', 'kept_candidate', 'retired', 'rolled_back', 'restored',
    'load_failed', 'fallback', 'outside_envelope', 'symbol_skipped'));
