"""Do the agents learn what is learnable? Every agent on a martingale market and on one with a planted edge.

Usage::

    python bench/learning.py [--quick] [--json] [--agents dqn_sl,...] [--seed 1] [--mdp pace|seed|both]

Markets (synthetic, seed 7, RELIANCE and SAIL): ``martingale`` (planted strength 0) and ``planted``
(the default planted strength, :data:`execution.data.sources.synthetic.PLANTED_STRENGTH`), both
built with ``intraday_martingale=True`` so that within a day the price is a martingale plus, on the
planted market, the planted component -- nothing else is predictable (the generator's default days
drift with its calibration anchors, e.g. SAIL's 2020 rally). Windows: every agent trains on
2018-01-01..2019-10-31 (both symbols pooled: the pace MDP is scale-free), is validated on
2019-11-01..2019-12-31 and tested on 2020, with the seed's order (buy 10,000 at 09:30 over 100
minutes in 50 intervals, lots of 500) and the impact fill.

Per agent and market: the mean advantage over ``twap_seed`` on the test year (bps, both symbols,
bootstrap 95 % CI), over ``twap_even`` (the TWAP the pace MDP's neutral action reproduces), the
mean number of child orders, and whether the promotion gate would promote it (validation window,
``twap_seed`` as the incumbent: the CI of its advantage must clear zero). Beside them the
``informed`` strategy (knows the planted component: the achievable causal edge) and ``twap_even``.
With ``--mdp both`` (the full run's default) the agents also train on the seed's MDP (martingale
market) to show whether any of them waits for the forced order.

``--quick`` uses small budgets (under 5 minutes on 2 cores); the full budget is the production
retrain's. The last line printed is one JSON object (``--json``)::

    {"budget": "quick", "markets": {"martingale": M, "planted": M}, ...}
    M = {"informed": {"mean_bps", "ci_low", "ci_high"},
         "agents": {NAME: {"mean_bps", "ci_low", "ci_high", "child_orders", "promoted"}}}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from execution.agents.catalog import AGENTS, PACE_EPISODES
from execution.agents.training import train_agent
from execution.config import OrderParams, PromotionRule
from execution.data.sources.synthetic import PLANTED_STRENGTH, SyntheticSource
from execution.models.promotion import Comparison, decide
from execution.sim.backtest import run_backtest
from execution.sim.informed import informed_strategy
from execution.sim.market import MarketData, from_bars, lookback_start
from execution.sim.policy import policy_strategy

SYMBOLS = ("RELIANCE", "SAIL")
TRAIN = (date(2018, 1, 1), date(2019, 10, 31))
VALIDATION = (date(2019, 11, 1), date(2019, 12, 31))
TEST = (date(2020, 1, 1), date(2020, 12, 31))
FILL = "impact"
MARKETS = {"martingale": 0.0, "planted": PLANTED_STRENGTH}
#: episodes per agent: the quick run's, and the full run's (the production retrain's budget)
QUICK_EPISODES = {"dqn": 300, "ddqn": 300, "a2c": 3000, "ppo": 3000}
FULL_EPISODES = PACE_EPISODES
#: the seed's MDP, full run: the seed's counts for the DQN family; A3C and PPO need more than the seed's
#: 2,000 of its short episodes to stop dumping the order in 3 children (30,000: 10-15 s)
SEED_MDP_FULL_EPISODES = {"dqn": 1000, "ddqn": 1000, "a2c": 30000, "ppo": 30000}


@dataclass
class Windows:
    """One market's data: the pooled training days, and per-symbol validation and test days."""

    train: MarketData
    validation: list[MarketData]
    test: list[MarketData]


def load_market(strength: float, seed: int, order: OrderParams) -> Windows:
    """Synthetic bars of both symbols with ``strength``, cut into the three windows (in memory)."""
    source = SyntheticSource(seed=seed, planted_strength=strength, intraday_martingale=True)

    def window(symbol: str, start: date, end: date) -> MarketData:
        return from_bars(source.fetch(symbol, lookback_start(start), end).bars, order, first_day=start)

    return Windows(
        train=MarketData.concat([window(s, *TRAIN) for s in SYMBOLS]),
        validation=[window(s, *VALIDATION) for s in SYMBOLS],
        test=[window(s, *TEST) for s in SYMBOLS],
    )


def pooled_summary(markets: list[MarketData], order: OrderParams, named: list[tuple[str, Any]]) -> dict[str, dict]:
    """``ALL`` rows (both symbols) of the backtest of ``named`` under the impact fill, by strategy."""
    summary = run_backtest(markets, order, [*named, "twap_even"], [FILL]).summary
    rows = summary[summary["symbol"] == "ALL"].set_index("strategy")
    return {name: rows.loc[name].to_dict() for name in rows.index}


def advantage_over(markets: list[MarketData], order: OrderParams, strategy: Any, reference: str) -> np.ndarray:
    """Per-day advantage of ``strategy`` over ``reference`` (bps, impact fill), all symbols' days."""
    per_day = run_backtest(markets, order, [("agent", strategy), reference], [FILL]).per_day
    table = per_day.pivot_table(index=["symbol", "day"], columns="strategy", values="shortfall_bps")
    return (table[reference] - table["agent"]).to_numpy()


def would_promote(windows: Windows, order: OrderParams, strategy: Any, rule: PromotionRule) -> tuple[bool, str]:
    """The promotion gate on the validation window with ``twap_seed`` as the incumbent."""
    vs_twap = Comparison.of("twap_seed", advantage_over(windows.validation, order, strategy, "twap_seed"), rule)
    decision = decide(vs_twap, None, rule)
    return decision.promote, decision.reason


def evaluate_agent(windows: Windows, order: OrderParams, strategy: Any, rule: PromotionRule) -> dict[str, Any]:
    """Test-year advantage over twap_seed and twap_even, child orders, and the promotion gate's verdict."""
    rows = pooled_summary(windows.test, order, [("agent", strategy)])
    agent = rows["agent"]
    even = advantage_over(windows.test, order, strategy, "twap_even")
    promoted, reason = would_promote(windows, order, strategy, rule)
    return {
        "mean_bps": round(float(agent["advantage_mean_bps"]), 3),
        "ci_low": round(float(agent["advantage_ci95_low_bps"]), 3),
        "ci_high": round(float(agent["advantage_ci95_high_bps"]), 3),
        "vs_twap_even_bps": round(float(np.mean(even)), 3),
        "child_orders": round(float(agent["child_orders_mean"]), 2),
        "completion_min": round(float(agent["completion_mean_min"]), 1),
        "promoted": bool(promoted),
        "promotion_reason": reason,
    }


def train_and_evaluate(
    agent: str, mdp: str, windows: Windows, order: OrderParams, budget: dict[str, int], seed: int
) -> dict[str, Any]:
    """Train ``agent`` on ``mdp`` over the pooled training days, then evaluate it."""
    family = AGENTS[agent].family
    episodes = budget[family] if mdp == "pace" or budget is QUICK_EPISODES else SEED_MDP_FULL_EPISODES[family]
    began = time.perf_counter()
    run = train_agent(agent, windows.train, order, episodes=episodes, seed=seed, mdp=mdp, fill=FILL, progress=False)
    trained_s = time.perf_counter() - began
    result = evaluate_agent(windows, order, policy_strategy(run.model, mdp), PromotionRule())
    result.update(
        episodes=run.episodes,
        timesteps=run.timesteps,
        train_s=round(trained_s, 1),
        steps_per_s=round(run.steps_per_s),
        last_rewards=round(float(np.mean(run.episode_rewards[-max(1, run.episodes // 10) :])), 3),
    )
    return result


def reference_results(windows: Windows, order: OrderParams, strength: float) -> dict[str, dict[str, float]]:
    """``informed`` (knows the planted strength) and ``twap_even``: test-year advantage over twap_seed."""
    rows = pooled_summary(windows.test, order, [("informed", informed_strategy(strength))])
    return {
        name: {
            "mean_bps": round(float(rows[name]["advantage_mean_bps"]), 3),
            "ci_low": round(float(rows[name]["advantage_ci95_low_bps"]), 3),
            "ci_high": round(float(rows[name]["advantage_ci95_high_bps"]), 3),
            "child_orders": round(float(rows[name]["child_orders_mean"]), 2),
        }
        for name in ("informed", "twap_even")
    }


def line(name: str, r: dict[str, Any]) -> str:
    """One row of the printed table."""
    extra = ""
    if "child_orders" in r:
        extra = f"  orders {r['child_orders']:5.1f}"
    if "promoted" in r:
        extra += f"  vs even {r['vs_twap_even_bps']:+6.2f}  done {r['completion_min']:5.1f} min"
        extra += (
            f"  promoted {'yes' if r['promoted'] else 'no ':3s}  {r['train_s']:5.1f} s  {r['steps_per_s']:6d} steps/s"
        )
    return f"  {name:10s} {r['mean_bps']:+7.2f} bps  CI {r['ci_low']:+6.2f} .. {r['ci_high']:+6.2f}{extra}"


def run(agents: list[str], budget_name: str, mdps: list[str], seed: int) -> dict[str, Any]:
    """The benchmark; returns the JSON object."""
    order = OrderParams()
    budget = QUICK_EPISODES if budget_name == "quick" else FULL_EPISODES
    out: dict[str, Any] = {"budget": budget_name, "fill": FILL, "markets": {}}
    for market, strength in MARKETS.items():
        windows = load_market(strength, 7, order)
        entry: dict[str, Any] = {"strength": strength, **reference_results(windows, order, strength), "agents": {}}
        print(f"{market} market (planted strength {strength:g}): advantage over twap_seed on 2020", flush=True)
        print(line("informed", entry["informed"]), flush=True)
        print(line("twap_even", entry["twap_even"]), flush=True)
        for agent in agents:
            entry["agents"][agent] = train_and_evaluate(agent, "pace", windows, order, budget, seed)
            print(line(agent, entry["agents"][agent]), flush=True)
        if "seed" in mdps and market == "martingale":
            entry["seed_mdp_agents"] = {}
            print("  the seed's MDP (lots per decision, VR reward):", flush=True)
            for agent in agents:
                entry["seed_mdp_agents"][agent] = train_and_evaluate(agent, "seed", windows, order, budget, seed)
                print(line(agent, entry["seed_mdp_agents"][agent]), flush=True)
        out["markets"][market] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small budgets (under 5 minutes on 2 cores)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line at the end")
    parser.add_argument("--agents", default=",".join(AGENTS), help="comma-separated agents (default: all six)")
    parser.add_argument("--seed", type=int, default=1, help="training seed")
    parser.add_argument("--mdp", choices=["pace", "seed", "both"], help="MDP(s) (default: pace quick, both full)")
    args = parser.parse_args(argv)
    mdp = args.mdp or ("pace" if args.quick else "both")
    mdps = ["pace", "seed"] if mdp == "both" else [mdp]
    began = time.perf_counter()
    result = run(args.agents.split(","), "quick" if args.quick else "full", mdps, args.seed)
    result["wall_s"] = round(time.perf_counter() - began, 1)
    print(f"done in {result['wall_s']:.0f} s", flush=True)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
