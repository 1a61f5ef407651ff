"""``demo``: the main job end to end through Airflow, from an empty EXEC_HOME (``make demo``).

History is bulk-loaded with the library; then ``nse_daily_bars`` for the last trading days up to
``--end``, ``nse_weekly_retrain`` with a small budget and ``nse_execution_reports`` run through
``airflow dags test`` (see :mod:`execution.ops.demo`). Ends by naming the report and the Airflow UI.
"""

from __future__ import annotations

import argparse

from execution.commands._args import iso_date
from execution.config import Settings
from execution.ops import demo


def _agent_list(text: str) -> tuple[str, ...]:
    agents = tuple(a.strip() for a in text.split(",") if a.strip())
    if not agents:
        raise argparse.ArgumentTypeError("no agent given")
    return agents


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``demo``."""
    p = subparsers.add_parser(
        "demo", help="run the whole service through Airflow on synthetic data: bars, retrain, reports"
    )
    p.add_argument(
        "--start",
        type=iso_date,
        default=demo.DEFAULT_START,
        help=f"first day of the synthetic history (default {demo.DEFAULT_START}: two years before the validation "
        "window plus the simulator's lookback)",
    )
    p.add_argument(
        "--end",
        type=iso_date,
        default=demo.DEFAULT_END,
        help=f"last day: its last --daily-days trading days go through nse_daily_bars (default {demo.DEFAULT_END})",
    )
    p.add_argument(
        "--daily-days",
        type=int,
        default=demo.DEFAULT_DAILY_DAYS,
        help=f"trading days run through the daily DAG (default {demo.DEFAULT_DAILY_DAYS})",
    )
    p.add_argument(
        "--agents",
        type=_agent_list,
        default=demo.DEFAULT_AGENTS,
        help=f"agents to retrain (default {','.join(demo.DEFAULT_AGENTS)})",
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=demo.DEFAULT_EPISODES,
        help=f"episodes per agent (default {demo.DEFAULT_EPISODES})",
    )
    p.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help=f"training seed (default {demo.DEFAULT_SEED})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Plan the demo from the options, then run it step by step."""
    plan = demo.plan_demo(settings, args.start, args.end, args.daily_days, args.agents, args.episodes, args.seed)
    return demo.run_demo(settings, plan, say=lambda line: print(line, flush=True))
