"""Great Expectations validation of 1-minute bars: a clean day passes, each corruption is caught by
its named expectation on its own (symbol, day) only, warnings do not fail a day, the real samples."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import requires_samples, samples_dir

from execution.data.exchange_calendar import is_trading_day
from execution.data.quality import (
    DayVerdict,
    FailedExpectation,
    build_data_docs,
    load_verdicts,
    record_results,
    validate_days,
)

IST = "Asia/Kolkata"
CLEAN_DAY = date(2021, 7, 19)  # Monday, trading day
BAD_DAY = date(2021, 7, 20)  # Tuesday, trading day
ROW = 100  # 09:15 + 100 min = 10:55


def clean_day(symbol: str, day: date, start_price: float = 1000.0, seed: int = 0, tick: float = 0.05) -> pd.DataFrame:
    """375 regular-session bars on the tick: a random walk of at most 2 ticks a minute, whole volumes."""
    rng = np.random.default_rng(seed)
    start = round(start_price / tick)
    close_ticks = start + np.cumsum(rng.integers(-2, 3, 375))
    open_ticks = np.r_[start, close_ticks[:-1]]
    high_ticks = np.maximum(open_ticks, close_ticks) + rng.integers(0, 3, 375)
    low_ticks = np.minimum(open_ticks, close_ticks) - rng.integers(0, 3, 375)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "ts": pd.date_range(datetime.combine(day, time(9, 15)), periods=375, freq="1min", tz=IST),
            "open": np.round(open_ticks * tick, 2),
            "high": np.round(high_ticks * tick, 2),
            "low": np.round(low_ticks * tick, 2),
            "close": np.round(close_ticks * tick, 2),
            "volume": rng.integers(100, 5000, 375).astype(float),
            "source": "test",
        }
    )


def _set(frame: pd.DataFrame, row: int, **values: object) -> pd.DataFrame:
    frame = frame.copy()
    for column, value in values.items():
        if isinstance(value, str) and frame[column].dtype != object:
            frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    return frame


def _extra_row(frame: pd.DataFrame, source_row: int, ts: pd.Timestamp) -> pd.DataFrame:
    extra = frame.iloc[[source_row]].copy()
    extra["ts"] = ts
    return pd.concat([frame, extra], ignore_index=True)


def _at(day: date, hh: int, mm: int, ss: int = 0) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(day, time(hh, mm, ss))).tz_localize(IST)


def _scale_from(frame: pd.DataFrame, row: int, factor: float) -> pd.DataFrame:
    frame = frame.copy()
    for column in ("open", "high", "low", "close"):
        scaled = np.round(np.round(frame[column].to_numpy() * factor / 0.05) * 0.05, 2)
        frame.loc[row:, column] = scaled[row:]
    return frame


def _high_below_low(frame: pd.DataFrame) -> pd.DataFrame:
    price = frame.loc[ROW, "low"]
    return _set(frame, ROW, open=price, close=price, low=price, high=round(price - 0.05, 2))


def _combined(frame: pd.DataFrame) -> pd.DataFrame:
    frame = _set(frame, ROW, high=round(frame.loc[ROW, "high"] + 0.02, 2), volume=-10.0)
    return pd.concat([frame, frame.iloc[[200]]], ignore_index=True)


@dataclass(frozen=True)
class Case:
    """One corrupted (or tolerated) symbol-day and what validation must say about it."""

    name: str
    corrupt: Callable[[pd.DataFrame], pd.DataFrame]
    errors: frozenset[str]
    warnings: frozenset[str] = frozenset()
    day: date = BAD_DAY


CATALOGUE = [
    Case("null_close", lambda f: _set(f, ROW, close=np.nan), frozenset({"no_nulls"})),
    Case(  # a low below zero is also a 100 % bar range
        "negative_price",
        lambda f: _set(f, ROW, low=-1.0),
        frozenset({"prices_positive", "bar_range_within_band"}),
        frozenset({"bar_range_within_band"}),
    ),
    Case(
        "off_tick_price",
        lambda f: _set(f, ROW, high=round(f.loc[ROW, "high"] + 0.02, 2)),
        frozenset({"prices_on_tick"}),
    ),
    Case("high_below_low", _high_below_low, frozenset({"high_ge_low", "open_within_range", "close_within_range"})),
    Case(
        "close_above_high",
        lambda f: _set(f, ROW, close=round(f.loc[ROW, "high"] + 0.05, 2)),
        frozenset({"close_within_range"}),
    ),
    Case("fractional_volume", lambda f: _set(f, ROW, volume=100.5), frozenset({"volume_whole_nonnegative"})),
    Case("negative_volume", lambda f: _set(f, ROW, volume=-100.0), frozenset({"volume_whole_nonnegative"})),
    Case("duplicate_ts", lambda f: pd.concat([f, f.iloc[[ROW]]], ignore_index=True), frozenset({"unique_symbol_ts"})),
    Case("bar_at_0345", lambda f: _extra_row(f, 0, _at(BAD_DAY, 3, 45)), frozenset({"bar_in_session_window"})),
    Case("bar_at_10_00_30", lambda f: _extra_row(f, 45, _at(BAD_DAY, 10, 0, 30)), frozenset({"bar_on_whole_minute"})),
    Case("string_in_price", lambda f: _set(f, ROW, close="2000.1x"), frozenset({"column_types"})),
    # every 5th minute from 09:17 missing: 300 bars, no gap longer than 1 minute
    Case(
        "only_300_bars", lambda f: f[np.arange(375) % 5 != 2], frozenset({"bars_per_day"}), frozenset({"bars_per_day"})
    ),
    Case(
        "starts_mid_session",  # first bar 12:35
        lambda f: f.iloc[200:],
        frozenset({"bars_per_day", "session_starts_at_open"}),
        frozenset({"bars_per_day"}),
    ),
    Case(
        "ten_minute_gap",  # 10:55-11:04 missing
        lambda f: f.drop(index=range(ROW, ROW + 10)),
        frozenset({"bars_per_day", "longest_gap"}),
        frozenset({"bars_per_day", "longest_gap"}),
    ),
    Case(
        "jump_30_percent",
        lambda f: _scale_from(f, 200, 1.3),
        frozenset({"close_move_within_band"}),
        frozenset({"close_move_within_band"}),
    ),
    Case(
        "high_spike_40_percent",
        lambda f: _set(f, ROW, high=round(f.loc[ROW, "high"] * 1.4, 1)),
        frozenset({"bar_range_within_band"}),
        frozenset({"bar_range_within_band"}),
    ),
    Case("all_zero_volume", lambda f: f.assign(volume=0.0), frozenset({"volume_not_all_zero"})),
    Case("holiday_2021_07_21", lambda f: f, frozenset({"trading_day"}), day=date(2021, 7, 21)),
    Case("saturday_2021_07_24", lambda f: f, frozenset({"trading_day"}), day=date(2021, 7, 24)),
    Case("combined", _combined, frozenset({"prices_on_tick", "volume_whole_nonnegative", "unique_symbol_ts"})),
    # tolerated or warned only: the day passes
    Case(
        "pre_open_and_post_close_rows",
        lambda f: _extra_row(_extra_row(f, 0, _at(BAD_DAY, 9, 7)), 374, _at(BAD_DAY, 15, 40)),
        frozenset(),
    ),
    Case(
        "three_minute_gap",
        lambda f: f.drop(index=range(ROW, ROW + 3)),
        frozenset(),
        frozenset({"bars_per_day", "longest_gap"}),
    ),
    Case("jump_7_percent", lambda f: _scale_from(f, 200, 1.07), frozenset(), frozenset({"close_move_within_band"})),
]


def _case_frame(case: Case, index: int) -> pd.DataFrame:
    symbol = f"C{index:02d}"
    bad = clean_day(symbol, case.day, 1000.0 + 10 * index, seed=index)
    bad = case.corrupt(bad)
    return pd.concat([clean_day(symbol, CLEAN_DAY, 1000.0 + 10 * index, seed=100 + index), bad], ignore_index=True)


@pytest.fixture(scope="module")
def catalogue_verdicts() -> dict[tuple[str, date], DayVerdict]:
    """Every case (its own symbol, a clean day beside the corrupted one) plus two clean symbols, validated at once."""
    frames = [_case_frame(case, i) for i, case in enumerate(CATALOGUE)]
    frames += [clean_day(s, d, 500.0, seed=7) for s in ("CLEANA", "CLEANB") for d in (CLEAN_DAY, BAD_DAY)]
    bars = pd.concat(frames, ignore_index=True)
    verdicts = validate_days(bars)
    return {(v.symbol, v.day): v for v in verdicts}


def test_clean_day_passes_with_nothing_to_report() -> None:
    verdicts = validate_days(clean_day("RELIANCE", CLEAN_DAY, 2000.0))
    assert len(verdicts) == 1
    verdict = verdicts[0]
    assert (verdict.symbol, verdict.day, verdict.passed) == ("RELIANCE", CLEAN_DAY, True)
    assert verdict.errors == [] and verdict.warnings == []
    assert verdict.statistics["regular_session_bars"] == 375
    assert verdict.statistics["longest_gap_min"] == 0
    assert verdict.statistics["evaluated_expectations"] >= 30


def test_catalogue_has_one_verdict_per_symbol_day(catalogue_verdicts: dict) -> None:
    assert len(catalogue_verdicts) == 2 * len(CATALOGUE) + 4
    for symbol in ("CLEANA", "CLEANB"):
        for day in (CLEAN_DAY, BAD_DAY):
            assert catalogue_verdicts[(symbol, day)].passed


@pytest.mark.parametrize("index", range(len(CATALOGUE)), ids=[case.name for case in CATALOGUE])
def test_each_corruption_is_caught_by_its_expectation_on_its_day_only(catalogue_verdicts: dict, index: int) -> None:
    case = CATALOGUE[index]
    symbol = f"C{index:02d}"
    verdict = catalogue_verdicts[(symbol, case.day)]
    assert {f.name for f in verdict.errors} == case.errors
    assert {f.name for f in verdict.warnings} == case.warnings
    assert verdict.passed is (not case.errors)
    assert catalogue_verdicts[(symbol, CLEAN_DAY)].passed
    assert catalogue_verdicts[(symbol, CLEAN_DAY)].errors == []
    for failure in [*verdict.errors, *verdict.warnings]:
        assert failure.unexpected_count >= 1
        assert len(failure.sample_rows) <= 5
        json.dumps(failure.to_json())  # JSON-serialisable, as stored


def test_failures_say_where_and_what(catalogue_verdicts: dict) -> None:
    by_name = {case.name: (f"C{i:02d}", case.day) for i, case in enumerate(CATALOGUE)}
    off_tick = catalogue_verdicts[by_name["off_tick_price"]].errors[0]
    assert off_tick.gx_type == "expect_column_values_to_be_in_set"
    assert off_tick.unexpected_count == 1
    assert off_tick.sample_rows[0]["ts"] == "2021-07-20T10:55:00+05:30"

    bars = [f for f in catalogue_verdicts[by_name["only_300_bars"]].errors if f.name == "bars_per_day"]
    assert bars[0].observed_value == 300 and bars[0].severity == "error"

    gap = next(f for f in catalogue_verdicts[by_name["ten_minute_gap"]].errors if f.name == "longest_gap")
    assert gap.observed_value == 10

    late = next(
        f for f in catalogue_verdicts[by_name["starts_mid_session"]].errors if f.name == "session_starts_at_open"
    )
    assert late.observed_value == 200  # 12:35 is 200 minutes after 09:15

    utc_bar = catalogue_verdicts[by_name["bar_at_0345"]].errors[0]
    assert utc_bar.sample_rows[0]["ts"] == "2021-07-20T03:45:00+05:30"

    volumes = {f.column: f.observed_value for f in catalogue_verdicts[by_name["combined"]].errors}
    assert volumes["volume"] == [-10.0]

    tolerated = catalogue_verdicts[by_name["pre_open_and_post_close_rows"]]
    assert (tolerated.statistics["pre_open_rows"], tolerated.statistics["post_close_rows"]) == (1, 1)
    assert tolerated.statistics["regular_session_bars"] == 375


def test_a_missing_column_fails_every_day_and_only_on_that() -> None:
    bars = pd.concat([clean_day("AAA", CLEAN_DAY), clean_day("BBB", BAD_DAY)], ignore_index=True)
    verdicts = validate_days(bars.drop(columns="source"))
    assert len(verdicts) == 2
    for verdict in verdicts:
        assert [f.name for f in verdict.errors] == ["required_columns"]
        assert verdict.errors[0].observed_value["mismatched"]["missing"] == ["source"]


def test_naive_timestamps_are_a_type_error_and_utc_ones_are_converted() -> None:
    bars = clean_day("AAA", CLEAN_DAY)
    naive = validate_days(bars.assign(ts=bars["ts"].dt.tz_localize(None)))
    assert [f.name for f in naive[0].errors] == ["column_types"]
    assert naive[0].errors[0].observed_value == ["datetime_naive"]
    utc = validate_days(bars.assign(ts=bars["ts"].dt.tz_convert("UTC")))
    assert (utc[0].day, utc[0].passed, utc[0].warnings) == (CLEAN_DAY, True, [])


def test_rows_without_symbol_or_ts_column_cannot_be_attributed() -> None:
    with pytest.raises(ValueError, match="'ts'"):
        validate_days(clean_day("AAA", CLEAN_DAY).drop(columns="ts"))


def test_ticks_follow_the_dated_regimes() -> None:
    may_day, april_end = date(2025, 5, 6), date(2025, 4, 30)
    assert is_trading_day(may_day) and is_trading_day(april_end)
    # 1,200 INR on the 0.05 grid: off the 0.10 tick of the 1,000-5,000 band, on the 0.05 tick below 1,000
    assert clean_day("X", may_day, 1200.0, seed=3)["close"].mul(10).round(6).mod(1).ne(0).any()
    bars = pd.concat(
        [
            clean_day("INBATCH", april_end, 900.0, seed=1),  # month-end close ~900 -> 0.05 tick in May
            clean_day("INBATCH", may_day, 1200.0, seed=3),
            clean_day("NOREF", may_day, 1200.0, seed=3),  # falls back on its first close ~1,200 -> 0.10
            clean_day("GIVEN", may_day, 1200.0, seed=3),
            clean_day("CHEAP2024", date(2024, 7, 1), 200.0, seed=4, tick=0.01),  # below 250: 0.01 tick
            clean_day("DEAR2024", date(2024, 7, 1), 300.0, seed=4, tick=0.01),  # above 250: 0.05 tick
        ],
        ignore_index=True,
    )
    verdicts = {(v.symbol, v.day): v for v in validate_days(bars, reference_closes={("GIVEN", april_end): 880.0})}
    assert verdicts[("INBATCH", may_day)].passed
    assert "in batch" in verdicts[("INBATCH", may_day)].statistics["tick_reference"]
    assert [f.name for f in verdicts[("NOREF", may_day)].errors] == ["prices_on_tick"]
    assert verdicts[("NOREF", may_day)].statistics["tick_reference"].startswith("first_close_of_day")
    assert verdicts[("GIVEN", may_day)].passed
    assert verdicts[("GIVEN", may_day)].statistics["tick_inr"] == 0.05
    assert verdicts[("CHEAP2024", date(2024, 7, 1))].passed
    assert [f.name for f in verdicts[("DEAR2024", date(2024, 7, 1))].errors] == ["prices_on_tick"]


def _sample_bars(symbol: str) -> pd.DataFrame:
    raw = pd.read_csv(samples_dir() / f"{symbol}.csv")
    return pd.DataFrame(
        {
            "symbol": raw["symbol"],
            "ts": pd.to_datetime(raw["timestamp"]).dt.tz_localize(IST),
            "open": raw["open"],
            "high": raw["high"],
            "low": raw["low"],
            "close": raw["close"],
            "volume": raw["volume"],
            "source": "nse-sample",
        }
    )


def _complete_days(bars: pd.DataFrame) -> set[date]:
    """Days with all 375 minutes 09:15..15:29 (counted here, independently of the library)."""
    minutes = bars["ts"].dt.hour * 60 + bars["ts"].dt.minute
    regular = bars[(minutes >= 555) & (minutes <= 929)]
    counts = regular.groupby(regular["ts"].dt.date)["ts"].nunique()
    return set(counts[counts == 375].index)


@requires_samples
def test_real_samples_complete_days_pass_and_known_defects_are_named() -> None:
    bars = {s: _sample_bars(s) for s in ("RELIANCE", "SAIL", "INFY")}
    verdicts = {(v.symbol, v.day): v for v in validate_days(pd.concat(bars.values(), ignore_index=True))}
    for symbol in ("RELIANCE", "SAIL"):
        complete = _complete_days(bars[symbol])
        assert len(complete) >= 20
        failing = [verdicts[(symbol, d)].summary() for d in sorted(complete) if not verdicts[(symbol, d)].passed]
        assert failing == []
        assert all(not verdicts[(symbol, d)].warnings for d in complete)
        mid_day_start = verdicts[(symbol, date(2021, 7, 12))]
        assert "session_starts_at_open" in {f.name for f in mid_day_start.errors}
        hole = verdicts[(symbol, date(2021, 7, 23))]
        assert {"bars_per_day", "longest_gap"} <= {f.name for f in hole.errors}
        assert hole.statistics["regular_session_bars"] == 375 - 41
    infy = bars["INFY"]
    on_day = infy[infy["ts"].dt.date == date(2021, 7, 23)]
    prices = on_day[["open", "high", "low", "close"]].to_numpy() * 20  # 0.05 tick
    off_tick_rows = int((np.abs(prices - np.round(prices)) > 1e-6).any(axis=1).sum())
    infy_day = verdicts[("INFY", date(2021, 7, 23))]
    off_tick = next(f for f in infy_day.errors if f.name == "prices_on_tick")
    assert off_tick.unexpected_count == off_tick_rows > 0


def test_record_results_writes_one_row_per_verdict(conn) -> None:
    failure = FailedExpectation("bars_per_day", "expect_column_values_to_be_between", "error", "x", 300, 1, [{"a": 1}])
    warning = FailedExpectation("longest_gap", "expect_column_values_to_be_between", "warning", "y", 3, 1, [])
    verdicts = [
        DayVerdict("AAA", CLEAN_DAY, True, [], [warning], {"bars": 372}),
        DayVerdict("AAA", BAD_DAY, False, [failure], [], {"bars": 300}),
    ]
    record_results(conn, verdicts, run_id=42)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT day, run_id, suite, success, severity_max, statistics->>'bars', failed_expectations"
            " FROM quality_results ORDER BY day"
        )
        rows = cur.fetchall()
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        (CLEAN_DAY, 42, "nse_bars_1m", True, "warning", "372"),
        (BAD_DAY, 42, "nse_bars_1m", False, "error", "300"),
    ]
    assert rows[1][6][0]["name"] == "bars_per_day" and rows[1][6][0]["observed_value"] == 300
    loaded = load_verdicts(conn, symbols=["AAA"], start=BAD_DAY, end=BAD_DAY)
    assert [(v.day, v.passed, v.errors) for v in loaded] == [(BAD_DAY, False, [failure])]


def test_data_docs_render_a_page_per_flagged_day(tmp_path: Path) -> None:
    bars = pd.concat(
        [clean_day("AAA", CLEAN_DAY), clean_day("AAA", BAD_DAY).iloc[:300], clean_day("AAA", date(2021, 7, 22))]
    )
    verdicts = validate_days(bars)
    index = build_data_docs(verdicts, tmp_path / "data-docs", max_passing_pages=1)
    assert index == tmp_path / "data-docs" / "index.html" and index.is_file()
    pages = sorted(p.name for p in (tmp_path / "data-docs" / "validations").rglob("*.html"))
    assert pages == ["AAA-2021-07-20.html", "AAA-2021-07-22.html"]  # the failing day, the latest passing one
    page = next((tmp_path / "data-docs" / "validations").rglob("AAA-2021-07-20.html")).read_text()
    assert "regular_session_bars" in page and "300" in page
