-- The MDP a model was trained on (issue 11): 'seed' (the seed article's lots-per-decision MDP) or
-- 'pace' (actions as multiples of the TWAP pace, scale-free state). Models registered before this
-- migration are seed-MDP models. The pace MDP's TWAP-relative reward is 'pa'.

ALTER TABLE models ADD COLUMN mdp text NOT NULL DEFAULT 'seed' CHECK (mdp IN ('seed', 'pace'));
ALTER TABLE models DROP CONSTRAINT models_reward_check;
ALTER TABLE models ADD CONSTRAINT models_reward_check CHECK (reward IN ('vr', 'acr', 'pa'));
