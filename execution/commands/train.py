"""``train``: train one agent, register it, validate it and apply the promotion rule.

``--symbols A,B,...`` trains one universal model (pace MDP) for every order of those symbols: a new order
drawn from the envelope every episode, validated on an order set (:mod:`execution.models.universal`).
``--symbol S`` trains a model of one symbol on the configured order (the seed's experiment).
"""

from __future__ import annotations

import argparse
import json

from execution.commands._args import iso_date, symbol_list
from execution.config import Settings
from execution.sim.fills import FILL_MODELS
from execution.sim.mdp import MDPS
from execution.sim.pace import PACE_REWARDS
from execution.sim.rewards import REWARDS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    from execution.agents.catalog import AGENTS

    p = subparsers.add_parser("train", help="train an RL agent, register it, validate it, promote it if it wins")
    p.add_argument("--agent", required=True, choices=list(AGENTS), help="which agent")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--symbol", type=str.upper, help="one symbol, on the configured order (the seed's experiment)")
    which.add_argument(
        "--symbols",
        type=symbol_list,
        help="comma-separated symbols: one universal model for every order of all of them",
    )
    p.add_argument("--train-start", type=iso_date, help="first training day (default: the configured window)")
    p.add_argument("--train-end", type=iso_date, help="last training day (default: the configured window)")
    p.add_argument("--episodes", type=int, help="training episodes (default: the seed's, 1000 DQN / 2000 A3C and PPO)")
    p.add_argument(
        "--mdp",
        choices=list(MDPS),
        default="pace",
        help="pace: actions as multiples of the TWAP pace, any order (production, default); seed: the seed article's",
    )
    p.add_argument(
        "--reward",
        choices=sorted({*REWARDS, *PACE_REWARDS}),
        help="reward (default: pa, TWAP-relative, on the pace MDP; vr on the seed MDP); vr, acr on both",
    )
    p.add_argument("--fill", choices=list(FILL_MODELS), help="training fill model (default: impact pace, seed seed)")
    p.add_argument("--seed", type=int, help="random seed (same seed, same model); default: drawn and recorded")
    p.add_argument("--fine-tune", action="store_true", help="continue from the symbol's champion of this agent")
    p.add_argument(
        "--hyper",
        action="append",
        type=hyper_override,
        default=[],
        metavar="KEY=VALUE",
        help="override one of the agent's hyperparameters (repeatable; VALUE is JSON, e.g. learning_starts=1000)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def hyper_override(text: str) -> tuple[str, object]:
    """argparse type: ``KEY=VALUE`` with a JSON value (a bare word is a string)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Train, register, validate, promote; print what happened."""
    from execution.agents.catalog import hyperparameters
    from execution.models.retrain import retrain

    start = args.train_start or settings.windows.train_start
    end = args.train_end or settings.windows.train_end
    if end < start:
        raise ValueError(f"--train-end {end} is before --train-start {start}")
    if args.episodes is not None and args.episodes < 1:
        raise ValueError(f"--episodes must be at least 1, not {args.episodes}")
    hyperparameters(args.agent, **dict(args.hyper))  # unknown names fail before any work
    if args.symbols is not None:
        summary = _universal(args, settings, start, end)
    else:
        summary = retrain(
            settings,
            args.symbol,
            args.agent,
            start,
            end,
            episodes=args.episodes,
            seed=args.seed,
            mdp=args.mdp,
            reward=args.reward,
            fill=args.fill,
            fine_tune=args.fine_tune,
            progress=None if not args.no_progress else False,
            overrides=dict(args.hyper) or None,
        )
    if args.json:
        print(json.dumps(summary, indent=1, sort_keys=True))
    else:
        print(format_summary(summary))
    return 0


def _universal(args: argparse.Namespace, settings: Settings, start, end) -> dict:
    """One universal model for every order of ``args.symbols`` (pace MDP only)."""
    from execution.models.universal import retrain_universal

    if args.mdp != "pace" or args.reward not in (None, "pa"):
        raise ValueError("a universal model (--symbols) is trained on the pace MDP with its reward (pa)")
    unknown = sorted(set(args.symbols) - set(settings.symbols))
    if unknown:
        raise ValueError(f"unknown symbol(s) {unknown}: the configured ones are {', '.join(settings.symbols)}")
    return retrain_universal(
        settings,
        list(args.symbols),
        args.agent,
        start,
        end,
        episodes=args.episodes,
        seed=args.seed,
        fine_tune=args.fine_tune,
        progress=None if not args.no_progress else False,
        overrides=dict(args.hyper) or None,
    )


def _comparison(label: str, comparison: dict | None) -> str:
    if not comparison:
        return f"{label}: -"

    def num(key: str) -> str:
        value = comparison.get(key)
        return "nan" if value is None else f"{value:+.2f}"

    return f"{label}: {num('mean_bps')} bps (95% CI {num('ci_low_bps')}..{num('ci_high_bps')})"


def format_summary(summary: dict) -> str:
    """Human-readable lines of a :func:`execution.models.retrain.retrain` summary."""
    trained_on = ", ".join(summary.get("symbols") or [summary["symbol"]])
    lines = [
        f"model {summary['model_id']}: {summary['agent']} on {trained_on} "
        f"{summary['train_start']}..{summary['train_end']} ({summary['train_days']} days), "
        f"{summary['mdp']} MDP, reward {summary['reward']}, fill {summary['fill']}, seed {summary['seed']}",
        f"  trained {summary['episodes']} episodes, {summary['timesteps']} steps in {summary['wall_s']:.1f} s "
        f"({summary['steps_per_s']:.0f} steps/s); mean reward of the last 100 episodes "
        f"{summary['mean_reward_last_100']:.2f}",
    ]
    if summary.get("fine_tune"):
        lines.append(f"  {summary['fine_tune']}")
    lines.append(f"  artifact {summary['artifact']} (sha256 {summary['sha256'][:12]}...)")
    lines.append(f"  learning curve {summary['learning_curve_csv']}")
    validation = summary.get("validation")
    if validation:
        lines.append(
            f"  validated on {validation['start']}..{validation['end']} ({validation['days']} days, "
            f"{validation.get('note') or str(validation.get('orders', '?')) + ' orders'}), fill {validation['fill']}"
        )
        incumbent = summary.get("incumbent") or {}
        against = "twap_seed" if incumbent.get("model_id") is None else f"model {incumbent['model_id']}"
        lines.append(
            f"  {_comparison('advantage over twap_seed', summary.get('vs_twap_seed'))}; "
            f"{_comparison(f'over the champion ({against})', summary.get('vs_champion'))}"
        )
    lines.append(f"  -> {summary['status']}: {summary['decision']['reason']}")
    return "\n".join(lines)
