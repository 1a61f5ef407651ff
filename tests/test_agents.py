"""The RL agents on the real ExecutionEnv: networks, seed hyperparameters, Double DQN's target,
training budgets, save/reload, determinism, and learning on a day where waiting pays."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv

from execution.agents import catalog, families
from execution.agents.ddqn import DoubleDQN, dqn_next_values, next_state_values
from execution.agents.networks import ClippedQNetwork
from execution.agents.training import make_vec_env, train_agent
from execution.config import OrderParams
from execution.data.sources.synthetic import SyntheticSource
from execution.models.artifacts import save_artifact, sha256_file, write_learning_curve
from execution.sim.backtest import run_strategies
from execution.sim.execution_env import ExecutionEnv
from execution.sim.market import from_bars
from execution.sim.mdp import exploration_weights
from execution.sim.pace import PaceSpec
from execution.sim.policy import policy_strategy

ORDER = OrderParams()
N_OBS, N_ACTIONS = ORDER.n_history + 3, ORDER.lots + 1  # 18 values, 21 actions


@pytest.fixture(scope="module")
def market():
    """Five synthetic RELIANCE days of December 2019 (the first falls back to its own pre-start bars)."""
    bars = SyntheticSource(seed=7).fetch("RELIANCE", date(2019, 12, 2), date(2019, 12, 6)).bars
    return from_bars(bars, ORDER)


def real_observations(market, count: int, seed: int = 0) -> np.ndarray:
    """States the environment really produces, from random play."""
    env = ExecutionEnv(market, ORDER, seed=seed)
    rng = np.random.default_rng(seed)
    states = []
    obs, _ = env.reset()
    while len(states) < count:
        states.append(obs)
        obs, _, done, _, _ = env.step(int(rng.integers(0, 4)))
        if done:
            obs, _ = env.reset()
    return np.stack(states).astype(np.float32)


# ------------------------------------------------------------------ networks and hyperparameters


def _linear_layers(module: th.nn.Module) -> list[th.nn.Linear]:
    return [m for m in module.modules() if isinstance(m, th.nn.Linear)]


@pytest.mark.parametrize(("agent", "hidden"), [("dqn_sl", 1), ("dqn_3l", 3), ("ddqn_3l", 3)])
def test_dqn_family_networks_and_seed_hyperparameters(market, agent, hidden):
    env = DummyVecEnv([lambda: ExecutionEnv(market, ORDER)])
    total = 1000 * ORDER.intervals  # the seed's 1000 episodes of N = 50 decisions
    model = families.build(agent, env, catalog.hyperparameters(agent), total, ORDER.intervals, seed=0)
    assert isinstance(model, DoubleDQN) == (agent == "ddqn_3l") and isinstance(model, DQN)
    q_net = model.q_net
    assert isinstance(q_net, ClippedQNetwork)
    shapes = [(layer.in_features, layer.out_features) for layer in _linear_layers(q_net)]
    assert shapes == [(N_OBS, 20)] + [(20, 20)] * (hidden - 1) + [(20, N_ACTIONS)]
    dropouts = [m for m in q_net.modules() if isinstance(m, th.nn.Dropout)]
    assert len(dropouts) == hidden and all(d.p == 0.1 for d in dropouts)
    # mini-batch 32, replay 10,000, Adam 0.001, target every 50 finished episodes,
    # epsilon 1.0 -> 0.1 over 6,000 of the 50,000 frames
    assert (model.batch_size, model.buffer_size) == (32, 10_000)
    assert isinstance(model.policy.optimizer, th.optim.Adam)
    assert model.policy.optimizer.param_groups[0]["lr"] == 0.001
    assert model.target_update_episodes == 50
    assert model.exploration_fraction == pytest.approx(6000 / 50_000)
    assert model.exploration_schedule(1.0) == 1.0
    assert model.exploration_schedule(1.0 - 6000 / 50_000) == pytest.approx(0.1)
    assert model.exploration_schedule(0.5) == pytest.approx(0.1)


def test_the_td_target_is_clipped_to_plus_minus_100_and_the_online_q_values_keep_their_gradient(market):
    env = DummyVecEnv([lambda: ExecutionEnv(market, ORDER)])
    model = families.build("dqn_sl", env, catalog.hyperparameters("dqn_sl"), 1000, ORDER.intervals, seed=0)
    bias = th.linspace(-300.0, 300.0, N_ACTIONS)
    for net in (model.q_net, model.q_net_target):
        out = _linear_layers(net)[-1]
        with th.no_grad():
            out.weight.zero_()
            out.bias.copy_(bias)
    obs = th.as_tensor(real_observations(market, 4))
    target = model.q_net_target(obs)  # what enters the TD target: clamped
    expected = np.clip(np.linspace(-300.0, 300.0, N_ACTIONS), -100, 100)
    np.testing.assert_allclose(target.detach().numpy(), np.broadcast_to(expected, (4, N_ACTIONS)), rtol=1e-6)
    online = model.q_net(obs)  # not clamped: no ties at the bound, and a gradient for every action
    np.testing.assert_allclose(online.detach().numpy()[0], bias.numpy(), rtol=1e-6)
    assert int(online.argmax(dim=1)[0]) == N_ACTIONS - 1
    online[:, -1].sum().backward()  # the highest action, far beyond +100, still gets a gradient
    assert _linear_layers(model.q_net)[-1].bias.grad[-1] != 0


def test_the_target_network_is_synced_every_50_finished_episodes(market):
    from stable_baselines3.common.callbacks import BaseCallback

    class WatchTarget(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.synced_at: list[int] = []
            self._last = None

        def _on_step(self) -> bool:
            weights = th.cat([p.flatten() for p in self.model.q_net_target.parameters()]).clone()
            if self._last is not None and not th.equal(weights, self._last):
                self.synced_at.append(self.model._episode_num)
            self._last = weights
            return self.model._episode_num < 130

    env = DummyVecEnv([lambda: ExecutionEnv(market, ORDER)])
    hyper = catalog.hyperparameters("dqn_sl", learning_starts=10)
    model = families.build("dqn_sl", env, hyper, 100_000, ORDER.intervals, seed=0)
    watch = WatchTarget()
    model.learn(100_000, callback=watch)
    # the copy happens at the first step after 50 (then 100) episodes have finished, whatever their length
    assert watch.synced_at == [50, 100]


def test_dropout_acts_in_training_only_and_never_on_the_target(market):
    env = DummyVecEnv([lambda: ExecutionEnv(market, ORDER)])
    model = families.build("dqn_3l", env, catalog.hyperparameters("dqn_3l", dropout=0.5), 1000, 50, seed=0)
    obs = th.as_tensor(real_observations(market, 64))
    model.policy.set_training_mode(True)  # what DQN.train() does
    assert model.q_net.training and not model.q_net_target.training
    with th.no_grad():
        noisy = [model.q_net(obs) for _ in range(2)]
        target = [model.q_net_target(obs) for _ in range(2)]
    assert not th.equal(noisy[0], noisy[1])  # dropout on the online network
    assert th.equal(target[0], target[1])  # none on the target network
    model.policy.set_training_mode(False)  # what predict() does
    with th.no_grad():
        assert th.equal(model.q_net(obs), model.q_net(obs))


@pytest.mark.parametrize(("agent", "layers"), [("a3c_sl", 1), ("a3c_3l", 3)])
def test_a3c_has_separate_actor_and_critic_adam_and_32_episodes_of_8_steps_an_update(market, agent, layers):
    hyper = catalog.hyperparameters(agent, vec_env="dummy")
    env = make_vec_env(market, ORDER, "vr", "seed", hyper["n_envs"], "dummy")
    model = families.build(agent, env, hyper, 1000, ORDER.intervals, seed=0)
    policy = model.policy
    assert not policy.share_features_extractor
    assert policy.pi_features_extractor is not policy.vf_features_extractor
    actor = [(m.in_features, m.out_features) for m in _linear_layers(policy.mlp_extractor.policy_net)]
    critic = [(m.in_features, m.out_features) for m in _linear_layers(policy.mlp_extractor.value_net)]
    assert actor == critic == [(N_OBS, 20)] + [(20, 20)] * (layers - 1)
    assert not set(map(id, policy.mlp_extractor.policy_net.parameters())) & set(
        map(id, policy.mlp_extractor.value_net.parameters())
    )
    assert isinstance(policy.optimizer, th.optim.Adam) and policy.optimizer.param_groups[0]["lr"] == 0.001
    assert model.n_envs == 32 and model.n_steps * model.n_envs == 256
    env.close()


# ------------------------------------------------------------------ Double DQN's target


def _set_weights(net: th.nn.Module, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Give every Linear layer known random weights; return them (W, b) as float64 numpy arrays."""
    layers = []
    with th.no_grad():
        for layer in _linear_layers(net):
            w = rng.normal(0.0, 0.8, size=(layer.out_features, layer.in_features))
            b = rng.normal(0.0, 0.5, size=layer.out_features)
            layer.weight.copy_(th.as_tensor(w))
            layer.bias.copy_(th.as_tensor(b))
            layers.append((w, b))
    return layers


def _numpy_q(layers: list[tuple[np.ndarray, np.ndarray]], obs: np.ndarray) -> np.ndarray:
    """Forward pass by hand: tanh hidden layers, linear output, clipped to +-100."""
    h = obs.astype(float)
    for w, b in layers[:-1]:
        h = np.tanh(h @ w.T + b)
    w, b = layers[-1]
    return np.clip(h @ w.T + b, -100.0, 100.0)


def _ddqn_and_dqn(market):
    """A DoubleDQN and a DQN (ddqn_3l networks, no dropout) with the same known online/target weights."""
    hyper = catalog.hyperparameters("ddqn_3l", dropout=0.0)
    models = []
    for agent in ("ddqn_3l", "dqn_3l"):
        env = DummyVecEnv([lambda: ExecutionEnv(market, ORDER)])
        models.append(families.build(agent, env, hyper, 1000, ORDER.intervals, seed=0))
    online = _set_weights(models[0].q_net, np.random.default_rng(11))
    target = _set_weights(models[0].q_net_target, np.random.default_rng(22))
    _set_weights(models[1].q_net, np.random.default_rng(11))
    _set_weights(models[1].q_net_target, np.random.default_rng(22))
    return models[0], models[1], online, target


def test_double_dqn_next_state_value_is_the_target_net_at_the_online_argmax(market):
    ddqn, dqn, online, target = _ddqn_and_dqn(market)
    next_obs = real_observations(market, 16, seed=3)
    q_online, q_target = _numpy_q(online, next_obs), _numpy_q(target, next_obs)
    expected_dqn = q_target.max(axis=1)  # max_a Q_target(s', a)
    expected_ddqn = q_target[np.arange(16), q_online.argmax(axis=1)]  # Q_target(s', argmax_a Q_online(s', a))
    assert (q_online.argmax(axis=1) != q_target.argmax(axis=1)).sum() >= 4  # the batch separates the two

    obs_t = th.as_tensor(next_obs)
    np.testing.assert_allclose(next_state_values(ddqn, obs_t).numpy(), expected_ddqn, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(next_state_values(dqn, obs_t).numpy(), expected_dqn, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dqn_next_values(ddqn.q_net_target, obs_t).numpy(), expected_dqn, rtol=1e-5, atol=1e-5)
    differs = ~np.isclose(expected_ddqn, expected_dqn)
    assert differs.sum() >= 4 and np.all(expected_ddqn <= expected_dqn + 1e-9)


def _huber(x: float) -> float:
    return 0.5 * x * x if abs(x) < 1.0 else abs(x) - 0.5


def _squared(x: float) -> float:
    return x * x


@pytest.mark.parametrize(("td_loss", "loss_of"), [("mse", _squared), ("huber", _huber)])
def test_train_step_uses_the_double_dqn_target(market, td_loss, loss_of):
    """One gradient step of each algorithm on a replay memory holding one constructed transition:
    the loss is the TD loss (squared by default, Huber on request) against r + gamma * V(s'), V as each
    algorithm prescribes."""
    ddqn, dqn, online, target = _ddqn_and_dqn(market)
    states = real_observations(market, 16, seed=3)
    q_online, q_target = _numpy_q(online, states), _numpy_q(target, states)
    row = int(np.flatnonzero(q_online.argmax(axis=1) != q_target.argmax(axis=1))[0])
    obs, next_obs, action, reward = states[(row + 1) % 16], states[row], 7, -2.5
    q_sa = _numpy_q(online, obs[None])[0, action]
    v_dqn = q_target[row].max()
    v_ddqn = q_target[row, q_online[row].argmax()]
    gamma = 0.99
    losses = {}
    for name, model in (("ddqn", ddqn), ("dqn", dqn)):
        model.td_loss = td_loss
        model.replay_buffer.add(
            obs[None], next_obs[None], np.array([[action]]), np.array([reward]), np.array([False]), [{}]
        )
        model.set_logger(Logger(folder=None, output_formats=[]))
        model.train(gradient_steps=1, batch_size=8)  # every sample is the one stored transition
        losses[name] = model.logger.name_to_value["train/loss"]
    assert losses["ddqn"] == pytest.approx(loss_of(q_sa - (reward + gamma * v_ddqn)), rel=1e-5)
    assert losses["dqn"] == pytest.approx(loss_of(q_sa - (reward + gamma * v_dqn)), rel=1e-5)
    assert losses["ddqn"] != pytest.approx(losses["dqn"], rel=1e-3)
    assert isinstance(ddqn.q_net_target, ClippedQNetwork)  # the real target network is back after train()


# ------------------------------------------------------------------ training, saving, reloading


@pytest.mark.parametrize("agent", list(catalog.AGENTS))
def test_each_agent_trains_saves_reloads_and_acts(market, agent, tmp_path):
    episodes = 5
    run = train_agent(agent, market, ORDER, episodes=episodes, seed=0, progress=False)
    assert run.episodes == episodes and len(run.episode_steps) == episodes
    assert all(1 <= s <= ORDER.intervals for s in run.episode_steps)
    assert sum(run.episode_steps) <= run.timesteps  # workers may have unfinished episodes
    assert run.hyperparameters["agent"] == agent and run.seed == 0

    path = tmp_path / f"{agent}.zip"
    digest = save_artifact(run.model, path)
    assert digest == sha256_file(path) and len(digest) == 64
    write_learning_curve(tmp_path / "curve.csv", run.episode_rewards, run.episode_steps)
    curve = pd.read_csv(tmp_path / "curve.csv")
    assert list(curve["episode"]) == list(range(1, episodes + 1))
    np.testing.assert_allclose(curve["reward"], run.episode_rewards)

    reloaded = families.algorithm_class(agent).load(path, device="cpu")
    obs = real_observations(market, 12)
    before, _ = run.model.predict(obs, deterministic=True)
    after, _ = reloaded.predict(obs, deterministic=True)
    assert after.shape == (12,) and np.all((after >= 0) & (after <= ORDER.lots))
    np.testing.assert_array_equal(before, after)
    lots = policy_strategy(reloaded, "seed")(market, ORDER, "seed")  # acts in the backtester
    assert lots.shape == (market.n_days, ORDER.intervals) and np.all(lots.sum(axis=1) <= ORDER.lots)


@pytest.mark.parametrize("agent", ["dqn_sl", "a3c_sl"])
def test_same_seed_same_learning_curve_and_weights(market, agent):
    runs = [train_agent(agent, market, ORDER, episodes=400, seed=s, progress=False) for s in (5, 5, 6)]
    assert runs[0].model._n_updates > 3  # gradient steps happened: the weights are learnt, not initial
    assert runs[0].episode_rewards == runs[1].episode_rewards
    assert runs[0].episode_steps == runs[1].episode_steps
    for a, b in zip(runs[0].model.policy.parameters(), runs[1].model.policy.parameters(), strict=True):
        assert th.equal(a, b)
    assert runs[0].episode_rewards != runs[2].episode_rewards


def test_fine_tuning_starts_from_the_saved_weights(market, tmp_path):
    base = train_agent("dqn_sl", market, ORDER, episodes=3, seed=1, progress=False)
    save_artifact(base.model, tmp_path / "base.zip")
    tuned = train_agent("dqn_sl", market, ORDER, episodes=1, seed=2, init_from=tmp_path / "base.zip")
    assert tuned.init_from == str(tmp_path / "base.zip")
    # no gradient step happens before learning_starts (100 transitions): the weights are the base's
    for a, b in zip(base.model.policy.parameters(), tuned.model.policy.parameters(), strict=True):
        assert th.equal(a, b)
    # exploration continues where the base stopped (not from 1.0), towards the final epsilon
    assert base.model.exploration_rate < 1.0
    assert tuned.model.exploration_initial_eps == pytest.approx(base.model.exploration_rate)
    assert tuned.model.exploration_schedule(1.0) == pytest.approx(base.model.exploration_rate)
    assert tuned.model.exploration_schedule(0.0) == pytest.approx(0.1)


# ------------------------------------------------------------------ learning


def v_day(day: date = date(2020, 1, 31), first_close: float = 1000.0, slope: float = 1.0) -> pd.DataFrame:
    """One session falling 1 INR a minute until 09:50, then rising as fast: a buyer should buy near 09:50."""
    ts = pd.date_range(f"{day} 09:15", periods=375, freq="min", tz="Asia/Kolkata")
    minute = np.arange(375)
    bottom = 35  # 09:50, the middle of the 09:30 order's TWAP (one lot every 2 minutes until 10:10)
    close = first_close - slope * np.minimum(minute, bottom) + slope * np.maximum(minute - bottom, 0)
    opens = np.r_[close[0], close[:-1]]
    return pd.DataFrame(
        {
            "symbol": "VDAY",
            "ts": ts,
            "open": opens,
            "high": np.maximum(opens, close),
            "low": np.minimum(opens, close),
            "close": close,
            "volume": 100_000.0,
            "source": "test",
        }
    )


class ConstantPace:
    """The same pace action at every decision."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.full(len(observation), self.action), state


def test_dqn_learns_a_schedule_no_constant_pace_and_no_untrained_network_reaches():
    """On a V-shaped day the best schedule slows down, then buys near the bottom: no constant pace does that.

    Deterministic (seed 0). Untrained networks are the reference a test of learning must beat: one
    acting on the states (not a constant action) may already beat every constant pace on such a day,
    so beating the constants alone would prove nothing.
    """
    market = from_bars(v_day(), ORDER)
    run = train_agent("dqn_sl", market, ORDER, episodes=200, seed=0, mdp="pace", fill="impact", progress=False)
    env = make_vec_env(market, ORDER, None, "impact", 1, "batch", mdp="pace")
    hyper = catalog.hyperparameters("dqn_sl")
    untrained = [
        (f"untrained{s}", policy_strategy(families.build("dqn_sl", env, hyper, 1000, ORDER.intervals, seed=s), "pace"))
        for s in range(8)
    ]
    constants = [(f"pace{a}", policy_strategy(ConstantPace(a), "pace")) for a in range(len(PaceSpec().multipliers))]
    named = [("trained", policy_strategy(run.model, "pace")), *untrained, *constants]
    frame = run_strategies([market], ORDER, [*named, "oracle", "twap_seed"], ["impact"])
    shortfall = frame.set_index("strategy")["shortfall_bps"]
    gap = shortfall["twap_seed"] - shortfall["oracle"]  # what a perfect schedule saves over the order's TWAP

    def captured(name: str) -> float:
        return (shortfall["twap_seed"] - shortfall[name]) / gap

    assert captured("trained") > 0.25
    assert max(captured(name) for name, _ in untrained) < 0.15
    assert shortfall["trained"] < shortfall[[name for name, _ in constants]].min() - 20.0
    assert np.mean(run.episode_rewards[-50:]) > np.mean(run.episode_rewards[:50]) + 3.0  # while still exploring


def test_random_exploration_of_the_seed_mdp_favours_small_lot_counts(market):
    weights = exploration_weights("seed", ORDER)
    assert weights is not None and weights.shape == (N_ACTIONS,) and np.all(np.diff(weights) < 0)
    assert exploration_weights("pace", ORDER) is None  # pace actions are explored uniformly
    env = DummyVecEnv([lambda: ExecutionEnv(market, ORDER)])
    model = families.build("dqn_sl", env, catalog.hyperparameters("dqn_sl"), 1000, ORDER.intervals, 0, weights)
    model.exploration_rate = 1.0  # every action random
    obs = real_observations(market, 2000)
    np.random.seed(0)
    weighted, _ = model.predict(obs)
    model.exploration_weights = None
    uniform, _ = model.predict(obs)
    assert weighted.mean() < 1.5 < 8.0 < uniform.mean()  # about one lot on average, against ten


def test_the_dqn_family_no_longer_waits_for_the_forced_order_on_the_seed_mdp():
    bars = SyntheticSource(seed=7).fetch("RELIANCE", date(2019, 10, 1), date(2019, 12, 31)).bars
    market = from_bars(bars, ORDER, first_day=date(2019, 11, 1))
    run = train_agent("dqn_sl", market, ORDER, episodes=600, seed=1, mdp="seed", progress=False)
    frame = run_strategies([market], ORDER, [("dqn", policy_strategy(run.model, "seed"))], ["seed"])
    assert frame["child_orders"].mean() >= 5  # it waited with one forced child of 20 lots before
    assert frame["completion_min"].mean() < 100  # done before the horizon's forced order
