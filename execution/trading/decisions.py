"""Which strategy works an order intraday, and its next decision, stepped exactly as the backtester steps it.

**The strategy** (:func:`resolve_strategy_for`) comes from the same path as the next-day schedules
(:func:`execution.trading.schedules.plan_order`): the order's override (``model:ID`` or a baseline),
else :meth:`~execution.models.champion.PolicyCache.get` -- the symbol's champion, else the universal
champion, inside its envelope (``PolicyChoice.for_order``), else ``twap_seed`` with the recorded
reason. It is pinned at the first decision (``order_executions``): a restart goes on with the same
model even if another was promoted meanwhile (:func:`pinned_strategy`).

**A decision** (:class:`DecisionBatch`) is one slot of the strategy's MDP batch
(:func:`execution.sim.mdp.make_batch`, the backtester's ``rollout_lots`` with one day) on the market
as known at the decision: the decisions already recorded are stepped again with their recorded actions
(checked against the recorded lots), then the policy is asked for the state of decision ``k``. A
baseline (``twap_seed``, ``vwap``, ...) runs through the seed MDP's batch with its lots as actions
(the batch cuts lots to the inventory and forces the rest at the horizon as the backtester does). A
state holding NaN read a bar that had not closed: :class:`~execution.trading.live_market.LookAhead`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from execution.config import OrderParams, Settings
from execution.models.champion import PolicyCache, model_policy
from execution.sim.baselines import Schedule
from execution.sim.envelope import adv_shares
from execution.sim.fills import IMPACT_ETA
from execution.sim.market import MarketData
from execution.sim.mdp import make_batch
from execution.sim.policy import Policy
from execution.sim.rewards import DEFAULT_RISK_AVERSION_PER_BPS
from execution.sim.strategies import resolve_strategy
from execution.trading.live_market import LookAhead
from execution.trading.orders import ParentOrder

TWAP = "twap_seed"
HINDSIGHT = ("oracle",)


@dataclass
class OrderStrategy:
    """What decides an order's children, and why."""

    label: str  # champion / model:ID / twap_seed / a baseline name
    mdp: str  # the batch its decisions step through
    model_id: int | None = None
    policy: Policy | None = None  # None: a schedule (a baseline)
    reason: str = ""

    def schedule(self) -> Schedule:
        """The baseline's schedule (``twap_seed`` when the label names no baseline)."""
        return resolve_strategy(self.label if self.policy is None else TWAP)


def _override(conn: Any, settings: Settings, order: ParentOrder, params: OrderParams) -> OrderStrategy | None:
    name = order.strategy_override
    if not name or name == "champion":
        return None
    if name.startswith("model:"):
        model_id = int(name.partition(":")[2])
        record, policy = model_policy(conn, settings, model_id, params)
        return OrderStrategy(name, record.mdp, model_id, policy, f"strategy override: {record.agent} #{model_id}")
    if name in HINDSIGHT:
        raise ValueError(f"order #{order.id}: {name} needs the whole day in hindsight and cannot trade intraday")
    resolve_strategy(name)  # KeyError for an unknown name
    return OrderStrategy(name, "seed", reason="strategy override")


def resolve_strategy_for(
    conn: Any, settings: Settings, order: ParentOrder, params: OrderParams, market: MarketData, policies: PolicyCache
) -> OrderStrategy:
    """The strategy of ``order`` now: its override, else the champion inside its envelope, else twap_seed."""
    override = _override(conn, settings, order, params)
    if override is not None:
        return override
    choice = policies.get(order.symbol, params, adv_shares(market))
    if choice.uses_model:
        return OrderStrategy("champion", choice.mdp, choice.model_id, choice.policy, choice.note)
    return OrderStrategy(TWAP, "seed", reason=choice.note)


def pinned_strategy(
    conn: Any, settings: Settings, label: str, model_id: int | None, mdp: str | None, reason: str | None,
    params: OrderParams,
) -> OrderStrategy:  # fmt: skip
    """The strategy recorded at the order's first decision, loaded again (a model that cannot be loaded is an error)."""
    if model_id is None:
        return OrderStrategy(label, mdp or "seed", reason=reason or "")
    try:
        _, policy = model_policy(conn, settings, model_id, params)
    except Exception as exc:
        raise ValueError(
            f"the order was being worked by model {model_id}, which cannot be loaded now ({exc}); "
            "fix the artifact or stop the order with `execute cancel`"
        ) from exc
    return OrderStrategy(label, mdp or "seed", model_id, policy, reason or "")


@dataclass(frozen=True)
class Decision:
    """Decision ``k`` of an order: the action, the lots asked for and the lots it sends."""

    k: int
    action: int
    intended_lots: int
    lots: int


class DecisionBatch:
    """A one-slot batch of ``strategy``'s MDP on ``market`` (one day), at decision ``len(recorded)``."""

    def __init__(self, strategy: OrderStrategy, market: MarketData, params: OrderParams) -> None:
        if market.n_days != 1:
            raise ValueError(f"a decision needs one day of market, not {market.n_days}")
        self.strategy, self.market, self.params = strategy, market, params
        self.batch = make_batch(strategy.mdp, market, params, 1)
        self.batch.begin(np.array([0]), np.array([0]))
        self.k = 0

    def _action(self, obs: np.ndarray) -> int:
        if self.strategy.policy is not None:
            actions, _ = self.strategy.policy.predict(obs, deterministic=True)
            return int(np.asarray(actions, dtype=np.int64).reshape(-1)[0])
        lots = self.strategy.schedule()(
            self.market, self.params, "seed", eta=IMPACT_ETA, risk_aversion=DEFAULT_RISK_AVERSION_PER_BPS
        )
        return int(lots[0, self.k])

    def _step(self, action: int) -> Decision:
        if not self.batch.live()[0]:
            raise RuntimeError(f"decision {self.k}: the episode has already ended")
        result = self.batch.step(np.array([action]))
        lots = int(result.lots[0])
        intended = action if self.strategy.mdp == "seed" else lots
        decision = Decision(self.k, action, intended, lots)
        self.k += 1
        return decision

    def replay(self, recorded: list[tuple[int, int]]) -> None:
        """Step the recorded ``(action, lots)`` of decisions ``0..`` again; ``RuntimeError`` if the lots differ."""
        for action, lots in recorded:
            again = self._step(action)
            if again.lots != lots:
                raise RuntimeError(
                    f"decision {again.k} recorded {lots} lots but steps to {again.lots}: the record does not replay"
                )

    def decide(self) -> Decision:
        """Ask the strategy for the current decision and step it (``LookAhead`` if the state is not all known)."""
        obs = self.batch.observe()
        if not np.isfinite(obs).all():
            raise LookAhead(f"decision {self.k}: the state reads a bar that has not closed yet ({obs.tolist()})")
        return self._step(self._action(obs))
