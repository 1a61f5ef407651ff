"""The promotion rule: when a newly trained model (the challenger) replaces the champion.

On the validation window, under one fill model (the challenger's training fill unless
configured), per day:

* advantage over ``twap_seed`` = ``shortfall(twap_seed) - shortfall(challenger)`` (bps, + = better);
* advantage over the incumbent = ``shortfall(incumbent) - shortfall(challenger)``, where the
  incumbent is the policy the service would use now (the champion, or the previous champion when
  the champion's artifact is unusable; see :func:`execution.models.registry.resolve_champion`).

The challenger becomes champion only if

* with an incumbent: its mean advantage over the incumbent exceeds ``min_advantage_over_champion_bps``
  **and** the lower bound of the seeded percentile-bootstrap 95 % CI of that mean exceeds
  ``min_ci_low_over_champion_bps``, **and** it beats ``twap_seed``;
* without one (the symbol's first model, or no loadable champion): the service trades ``twap_seed``,
  so ``twap_seed`` is the incumbent: the challenger must beat it and the CI lower bound of its mean
  advantage over ``twap_seed`` must exceed ``min_ci_low_over_champion_bps`` (a lucky validation
  window does not make a champion);

where *beats twap_seed* means a mean advantage over ``twap_seed`` above ``min_advantage_over_twap_bps``
(and, with ``require_twap_ci``, a CI lower bound above it too). Fewer than ``min_validation_days``
days never promote. Otherwise the challenger stays a ``candidate``.

The margins are configuration: the ``[promotion]`` table of the config file (``$EXEC_CONFIG``, else
``$EXEC_HOME/config.toml``) with any field of :class:`execution.config.PromotionRule`, read once
into ``settings.promotion``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from execution.config import OrderParams, PromotionRule, Settings
from execution.json_values import json_safe
from execution.sim.backtest import run_strategies
from execution.sim.baselines import Schedule
from execution.sim.fills import FILL_MODELS, check_fill
from execution.sim.market import MarketData
from execution.sim.metrics import bootstrap_mean_ci, summarize
from execution.sim.order_set import TWAP, OrderSet, summarize_order_set
from execution.sim.order_set import evaluate as evaluate_orders
from execution.sim.policy import Policy


def load_rule(settings: Settings) -> PromotionRule:
    """The rule of ``settings`` (the config file's ``[promotion]`` table, read once), its fill model checked."""
    rule = settings.promotion
    if rule.fill is not None:
        check_fill(rule.fill)
    return rule


@dataclass(frozen=True)
class Comparison:
    """The challenger's per-day advantage over one reference, aggregated."""

    against: str
    days: int
    mean_bps: float
    ci_low_bps: float
    ci_high_bps: float
    share_better: float

    @classmethod
    def of(cls, against: str, advantage_bps: np.ndarray, rule: PromotionRule) -> Comparison:
        """Aggregate per-day advantages (bps) with the rule's bootstrap."""
        values = np.asarray(advantage_bps, dtype=float)
        values = values[np.isfinite(values)]
        low, high = bootstrap_mean_ci(values, rule.n_resamples, rule.bootstrap_seed)
        mean = float(values.mean()) if values.size else float("nan")
        share = float((values > 0).mean()) if values.size else float("nan")
        return cls(against, int(values.size), mean, low, high, share)


@dataclass(frozen=True)
class Decision:
    """Whether the challenger becomes champion, and why (one sentence)."""

    promote: bool
    reason: str


def _above(value: float, margin: float) -> bool:
    return math.isfinite(value) and value > margin


def decide(vs_twap: Comparison, vs_incumbent: Comparison | None, rule: PromotionRule) -> Decision:
    """Apply the rule (module docstring) to the comparisons."""
    if vs_twap.days < rule.min_validation_days:
        return Decision(False, f"only {vs_twap.days} validation day(s); the rule needs {rule.min_validation_days}")
    twap_margin = rule.min_advantage_over_twap_bps
    beats_twap = _above(vs_twap.mean_bps, twap_margin) and (
        not rule.require_twap_ci or _above(vs_twap.ci_low_bps, twap_margin)
    )
    twap_text = (
        f"mean advantage over twap_seed {vs_twap.mean_bps:+.2f} bps "
        f"(95% CI {vs_twap.ci_low_bps:+.2f}..{vs_twap.ci_high_bps:+.2f})"
    )
    if vs_incumbent is None:  # the service trades twap_seed now: it is the incumbent to beat
        ci_margin = rule.min_ci_low_over_champion_bps
        if beats_twap and _above(vs_twap.ci_low_bps, ci_margin):
            return Decision(True, f"no usable champion; beats twap_seed, the incumbent: {twap_text}")
        return Decision(
            False,
            f"no usable champion, and does not beat twap_seed, the incumbent (needs mean > {twap_margin:+.2f}"
            f" and CI low > {ci_margin:+.2f}): {twap_text}",
        )
    inc_text = (
        f"mean advantage over {vs_incumbent.against} {vs_incumbent.mean_bps:+.2f} bps "
        f"(95% CI {vs_incumbent.ci_low_bps:+.2f}..{vs_incumbent.ci_high_bps:+.2f})"
    )
    beats_incumbent = _above(vs_incumbent.mean_bps, rule.min_advantage_over_champion_bps) and _above(
        vs_incumbent.ci_low_bps, rule.min_ci_low_over_champion_bps
    )
    if beats_incumbent and beats_twap:
        return Decision(True, f"beats {vs_incumbent.against}: {inc_text}; and twap_seed: {twap_text}")
    failed = []
    if not beats_incumbent:
        failed.append(
            f"not better than {vs_incumbent.against} (needs mean > {rule.min_advantage_over_champion_bps:+.2f}"
            f" and CI low > {rule.min_ci_low_over_champion_bps:+.2f}): {inc_text}"
        )
    if not beats_twap:
        failed.append(f"does not beat twap_seed (margin {twap_margin:+.2f}): {twap_text}")
    return Decision(False, "; ".join(failed))


def evaluate(
    market: MarketData,
    order: OrderParams,
    challenger: Schedule,
    incumbent: Schedule | None,
    rule: PromotionRule,
    fill: str,
    incumbent_label: str = "champion",
) -> tuple[Decision, dict[str, Any]]:
    """Backtest the challenger (and the incumbent) on ``market`` under both fills, then :func:`decide` under ``fill``.

    ``challenger`` and ``incumbent`` are strategies (a policy on its MDP: ``policy_strategy(model, mdp)``);
    ``incumbent=None`` means the service trades ``twap_seed`` now. Returns the decision and the
    JSON-serialisable validation metrics stored in the registry: the backtester's summary rows of
    each strategy and fill, the comparisons, the decision.
    """
    strategies = [("challenger", challenger)]
    if incumbent is not None:
        strategies.append((incumbent_label, incumbent))
    per_day = run_strategies([market], order, [*strategies, "twap_seed"], FILL_MODELS)
    summary = summarize(per_day, rule.n_resamples, rule.bootstrap_seed)
    summary = summary[summary["symbol"] != "ALL"] if "symbol" in summary else summary

    decided = per_day[per_day["fill"] == fill].set_index(["strategy", "day"])["shortfall_bps"]
    challenger_is = decided.loc["challenger"]
    twap_is = decided.loc["twap_seed"]
    vs_twap = Comparison.of("twap_seed", (twap_is - challenger_is).to_numpy(), rule)
    vs_incumbent = None
    if incumbent is not None:
        incumbent_is = decided.loc[incumbent_label]
        vs_incumbent = Comparison.of(incumbent_label, (incumbent_is - challenger_is).to_numpy(), rule)
    decision = decide(vs_twap, vs_incumbent, rule)
    metrics = {
        "days": int(market.n_days),
        "decision_fill": fill,
        "rule": asdict(rule),
        "summary": json_safe(summary),
        "vs_twap_seed": json_safe(asdict(vs_twap)),
        "vs_champion": None if vs_incumbent is None else json_safe(asdict(vs_incumbent)),
        "decision": {"promote": decision.promote, "reason": decision.reason},
    }
    return decision, metrics


def evaluate_order_set(
    order_set: OrderSet,
    challenger: Policy,
    incumbent: Policy | None,
    rule: PromotionRule,
    fill: str,
    incumbent_label: str = "champion",
) -> tuple[Decision, dict[str, Any]]:
    """The rule on a set of orders (a universal model): advantages over each same order's TWAP and the incumbent.

    Per-order advantages are averaged per day (all symbols' orders of a day together: they share the
    day's market) and the bootstrap resamples those days. Returns the decision and the metrics stored
    in the registry, with the order set's summary by size bucket and side.
    """
    strategies: dict[str, Policy | str] = {"challenger": challenger, "twap": TWAP}
    if incumbent is not None:
        strategies[incumbent_label] = incumbent
    per_order = evaluate_orders(order_set, strategies, FILL_MODELS)
    decided = per_order[per_order["fill"] == fill]
    mine = decided[decided["strategy"] == "challenger"].set_index(["symbol", "day", "order"])
    daily_twap = mine.groupby("day")["advantage_bps"].mean()
    vs_twap = Comparison.of("twap", daily_twap.to_numpy(), rule)
    vs_incumbent = None
    if incumbent is not None:
        theirs = decided[decided["strategy"] == incumbent_label].set_index(["symbol", "day", "order"])
        gap = (theirs["shortfall_bps"] - mine["shortfall_bps"]).groupby("day").mean()
        vs_incumbent = Comparison.of(incumbent_label, gap.to_numpy(), rule)
    decision = decide(vs_twap, vs_incumbent, rule)
    metrics = {
        "days": int(decided["day"].nunique()),
        "orders": len(mine),
        "decision_fill": fill,
        "rule": asdict(rule),
        "summary": json_safe(summarize_order_set(per_order, rule.n_resamples)),
        "vs_twap_seed": json_safe(asdict(vs_twap)),
        "vs_champion": None if vs_incumbent is None else json_safe(asdict(vs_incumbent)),
        "decision": {"promote": decision.promote, "reason": decision.reason},
    }
    return decision, metrics
