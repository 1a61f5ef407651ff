"""``informed``: the strategy that knows the planted component -- exact DP, causal, whole lots, a real edge."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from execution.config import OrderParams
from execution.data.sources.synthetic import PLANTED_STRENGTH, PlantedComponent, SyntheticSource
from execution.sim.backtest import run_backtest
from execution.sim.baselines import twap_even, twap_seed
from execution.sim.episode import decision_minutes
from execution.sim.informed import (
    INFORMED_NAME,
    filter_deviation,
    first_action,
    informed_resolvers,
    informed_strategy,
    min_plus_convex,
)
from execution.sim.market import MarketData, from_bars
from execution.sim.strategies import resolve_strategy

ORDER = OrderParams()
HISTORY_START, WINDOW = date(2019, 12, 1), (date(2020, 1, 1), date(2020, 6, 30))


def _markets(strength: float, seed: int = 7, order: OrderParams = ORDER) -> list[MarketData]:
    source = SyntheticSource(seed=seed, planted_strength=strength)
    return [
        from_bars(source.fetch(symbol, HISTORY_START, WINDOW[1]).bars, order, first_day=WINDOW[0])
        for symbol in ("RELIANCE", "SAIL")
    ]


@pytest.fixture(scope="module")
def planted() -> list[MarketData]:
    return _markets(PLANTED_STRENGTH)


@pytest.fixture(scope="module")
def martingale() -> list[MarketData]:
    return _markets(0.0)


# ---------------------------------------------------------------- the dynamic program


def _random_convex(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Convex sequences along the last axis: a random start and sorted random increments."""
    steps = np.sort(rng.normal(size=(*shape[:-1], shape[-1] - 1)), axis=-1)
    return np.concatenate([rng.normal(size=(*shape[:-1], 1)), steps], axis=-1).cumsum(axis=-1)


def test_min_plus_convolution_equals_brute_force():
    rng = np.random.default_rng(0)
    first, second = _random_convex(rng, (7, 13)), _random_convex(rng, (7, 13))
    brute = np.array([[min(first[d, a] + second[d, n - a] for a in range(n + 1)) for n in range(13)] for d in range(7)])
    np.testing.assert_allclose(min_plus_convex(first, second), brute, rtol=1e-12, atol=1e-12)


def test_first_action_is_the_optimum_of_the_full_dynamic_program():
    rng = np.random.default_rng(1)
    days, slots, levels = 5, 6, 9
    costs = _random_convex(rng, (days, slots, levels)) - _random_convex(rng, (days, slots, 1))  # shifted per slot
    costs -= costs[..., :1]  # sending nothing costs nothing
    penalties = np.abs(rng.normal(size=(days, slots - 1, 1))) * (np.arange(levels) - rng.integers(0, levels)) ** 2
    level = rng.integers(0, levels, size=days)

    def best(d: int, i: int, left: int) -> float:  # brute-force cost-to-go from slot i holding `left`
        if i == slots - 1:
            return costs[d, i, left]
        return min(costs[d, i, a] + penalties[d, i, left - a] + best(d, i + 1, left - a) for a in range(left + 1))

    chosen = first_action(costs, penalties, level)
    for d in range(days):
        a = chosen[d]
        achieved = costs[d, 0, a] + penalties[d, 0, level[d] - a] + best(d, 1, level[d] - a)
        assert achieved == pytest.approx(best(d, 0, level[d]), abs=1e-9)


# ---------------------------------------------------------------- the strategy


def test_informed_is_causal_later_bars_do_not_change_earlier_decisions(planted):
    market = planted[0]
    strategy = informed_strategy(PLANTED_STRENGTH)
    minutes = decision_minutes(ORDER)
    rng = np.random.default_rng(2)
    for fill in ("seed", "impact"):
        base = strategy(market, ORDER, fill)
        changed_later = False
        for day, k in ((3, 0), (40, 7), (80, 25), (market.n_days - 1, 49)):
            j = int(minutes[k])
            arrays = {name: getattr(market, name).copy() for name in ("close", "high", "low", "volume")}
            shock = np.exp(rng.normal(0.0, 0.01, size=375 - j))  # about 100 bps: far more than the deviation
            for name in ("close", "high", "low"):
                arrays[name][day, j:] *= shock
            arrays["volume"][day, j:] = arrays["volume"][day, j:] * 3 + 1
            lots = strategy(replace(market, **arrays), ORDER, fill)
            np.testing.assert_array_equal(lots[day, : k + 1], base[day, : k + 1])
            np.testing.assert_array_equal(lots[:day], base[:day])  # earlier days know nothing of it
            changed_later |= not np.array_equal(lots[day, k + 1 :], base[day, k + 1 :])
        assert changed_later  # the same changes do move the decisions that may see them


@pytest.mark.parametrize(
    "order",
    [
        ORDER,
        OrderParams(side="sell"),
        OrderParams(quantity=10_000, lot_size=1),  # 10,000 lots: the coarse grid (200 levels)
        OrderParams(quantity=45_000, lot_size=100, horizon_min=60, intervals=30, start_time="13:00", side="sell"),
    ],
)
def test_informed_sends_whole_lots_that_sum_to_the_order(order):
    market = _markets(PLANTED_STRENGTH, order=order)[1].subset(slice(0, 30))
    for fill in ("seed", "impact"):
        lots = informed_strategy(PLANTED_STRENGTH)(market, order, fill)
        assert lots.shape == (market.n_days, order.intervals) and lots.dtype.kind == "i"
        assert (lots >= 0).all() and (lots.sum(axis=1) <= order.lots).all()  # the forced order takes the rest


def test_the_filter_finds_the_latent_deviation():
    source = SyntheticSource(seed=7, planted_strength=PLANTED_STRENGTH)
    market = from_bars(source.fetch("RELIANCE", HISTORY_START, WINDOW[1]).bars, ORDER, first_day=WINDOW[0])
    latent = source.planted_deviation("RELIANCE", WINDOW[0], WINDOW[1])
    truth = latent["deviation"].to_numpy().reshape(-1, 375)
    _, d_hat = filter_deviation(market, PlantedComponent(PLANTED_STRENGTH), 120)
    minutes = slice(15, 115)
    x, y = d_hat[:, minutes].ravel(), truth[:, minutes].ravel()
    corr = np.corrcoef(x, y)[0, 1]
    # d moves slowly: about one independent value per 2 half-lives (20 minutes) of each day
    effective = market.n_days * (115 - 15) / 20
    assert corr > 4 / math.sqrt(effective)
    _, flat = filter_deviation(market, PlantedComponent(0.0), 120)
    assert not flat.any()  # knowing there is nothing, it sees nothing


def _edge(markets: list[MarketData], strength: float) -> dict[str, tuple[float, float, float]]:
    result = run_backtest(markets, ORDER, [(INFORMED_NAME, informed_strategy(strength))], n_resamples=2000)
    rows = result.summary[(result.summary["symbol"] == "ALL") & (result.summary["strategy"] == INFORMED_NAME)]
    return {
        r.fill: (r.advantage_mean_bps, r.advantage_ci95_low_bps, r.advantage_ci95_high_bps) for r in rows.itertuples()
    }


def test_informed_beats_twap_on_the_planted_market_and_not_on_a_martingale(planted, martingale):
    edge, none = _edge(planted, PLANTED_STRENGTH), _edge(martingale, 0.0)
    for fill in ("seed", "impact"):
        mean, low, _ = edge[fill]
        assert low > 0, (fill, edge[fill])  # CI above zero
        assert abs(none[fill][0]) < 0.1 * mean, (fill, none[fill])  # knowing nothing is worth (almost) nothing
    for market in martingale:  # a flat forecast under the seed fill: every schedule costs the same -> twap_seed
        np.testing.assert_array_equal(informed_strategy(0.0)(market, ORDER, "seed"), twap_seed(market, ORDER))


def test_the_tracking_benchmark_and_aversion_shape_the_plan(martingale):
    market = martingale[0].subset(slice(0, 20))
    even = informed_strategy(0.0, benchmark=twap_even)(market, ORDER, "seed")
    np.testing.assert_array_equal(even, twap_even(market, ORDER))
    planted_market = _markets(PLANTED_STRENGTH)[0].subset(slice(0, 60))
    loose = informed_strategy(PLANTED_STRENGTH, tracking_aversion=0.0)(planted_market, ORDER, "seed")
    tight = informed_strategy(PLANTED_STRENGTH, tracking_aversion=10.0)(planted_market, ORDER, "seed")
    twap = twap_seed(planted_market, ORDER)
    assert np.abs(tight - twap).sum() < np.abs(loose - twap).sum()


def test_informed_resolves_by_name_with_the_configured_or_given_parameters(planted):
    resolvers = informed_resolvers(PLANTED_STRENGTH, 10.0)
    market = planted[0].subset(slice(0, 10))
    configured = resolve_strategy("informed", resolvers)(market, ORDER, "impact")
    np.testing.assert_array_equal(configured, informed_strategy(PLANTED_STRENGTH)(market, ORDER, "impact"))
    other = resolve_strategy("informed:1.5:5", resolvers)(market, ORDER, "impact")
    np.testing.assert_array_equal(other, informed_strategy(1.5, 5.0)(market, ORDER, "impact"))
    for bad in ("informed:strong", "informed:1:2:3", "informed:-1", "informed:nan"):
        with pytest.raises((KeyError, ValueError)):
            resolve_strategy(bad, resolvers)
    with pytest.raises(KeyError):
        resolve_strategy("informed")  # no resolver, no name


def test_backtest_command_runs_informed(conn, capsys):
    import json

    from execution.cli import main

    window = ["--symbols", "RELIANCE", "--start", "2020-01-01", "--end", "2020-02-28"]
    assert main(["ingest", "--source", "synthetic", "--planted-strength", "3", "--no-progress", *window]) == 0
    capsys.readouterr()
    assert main(["backtest", "--strategies", "twap_seed,informed:3", "--fill", "impact", "--json", *window]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert {row["strategy"] for row in summary} == {"twap_seed", "informed:3"}
