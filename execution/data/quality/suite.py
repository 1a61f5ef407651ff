"""The expectation suite for 1-minute NSE bars: every check named, with its severity and bounds.

Three stages, each one Great Expectations suite validated on its own frame (see ``derive``):

``columns`` -- the bars as given (in input order): required columns, column types, no nulls.
``rows``    -- the bars with numbers coerced and derived per-row columns (minute of day, session
               part, tick, on-tick flag, minute-to-minute close move), sorted by (symbol, ts).
``days``    -- one row per (symbol, day) with per-day aggregates (bars, gaps, volume, calendar).

An ``error`` quarantines the (symbol, day); a ``warning`` publishes it and is reported. A measure
with both bounds (e.g. ``bars_per_day``) is two GX expectations under one name, one per severity:
a day far out of bounds fails both and reports the name among its errors and its warnings.

What is allowed (the thresholds below):

- pre-open rows (09:00-09:14) and post-close rows (15:30-15:59) are tolerated: they stay in
  staging and are never published; any other minute (e.g. 03:45, a UTC time read as IST) is an error;
- regular-session bars per day (distinct whole minutes 09:15-15:29): error below 370,
  warning below 375;
- the first bar later than 09:20 or the last earlier than 15:24 is an error (a day fetched
  mid-session, or cut short);
- the longest run of missing minutes between two bars: error above 5, warning above 1;
- the close-to-close move between consecutive regular-session bars, and a bar's own range
  (high - low) / close: error above 20 % (the widest NSE price band), warning above 5 % (the
  narrowest band);
- prices must be multiples of the tick in force that day (``execution.data.ticks``); for the regime
  judged on the previous month-end close, that close comes from ``reference_closes`` or the batch
  itself, else the day's first close is used (recorded in the day's statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from execution.data.quality.verdict import ERROR, WARNING
from execution.data.sources.base import BAR_COLUMNS, PRICE_COLUMNS

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite
    from great_expectations.expectations import Expectation

SUITE_NAME = "nse_bars_1m"
COLUMNS, ROWS, DAYS = "columns", "rows", "days"
STAGES: tuple[str, ...] = (COLUMNS, ROWS, DAYS)

MIN_BARS_ERROR = 370  # fewer regular-session bars than this quarantines the day
FULL_SESSION_BARS = 375  # fewer than this (but >= MIN_BARS_ERROR) is a warning
MAX_LATE_OPEN_MIN = 5  # first bar at most 5 minutes after 09:15
MAX_EARLY_CLOSE_MIN = 5  # last bar at most 5 minutes before 15:29
MAX_GAP_ERROR_MIN = 5  # longest run of missing minutes between two bars: error above
MAX_GAP_WARNING_MIN = 1  # ... warning above
CLOSE_MOVE_ERROR_PCT = 20.0  # widest NSE price band
CLOSE_MOVE_WARNING_PCT = 5.0  # narrowest NSE price band
SESSION_PARTS_ALLOWED: tuple[str, ...] = ("pre_open", "regular", "post_close")
NUMBER_TYPES: tuple[str, ...] = ("float64", "float32", "int64", "int32", "float", "int")
TS_KIND_OK = "datetime_tz"


DESCRIPTIONS: dict[str, str] = {
    "required_columns": "the bar contract's columns are all present",
    "column_types": "prices and volume are numbers, symbol and source text, ts a tz-aware timestamp",
    "no_nulls": "no contract column holds a null",
    "unique_symbol_ts": "one bar per (symbol, ts)",
    "bar_on_whole_minute": "a bar starts on a whole minute (seconds = 0)",
    "bar_in_session_window": "bar starts 09:15-15:29; pre-open 09:00-09:14 and post-close 15:30-15:59 tolerated",
    "prices_positive": "prices are > 0",
    "prices_on_tick": "prices are multiples of the tick in force that day (execution.data.ticks)",
    "high_ge_low": "low <= high",
    "open_within_range": "low <= open <= high",
    "close_within_range": "low <= close <= high",
    "volume_whole_nonnegative": "volume is a whole number >= 0",
    "close_move_within_band": "close-to-close move between consecutive regular bars within the NSE price band",
    "bar_range_within_band": "a bar's range (high - low) / close within the NSE price band",
    "trading_day": "the day is an NSE trading day",
    "bars_per_day": f"regular-session bars: error below {MIN_BARS_ERROR}, warning below {FULL_SESSION_BARS}",
    "session_starts_at_open": f"first regular bar at most {MAX_LATE_OPEN_MIN} min after 09:15",
    "session_ends_at_close": f"last regular bar at most {MAX_EARLY_CLOSE_MIN} min before 15:29",
    "longest_gap": f"missing minutes in a row: error above {MAX_GAP_ERROR_MIN}, warning above {MAX_GAP_WARNING_MIN}",
    "volume_not_all_zero": "the regular session traded some volume",
}


@dataclass(frozen=True)
class ExpectationSpec:
    """One named check: the GX expectation class and its arguments, stage and severity."""

    label: str
    stage: str
    severity: str
    gx_class: str  # class name in great_expectations.expectations
    kwargs: dict[str, Any] = field(default_factory=dict)
    observe: tuple[str, ...] = ()  # columns reported as the observed value (default: the ones read)

    @property
    def column(self) -> str | None:
        """The frame column the expectation reads, if it reads one."""
        return self.kwargs.get("column") or self.kwargs.get("column_A")

    def build(self) -> Expectation:
        """A fresh GX expectation carrying our label, stage and severity."""
        import great_expectations.expectations as gxe

        cls = getattr(gxe, self.gx_class)
        severity = "critical" if self.severity == ERROR else "warning"
        meta = {"label": self.label, "stage": self.stage, "severity": self.severity, "observe": list(self.observe)}
        notes = f"{self.label} ({self.severity}): {DESCRIPTIONS[self.label]}"
        return cls(**self.kwargs, severity=severity, meta=meta, notes=notes, catch_exceptions=True)


def _spec(
    label: str, stage: str, gx_class: str, severity: str = ERROR, observe: tuple[str, ...] = (), **kwargs: Any
) -> ExpectationSpec:
    return ExpectationSpec(label, stage, severity, gx_class, kwargs, observe)


def _column_specs() -> list[ExpectationSpec]:
    specs = [
        _spec(
            "required_columns", COLUMNS, "ExpectTableColumnsToMatchSet", column_set=list(BAR_COLUMNS), exact_match=False
        )
    ]
    for col in (*PRICE_COLUMNS, "volume"):
        specs.append(
            _spec("column_types", COLUMNS, "ExpectColumnValuesToBeInTypeList", column=col, type_list=list(NUMBER_TYPES))
        )
    for col in ("symbol", "source"):
        specs.append(_spec("column_types", COLUMNS, "ExpectColumnValuesToBeInTypeList", column=col, type_list=["str"]))
    specs.append(
        _spec("column_types", COLUMNS, "ExpectColumnValuesToBeInSet", column="ts_kind", value_set=[TS_KIND_OK])
    )
    specs += [_spec("no_nulls", COLUMNS, "ExpectColumnValuesToNotBeNull", column=col) for col in BAR_COLUMNS]
    return specs


def _pair(label: str, column_a: str, column_b: str) -> ExpectationSpec:
    return _spec(
        label,
        ROWS,
        "ExpectColumnPairValuesAToBeGreaterThanB",
        column_A=column_a,
        column_B=column_b,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def _row_specs() -> list[ExpectationSpec]:
    between = "ExpectColumnValuesToBeBetween"
    in_set = "ExpectColumnValuesToBeInSet"
    return [
        _spec("unique_symbol_ts", ROWS, "ExpectCompoundColumnsToBeUnique", column_list=["symbol", "ts"]),
        _spec(
            "bar_on_whole_minute",
            ROWS,
            between,
            observe=("ts",),
            column="seconds_past_minute",
            min_value=0,
            max_value=0,
        ),
        _spec(
            "bar_in_session_window",
            ROWS,
            in_set,
            observe=("ts", "session_part"),
            column="session_part",
            value_set=list(SESSION_PARTS_ALLOWED),
        ),
        *[_spec("prices_positive", ROWS, between, column=c, min_value=0, strict_min=True) for c in PRICE_COLUMNS],
        _spec(
            "prices_on_tick",
            ROWS,
            in_set,
            observe=(*PRICE_COLUMNS, "tick_inr"),
            column="prices_on_tick",
            value_set=[True],
        ),
        _pair("high_ge_low", "high", "low"),
        _pair("open_within_range", "open", "low"),
        _pair("open_within_range", "high", "open"),
        _pair("close_within_range", "close", "low"),
        _pair("close_within_range", "high", "close"),
        _spec("volume_whole_nonnegative", ROWS, between, column="volume", min_value=0),
        _spec(
            "volume_whole_nonnegative", ROWS, in_set, observe=("volume",), column="volume_is_whole", value_set=[True]
        ),
        _spec("close_move_within_band", ROWS, between, column="close_move_pct", max_value=CLOSE_MOVE_ERROR_PCT),
        _spec(
            "close_move_within_band", ROWS, between, WARNING, column="close_move_pct", max_value=CLOSE_MOVE_WARNING_PCT
        ),
        _spec(
            "bar_range_within_band",
            ROWS,
            between,
            observe=PRICE_COLUMNS,
            column="bar_range_pct",
            max_value=CLOSE_MOVE_ERROR_PCT,
        ),
        _spec(
            "bar_range_within_band",
            ROWS,
            between,
            WARNING,
            observe=PRICE_COLUMNS,
            column="bar_range_pct",
            max_value=CLOSE_MOVE_WARNING_PCT,
        ),
    ]


def _day_specs() -> list[ExpectationSpec]:
    between = "ExpectColumnValuesToBeBetween"
    bars = "regular_session_bars"
    return [
        _spec("trading_day", DAYS, "ExpectColumnValuesToBeInSet", column="is_trading_day", value_set=[True]),
        _spec("bars_per_day", DAYS, between, column=bars, min_value=MIN_BARS_ERROR, max_value=FULL_SESSION_BARS),
        _spec(
            "bars_per_day",
            DAYS,
            between,
            WARNING,
            column=bars,
            min_value=FULL_SESSION_BARS,
            max_value=FULL_SESSION_BARS,
        ),
        _spec(
            "session_starts_at_open", DAYS, between, column="late_open_min", min_value=0, max_value=MAX_LATE_OPEN_MIN
        ),
        _spec(
            "session_ends_at_close", DAYS, between, column="early_close_min", min_value=0, max_value=MAX_EARLY_CLOSE_MIN
        ),
        _spec("longest_gap", DAYS, between, column="longest_gap_min", min_value=0, max_value=MAX_GAP_ERROR_MIN),
        _spec(
            "longest_gap", DAYS, between, WARNING, column="longest_gap_min", min_value=0, max_value=MAX_GAP_WARNING_MIN
        ),
        _spec("volume_not_all_zero", DAYS, between, column="regular_volume", min_value=0, strict_min=True),
    ]


def expectation_specs() -> list[ExpectationSpec]:
    """Every check of the suite, stage by stage."""
    return [*_column_specs(), *_row_specs(), *_day_specs()]


def specs_by_stage() -> dict[str, list[ExpectationSpec]]:
    """The checks grouped by the frame they run on."""
    grouped: dict[str, list[ExpectationSpec]] = {stage: [] for stage in STAGES}
    for spec in expectation_specs():
        grouped[spec.stage].append(spec)
    return grouped


def labels() -> list[str]:
    """Every expectation label, in suite order, without repeats."""
    return list(dict.fromkeys(spec.label for spec in expectation_specs()))


def stage_suite_name(suite_name: str, stage: str) -> str:
    """Name of the GX suite of one stage, e.g. ``nse_bars_1m.rows``."""
    return f"{suite_name}.{stage}"


def build_suite(name: str, specs: list[ExpectationSpec]) -> ExpectationSuite:
    """A GX ``ExpectationSuite`` holding fresh expectations built from ``specs`` (not yet in a context)."""
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=[spec.build() for spec in specs])
