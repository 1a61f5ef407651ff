"""Training and validation windows: the rolling rule the weekly DAG and the demo share, and the skip rule."""

from __future__ import annotations

from datetime import date

import pytest

from execution.config import Windows
from execution.models import windows as rule


def test_rolling_windows_as_of_new_year_2020_give_the_seed_validation_window():
    windows = rule.rolling_windows(Windows(), date(2020, 1, 1))
    # the configured validation window is 2019-11-01..2019-12-31: 60 days after its first day
    assert (windows.validation_start, windows.validation_end) == (date(2019, 11, 1), date(2019, 12, 31))
    # two years right before it
    assert (windows.train_start, windows.train_end) == (date(2017, 11, 1), date(2019, 10, 31))
    assert (windows.test_start, windows.test_end) == (date(2020, 1, 1), date(2020, 12, 31))  # untouched


def test_rolling_windows_slide_with_the_run_date():
    windows = rule.rolling_windows(Windows(), date(2020, 3, 1), train_years=1)
    # validation ends on Feb 29 (leap year) and starts 60 days earlier: Dec 31
    assert (windows.validation_start, windows.validation_end) == (date(2019, 12, 31), date(2020, 2, 29))
    assert (windows.train_start, windows.train_end) == (date(2018, 12, 31), date(2019, 12, 30))
    assert rule.years_before(date(2020, 2, 29), 2) == date(2018, 2, 28)


def test_windows_from_params_configured_rolling_and_overrides():
    configured = Windows()
    run_date = date(2020, 1, 1)
    assert rule.resolve_windows(configured, {"window": "configured"}, date(2026, 1, 1)) == configured
    assert rule.resolve_windows(configured, {}, run_date).train_start == date(2017, 11, 1)
    as_of = rule.resolve_windows(configured, {"as_of": "2020-01-01"}, date(2026, 1, 1))
    assert as_of.validation_end == date(2019, 12, 31)
    overridden = rule.resolve_windows(configured, {"as_of": "2020-01-01", "train_start": "2019-01-01"}, run_date)
    assert (overridden.train_start, overridden.train_end) == (date(2019, 1, 1), date(2019, 10, 31))
    with pytest.raises(ValueError, match="empty window"):
        rule.resolve_windows(configured, {"window": "configured", "train_end": "2017-01-01"}, run_date)


def _health(trading: int, quarantined: list[str], missing: list[str]) -> dict:
    return {
        "start": "2020-01-01",
        "end": "2020-03-31",
        "trading_days": trading,
        "published_days": trading - len(quarantined) - len(missing),
        "quarantined_days": len(quarantined),
        "missing_days": len(missing),
        "quarantined": quarantined,
        "missing": missing,
        "unusable_fraction": (len(quarantined) + len(missing)) / trading if trading else 0.0,
    }


def test_skip_rule_allows_up_to_the_threshold_and_names_the_bad_days():
    days = [f"2020-01-{d:02d}" for d in range(1, 10)]
    assert rule.unusable_reason(_health(100, days[:2], days[2:5]), 0.05) is None  # 5 of 100 = 5 %: allowed
    reason = rule.unusable_reason(_health(100, days[:2], days[2:6]), 0.05)  # 6 of 100 = 6 %
    assert "2 quarantined + 4 missing of 100 trading days = 6.0% > 5.0% allowed" in reason
    assert "2020-01-01, 2020-01-02, 2020-01-03, 2020-01-04, 2020-01-05 (+1 more)" in reason
    assert "no trading days" in rule.unusable_reason(_health(0, [], []), 0.05)
