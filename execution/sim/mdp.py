"""The two MDPs by name, and what differs between them: the batch that simulates one, and its spaces.

* ``"seed"`` -- the seed article's MDP, exactly (:mod:`execution.sim.execution_env`,
  :class:`~execution.sim.batch.SeedBatch`): ``V/m + 1`` lot actions, the 18-value state, VR or ACR.
  It fits one order shape only (the one it was trained for).
* ``"pace"`` -- the production MDP (:mod:`execution.sim.pace`): actions as multiples of the TWAP
  pace, a scale-free state, reward relative to TWAP. It fits every order.

A trained model records its MDP; replay, schedules and the promotion gate run it through the
batch of that MDP (:func:`make_batch`), so a policy acts on exactly the states it was trained on.
"""

from __future__ import annotations

import numpy as np

from execution.config import OrderParams
from execution.sim.batch import EpisodeBatch, SeedBatch
from execution.sim.fills import IMPACT_ETA
from execution.sim.market import MarketData
from execution.sim.pace import PACE_FEATURES, PaceBatch, PaceSpec
from execution.sim.rewards import DEFAULT_RISK_AVERSION_PER_BPS

MDPS: tuple[str, ...] = ("seed", "pace")
DEFAULT_REWARD: dict[str, str] = {"seed": "vr", "pace": "pa"}
#: Training fill model: the seed's experiment as the seed ran it; production policies learn what size costs.
DEFAULT_FILL: dict[str, str] = {"seed": "seed", "pace": "impact"}


def check_mdp(mdp: str) -> str:
    """``mdp`` if it names an MDP, else ``ValueError``."""
    if mdp not in MDPS:
        raise ValueError(f"unknown MDP {mdp!r}; choose one of {MDPS}")
    return mdp


def make_batch(
    mdp: str,
    market: MarketData,
    order: OrderParams,
    n_envs: int,
    reward: str | None = None,
    fill: str = "seed",
    *,
    risk_aversion: float = DEFAULT_RISK_AVERSION_PER_BPS,
    eta: float = IMPACT_ETA,
    spec: PaceSpec | None = None,
) -> EpisodeBatch:
    """``n_envs`` episodes of ``mdp`` on ``market`` for ``order`` (reward: the MDP's default when ``None``)."""
    reward = reward or DEFAULT_REWARD[check_mdp(mdp)]
    if mdp == "seed":
        return SeedBatch(market, order, n_envs, reward, fill, risk_aversion, eta)
    return PaceBatch(market, order, n_envs, reward, fill, spec, risk_aversion, eta)


SMALL_LOTS_P = 0.5  # geometric exploration of the seed's MDP: P(a lots) ~ (1 - p)^a, one lot on average


def exploration_weights(mdp: str, order: OrderParams) -> np.ndarray | None:
    """Weights of random exploratory actions for ``mdp`` (``None``: uniform).

    The seed's MDP: small lot counts likelier (``P(a) ~ (1/2)^a``, about one lot per random decision)
    -- a uniformly random lot count empties the order in ~3 decisions, so exploration never shows
    what holding inventory to the horizon costs. The pace MDP needs none: its actions are paces
    around TWAP, and uniformly random ones already reach the horizon.
    """
    if check_mdp(mdp) == "pace":
        return None
    return (1.0 - SMALL_LOTS_P) ** np.arange(order.lots + 1)


def expected_spaces(mdp: str, order: OrderParams, spec: PaceSpec | None = None) -> tuple[tuple[int, ...], int]:
    """``(observation shape, number of actions)`` a policy of ``mdp`` needs for ``order``."""
    if check_mdp(mdp) == "seed":
        return (order.n_history + 3,), order.lots + 1
    return (len(PACE_FEATURES),), len((spec or PaceSpec()).multipliers)
