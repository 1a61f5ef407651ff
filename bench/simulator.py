"""Speed of the execution simulator.

Usage: ``python bench/simulator.py [--steps 200000] [--repeats 3]``

1. Environment step rate with random actions, as a ratio to a trivial gymnasium environment
   with the same spaces, measured in the same run. The loop is the usual random-agent loop
   (``env.action_space.sample()``, ``step``, ``reset`` at the end of an episode); it is also
   timed with the actions drawn beforehand, which leaves only the environments' own cost.
   The trivial environment returns a copy of a fixed observation; it is timed with N-step
   episodes and with the MDP's termination rule (as many resets as the real one). Best of
   ``--repeats`` runs.
2. Seconds to run the six baselines (schedules, fills under both fill models, per-day
   metrics) over 250 days x 2 symbols, from bars in memory (the synthetic source when it
   exists, else a random walk); the time to build the arrays from bars is reported apart.

Targets (issue 4): step-rate ratio >= 0.3; six baselines over 500 symbol-days < 30 s.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from execution.config import OrderParams
from execution.data.exchange_calendar import session_minutes, trading_days
from execution.sim.backtest import run_backtest
from execution.sim.baselines import BASELINES
from execution.sim.execution_env import ExecutionEnv
from execution.sim.market import from_bars

SYMBOLS = ("RELIANCE", "SAIL")
HISTORY_START, START, END = date(2019, 11, 25), date(2020, 1, 1), date(2020, 12, 31)


class TrivialEnv(gym.Env):
    """Same spaces as :class:`ExecutionEnv`, no market: a fixed observation, zero reward.

    Episodes last N steps, or -- with ``same_termination`` -- end by the execution MDP's rule
    (the lots sent reach V/m, or N steps), so that both environments reset equally often.
    """

    def __init__(self, like: ExecutionEnv, same_termination: bool = False) -> None:
        self.action_space = spaces.Discrete(like.action_space.n)
        self.observation_space = like.observation_space
        self._obs = np.ones(like.observation_space.shape, dtype=np.float32)
        self._n, self._lots, self._k, self._left = like.order.intervals, like.order.lots, 0, 0
        self._same = same_termination

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._k, self._left = 0, self._lots
        return self._obs.copy(), {}

    def step(self, action):
        self._k += 1
        self._left -= int(action) if self._same else 0
        return self._obs.copy(), 0.0, self._k >= self._n or self._left <= 0, False, {}


def random_walk_bars(symbol: str, start: date, end: date, seed: int = 7) -> pd.DataFrame:
    """A plain random-walk contract frame (used when the synthetic source is not available)."""
    rng = np.random.default_rng(seed)
    frames = []
    price = 1000.0
    for day in trading_days(start, end):
        steps = rng.normal(0, 8e-4, 375)
        close = price * np.exp(np.cumsum(steps))
        open_ = np.concatenate([[price], close[:-1]])
        spread = np.abs(rng.normal(0, 4e-4, 375)) * close
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": session_minutes(day),
                    "open": open_,
                    "high": np.maximum(open_, close) + spread,
                    "low": np.minimum(open_, close) - spread,
                    "close": close,
                    "volume": rng.integers(5_000, 50_000, 375).astype(float),
                    "source": "random_walk",
                }
            )
        )
        price = close[-1]
    return pd.concat(frames, ignore_index=True)


def bars(symbol: str) -> tuple[pd.DataFrame, str]:
    """Bars of one symbol for the benchmark window, and where they came from."""
    try:
        from execution.data.sources.synthetic import SyntheticSource
    except ImportError:
        return random_walk_bars(symbol, HISTORY_START, END), "random walk"
    return SyntheticSource(seed=7).fetch(symbol, HISTORY_START, END).bars, "synthetic seed 7"


def steps_per_second(env: gym.Env, n_steps: int, sample: bool, seed: int = 0) -> float:
    """Steps per second of the random-agent loop on ``env``."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=n_steps).tolist()
    step, reset, space = env.step, env.reset, env.action_space
    began = time.perf_counter()
    if sample:
        for _ in range(n_steps):
            if step(space.sample())[2]:
                reset()
    else:
        for action in actions:
            if step(action)[2]:
                reset()
    return n_steps / (time.perf_counter() - began)


def main() -> None:
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    order = OrderParams()

    began = time.perf_counter()
    frames = {symbol: bars(symbol) for symbol in SYMBOLS}
    fetched = time.perf_counter() - began
    began = time.perf_counter()
    markets = [from_bars(frame, order, first_day=START) for frame, _ in frames.values()]
    built = time.perf_counter() - began
    origin = next(iter(frames.values()))[1]
    print(f"bars: {origin}, {sum(len(f) for f, _ in frames.values())} rows in {fetched:.2f} s; arrays in {built:.2f} s")

    env = ExecutionEnv(markets[0], order, seed=0)
    episode_lengths = []
    env.reset(seed=1)
    for _ in range(2000):
        n = 1
        while not env.step(env.action_space.sample())[2]:
            n += 1
        episode_lengths.append(n)
        env.reset()
    print(f"random-action episodes of ExecutionEnv last {np.mean(episode_lengths):.2f} steps (a reset each)")
    for trivial, which in ((TrivialEnv(env), "N-step episodes"), (TrivialEnv(env, True), "same termination rule")):
        for sample, label in ((True, "action_space.sample() loop"), (False, "pre-drawn actions")):
            ours = max(steps_per_second(env, args.steps, sample) for _ in range(args.repeats))
            base = max(steps_per_second(trivial, args.steps, sample) for _ in range(args.repeats))
            print(
                f"{label}, trivial env with {which}: ExecutionEnv {ours:,.0f} steps/s, "
                f"trivial {base:,.0f} steps/s, ratio {ours / base:.2f}"
            )

    began = time.perf_counter()
    result = run_backtest(markets, order, list(BASELINES), n_resamples=2000)
    elapsed = time.perf_counter() - began
    days = sum(m.n_days for m in markets)
    print(
        f"six baselines x 2 fill models over {days} symbol-days ({len(result.per_day)} rows, with metrics "
        f"and bootstrap): {elapsed:.2f} s"
    )


if __name__ == "__main__":
    main()
