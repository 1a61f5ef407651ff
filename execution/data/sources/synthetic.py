"""A seeded synthetic 1-minute bar source calibrated to NSE intraday behaviour (offline use).

How the bars of ``(seed, symbol, day)`` are made:

1. **Daily path** (one per ``(seed, symbol)``, cached): over every weekday from :data:`ANCHOR_DAY`
   to :data:`HORIZON_END` (a fixed grid, so neither the window asked for nor a calendar update
   shifts it), a GARCH(1,1) variance regime drives an overnight gap and an open-to-close move; the
   random walk is bent by a Brownian bridge through the symbol's close anchors in
   ``data/symbol_profiles.csv`` (RELIANCE 1,411 INR and SAIL 47.45 INR at the close of 2020-01-31,
   ...), around anchored daily volatilities. Daily volume is an AR(1) log-normal around the
   anchored level, higher on volatile days and in volatile regimes.
2. **Intraday path** (a generator keyed by ``(seed, symbol)`` whose counter starts at the day):
   a bridge from the day's open to its close, :data:`SUBSTEPS_PER_MIN` +-1 steps a minute, scaled
   by the intraday volatility curve fitted to the real samples (a minute at 09:16 ~3.5x a midday
   minute, decaying over the first hour, a bump at 15:00) times a slowly varying "activity" factor
   (intraday volatility clustering). Trades sit at the bid or the ask of a one-tick spread around
   that mid path; a minute's open is its first trade (just after the previous close, so equal to it
   in about a third of bars, as on NSE), high/low its extremes, close its last trade.
3. **Volume**: the day's volume spread over the U-shaped profile fitted to the real samples (the
   09:15 minute ~10x a midday minute, a plateau ~2.5x midday from 15:00 while NSE computes the
   closing price), modulated by the activity factor, the minute's absolute return and noise.
4. **Planted predictable component** (off by default, ``planted_strength=0``): a transient deviation
   ``d`` of the log price around that (efficient, martingale) mid path, an AR(1) per minute -- a
   discretely sampled Ornstein-Uhlenbeck process -- that starts at 0 at the opening auction::

       d_t = phi d_{t-1} + sqrt(1 - phi^2) * strength * sigma_day * eps_t,   d_{-1} = 0,
       phi = 2 ** (-1 / half_life_min),   eps_t ~ N(0, 1) (clipped at +-5)

   so its stationary standard deviation is ``strength * sigma_day``, ``sigma_day`` being the day's
   root-mean-square 1-minute sd of the efficient mid path: ``strength`` is in units of 1-minute
   volatility, and ``E[d_{t+h} | d_t] = phi^h d_t``. Inside minute ``t`` the deviation moves from
   ``d_{t-1}`` to ``d_t`` in proportion to the variance already elapsed, so a bar's close carries
   exactly ``d_t`` and its open about ``d_{t-1}``; the day's open and close (the auctions) stay the
   efficient prices. ``eps`` comes from its own stream keyed by ``(seed, symbol, day)``: the other
   draws, the volumes (made from the efficient moves) and, at strength 0, every byte are unchanged.
   Observed 1-minute returns then have the autocovariance ``-(strength sigma_day)^2 phi^(k-1) (1 - phi)^2``
   at lag ``k >= 1`` added (:func:`planted_return_autocovariance`).
5. Prices are rounded to the tick in force that day (:mod:`execution.data.ticks`); volume to whole shares.

Bars of a day depend only on ``(seed, symbol, day)``: asking for one day or three years gives the
same bytes for that day. ``bench/calibrate_synthetic.py`` compares the result with the real samples.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from execution.data.exchange_calendar import BARS_PER_SESSION, EXCHANGE_TZ_NAME, trading_days
from execution.data.sources.base import BAR_COLUMNS, BarSource, FetchResult
from execution.data.ticks import PREV_MONTH_END_CLOSE, PRICE, regime_on, round_to_tick

SOURCE_NAME = "synthetic"
#: First and last weekday of the fixed daily grid. Days outside produce no bars.
ANCHOR_DAY = date(2010, 1, 1)
HORIZON_END = date(2040, 12, 31)

# --- daily regime (GARCH(1,1) on the normalised variance; persistence alpha + beta = 0.98) ---
GARCH_ALPHA = 0.08
GARCH_BETA = 0.90
MAX_VARIANCE_MULTIPLE = 6.0  # cap of the regime variance relative to the anchored level
MAX_DAILY_VOL = 0.08  # cap of one day's standard deviation (log units)
GAP_VARIANCE_SHARE = 0.2  # overnight share of daily variance (real samples: 11-40 %, RELIANCE 22 %)
SHOCK_CLIP = 5.0  # standard normal draws are clipped to +-5 sd
# --- daily volume ---
VOLUME_AR = 0.7  # day-to-day persistence of log volume
VOLUME_LOG_SD = 0.35  # stationary sd of log daily volume around its anchored level
VOLUME_SHOCK_BETA = 0.3  # log-volume response to the day's |standardised return|
VOLUME_REGIME_BETA = 0.5  # log-volume response to log(regime variance multiple) / 2

# --- intraday shape, fitted to the four real samples (2021, 101 complete days) ---
SUBSTEPS_PER_MIN = 20  # trades sampled per minute (open = first, close = last, high/low = extremes);
# 20 samples make E[range] / sd(1-min return) ~1.35, as in the real samples (continuous paths: 1.6)
OPEN_STEP_VARIANCE_SHARE = 0.004  # the first trade of a minute follows the previous close closely:
# with the one-tick bid/ask bounce this gives open == previous close in ~30-45 % of bars, as observed
ACTIVITY_KERNEL_MIN = 30  # length of the moving-average kernel of the activity factor
ACTIVITY_DECAY_MIN = 10.0  # e-folding time of that kernel (intraday volatility clustering)
ACTIVITY_VOL_BETA = 0.4  # log minute-sd per unit of activity
ACTIVITY_VOLUME_BETA = 0.35  # log minute-volume per unit of activity
VOLUME_RETURN_BETA = 0.3  # log minute-volume per unit of |standardised minute return|
VOLUME_NOISE_SD = 0.45  # idiosyncratic log-normal noise of minute volume
MAX_MINUTE_VOL = 0.004  # cap of a minute's standard deviation (log units): keeps moves far below 5 %
# relative volume per minute t = 0..374: base + a1 e^{-t/t1} + a2 e^{-t/t2} + ramp to 15:00, plateau after
VOLUME_SHAPE = {"base": 0.72, "a1": 4.77, "t1": 1.61, "a2": 1.63, "t2": 27.4, "ramp": 0.32, "t3": 43.0, "plateau": 1.2}
# relative minute sd: 1 + a1 e^{-t/t1} + a2 e^{-t/t2} + a spike decaying from 15:00
VOLATILITY_SHAPE = {"a1": 2.48, "t1": 1.82, "a2": 1.27, "t2": 26.8, "spike": 1.13, "ts": 1.76}
CLOSE_AUCTION_MIN = 345  # minute index of 15:00, start of NSE's closing-price window

# --- planted predictable component (section 4 above) ---
PLANTED_STRENGTH = 3.0  # the planted market's strength (stationary sd of d in 1-minute sds); 0 = off
PLANTED_HALF_LIFE_MIN = 10.0  # half-life of the deviation, minutes

CHUNK_DAYS = 32  # days generated together (bounded memory; the result does not depend on it)
_STREAM_DAILY, _STREAM_INTRADAY, _STREAM_PLANTED = 0, 1, 2
_UTC_OFFSET_S = 5 * 3600 + 30 * 60  # Asia/Kolkata is UTC+05:30 all year
_SESSION_OPEN_S = 9 * 3600 + 15 * 60


@dataclass(frozen=True)
class SymbolProfile:
    """Anchors of one symbol: pinned closes, target daily volatility, typical daily volume."""

    symbol: str
    close_anchors: tuple[tuple[date, float], ...]
    daily_vol_anchors_bps: tuple[tuple[date, float], ...]
    volume_anchors: tuple[tuple[date, float], ...]


@dataclass(frozen=True)
class PlantedComponent:
    """Parameters of the planted deviation (module docstring, section 4); strength 0 switches it off."""

    strength: float = 0.0  # stationary sd of the deviation, in units of the day's 1-minute sd
    half_life_min: float = PLANTED_HALF_LIFE_MIN  # minutes for E[d] to halve

    def __post_init__(self) -> None:
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise ValueError(f"planted strength must be a finite number >= 0, not {self.strength}")
        if not (math.isfinite(self.half_life_min) and self.half_life_min > 0):
            raise ValueError(f"planted half-life must be a finite number of minutes > 0, not {self.half_life_min}")

    @property
    def phi(self) -> float:
        """Per-minute AR(1) coefficient ``2 ** (-1 / half_life_min)``."""
        return 2.0 ** (-1.0 / self.half_life_min)

    @property
    def active(self) -> bool:
        """Whether the component is there at all (strength > 0)."""
        return self.strength > 0

    @property
    def label(self) -> str:
        """The bars' ``source``: ``synthetic``, or ``synthetic+planted:strength=S,half_life_min=H``."""
        if not self.active:
            return SOURCE_NAME
        return f"{SOURCE_NAME}+planted:strength={self.strength:g},half_life_min={self.half_life_min:g}"


_LABEL = re.compile(rf"^{SOURCE_NAME}\+planted:strength=([0-9.eE+-]+),half_life_min=([0-9.eE+-]+)$")
INTRADAY_MARTINGALE_SUFFIX = "+intraday-martingale"


def planted_from_label(source: str) -> PlantedComponent | None:
    """The planted component a bars' ``source`` label names (strength 0 for ``synthetic``); None if not synthetic."""
    source = source.removesuffix(INTRADAY_MARTINGALE_SUFFIX)
    if source == SOURCE_NAME:
        return PlantedComponent()
    match = _LABEL.match(source)
    return PlantedComponent(float(match[1]), float(match[2])) if match else None


def planted_return_moments(planted: PlantedComponent, max_lag: int) -> tuple[float, np.ndarray]:
    """What the deviation adds to 1-minute log returns, in units of the day's 1-minute variance.

    ``(variance, autocovariance at lags 1..max_lag)``: with ``sd = strength`` (stationary, in
    1-minute sds), ``Var(d_t - d_{t-1}) = 2 (1 - phi) sd^2`` and
    ``Cov(d_t - d_{t-1}, d_{t-k} - d_{t-k-1}) = -sd^2 phi^(k-1) (1 - phi)^2`` -- negative at every
    lag, summing to ``-(1 - phi) sd^2``: what the deviation adds to a minute comes back later.
    """
    phi, variance = planted.phi, planted.strength**2
    lags = np.arange(1, max_lag + 1)
    return 2.0 * (1.0 - phi) * variance, -variance * phi ** (lags - 1) * (1.0 - phi) ** 2


@lru_cache(maxsize=1)
def load_profiles() -> dict[str, SymbolProfile]:
    """The calibrated profiles of ``data/symbol_profiles.csv``, by upper-case symbol."""
    text = resources.files("execution").joinpath("data/symbol_profiles.csv").read_text()
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    anchors: dict[str, dict[str, list[tuple[date, float]]]] = {}
    for row in csv.DictReader(rows):
        per_symbol = anchors.setdefault(row["symbol"].strip().upper(), {"close": [], "vol": [], "volume": []})
        day = date.fromisoformat(row["date"])
        for key, column in (("close", "close_inr"), ("vol", "daily_vol_bps"), ("volume", "volume_shares")):
            if row[column].strip():
                per_symbol[key].append((day, float(row[column])))
    return {
        symbol: SymbolProfile(symbol, tuple(sorted(a["close"])), tuple(sorted(a["vol"])), tuple(sorted(a["volume"])))
        for symbol, a in anchors.items()
    }


def symbol_key(symbol: str) -> int:
    """A stable 64-bit integer for ``symbol`` (SHA-256 based; Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(symbol.strip().upper().encode()).digest()[:8], "little")


def profile_for(symbol: str) -> SymbolProfile:
    """The calibrated profile of ``symbol``, or a deterministic default derived from its name.

    The default: one anchor on 2020-01-30 with a close log-uniform in 50-3,000 INR, a daily
    volatility of 150-300 bps and 1-20 million shares a day, all fixed by the symbol's hash.
    """
    name = symbol.strip().upper()
    known = load_profiles().get(name)
    if known is not None:
        return known
    digest = hashlib.sha256(b"profile:" + name.encode()).digest()
    u_price, u_vol, u_volume = (int.from_bytes(digest[i : i + 4], "little") / 2**32 for i in (0, 4, 8))
    anchor_day = date(2020, 1, 30)
    close_inr = round(float(np.exp(np.log(50.0) + u_price * np.log(3000.0 / 50.0))), 2)
    volume = round(float(np.exp(np.log(1e6) + u_volume * np.log(20.0))))
    return SymbolProfile(
        name, ((anchor_day, close_inr),), ((anchor_day, 150.0 + 150.0 * u_vol),), ((anchor_day, float(volume)),)
    )


def weekday_ordinal(day: date) -> int:
    """Index of ``day`` on the fixed weekday grid starting at :data:`ANCHOR_DAY`."""
    return int(np.busday_count(ANCHOR_DAY, day))


@lru_cache(maxsize=1)
def _grid_size() -> int:
    return weekday_ordinal(HORIZON_END + timedelta(days=1))


def _interpolate(anchors: tuple[tuple[date, float], ...], size: int, log: bool) -> np.ndarray:
    """Anchor values interpolated over the weekday grid (held flat outside the anchors)."""
    index = np.array([weekday_ordinal(day) for day, _ in anchors], dtype=float)
    values = np.array([value for _, value in anchors], dtype=float)
    grid = np.arange(size, dtype=float)
    if log:
        return np.exp(np.interp(grid, index, np.log(values)))
    return np.interp(grid, index, values)


@dataclass
class DailyPath:
    """The daily skeleton of one ``(seed, symbol)`` over the whole weekday grid."""

    open_inr: np.ndarray
    close_inr: np.ndarray
    intraday_sd: np.ndarray  # sd of the open-to-close log move the intraday path spreads out
    volume_shares: np.ndarray  # target shares traded that day
    month_end_closes: dict[tuple[int, int], float] = field(default_factory=dict)  # memo of tick references


@lru_cache(maxsize=32)
def daily_path(seed: int, symbol: str, intraday_martingale: bool = False) -> DailyPath:
    """Generate (once per process) the daily path of ``symbol`` for ``seed``.

    Two things make the default intraday price drift, and ``intraday_martingale`` removes both (the
    learning benchmark's markets, where the planted component is meant to be the only predictable one):

    * the anchors bend the random walk towards the calibrated price levels, a deterministic trend
      (e.g. SAIL 2020: +0.5 %/day from March); by default most of it falls inside the day, as a drift
      of the intraday bridge; here all of it goes into the overnight gap;
    * the intraday path is a Gaussian bridge in log price (in variance time), so the *price* drifts up
      by half the variance (``E[exp X] > 1``: up to ~0.3 bps a minute in the 2020 crash); here the
      day's open-to-close log move has mean ``-var / 2``, which makes every minute's expected price
      the open's.
    """
    profile = profile_for(symbol)
    size = _grid_size()
    rng = np.random.default_rng(np.random.SeedSequence([seed, symbol_key(symbol), _STREAM_DAILY]))
    shocks = np.clip(rng.standard_normal((size, 3)), -SHOCK_CLIP, SHOCK_CLIP)
    gap_weight, day_weight = np.sqrt(GAP_VARIANCE_SHARE), np.sqrt(1.0 - GAP_VARIANCE_SHARE)
    standardised = gap_weight * shocks[:, 0] + day_weight * shocks[:, 1]

    variance_multiple = np.empty(size)
    log_volume_noise = np.empty(size)
    q, u = 1.0, 0.0
    innovation_sd = VOLUME_LOG_SD * np.sqrt(1.0 - VOLUME_AR**2)
    for i in range(size):  # the recursion is sequential; 8k steps take a few milliseconds
        variance_multiple[i] = q
        u = VOLUME_AR * u + innovation_sd * shocks[i, 2]
        log_volume_noise[i] = u
        q = (1.0 - GARCH_ALPHA - GARCH_BETA) + GARCH_ALPHA * standardised[i] ** 2 + GARCH_BETA * q
        q = min(q, MAX_VARIANCE_MULTIPLE)

    target_vol = _interpolate(profile.daily_vol_anchors_bps, size, log=True) / 1e4
    day_sd = np.minimum(target_vol * np.sqrt(variance_multiple), MAX_DAILY_VOL)
    gap = day_sd * gap_weight * shocks[:, 0]
    move = day_sd * day_weight * shocks[:, 1]
    if intraday_martingale:
        move = move - 0.5 * (day_sd * day_weight) ** 2
    walk_close = np.cumsum(gap + move)
    walk_open = walk_close - move

    pin_index = np.array([weekday_ordinal(day) for day, _ in profile.close_anchors], dtype=float)
    pin_log = np.log([price for _, price in profile.close_anchors])
    bend = np.interp(np.arange(size, dtype=float), pin_index, pin_log - walk_close[pin_index.astype(int)])
    bend_before = np.concatenate([bend[:1], bend[:-1]])
    log_close = walk_close + bend
    bend_at_open = bend if intraday_martingale else bend_before + GAP_VARIANCE_SHARE * (bend - bend_before)
    log_open = walk_open + bend_at_open

    log_volume = (
        np.log(_interpolate(profile.volume_anchors, size, log=True))
        + log_volume_noise
        - VOLUME_LOG_SD**2 / 2
        + VOLUME_SHOCK_BETA * (np.abs(standardised) - np.sqrt(2 / np.pi))
        + VOLUME_REGIME_BETA * 0.5 * np.log(variance_multiple)
    )
    return DailyPath(
        open_inr=np.exp(log_open),
        close_inr=np.exp(log_close),
        intraday_sd=day_sd * day_weight,
        volume_shares=np.exp(log_volume),
    )


@lru_cache(maxsize=1)
def _volume_shape() -> np.ndarray:
    t = np.arange(BARS_PER_SESSION, dtype=float)
    s = VOLUME_SHAPE
    ramp = np.where(t < CLOSE_AUCTION_MIN, s["ramp"] * np.exp(-(CLOSE_AUCTION_MIN - 1 - t) / s["t3"]), s["plateau"])
    shape = s["base"] + s["a1"] * np.exp(-t / s["t1"]) + s["a2"] * np.exp(-t / s["t2"]) + ramp
    return shape / shape.mean()


@lru_cache(maxsize=1)
def _volatility_shape() -> np.ndarray:
    # minute m's return runs from close(m-1) to close(m); the fit was on those returns, m >= 1,
    # and the 09:15 minute (opening auction to first close) is given the m = 1 level.
    t = np.maximum(np.arange(BARS_PER_SESSION, dtype=float), 1.0)
    s = VOLATILITY_SHAPE
    spike = np.where(t >= CLOSE_AUCTION_MIN, s["spike"] * np.exp(-(t - CLOSE_AUCTION_MIN) / s["ts"]), 0.0)
    return 1.0 + s["a1"] * np.exp(-t / s["t1"]) + s["a2"] * np.exp(-t / s["t2"]) + spike


@lru_cache(maxsize=1)
def _activity_kernel() -> np.ndarray:
    kernel = np.exp(-np.arange(ACTIVITY_KERNEL_MIN) / ACTIVITY_DECAY_MIN)
    return kernel / np.sqrt(np.sum(kernel**2))  # unit variance of the filtered noise


def _tick_matrix(days: list[date], prices: np.ndarray, references: list[float | None]) -> np.ndarray:
    """The tick in force for each price of ``prices`` (one row per day of ``days``).

    ``references`` holds, per day, the previous month-end close when that day's regime is judged on
    it (else ``None``); regimes judged on the traded price get a tick per price.
    """
    ticks = np.empty_like(prices)
    for row, (day, reference) in enumerate(zip(days, references, strict=True)):
        regime = regime_on(day)
        if regime.reference == PRICE:
            bands = np.searchsorted(np.asarray(regime.upper_bounds_inr), prices[row], side="right")
            ticks[row] = np.asarray(regime.ticks_inr)[np.minimum(bands, len(regime.ticks_inr) - 1)]
        elif regime.reference == PREV_MONTH_END_CLOSE:
            if reference is None:
                raise ValueError(f"the tick regime of {day} needs the previous month-end close")
            ticks[row] = regime.tick_for(reference)
        else:
            ticks[row] = regime.tick_for(0.0)  # flat: one band
    return ticks


def _round_to_day_ticks(days: list[date], prices: np.ndarray, references: list[float | None]) -> np.ndarray:
    """``prices`` (one row per day) rounded to the tick in force (see :func:`_tick_matrix`)."""
    return round_to_tick(prices, _tick_matrix(days, prices, references))


def _last_trading_day_before_month(day: date) -> date | None:
    first = day.replace(day=1)
    days = trading_days(first - timedelta(days=40), first - timedelta(days=1))
    return days[-1] if days else None


def _tick_reference(path: DailyPath, day: date) -> float | None:
    """The reference price of ``day``'s tick regime, when it is not the traded price itself."""
    if regime_on(day).reference != PREV_MONTH_END_CLOSE:
        return None
    key = (day.year, day.month)
    if key not in path.month_end_closes:
        month_end = _last_trading_day_before_month(day)
        if month_end is None or month_end < ANCHOR_DAY:
            raise ValueError(f"no month-end close before {day} on the synthetic grid")
        close = np.array([[path.close_inr[weekday_ordinal(month_end)]]])
        rounded = _round_to_day_ticks([month_end], close, [_tick_reference(path, month_end)])
        path.month_end_closes[key] = float(rounded[0, 0])
    return path.month_end_closes[key]


def _exclusive_cumsum(values: np.ndarray) -> np.ndarray:
    """Running total along each row, excluding the current element (0 first)."""
    totals = np.zeros_like(values)
    np.cumsum(values[:, :-1], axis=1, out=totals[:, 1:])
    return totals


def _step_fractions() -> np.ndarray:
    """Share of a minute's variance carried by each of its ``SUBSTEPS_PER_MIN`` steps (the first is short)."""
    k = SUBSTEPS_PER_MIN
    fractions = np.full(k, (1.0 - OPEN_STEP_VARIANCE_SHARE) / (k - 1))
    fractions[0] = OPEN_STEP_VARIANCE_SHARE
    return fractions


def _intraday_generator(seed: int, symbol: str, day: date) -> np.random.Generator:
    """The generator of one day: Philox keyed by ``(seed, symbol)``, its counter starting at the day's ordinal.

    Counter-based streams cost no hashing per day and never overlap (2**128 draws apart).
    """
    return np.random.Generator(np.random.Philox(key=_intraday_key(seed, symbol), counter=[0, 0, day.toordinal(), 0]))


@lru_cache(maxsize=64)
def _intraday_key(seed: int, symbol: str) -> int:
    words = np.random.SeedSequence([seed, symbol_key(symbol), _STREAM_INTRADAY]).generate_state(2, np.uint64)
    return int(words[0]) | (int(words[1]) << 64)


def _intraday_draws(seed: int, symbol: str, days: list[date]) -> tuple[np.ndarray, ...]:
    """Random draws of each day, from a generator that depends on ``(seed, symbol, day)`` alone."""
    n_days, n_min, k = len(days), BARS_PER_SESSION, SUBSTEPS_PER_MIN
    activity, volume_noise, open_steps = (np.empty((n_days, n_min)) for _ in range(3))
    bit_bytes = np.empty((n_days, 2 * n_min * k // 8), dtype=np.uint8)
    kernel = _activity_kernel()
    for row, day in enumerate(days):
        rng = _intraday_generator(seed, symbol, day)
        activity[row] = np.convolve(rng.standard_normal(n_min + ACTIVITY_KERNEL_MIN - 1), kernel, mode="valid")
        volume_noise[row] = rng.standard_normal(n_min)
        open_steps[row] = rng.standard_normal(n_min)
        bit_bytes[row] = np.frombuffer(rng.bytes(bit_bytes.shape[1]), dtype=np.uint8)
    signs = np.unpackbits(bit_bytes, axis=1).reshape(n_days, 2, k, n_min) * 2.0 - 1.0
    return activity, volume_noise, np.clip(open_steps, -SHOCK_CLIP, SHOCK_CLIP), signs[:, 0], signs[:, 1]


@lru_cache(maxsize=64)
def _planted_key(seed: int, symbol: str) -> int:
    words = np.random.SeedSequence([seed, symbol_key(symbol), _STREAM_PLANTED]).generate_state(2, np.uint64)
    return int(words[0]) | (int(words[1]) << 64)


def planted_deviation_units(seed: int, symbol: str, days: list[date], phi: float) -> np.ndarray:
    """The unit-variance AR(1) ``x`` of each day (``d = strength * sigma_day * x``), ``[n_days, 375]``.

    Innovations come from a Philox stream keyed by ``(seed, symbol)`` with its counter at the day's
    ordinal, apart from every other draw of the generator; ``x_{-1} = 0`` (the opening auction).
    """
    eps = np.empty((len(days), BARS_PER_SESSION))
    for row, day in enumerate(days):
        rng = np.random.Generator(np.random.Philox(key=_planted_key(seed, symbol), counter=[0, 0, day.toordinal(), 0]))
        eps[row] = rng.standard_normal(BARS_PER_SESSION)
    eps = np.clip(eps, -SHOCK_CLIP, SHOCK_CLIP) * math.sqrt(1.0 - phi**2)
    units = np.empty_like(eps)
    previous = np.zeros(len(days))
    for minute in range(BARS_PER_SESSION):  # a recursion; 375 vector steps per chunk
        previous = phi * previous + eps[:, minute]
        units[:, minute] = previous
    return units


def _planted_path(
    seed: int, symbol: str, days: list[date], minute_var: np.ndarray, planted: PlantedComponent
) -> tuple[np.ndarray, np.ndarray]:
    """The deviation at every sample ``[n_days, SUBSTEPS_PER_MIN, 375]`` and at every close ``[n_days, 375]``.

    Within minute ``t`` it moves from ``d_{t-1}`` to ``d_t`` in proportion to the minute's elapsed variance.
    """
    sigma_day = np.sqrt(minute_var.mean(axis=1, keepdims=True))  # as returned by _chunk_bars
    closes = planted.strength * sigma_day * planted_deviation_units(seed, symbol, days, planted.phi)
    closes[:, -1] = 0.0  # the closing price is the daily path's close: the last minute takes d back to 0
    before = np.concatenate([np.zeros((len(days), 1)), closes[:, :-1]], axis=1)
    elapsed = np.cumsum(_step_fractions())[None, :, None]
    return before[:, None, :] + elapsed * (closes - before)[:, None, :], closes


def _chunk_bars(
    seed: int, symbol: str, path: DailyPath, days: list[date], planted: PlantedComponent | None = None
) -> tuple[np.ndarray, ...]:
    """Open, high, low, close (rounded INR), volume (whole shares), the planted deviation (days x 375) and sigma_day.

    The deviation (log units, at each close) is zeros when ``planted`` is None or inactive; ``sigma_day``
    (days) is the day's root-mean-square 1-minute sd of the efficient mid path. Every operation works
    row by row (element-wise, or cumulative along a day), so a day's bars do
    not depend on the other days of the chunk. Sample arrays are (day, step within minute, minute).
    """
    # a (hypothetical) weekend session would take the next weekday's daily open and close
    ordinals = np.busday_count(ANCHOR_DAY, np.array(days, dtype="datetime64[D]"))
    activity, volume_noise, open_steps, steps, trade_sides = _intraday_draws(seed, symbol, days)

    # mid-price path (log, from the open): a bridge to the close with the fitted, clustered volatility.
    # Steps are +-1 (a binary random walk: cheap, and a minute can never move more than ~4.5 sd),
    # except the short first step of each minute, which is normal (it may well round to no move).
    minute_var = (_volatility_shape() * np.exp(ACTIVITY_VOL_BETA * activity)) ** 2
    minute_var *= (path.intraday_sd[ordinals] ** 2 / np.cumsum(minute_var, axis=1)[:, -1])[:, None]
    minute_var = np.minimum(minute_var, MAX_MINUTE_VOL**2)
    steps[:, 0, :] = open_steps
    fractions = _step_fractions()[None, :, None]
    within_minute = np.cumsum(steps * np.sqrt(fractions * minute_var[:, None, :]), axis=1)
    walk = _exclusive_cumsum(within_minute[:, -1, :])[:, None, :] + within_minute
    budget = _exclusive_cumsum(minute_var)[:, None, :] + np.cumsum(fractions, axis=1) * minute_var[:, None, :]
    open_inr, close_inr = path.open_inr[ordinals], path.close_inr[ordinals]
    miss = walk[:, -1, -1] - (np.log(close_inr) - np.log(open_inr))
    log_mids = walk - budget / budget[:, -1:, -1:] * miss[:, None, None]
    deviation = np.zeros(minute_var.shape)
    observed_mids = log_mids
    if planted is not None and planted.active:  # strength 0 leaves every value untouched
        samples, deviation = _planted_path(seed, symbol, days, minute_var, planted)
        observed_mids = log_mids + samples

    # trades at the bid or the ask of a one-tick spread around the mid (the tick at the day's open)
    references = [_tick_reference(path, day) for day in days]
    half_spread = 0.5 * _tick_matrix(days, open_inr[:, None], references) / open_inr[:, None]
    log_trades = observed_mids + half_spread[:, :, None] * trade_sides
    opens = open_inr[:, None] * np.exp(log_trades[:, 0, :])
    highs = open_inr[:, None] * np.exp(log_trades.max(axis=1))
    lows = open_inr[:, None] * np.exp(log_trades.min(axis=1))
    closes = open_inr[:, None] * np.exp(log_trades[:, -1, :])
    opens[:, 0] = open_inr  # the opening auction
    closes[:, -1] = close_inr  # the daily close, exactly (also the month-end tick reference)
    opens, highs, lows, closes = (_round_to_day_ticks(days, p, references) for p in (opens, highs, lows, closes))
    highs = np.maximum(highs, np.maximum(opens, closes))
    lows = np.minimum(lows, np.minimum(opens, closes))

    minute_moves = np.diff(log_mids[:, -1, :], axis=1, prepend=0.0)  # efficient moves: volume ignores d
    log_weight = (
        np.log(_volume_shape())[None, :]
        + ACTIVITY_VOLUME_BETA * activity
        + VOLUME_RETURN_BETA * (np.abs(minute_moves) / np.sqrt(minute_var) - np.sqrt(2 / np.pi))
        + VOLUME_NOISE_SD * volume_noise
    )
    weight = np.exp(log_weight)
    volumes = np.round(path.volume_shares[ordinals][:, None] * weight / np.cumsum(weight, axis=1)[:, -1:])
    volumes[volumes.sum(axis=1) <= 0, 0] = 1.0  # never a day without trades
    sigma_day = np.sqrt(minute_var.mean(axis=1))  # the day's rms 1-minute sd of the efficient mid path
    return opens, highs, lows, closes, volumes, deviation, sigma_day


def _minute_stamps(days: list[date]) -> pd.DatetimeIndex:
    """Bar-start timestamps (tz-aware, exchange time) of the regular session of ``days``, in order."""
    midnight_s = np.array(days, dtype="datetime64[D]").astype("datetime64[s]").astype(np.int64)
    offsets_s = _SESSION_OPEN_S - _UTC_OFFSET_S + 60 * np.arange(BARS_PER_SESSION, dtype=np.int64)
    utc_s = (midnight_s[:, None] + offsets_s[None, :]).ravel()
    return pd.DatetimeIndex(utc_s.astype("datetime64[s]")).tz_localize("UTC").tz_convert(EXCHANGE_TZ_NAME)


class SyntheticSource(BarSource):
    """Seeded synthetic NSE bars: the 375 regular-session minutes of every trading day asked for.

    ``planted_strength`` (>= 0, in 1-minute sds) and ``planted_half_life_min`` set the planted
    deviation (module docstring, section 4); at strength 0 the bars are those of the plain
    generator, byte for byte. With a planted component the source's ``name`` -- and so the bars'
    ``source`` and the ingest run's -- is :attr:`PlantedComponent.label`.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        seed: int = 7,
        planted_strength: float = 0.0,
        planted_half_life_min: float = PLANTED_HALF_LIFE_MIN,
        intraday_martingale: bool = False,
    ) -> None:
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed}")
        self.seed = int(seed)
        self.planted = PlantedComponent(float(planted_strength), float(planted_half_life_min))
        self.intraday_martingale = bool(intraday_martingale)
        self.name = self.planted.label + (INTRADAY_MARTINGALE_SUFFIX if intraday_martingale else "")

    def _generate(self, symbol: str, start: date, end: date) -> tuple[list[date], list[np.ndarray]]:
        """The trading days of ``start..end`` on the grid and their arrays (see :func:`_chunk_bars`)."""
        days = [d for d in trading_days(start, end) if ANCHOR_DAY <= d <= HORIZON_END]
        if not days:
            return [], []
        path = daily_path(self.seed, symbol, self.intraday_martingale)
        chunks = [
            _chunk_bars(self.seed, symbol, path, days[i : i + CHUNK_DAYS], self.planted)
            for i in range(0, len(days), CHUNK_DAYS)
        ]
        return days, [np.concatenate([c[j] for c in chunks]) for j in range(7)]

    def fetch(self, symbol: str, start: date, end: date) -> FetchResult:
        """Bars of ``symbol`` for every NSE trading day from ``start`` to ``end`` inclusive."""
        symbol = symbol.strip().upper()
        days, arrays = self._generate(symbol, start, end)
        if not days:
            return FetchResult.empty()
        opens, highs, lows, closes, volumes = (a.ravel() for a in arrays[:5])
        n_rows = len(days) * BARS_PER_SESSION
        bars = pd.DataFrame(
            {
                "symbol": pd.Series([symbol] * n_rows, dtype="object"),
                "ts": _minute_stamps(days),
                "open": opens,
                "high": highs,
                "low": lows,
                "close": closes,
                "volume": volumes,
                "source": pd.Series([self.name] * n_rows, dtype="object"),
            },
            columns=list(BAR_COLUMNS),
        )
        return FetchResult(bars)

    def planted_deviation(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """The latent deviation behind :meth:`fetch`'s bars: ``ts``, ``deviation`` and ``sd``, one row per bar.

        ``deviation`` is ``d_t`` in log units at the bar's close (before bid/ask and tick rounding);
        ``sd`` is the day's stationary sd ``strength * sigma_day``. All zeros at strength 0.
        """
        symbol = symbol.strip().upper()
        days, arrays = self._generate(symbol, start, end)
        if not days:
            return pd.DataFrame({"ts": _minute_stamps([]), "deviation": [], "sd": []})
        deviation, sigma_day = arrays[5], arrays[6]
        sd = np.repeat(self.planted.strength * sigma_day, BARS_PER_SESSION)
        return pd.DataFrame({"ts": _minute_stamps(days), "deviation": deviation.ravel(), "sd": sd})
