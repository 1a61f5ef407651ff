"""Golden digests: behaviour that a refactor must not change.

The digests below were recorded by this file before the Layout move (issue 10) and must stay equal
after it: the synthetic bars of a fixed seed and day, the per-day backtest numbers of the six
baselines over a fixed synthetic window under both fills, and the next-day schedule of the seed
order. Numbers are written with 12 significant digits before hashing, so the digest is about values,
not about how a frame prints. A deliberate change of behaviour updates a digest in the same commit
and says why.
"""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pandas as pd
from test_report import HISTORY, ingested

from execution.config import OrderParams
from execution.data.sources.synthetic import SyntheticSource
from execution.sim.backtest import run_strategies
from execution.sim.baselines import BASELINES
from execution.sim.market import from_bars
from execution.trading.schedules import load_schedules, write_schedules

GOLDEN_SEED = 7
GOLDEN_BARS_DAY = date(2020, 1, 31)
GOLDEN_WINDOW = (date(2019, 12, 2), date(2020, 1, 31))
GOLDEN_PLAN_DAY = date(2020, 2, 3)

BARS_DIGEST = "2381a421c0895e04202127ee2d587b9147f9308078cbb74fa4b680ebef09e888"
BACKTEST_DIGEST = "785b80770af556ff0423f22d61ee8e8fa63025363a0090ef099212a15330d755"
SCHEDULE_DIGEST = "f6618f0c7edd47a8c353f3cd2844ba38e560d65ca8b089ebcef38d53429bd931"


def digest_of(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's values, floats to 12 significant digits, NaN as 'nan'."""
    lines = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float | np.floating):
                cells.append("nan" if not np.isfinite(value) else f"{float(value):.12g}")
            else:
                cells.append(str(value))
        lines.append(",".join(cells))
    text = ",".join(frame.columns) + "\n" + "\n".join(lines)
    return hashlib.sha256(text.encode()).hexdigest()


def test_synthetic_bars_of_a_fixed_seed_and_day_are_unchanged():
    bars = SyntheticSource(seed=GOLDEN_SEED).fetch("RELIANCE", GOLDEN_BARS_DAY, GOLDEN_BARS_DAY).bars
    assert len(bars) == 375
    assert digest_of(bars.assign(ts=bars["ts"].astype(str))) == BARS_DIGEST


def test_baseline_backtest_numbers_are_unchanged():
    order = OrderParams()
    frames = []
    for symbol in ("RELIANCE", "SAIL"):
        bars = SyntheticSource(seed=GOLDEN_SEED).fetch(symbol, date(2019, 10, 1), GOLDEN_WINDOW[1]).bars
        frames.append(from_bars(bars, order, first_day=GOLDEN_WINDOW[0]))
    per_day = run_strategies(frames, order, list(BASELINES), fills=("seed", "impact"))
    assert len(per_day) == 2 * 6 * 2 * frames[0].n_days
    assert digest_of(per_day) == BACKTEST_DIGEST


def test_the_seed_order_schedule_is_unchanged(conn, settings):
    one = settings.with_overrides(symbols=("RELIANCE",))
    ingested(conn, one, ("RELIANCE",), *HISTORY)
    write_schedules(one, GOLDEN_PLAN_DAY)
    rows = load_schedules(conn, GOLDEN_PLAN_DAY)
    table = rows[["symbol", "strategy", "is_primary", "interval", "planned_lots", "planned_qty", "nominal_path"]]
    table = table.assign(planned_time=rows["planned_time"].astype(str))
    assert table["planned_qty"].groupby(table["strategy"]).sum().eq(10_000).all()
    assert digest_of(table) == SCHEDULE_DIGEST
