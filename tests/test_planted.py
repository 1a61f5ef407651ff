"""The synthetic source's planted predictable component: off is byte-identical, on is what it says it is.

Tolerances come from the design: the measured quantity is compared with its designed value within
four standard errors, the standard error estimated from the same data (across days), never a
recorded number.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from test_synthetic import PRICES, _assert_same_bars

from execution.commands.ingest import with_planted
from execution.config import load_settings
from execution.data.sources import make_source
from execution.data.sources.synthetic import (
    PLANTED_STRENGTH,
    PlantedComponent,
    SyntheticSource,
    planted_from_label,
    planted_return_moments,
)
from execution.data.ticks import off_tick, tick_size

WINDOW = (date(2020, 1, 1), date(2020, 6, 30))  # ~120 days: enough for the moments, fast to generate
STRENGTH = PLANTED_STRENGTH
STATIONARY_FROM = 60  # minute index from which d is stationary: 1 - phi^(2*61) > 0.9999 at half-life 10
Z = 4.0  # standard errors allowed


def _matrix(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy().reshape(-1, 375)


@pytest.fixture(scope="module")
def reliance() -> dict[str, pd.DataFrame]:
    """Half a year of RELIANCE at strength 0 and at the planted strength (same seed), and the latent series."""
    plain = SyntheticSource(seed=7).fetch("RELIANCE", *WINDOW).bars
    source = SyntheticSource(seed=7, planted_strength=STRENGTH)
    return {
        "plain": plain,
        "planted": source.fetch("RELIANCE", *WINDOW).bars,
        "latent": source.planted_deviation("RELIANCE", *WINDOW),
    }


def test_strength_zero_is_byte_identical_to_the_plain_generator():
    day = date(2020, 1, 31)
    plain = SyntheticSource(seed=7).fetch("SAIL", day, day).bars
    zero = SyntheticSource(seed=7, planted_strength=0.0, planted_half_life_min=3.0).fetch("SAIL", day, day).bars
    _assert_same_bars(plain, zero)
    assert set(zero["source"]) == {"synthetic"}
    latent = SyntheticSource(seed=7).planted_deviation("SAIL", day, day)
    assert len(latent) == 375 and (latent["deviation"] == 0).all() and (latent["sd"] == 0).all()


def test_planted_bars_change_prices_only_and_say_so(reliance):
    plain, planted = reliance["plain"], reliance["planted"]
    assert (plain["ts"] == planted["ts"]).all()
    assert plain["volume"].to_numpy().tobytes() == planted["volume"].to_numpy().tobytes()  # volume: efficient moves
    assert (plain["close"] != planted["close"]).mean() > 0.5
    label = planted["source"].iloc[0]
    assert set(planted["source"]) == {label} and label.startswith("synthetic+planted:")
    assert planted_from_label(label) == PlantedComponent(STRENGTH, 10.0)
    assert planted_from_label("synthetic") == PlantedComponent() and planted_from_label("landing") is None
    # the auctions stay the efficient prices
    assert (_matrix(plain, "open")[:, 0] == _matrix(planted, "open")[:, 0]).all()
    assert (_matrix(plain, "close")[:, -1] == _matrix(planted, "close")[:, -1]).all()


def _expected_ticks(source: SyntheticSource, symbol: str, bars: pd.DataFrame) -> np.ndarray:
    """The tick in force for each close: judged on the price, or from 2025-04-15 on the previous month-end close."""
    days = bars["ts"].dt.date.to_numpy()
    ticks = np.empty(len(bars))
    for i, (day, close) in enumerate(zip(days, bars["close"].to_numpy(), strict=True)):
        if day < date(2025, 4, 15):
            ticks[i] = tick_size(day, close)
        else:
            month_start = day.replace(day=1)
            previous = source.fetch(symbol, date.fromordinal(month_start.toordinal() - 10), month_start).bars
            ticks[i] = tick_size(day, previous["close"].iloc[-1])
    return ticks


LATER_WINDOWS = [(date(2024, 6, 10), date(2024, 6, 14)), (date(2025, 5, 5), date(2025, 5, 6))]  # finer, banded ticks


@pytest.mark.parametrize("window", [WINDOW, *LATER_WINDOWS])
def test_planted_bars_keep_the_data_contract(window):
    source = SyntheticSource(seed=3, planted_strength=2 * STRENGTH)  # stronger than planted: a harder case
    for symbol in ("RELIANCE", "SAIL"):
        bars = source.fetch(symbol, *window).bars
        opens, highs, lows, closes, volumes = (bars[c].to_numpy() for c in [*PRICES, "volume"])
        assert len(bars) % 375 == 0 and len(bars) > 0
        assert (lows > 0).all() and (lows <= np.minimum(opens, closes)).all()
        assert (highs >= np.maximum(opens, closes)).all()
        assert (volumes >= 0).all() and (volumes == np.floor(volumes)).all()
        ticks = _expected_ticks(source, symbol, bars) if window != WINDOW else 0.05
        for prices in (opens, highs, lows, closes):
            assert not off_tick(prices, ticks).any(), (symbol, window)


def test_planted_bars_are_deterministic_per_seed_and_per_day(reliance):
    again = SyntheticSource(seed=7, planted_strength=STRENGTH).fetch("RELIANCE", *WINDOW).bars
    _assert_same_bars(reliance["planted"], again)
    day = date(2020, 3, 16)
    alone = SyntheticSource(seed=7, planted_strength=STRENGTH).fetch("RELIANCE", day, day).bars
    inside = again[again["ts"].dt.date == day].reset_index(drop=True)
    _assert_same_bars(alone, inside)
    other = SyntheticSource(seed=8, planted_strength=STRENGTH).planted_deviation("RELIANCE", day, day)
    mine = SyntheticSource(seed=7, planted_strength=STRENGTH).planted_deviation("RELIANCE", day, day)
    assert not np.allclose(other["deviation"], mine["deviation"])


def test_the_latent_deviation_is_the_designed_ar1(reliance):
    latent = reliance["latent"]
    planted = PlantedComponent(STRENGTH)
    units = _matrix(latent, "deviation")[:, STATIONARY_FROM:-1] / _matrix(latent, "sd")[:, STATIONARY_FROM:-1]
    n_days = units.shape[0]
    # stationary variance 1: the per-day mean of x^2, its standard error across days
    per_day_var = (units**2).mean(axis=1)
    se_var = per_day_var.std(ddof=1) / math.sqrt(n_days)
    assert abs(per_day_var.mean() - 1.0) < Z * se_var
    # AR(1) coefficient phi: least squares on all days, standard error sqrt((1 - phi^2) / n)
    x, y = units[:, :-1].ravel(), units[:, 1:].ravel()
    phi_hat = float(x @ y / (x @ x))
    assert abs(phi_hat - planted.phi) < Z * math.sqrt((1 - planted.phi**2) / x.size)
    # the deviation starts at 0 at the open and the closing price takes it back to 0
    first, last = _matrix(latent, "deviation")[:, 0], _matrix(latent, "deviation")[:, -1]
    assert (last == 0).all() and np.abs(first).max() < 6 * math.sqrt(1 - planted.phi**2) * latent["sd"].max()


def test_observed_returns_gain_the_designed_negative_autocovariance(reliance):
    """Same seed, same efficient path: planted minus plain autocovariance of 1-minute returns = the design."""
    latent = reliance["latent"]
    sigma_day = _matrix(latent, "sd")[:, 0] / STRENGTH
    lags = 10
    added_variance, added_cov = planted_return_moments(PlantedComponent(STRENGTH), lags)
    per_day = {}
    for name in ("plain", "planted"):
        returns = np.diff(np.log(_matrix(reliance[name], "close")), axis=1)[:, STATIONARY_FROM:-1]
        returns = returns / sigma_day[:, None]  # in units of the day's 1-minute sd
        per_day[name] = np.stack(
            [(returns**2).mean(axis=1)] + [(returns[:, k:] * returns[:, :-k]).mean(axis=1) for k in range(1, lags + 1)],
            axis=1,
        )
    difference = per_day["planted"] - per_day["plain"]  # [days, 1 + lags]
    mean, se = difference.mean(axis=0), difference.std(axis=0, ddof=1) / math.sqrt(difference.shape[0])
    assert abs(mean[0] - added_variance) < Z * se[0]
    total, total_se = mean[1:].sum(), difference[:, 1:].sum(axis=1).std(ddof=1) / math.sqrt(difference.shape[0])
    assert total < 0
    assert abs(total - added_cov.sum()) < Z * total_se
    assert abs(mean[1:3].sum() - added_cov[:2].sum()) < Z * difference[:, 1:3].sum(axis=1).std(ddof=1) / math.sqrt(
        difference.shape[0]
    )


def test_planted_return_moments_follow_the_ar1_algebra():
    planted = PlantedComponent(2.0, 5.0)
    variance, cov = planted_return_moments(planted, 400)
    phi = planted.phi
    assert variance == pytest.approx(2 * (1 - phi) * 4.0)
    assert (cov < 0).all() and np.all(np.diff(cov) > 0)  # negative, fading
    assert cov.sum() == pytest.approx(-(1 - phi) * 4.0, rel=1e-6)  # what a minute adds comes back later
    zero_variance, zero_cov = planted_return_moments(PlantedComponent(), 3)
    assert zero_variance == 0 and not zero_cov.any()


@pytest.mark.parametrize(
    "bad", [{"planted_strength": -1.0}, {"planted_half_life_min": 0.0}, {"planted_strength": math.nan}]
)
def test_bad_planted_parameters_are_refused(bad):
    with pytest.raises(ValueError, match="planted"):
        SyntheticSource(**bad)


def test_the_strength_is_configured_once_in_settings(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[synthetic]\nplanted_strength = 1.5\nplanted_half_life_min = 7\n")
    from_file = load_settings({"EXEC_CONFIG": str(config), "EXEC_HOME": str(tmp_path)})
    assert (from_file.synthetic.planted_strength, from_file.synthetic.planted_half_life_min) == (1.5, 7)
    from_env = load_settings(
        {"EXEC_CONFIG": str(config), "EXEC_HOME": str(tmp_path), "EXEC_SYNTHETIC_PLANTED_STRENGTH": "2.5"}
    )
    assert from_env.synthetic.planted_strength == 2.5  # the environment wins
    source = make_source("synthetic", from_env)
    assert source.planted == PlantedComponent(2.5, 7.0) and source.name.startswith("synthetic+planted:strength=2.5,")
    assert make_source("synthetic", load_settings({"EXEC_HOME": str(tmp_path / "empty")})).name == "synthetic"
    overridden = with_planted(from_env, 0.0, None)
    assert make_source("synthetic", overridden).name == "synthetic"
    config.write_text("[synthetic]\nplanted_strenght = 1\n")
    with pytest.raises(ValueError, match=r"\[synthetic\]"):
        load_settings({"EXEC_CONFIG": str(config), "EXEC_HOME": str(tmp_path)})
    with pytest.raises(ValueError, match="EXEC_SYNTHETIC_PLANTED_STRENGTH"):
        load_settings({"EXEC_HOME": str(tmp_path / "empty"), "EXEC_SYNTHETIC_PLANTED_STRENGTH": "strong"})


def test_ingest_records_the_planted_strength_in_the_bars_source(conn, capsys):
    from execution.cli import main
    from execution.report.common import describe_source

    window = ["--symbols", "RELIANCE", "--start", "2020-01-30", "--end", "2020-01-31", "--no-progress"]
    assert main(["ingest", "--source", "synthetic", "--planted-strength", "3", *window]) == 0
    with conn.cursor() as cur:
        cur.execute("SELECT DISTINCT source FROM bars_1m")
        sources = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT source FROM ingest_runs")
        runs = [row[0] for row in cur.fetchall()]
    assert sources == runs == ["synthetic+planted:strength=3,half_life_min=10"]
    assert "planted predictable component" in describe_source(sources[0], {})
    assert "planted" not in describe_source("synthetic", {})
    capsys.readouterr()
    assert main(["ingest", "--source", "landing", "--planted-strength", "3", *window]) == 2
    assert "synthetic source" in capsys.readouterr().err
