"""Training speed: the earlier gymnasium path against the batched simulator, per agent, in one run.

Usage::

    python bench/train.py [--agents dqn_sl,...] [--steps 30000] [--days 500]
    python bench/train.py --seed-experiment [--home DIR]
    python bench/train.py --weekly [--home DIR]

1. Per agent (default: the seed's five and PPO), on synthetic RELIANCE bars held in memory (``--days``
   trading days ending 2019-12-31), the same budget of environment steps trained twice on the seed's
   MDP (the only one the earlier path serves): the **earlier path** -- one monitored gymnasium
   ``ExecutionEnv`` per environment, in 4 worker processes (``SubprocVecEnv``) for A3C and PPO with
   their earlier settings (4 workers x 8 steps; 4 x 100 steps, 10 epochs of 100) and in a
   ``DummyVecEnv`` for the DQN family -- and the **batched simulator** (``BatchVecEnv``, this
   process, the agents' current settings). Environment steps per second of each, and the ratio; the
   batched simulator on the pace MDP too.
2. ``--seed-experiment``: the seed's experiment as the service runs it -- the five seed agents x
   RELIANCE and SAIL on the seed's MDP with the seed's episode counts, through
   :func:`execution.models.retrain.retrain` (train, save, register, validate, promote), on a scratch
   ``EXEC_HOME`` whose bars are synthetic 2017-11..2020-02, published straight into the store.
3. ``--weekly``: the production weekly retrain (pace MDP, production budget), same setting.

Torch runs on 1 thread per training process (as the training module sets it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

SYMBOLS = ("RELIANCE", "SAIL")
TRAIN_START, TRAIN_END = date(2018, 1, 1), date(2019, 12, 31)
VALIDATION_END = date(2020, 2, 29)
#: the A3C and PPO settings of the earlier path (4 worker processes)
EARLIER = {
    "a2c": {"n_envs": 4, "n_steps": 8, "vec_env": "subproc"},
    "ppo": {"n_envs": 4, "n_steps": 100, "batch_size": 100, "n_epochs": 10, "vec_env": "subproc"},
    "dqn": {"n_envs": 1, "vec_env": "dummy"},
    "ddqn": {"n_envs": 1, "vec_env": "dummy"},
}


def steps_per_second(agent: str, market, order, overrides: dict, steps: int, mdp: str) -> float:
    """Environment steps per second of ``steps`` steps of training ``agent`` (its model built, then ``learn``)."""
    from execution.agents import catalog, families
    from execution.agents.training import make_vec_env, seed_everything

    hyper = catalog.hyperparameters(agent, **overrides)
    seed_everything(1)
    n_envs = int(hyper.get("n_envs", 1))
    env = make_vec_env(
        market, order, None, "seed", n_envs, hyper["vec_env"], hyper.get("start_method", "forkserver"), mdp
    )
    try:
        model = families.build(agent, env, hyper, steps, order.intervals, 1)
        started = time.perf_counter()
        model.learn(total_timesteps=steps, progress_bar=False)
        return model.num_timesteps / (time.perf_counter() - started)
    finally:
        env.close()


def bench_agents(agents: list[str], steps: int, days: int) -> list[dict]:
    """Earlier path against the batched simulator per agent; one row per agent."""
    from execution.agents.catalog import AGENTS
    from execution.config import OrderParams
    from execution.data.exchange_calendar import trading_days
    from execution.data.sources.synthetic import SyntheticSource
    from execution.sim.market import from_bars

    order = OrderParams()
    window = trading_days(TRAIN_START, TRAIN_END)[-days:]
    bars = SyntheticSource(seed=7).fetch("RELIANCE", window[0], window[-1]).bars
    market = from_bars(bars, order)
    print(f"training data: RELIANCE {window[0]}..{window[-1]}, {market.n_days} episode days (synthetic); {steps} steps")
    rows = []
    for agent in agents:
        budget = steps if AGENTS[agent].family in ("a2c", "ppo") else max(steps // 4, 2000)
        earlier = steps_per_second(agent, market, order, EARLIER[AGENTS[agent].family], budget, "seed")
        batched = steps_per_second(agent, market, order, {}, budget, "seed")
        pace = steps_per_second(agent, market, order, {}, budget, "pace")
        rows.append(
            {
                "agent": agent,
                "steps": budget,
                "earlier": earlier,
                "batched": batched,
                "ratio": batched / earlier,
                "pace": pace,
            }
        )
        print(_table(rows[-1:], header=len(rows) == 1), flush=True)
    return rows


def _table(rows: list[dict], header: bool = True) -> str:
    columns = [
        ("agent", "{}", 8),
        ("steps", "{:d}", 7),
        ("earlier", "{:.0f}", 13),
        ("batched", "{:.0f}", 13),
        ("ratio", "{:.1f}x", 7),
        ("pace", "{:.0f}", 13),
    ]
    titles = {"earlier": "earlier st/s", "batched": "batched st/s", "pace": "pace MDP st/s"}
    lines = ["  ".join(titles.get(name, name).rjust(width) for name, _, width in columns)] if header else []
    for row in rows:
        lines.append("  ".join(fmt.format(row[name]).rjust(width) for name, fmt, width in columns))
    return "\n".join(lines)


def publish_synthetic(settings, symbols: tuple[str, ...], start: date, end: date) -> None:
    """Stage and publish synthetic bars for the window (skips the validation step of ingest)."""
    from execution.data import store
    from execution.data.sources.synthetic import SyntheticSource
    from execution.db import connection

    with connection(settings) as conn:
        for symbol in symbols:
            if store.published_days(conn, symbol, start, end):
                continue
            bars = SyntheticSource(seed=7).fetch(symbol, start, end).bars
            run_id = store.start_run(conn, "synthetic", [symbol], start, end, "bench", {})
            store.publish(conn, store.stage(conn, run_id, "synthetic", bars))
            conn.commit()


def bench_retrain(home: Path, mdp: str) -> list[dict]:
    """The seed experiment (``mdp="seed"``: 5 seed agents, seed budgets) or the weekly retrain (``"pace"``)."""
    from execution.agents.catalog import AGENTS, SEED_AGENTS
    from execution.config import load_settings
    from execution.models.retrain import retrain

    os.environ["EXEC_HOME"] = str(home)
    settings = load_settings()
    started = time.perf_counter()
    publish_synthetic(settings, SYMBOLS, date(2017, 11, 1), VALIDATION_END)
    print(f"published synthetic bars in {time.perf_counter() - started:.1f} s (EXEC_HOME={home})")
    rows = []
    weekly_started = time.perf_counter()
    agents = SEED_AGENTS if mdp == "seed" else tuple(AGENTS)
    for symbol in SYMBOLS:
        for agent in agents:
            t0 = time.perf_counter()
            summary = retrain(settings, symbol, agent, TRAIN_START, TRAIN_END, seed=1, mdp=mdp)
            rows.append(
                {
                    "symbol": symbol,
                    "agent": agent,
                    "model": summary["model_id"],
                    "episodes": summary["episodes"],
                    "steps": summary["timesteps"],
                    "learn_s": summary["wall_s"],
                    "total_s": time.perf_counter() - t0,
                    "adv_twap": (summary.get("vs_twap_seed") or {}).get("mean_bps"),
                    "status": summary["status"],
                }
            )
            r = rows[-1]
            adv = "-" if r["adv_twap"] is None else f"{r['adv_twap']:+.2f}"
            print(
                f"{symbol:<9} {agent:<8} model {r['model']:>3}  {r['episodes']:>5} ep  {r['steps']:>7} steps  "
                f"learn {r['learn_s']:7.1f} s  total {r['total_s']:7.1f} s  adv vs TWAP {adv:>7} bps  {r['status']}",
                flush=True,
            )
    what = "seed experiment" if mdp == "seed" else "weekly retrain"
    print(f"{what} ({len(rows)} models, {mdp} MDP): {time.perf_counter() - weekly_started:.1f} s wall")
    return rows


def main() -> None:
    from execution.agents.catalog import AGENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default=",".join(AGENTS), help="comma-separated agents (default: all six)")
    parser.add_argument("--steps", type=int, default=30_000, help="environment steps per run (DQN family: a quarter)")
    parser.add_argument("--days", type=int, default=500, help="training days for the per-agent runs")
    parser.add_argument("--seed-experiment", action="store_true", help="the seed experiment (5 agents x 2 symbols)")
    parser.add_argument("--weekly", action="store_true", help="the weekly retrain (6 agents x 2 symbols, pace MDP)")
    parser.add_argument("--home", type=Path, help="EXEC_HOME of the retrain runs (default: a temporary folder)")
    args = parser.parse_args()
    print(f"cpus available: {len(os.sched_getaffinity(0))}")
    if args.seed_experiment or args.weekly:
        home = args.home or Path(tempfile.mkdtemp(prefix="bench-train-"))
        try:
            bench_retrain(home.absolute(), "seed" if args.seed_experiment else "pace")
        finally:
            if args.home is None:  # stop the scratch database from a fresh process, then delete it
                env = {**os.environ, "EXEC_HOME": str(home)}
                subprocess.run([sys.executable, "-m", "execution", "db", "stop"], env=env, check=False)
                shutil.rmtree(home, ignore_errors=True)
    else:
        bench_agents([a.strip() for a in args.agents.split(",") if a.strip()], args.steps, args.days)


if __name__ == "__main__":
    main()
