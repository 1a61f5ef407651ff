"""Training speed of the agents, and the weekly retrain.

Usage::

    python bench/train.py [--agents dqn_sl,...] [--episodes-scale 1.0] [--days 500]
    python bench/train.py --weekly [--episodes-scale 1.0] [--home DIR]

1. Per agent (default: the seed's five and PPO), one training run on its seed episode budget
   (1000 DQN family, 2000 A3C and PPO; ``--episodes-scale`` multiplies it) on synthetic RELIANCE
   bars held in memory (``--days`` trading days ending 2019-12-31; the seed trained on 2018-2019):
   wall time, environment steps, steps per second, the mean reward and steps of the first and
   last 100 episodes.
2. ``--weekly``: the full weekly retrain -- :func:`execution.models.retrain.retrain` for the five
   seed agents x RELIANCE and SAIL, one after the other (the machine has 2 cores; A3C already
   runs 4 worker processes): training on 2018-01-01..2019-12-31, validation on the days after,
   registry and promotion included. Bars are synthetic, published straight into the store of a
   scratch ``EXEC_HOME`` (``--home``; default: a temporary folder) without the validation step.

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

import numpy as np

SYMBOLS = ("RELIANCE", "SAIL")
TRAIN_START, TRAIN_END = date(2018, 1, 1), date(2019, 12, 31)
VALIDATION_END = date(2020, 2, 29)


def _episodes(agent: str, scale: float) -> int:
    from execution.agents.catalog import agent_spec

    return max(1, round(agent_spec(agent).default_episodes * scale))


def bench_agents(agents: list[str], scale: float, days: int) -> list[dict]:
    """Train each agent once on in-memory bars; one result row per agent."""
    from execution.agents.training import train_agent
    from execution.config import OrderParams
    from execution.data.exchange_calendar import trading_days
    from execution.data.sources.synthetic import SyntheticSource
    from execution.sim.market import from_bars

    order = OrderParams()
    window = trading_days(TRAIN_START, TRAIN_END)[-days:]
    bars = SyntheticSource(seed=7).fetch("RELIANCE", window[0], window[-1]).bars
    market = from_bars(bars, order)
    print(f"training data: RELIANCE {window[0]}..{window[-1]}, {market.n_days} episode days (synthetic)")
    rows = []
    for agent in agents:
        episodes = _episodes(agent, scale)
        started = time.perf_counter()
        run = train_agent(agent, market, order, episodes=episodes, seed=1, progress=False)
        total_s = time.perf_counter() - started
        rewards, steps = np.asarray(run.episode_rewards), np.asarray(run.episode_steps)
        rows.append(
            {
                "agent": agent,
                "episodes": run.episodes,
                "steps": run.timesteps,
                "learn_s": run.wall_s,
                "total_s": total_s,
                "steps_per_s": run.steps_per_s,
                "reward_first100": rewards[:100].mean(),
                "reward_last100": rewards[-100:].mean(),
                "steps_last100": steps[-100:].mean(),
            }
        )
        print(_table(rows[-1:], header=len(rows) == 1), flush=True)
    return rows


def _table(rows: list[dict], header: bool = True) -> str:
    columns = [
        ("agent", "{}", 8),
        ("episodes", "{:d}", 8),
        ("steps", "{:d}", 8),
        ("learn_s", "{:.1f}", 8),
        ("total_s", "{:.1f}", 8),
        ("steps_per_s", "{:.0f}", 11),
        ("reward_first100", "{:.2f}", 15),
        ("reward_last100", "{:.2f}", 14),
        ("steps_last100", "{:.1f}", 13),
    ]
    lines = ["  ".join(name.rjust(width) for name, _, width in columns)] if header else []
    for row in rows:
        lines.append("  ".join(fmt.format(row[name]).rjust(width) for name, fmt, width in columns if name in row))
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


def bench_weekly(scale: float, home: Path) -> list[dict]:
    """The weekly retrain of the five seed agents x two symbols; one row per retrain."""
    from execution.agents.catalog import SEED_AGENTS
    from execution.config import load_settings
    from execution.models.retrain import retrain

    os.environ["EXEC_HOME"] = str(home)
    settings = load_settings()
    started = time.perf_counter()
    publish_synthetic(settings, SYMBOLS, date(2017, 11, 1), VALIDATION_END)
    print(f"published synthetic bars in {time.perf_counter() - started:.1f} s (EXEC_HOME={home})")
    rows = []
    weekly_started = time.perf_counter()
    for symbol in SYMBOLS:
        for agent in SEED_AGENTS:
            t0 = time.perf_counter()
            summary = retrain(settings, symbol, agent, TRAIN_START, TRAIN_END, episodes=_episodes(agent, scale), seed=1)
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
    print(f"weekly retrain ({len(rows)} models): {time.perf_counter() - weekly_started:.1f} s wall")
    return rows


def main() -> None:
    from execution.agents.catalog import AGENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default=",".join(AGENTS), help="comma-separated agents (default: all six)")
    parser.add_argument("--episodes-scale", type=float, default=1.0, help="fraction of the seed episode budget")
    parser.add_argument("--days", type=int, default=500, help="training days for the per-agent runs")
    parser.add_argument("--weekly", action="store_true", help="run the weekly retrain (5 agents x 2 symbols)")
    parser.add_argument("--home", type=Path, help="EXEC_HOME of the weekly retrain (default: a temporary folder)")
    args = parser.parse_args()
    print(f"cpus available: {len(os.sched_getaffinity(0))}, episodes scale {args.episodes_scale}")
    if args.weekly:
        home = args.home or Path(tempfile.mkdtemp(prefix="bench-train-"))
        try:
            bench_weekly(args.episodes_scale, home.absolute())
        finally:
            if args.home is None:  # stop the scratch database from a fresh process, then delete it
                env = {**os.environ, "EXEC_HOME": str(home)}
                subprocess.run([sys.executable, "-m", "execution", "db", "stop"], env=env, check=False)
                shutil.rmtree(home, ignore_errors=True)
    else:
        bench_agents([a.strip() for a in args.agents.split(",") if a.strip()], args.episodes_scale, args.days)


if __name__ == "__main__":
    main()
