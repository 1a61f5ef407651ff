"""One settings object for the whole service.

Values come, in increasing priority, from the defaults below, an optional TOML file
(``$EXEC_CONFIG``, else ``$EXEC_HOME/config.toml`` when it exists) and environment variables:

=====================  =============================================  =========================
variable               meaning                                        default
=====================  =============================================  =========================
``EXEC_HOME``          data folder (embedded database, models,        ``./.exec``
                       reports)
``EXEC_DATABASE_URL``  PostgreSQL URL; unset -> embedded pgserver     unset
``EXEC_SYMBOLS``       comma-separated symbols                        ``RELIANCE,SAIL``
``EXEC_SAMPLES_DIR``   real NSE 1-minute samples                      ``../shared/data/nse-1m``
``EXEC_SOURCE``        default bar source of the daily DAG            ``synthetic``
``EXEC_SYNTHETIC_PLANTED_STRENGTH``  the synthetic source's planted    ``0``
                       component (1-minute sds; 0 = none)
``EXEC_SYNTHETIC_PLANTED_HALF_LIFE_MIN``  its half-life (minutes)     ``10``
``EXEC_CONFIG``        TOML file with any of the sections below       unset
=====================  =============================================  =========================

The TOML file may hold top-level ``symbols``, ``source``, ``samples_dir`` and the tables
``[order]`` (fields of :class:`OrderParams`), ``[windows]`` (``train_start``, ``train_end``,
``validation_start``, ... as ISO dates), ``[promotion]`` (fields of :class:`PromotionRule`) and
``[synthetic]`` (fields of :class:`SyntheticParams`; the environment variables above win) and
``[execution]`` (fields of :class:`ExecutionParams`: intraday broker, paper fill model, Kite orders).
The file is read once, by :func:`load_settings`; everything else takes the :class:`Settings`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

DEFAULT_SYMBOLS: tuple[str, ...] = ("RELIANCE", "SAIL")


@dataclass(frozen=True)
class OrderParams:
    """The parent order and the seed's MDP constants (SPEC section 3)."""

    quantity: int = 10_000  # V, units to buy or sell
    horizon_min: int = 100  # T, minutes
    intervals: int = 50  # N, decisions; tau = T / N minutes
    lot_size: int = 500  # m, shares per lot
    start_time: str = "09:30"  # exchange time of the first decision
    n_history: int = 15  # minutes of closes in the state
    beta_impact: float = -100.0  # impact penalty on (fraction of V executed)^2
    beta_timestep: float = 0.1  # reward for every interval survived
    side: str = "buy"  # "buy" or "sell"

    @property
    def lots(self) -> int:
        """Number of whole lots in the parent order (V / m)."""
        return self.quantity // self.lot_size

    @property
    def interval_min(self) -> int:
        """tau, the minutes between two decisions."""
        return self.horizon_min // self.intervals

    def __post_init__(self) -> None:
        if self.quantity % self.lot_size:
            raise ValueError(f"quantity {self.quantity} is not a whole number of lots of {self.lot_size}")
        if self.horizon_min % self.intervals:
            raise ValueError(
                f"horizon {self.horizon_min} min does not split into {self.intervals} whole-minute intervals"
            )
        if self.side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', not {self.side!r}")


@dataclass(frozen=True)
class Windows:
    """Date windows of the seed experiment: train 2018-2019, validate, test 2020."""

    train_start: date = date(2018, 1, 1)
    train_end: date = date(2019, 10, 31)
    validation_start: date = date(2019, 11, 1)
    validation_end: date = date(2019, 12, 31)
    test_start: date = date(2020, 1, 1)
    test_end: date = date(2020, 12, 31)


@dataclass(frozen=True)
class PromotionRule:
    """Margins of the promotion rule (bps of the arrival price); see :mod:`execution.models.promotion`."""

    min_advantage_over_champion_bps: float = 0.0
    min_ci_low_over_champion_bps: float = 0.0
    min_advantage_over_twap_bps: float = 0.0
    require_twap_ci: bool = False
    min_validation_days: int = 2
    fill: str | None = "impact"  # the service trades real sizes; None: the challenger's training fill
    n_resamples: int = 2000
    bootstrap_seed: int = 0


@dataclass(frozen=True)
class SyntheticParams:
    """The synthetic source's planted predictable component (:mod:`execution.data.sources.synthetic`)."""

    planted_strength: float = 0.0  # stationary sd of the deviation in 1-minute sds; 0 = a martingale market
    planted_half_life_min: float = 10.0  # minutes for the expected deviation to halve

    def __post_init__(self) -> None:
        if not (self.planted_strength >= 0 and self.planted_half_life_min > 0):  # also refuses NaN
            raise ValueError(
                f"[synthetic] planted_strength must be >= 0 and planted_half_life_min > 0, not "
                f"{self.planted_strength} and {self.planted_half_life_min}"
            )


@dataclass(frozen=True)
class ExecutionParams:
    """Intraday execution (``[execution]``, :mod:`execution.trading.executor`): broker, fills, Kite orders."""

    broker: str = "paper"  # paper (default) or kite (refused unless EXEC_LIVE_TRADING=1 and credentials)
    fill: str = "impact"  # the paper broker's fill model: seed or impact (execution/sim/fills.py)
    order_type: str = "MARKET"  # kite: MARKET or LIMIT
    limit_offset_bps: float = 10.0  # kite LIMIT: last close + (buy) / - (sell) this many bps, on the tick
    product: str = "MIS"  # kite product: MIS (intraday) or CNC
    poll_seconds: float = 5.0  # how often a late bar or an open broker order is looked at again
    bar_grace_seconds: float = 30.0  # how long a decision waits for a late bar before filling the hole

    def __post_init__(self) -> None:
        if self.broker not in ("paper", "kite"):
            raise ValueError(f"[execution] broker must be 'paper' or 'kite', not {self.broker!r}")
        if self.fill not in ("seed", "impact"):
            raise ValueError(f"[execution] fill must be 'seed' or 'impact', not {self.fill!r}")
        if self.order_type not in ("MARKET", "LIMIT"):
            raise ValueError(f"[execution] order_type must be 'MARKET' or 'LIMIT', not {self.order_type!r}")
        if not (self.poll_seconds > 0 and self.bar_grace_seconds >= 0 and self.limit_offset_bps >= 0):
            raise ValueError("[execution] poll_seconds must be > 0, bar_grace_seconds and limit_offset_bps >= 0")


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the service, resolved once per process."""

    home: Path = Path(".exec")
    database_url: str | None = None
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    samples_dir: Path = Path("../shared/data/nse-1m")
    source: str = "synthetic"
    order: OrderParams = field(default_factory=OrderParams)
    windows: Windows = field(default_factory=Windows)
    promotion: PromotionRule = field(default_factory=PromotionRule)
    synthetic: SyntheticParams = field(default_factory=SyntheticParams)
    execution: ExecutionParams = field(default_factory=ExecutionParams)

    @property
    def pg_dir(self) -> Path:
        """Data folder of the embedded PostgreSQL server."""
        return self.home / "pg"

    @property
    def models_dir(self) -> Path:
        """Where trained policy artifacts are written."""
        return self.home / "models"

    @property
    def reports_dir(self) -> Path:
        """Where HTML/JSON reports and the Great Expectations Data Docs are written."""
        return self.home / "reports"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def split_symbols(value: str | list[str]) -> tuple[str, ...]:
    """Symbols from ``"RELIANCE, sail"`` or a list: stripped, upper case, empty items dropped."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(s.strip().upper() for s in items if s.strip())


def _dataclass_from(cls: type, table: dict[str, Any], section: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(table) - set(known)
    if unknown:
        raise ValueError(f"unknown keys in [{section}] of the config file: {sorted(unknown)}")
    values = {}
    for name, value in table.items():
        if known[name].type in ("date", date) and isinstance(value, str):
            value = date.fromisoformat(value)
        values[name] = value
    return cls(**values)


def _number(text: str, variable: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{variable} must be a number, not {text!r}") from None


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build the settings from the environment (``os.environ`` by default) and config file."""
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("EXEC_HOME") or ".exec").expanduser().absolute()
    file_values: dict[str, Any] = {}
    config_path = env.get("EXEC_CONFIG") or (home / "config.toml")
    config_path = Path(config_path)
    if env.get("EXEC_CONFIG") and not config_path.is_file():
        raise FileNotFoundError(f"EXEC_CONFIG names {config_path}, which does not exist")
    if config_path.is_file():
        with config_path.open("rb") as fh:
            file_values = tomllib.load(fh)

    order = _dataclass_from(OrderParams, file_values.get("order", {}), "order")
    windows = _dataclass_from(Windows, file_values.get("windows", {}), "windows")
    promotion = _dataclass_from(PromotionRule, file_values.get("promotion", {}), "promotion")
    synthetic_table = dict(file_values.get("synthetic", {}))
    for key, variable in (
        ("planted_strength", "EXEC_SYNTHETIC_PLANTED_STRENGTH"),
        ("planted_half_life_min", "EXEC_SYNTHETIC_PLANTED_HALF_LIFE_MIN"),
    ):
        if env.get(variable):
            synthetic_table[key] = _number(env[variable], variable)
    synthetic = _dataclass_from(SyntheticParams, synthetic_table, "synthetic")
    execution = _dataclass_from(ExecutionParams, file_values.get("execution", {}), "execution")
    symbols = split_symbols(env.get("EXEC_SYMBOLS") or file_values.get("symbols") or list(DEFAULT_SYMBOLS))
    samples = env.get("EXEC_SAMPLES_DIR") or file_values.get("samples_dir") or "../shared/data/nse-1m"
    return Settings(
        home=home,
        database_url=env.get("EXEC_DATABASE_URL") or file_values.get("database_url") or None,
        symbols=symbols,
        samples_dir=Path(samples).expanduser().absolute(),
        source=env.get("EXEC_SOURCE") or file_values.get("source") or "synthetic",
        order=order,
        windows=windows,
        promotion=promotion,
        synthetic=synthetic,
        execution=execution,
    )
