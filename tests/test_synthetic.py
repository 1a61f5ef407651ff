"""The seeded synthetic bar source: calendar, contract invariants, determinism, calibration targets."""

from __future__ import annotations

from datetime import date, time

import numpy as np
import pandas as pd
import pytest

from execution.config import load_settings
from execution.data.sources.synthetic import SyntheticSource, daily_path
from execution.data.ticks import off_tick, tick_size

SEED_START, SEED_END = date(2018, 1, 1), date(2020, 12, 31)
PRICES = ["open", "high", "low", "close"]


@pytest.fixture(scope="module")
def seed_experiment() -> dict[str, pd.DataFrame]:
    """The seed's whole experiment window for both symbols (seed 7)."""
    source = SyntheticSource(seed=7)
    return {symbol: source.fetch(symbol, SEED_START, SEED_END).bars for symbol in ("RELIANCE", "SAIL")}


def _days(bars: pd.DataFrame) -> pd.Series:
    return bars["ts"].dt.date


def _minute_of_session(bars: pd.DataFrame) -> np.ndarray:
    return (bars["ts"].dt.hour * 60 + bars["ts"].dt.minute - (9 * 60 + 15)).to_numpy()


def _by_day(bars: pd.DataFrame, column: str) -> np.ndarray:
    """(days x 375) matrix of ``column``; fails if a day does not have exactly 375 bars."""
    return bars[column].to_numpy().reshape(-1, 375)


def _assert_same_bars(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Byte-identical bars (timestamps compared as UTC instants, plus the same time zone)."""
    assert list(left.columns) == list(right.columns) and len(left) == len(right)
    assert str(left["ts"].dt.tz) == str(right["ts"].dt.tz)
    assert np.array_equal(left["ts"].dt.tz_convert(None).to_numpy(), right["ts"].dt.tz_convert(None).to_numpy())
    for column in ("symbol", "source"):
        assert left[column].tolist() == right[column].tolist()
    for column in [*PRICES, "volume"]:
        assert left[column].to_numpy().tobytes() == right[column].to_numpy().tobytes(), column


def test_one_day_alone_equals_the_same_day_inside_a_long_window(seed_experiment):
    long_window = seed_experiment["SAIL"]
    for day in (date(2018, 3, 5), date(2019, 7, 1), date(2020, 1, 31), date(2020, 12, 31)):
        daily_path.cache_clear()  # nothing cached from the long fetch may help
        alone = SyntheticSource(seed=7).fetch("SAIL", day, day).bars.reset_index(drop=True)
        inside = long_window[_days(long_window) == day].reset_index(drop=True)
        assert len(alone) == 375
        _assert_same_bars(alone, inside)


def test_a_month_equals_the_same_month_inside_a_long_window(seed_experiment):
    month = SyntheticSource(seed=7).fetch("RELIANCE", date(2019, 6, 1), date(2019, 6, 30)).bars
    long_window = seed_experiment["RELIANCE"]
    inside = long_window[(_days(long_window) >= date(2019, 6, 1)) & (_days(long_window) <= date(2019, 6, 30))]
    _assert_same_bars(month.reset_index(drop=True), inside.reset_index(drop=True))


def test_january_2020_has_its_23_weekdays_and_nothing_else():
    bars = SyntheticSource().fetch("RELIANCE", date(2020, 1, 1), date(2020, 1, 31)).bars
    weekdays = {d.date() for d in pd.bdate_range("2020-01-01", "2020-01-31")}  # no NSE holiday that month
    assert len(weekdays) == 23
    assert set(_days(bars)) == weekdays
    assert len(bars) == 23 * 375


@pytest.mark.parametrize("day", [date(2021, 7, 21), date(2020, 1, 4), date(2020, 1, 5)])  # holiday, Sat, Sun
def test_holidays_and_weekends_produce_nothing(day):
    result = SyntheticSource().fetch("SAIL", day, day)
    assert result.bars.empty
    assert result.problems == []


def test_each_day_has_the_375_regular_minutes_in_exchange_time():
    bars = SyntheticSource().fetch("SAIL", date(2020, 1, 31), date(2020, 1, 31)).bars
    assert str(bars["ts"].dt.tz) == "Asia/Kolkata"
    clock = bars["ts"].dt.time
    assert clock.iloc[0] == time(9, 15)
    assert clock.iloc[-1] == time(15, 29)
    assert (bars["ts"].diff().dropna() == pd.Timedelta(minutes=1)).all()
    assert list(bars.columns) == ["symbol", "ts", "open", "high", "low", "close", "volume", "source"]
    assert set(bars["symbol"]) == {"SAIL"}
    assert set(bars["source"]) == {"synthetic"}


@pytest.mark.parametrize("symbol", ["RELIANCE", "SAIL"])
def test_seed_window_bars_satisfy_the_contract(seed_experiment, symbol):
    bars = seed_experiment[symbol]
    assert (bars.groupby(_days(bars)).size() == 375).all()
    assert not bars["ts"].duplicated().any()
    opens, highs, lows, closes, volumes = (bars[col].to_numpy() for col in [*PRICES, "volume"])
    assert (lows > 0).all()
    for prices in (opens, highs, lows, closes):
        assert not off_tick(prices, 0.05).any()  # SPEC section 7: 0.05 INR for every equity before June 2024
    assert (lows <= np.minimum(opens, closes)).all()
    assert (highs >= np.maximum(opens, closes)).all()
    assert (volumes >= 0).all()
    assert (volumes == np.floor(volumes)).all()
    assert (bars.groupby(_days(bars))["volume"].sum() > 0).all()
    day_closes = _by_day(bars, "close")
    assert np.abs(day_closes[:, 1:] / day_closes[:, :-1] - 1).max() < 0.05
    assert ((highs - lows) / lows).max() < 0.05


def test_the_finer_and_banded_ticks_after_2024_are_used():
    source = SyntheticSource()
    sail = source.fetch("SAIL", date(2024, 6, 3), date(2024, 6, 14)).bars
    before, after = sail[_days(sail) < date(2024, 6, 10)], sail[_days(sail) >= date(2024, 6, 10)]
    assert (after["high"] < 250).all(), "SAIL should trade below 250 INR, in the 0.01 band"
    for column in PRICES:
        assert not off_tick(before[column].to_numpy(), 0.05).any()
        assert not off_tick(after[column].to_numpy(), 0.01).any()
    assert off_tick(after["close"].to_numpy(), 0.05).mean() > 0.5  # the finer tick is really in use

    reliance = source.fetch("RELIANCE", date(2025, 3, 1), date(2025, 5, 31)).bars
    days = _days(reliance)
    march_end_close = reliance.loc[days == max(d for d in days if d.month == 3), "close"].iloc[-1]
    april_end_close = reliance.loc[days == max(d for d in days if d.month == 4), "close"].iloc[-1]
    for day, group in reliance.groupby(days):
        if day < date(2025, 4, 15):
            expected = np.array([tick_size(day, p) for p in group["close"]])  # judged on the price itself
        else:
            expected = tick_size(day, march_end_close if day.month == 4 else april_end_close)
        for column in PRICES:
            assert not off_tick(group[column].to_numpy(), expected).any(), (day, column)


def test_levels_on_the_seed_test_day():
    source = SyntheticSource(seed=7)
    reliance = source.fetch("RELIANCE", date(2020, 1, 31), date(2020, 1, 31)).bars
    sail = source.fetch("SAIL", date(2020, 1, 31), date(2020, 1, 31)).bars
    assert reliance["low"].min() > 1300 and reliance["high"].max() < 1500  # "about 1,400 INR"
    assert sail["low"].min() > 45 and sail["high"].max() < 50  # the seed saw 47.1-47.8 in its window
    morning = sail[(sail["ts"].dt.time >= time(9, 30)) & (sail["ts"].dt.time < time(11, 10))]
    assert morning["high"].max() - morning["low"].min() < 2.0


def test_daily_volumes_are_of_the_right_order_in_2020(seed_experiment):
    mean_daily = {}
    for symbol, bars in seed_experiment.items():
        in_2020 = bars[bars["ts"].dt.year == 2020]
        mean_daily[symbol] = in_2020.groupby(_days(in_2020))["volume"].sum().mean()
    assert 6e6 < mean_daily["RELIANCE"] < 15e6  # target 8-12 million shares a day
    assert 15e6 < mean_daily["SAIL"] < 45e6  # target 20-40 million


def test_reliance_bar_range_in_mid_2021_is_a_few_bps():
    bars = SyntheticSource().fetch("RELIANCE", date(2021, 7, 13), date(2021, 8, 13)).bars
    range_bps = ((bars["high"] - bars["low"]) / bars["close"] * 1e4).mean()
    assert 4.0 < range_bps < 9.0  # the real sample of those days: 7.0 bps


@pytest.mark.parametrize("symbol", ["RELIANCE", "SAIL"])
def test_volume_is_u_shaped(seed_experiment, symbol):
    bars = seed_experiment[symbol]
    volume = _by_day(bars, "volume")
    share = volume / volume.sum(axis=1, keepdims=True)
    first_30, last_30, midday = share[:, :30].mean(axis=1), share[:, -30:].mean(axis=1), share[:, 105:285].mean(axis=1)
    assert first_30.mean() > 1.5 * midday.mean()
    assert last_30.mean() > 1.5 * midday.mean()
    assert (first_30 > midday).mean() > 0.9 and (last_30 > midday).mean() > 0.9


def test_another_seed_gives_other_bars_and_the_same_seed_the_same():
    day = date(2020, 1, 31)
    seven = SyntheticSource(seed=7).fetch("SAIL", day, day).bars
    again = SyntheticSource(seed=7).fetch("SAIL", day, day).bars
    eight = SyntheticSource(seed=8).fetch("SAIL", day, day).bars
    _assert_same_bars(seven, again)
    assert not np.array_equal(seven["close"].to_numpy(), eight["close"].to_numpy())
    assert not np.array_equal(seven["volume"].to_numpy(), eight["volume"].to_numpy())


def test_unknown_symbol_gets_a_deterministic_sensible_profile():
    day = date(2020, 1, 30)
    first = SyntheticSource().fetch("ZZTEST", day, day).bars
    second = SyntheticSource().fetch("zztest", day, day).bars
    _assert_same_bars(first, second)
    assert 40 < first["close"].iloc[-1] < 3300  # default anchors: 50-3,000 INR
    assert 5e5 < first["volume"].sum() < 5e7  # default: 1-20 million shares a day
    assert not off_tick(first["close"].to_numpy(), 0.05).any()


def test_negative_seed_is_refused():
    with pytest.raises(ValueError, match="seed"):
        SyntheticSource(seed=-1)


def _real_complete_days(path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame["ts"] = pd.to_datetime(frame["timestamp"])
    minute = _minute_of_session(frame)
    regular = frame[(minute >= 0) & (minute < 375)]
    counts = regular.groupby(_days(regular)).size()
    return regular[_days(regular).isin(counts[counts == 375].index)].sort_values("ts")


def test_calibration_against_the_real_reliance_sample():
    sample = load_settings().samples_dir / "RELIANCE.csv"
    if not sample.is_file():
        pytest.skip(f"real NSE samples not found at {sample} (set EXEC_SAMPLES_DIR)")
    real = _real_complete_days(sample)
    real_days = sorted(set(_days(real)))
    synthetic = SyntheticSource().fetch("RELIANCE", real_days[0], real_days[-1]).bars
    synthetic = synthetic[_days(synthetic).isin(real_days)]
    assert len(synthetic) == len(real)

    def profile(bars: pd.DataFrame) -> np.ndarray:
        volume = _by_day(bars, "volume")
        return (volume / volume.sum(axis=1, keepdims=True)).mean(axis=0).reshape(-1, 15).sum(axis=1)

    def mean_range_bps(bars: pd.DataFrame) -> float:
        return float(((bars["high"] - bars["low"]) / bars["close"]).mean() * 1e4)

    def open_to_midday_vol(bars: pd.DataFrame) -> float:
        returns = np.diff(np.log(_by_day(bars, "close")), axis=1)
        return float(returns[:, :14].std() / returns[:, 105:285].std())

    assert np.corrcoef(profile(real), profile(synthetic))[0, 1] > 0.85
    assert 0.6 < mean_range_bps(synthetic) / mean_range_bps(real) < 1.5
    assert open_to_midday_vol(real) > 1.5 and open_to_midday_vol(synthetic) > 1.5
