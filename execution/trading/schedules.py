"""Next-day schedules: for every parent order of a trading day, the planned lots per interval.

For each order of day ``D`` (:mod:`execution.trading.orders`; the configured ones when the day has none)
the plan of the policy that will execute it -- the order's ``strategy_override``, else the
symbol's champion (:mod:`execution.models.champion`; ``twap_seed`` when there is no trained
model) -- is written beside the baselines ``twap_seed``, ``twap_even``, ``vwap``,
``almgren_chriss`` and ``immediate`` (the oracle needs the day's prices in hindsight: it has no
plan). Rows go to the ``schedules`` table (one per order x strategy x interval, the forced
order at the horizon as interval ``N``) and one CSV per order under
``settings.reports_dir/schedules/D/``. Re-running replaces the day's schedules.

**The nominal path.** An RL policy reacts to the market, so its plan is its rollout on an
assumed path of day ``D``: *flat at the last published close before D, with every minute's
volume equal to the trailing average volume of that minute* (the ``lookback_days`` trading
days before D, the same history the simulator's trailing statistics use). On that path the
state's price history is flat (closes / open = 1), so the plan shows how the policy spreads
the order by inventory, time left and the usual intraday volume, without any price signal.
Baselines are computed on the same path (VWAP uses its volume profile, Almgren-Chriss the
trailing volatility). Intraday the policy will deviate as prices move; what the trader can
rely on is its **decision table** (:func:`decision_table`): the lots it sends for every
(inventory left, time left) on a flat, average-volume market.

Every plan is in whole lots, sums to the order's quantity and is done by the horizon: lots
beyond the inventory are cut, and whatever is left after the last decision is the forced
market order at ``start + T`` (interval ``N``), exactly as the simulator executes it.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from execution.config import OrderParams, Settings
from execution.data.exchange_calendar import (
    BARS_PER_SESSION,
    EXCHANGE_TZ,
    EXCHANGE_TZ_NAME,
    previous_trading_day,
    session_minutes,
)
from execution.data.files import replace_folder, write_text
from execution.data.store import load_published
from execution.db import connect
from execution.models.champion import CHAMPION_NAME, PolicyCache, PolicyChoice, model_policy, raise_if_failed
from execution.sim.envelope import adv_shares
from execution.sim.episode import SESSION_OPEN_MINUTE
from execution.sim.fills import IMPACT_ETA, executed_lots
from execution.sim.market import DEFAULT_LOOKBACK_DAYS, MarketData, from_bars, lookback_start
from execution.sim.pace import PaceSpec, pace_intervals_left, pace_states, size_vs_volume
from execution.sim.policy import Policy, policy_schedule
from execution.sim.rewards import DEFAULT_RISK_AVERSION_PER_BPS
from execution.sim.strategies import resolve_strategy
from execution.trading.orders import ParentOrder, check_trading_day, ensure_default_orders

log = logging.getLogger(__name__)

SCHEDULE_BASELINES: tuple[str, ...] = ("twap_seed", "twap_even", "vwap", "almgren_chriss", "immediate")
CHAMPION = CHAMPION_NAME
NOMINAL_VOLUME_RATIO = 1.0  # volume feature of the decision table's states: an average minute
NOMINAL_SOURCE = "nominal"
DECISION_TABLE_ROWS = 40  # inventory levels shown at most (every lot when the order has fewer)


def schedules_dir(settings: Settings, day: date) -> Path:
    """Folder of the schedule CSVs of ``day``."""
    return settings.reports_dir / "schedules" / day.isoformat()


# ---------------------------------------------------------------- the nominal path


@dataclass(frozen=True)
class NominalPath:
    """The assumed market of a day to plan on (see the module docstring)."""

    market: MarketData  # one day: ``day`` itself, trailing statistics from the real history
    description: str
    last_day: date  # last published day before the planned day
    last_close: float  # INR


def nominal_path(
    conn: Any, symbol: str, day: date, order: OrderParams, lookback_days: int = DEFAULT_LOOKBACK_DAYS
) -> NominalPath:
    """Day ``day`` of ``symbol`` as a flat path at the last published close with the trailing volume profile."""
    history_start = lookback_start(day, lookback_days)
    history = load_published(conn, symbol, history_start, previous_trading_day(day))
    if history.empty:
        raise ValueError(
            f"no published bars of {symbol} in the {lookback_days} trading days before {day}: "
            "cannot build the nominal path to plan on (ingest them first)"
        )
    local = history["ts"].dt.tz_convert(EXCHANGE_TZ_NAME)
    minute = (local.dt.hour * 60 + local.dt.minute - SESSION_OPEN_MINUTE).to_numpy()
    in_session = (minute >= 0) & (minute < BARS_PER_SESSION)
    volume = history["volume"].to_numpy(dtype=float)[in_session]
    profile = np.zeros(BARS_PER_SESSION)
    counts = np.bincount(minute[in_session], minlength=profile.size)
    sums = np.bincount(minute[in_session], weights=volume, minlength=profile.size)
    np.divide(sums, counts, out=profile, where=counts > 0)
    last_close = float(history["close"].iloc[-1])
    last_day = local.iloc[-1].date()
    n_days = local.dt.date.nunique()
    flat = pd.DataFrame(
        {
            "symbol": symbol,
            "ts": session_minutes(day),
            "open": last_close,
            "high": last_close,
            "low": last_close,
            "close": last_close,
            "volume": np.rint(profile),
            "source": NOMINAL_SOURCE,
        }
    )
    market = from_bars(pd.concat([history, flat], ignore_index=True), order, first_day=day, lookback_days=lookback_days)
    if market.n_days != 1:
        raise ValueError(f"could not build the nominal path of {symbol} on {day}: {market.dropped_days}")
    description = (
        f"flat at the last published close ₹{last_close:,.2f} ({last_day}) with each minute's volume the mean of "
        f"that minute over the {n_days} published trading days {local.iloc[0].date()}..{last_day}"
    )
    return NominalPath(market, description, last_day, last_close)


# ---------------------------------------------------------------- plans


def slot_lots(lots_per_decision: np.ndarray, order: OrderParams) -> np.ndarray:
    """Executed lots of one day's schedule per interval: ``N + 1`` values, the last the forced order at ``t_N``."""
    lots = np.asarray(lots_per_decision, dtype=np.int64).reshape(1, order.intervals)
    per_step, forced = executed_lots(lots, order.lots)
    return np.concatenate([per_step[0], forced]).astype(np.int64)


def planned_times(day: date, order: OrderParams) -> list[datetime]:
    """Exchange time of each interval's decision, ``N + 1`` values (the last: ``start + T``)."""
    hours, minutes = (int(part) for part in order.start_time.split(":"))
    start = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=EXCHANGE_TZ)
    return [start + timedelta(minutes=k * order.interval_min) for k in range(order.intervals + 1)]


def decision_table(
    policy: Policy,
    order: OrderParams,
    volume_ratio: float = NOMINAL_VOLUME_RATIO,
    mdp: str = "seed",
    size_vs_volume: float = 0.0,
) -> pd.DataFrame:
    """Lots the policy sends by inventory left (rows, ``V/m`` .. 1 lots, 40 levels at most) x time left (columns).

    States are constructed: a flat price history (closes / open = 1; for the pace MDP every price
    feature 0), the current minute's volume ``volume_ratio`` times the trailing average, the
    inventory and the time left of the cell; one batched ``predict(deterministic=True)``. A pace
    action is shown as the lots it plans at that cell (its multiple of the TWAP pace of what is left,
    rounded to whole lots). Lots are cut to the inventory left.
    """
    levels = np.linspace(1, order.lots, min(order.lots, DECISION_TABLE_ROWS))
    inventory = np.unique(np.round(levels).astype(int))[::-1]
    steps_left = np.arange(order.intervals, 0, -1)
    inv, steps = np.meshgrid(inventory, steps_left, indexing="ij")
    if mdp == "pace":
        obs = pace_states(inv.ravel() / order.lots, steps.ravel() / order.intervals, volume_ratio, size_vs_volume)
        actions, _ = policy.predict(obs, deterministic=True)
        multipliers = np.asarray(PaceSpec().multipliers)[np.asarray(actions, dtype=np.int64)]
        k = order.intervals - steps.ravel()
        left = pace_intervals_left(np.full(k.shape, order.lots), np.full(k.shape, order.intervals), k)
        planned = np.floor(multipliers * inv.ravel() / left + 0.5).astype(np.int64)
        lots = np.minimum(planned.reshape(inv.shape), inv)
    else:
        obs = np.ones((inv.size, order.n_history + 3), dtype=np.float32)
        obs[:, order.n_history] = volume_ratio
        obs[:, order.n_history + 1] = inv.ravel() / order.lots
        obs[:, order.n_history + 2] = steps.ravel() / order.intervals
        actions, _ = policy.predict(obs, deterministic=True)
        lots = np.minimum(np.asarray(actions, dtype=np.int64).reshape(inv.shape), inv)
    table = pd.DataFrame(lots, index=pd.Index(inventory, name="inventory_left_lots"))
    table.columns = pd.Index(steps_left * order.interval_min, name="time_left_min")
    return table


@dataclass
class OrderPlan:
    """Every strategy's plan for one parent order."""

    order: ParentOrder
    params: OrderParams
    nominal: NominalPath
    lots: dict[str, np.ndarray]  # strategy -> executed lots per interval, N + 1 values
    primary: str
    model_ids: dict[str, int | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    choice: PolicyChoice | None = None
    decision: pd.DataFrame | None = None  # decision table of the primary policy, if it is a trained model
    csv_path: Path | None = None
    decision_csv_path: Path | None = None

    def times(self) -> list[datetime]:
        """Planned time of each interval."""
        return planned_times(self.order.trading_day, self.params)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON (lots per strategy, times as HH:MM)."""
        return {
            "order": self.order.to_json(),
            "primary": self.primary,
            "model_ids": self.model_ids,
            "notes": self.notes,
            "champion": None if self.choice is None else self.choice.note,
            "nominal_path": self.nominal.description,
            "planned_times": [t.strftime("%H:%M") for t in self.times()],
            "lots": {name: [int(v) for v in lots] for name, lots in self.lots.items()},
            "decision_table": None
            if self.decision is None
            else {
                "inventory_left_lots": [int(v) for v in self.decision.index],
                "time_left_min": [int(v) for v in self.decision.columns],
                "lots": self.decision.to_numpy().tolist(),
            },
            "csv": None if self.csv_path is None else str(self.csv_path),
            "decision_table_csv": None if self.decision_csv_path is None else str(self.decision_csv_path),
        }


def _baseline_lots(name: str, market: MarketData, order: OrderParams) -> np.ndarray:
    strategy = resolve_strategy(name)
    return strategy(market, order, "seed", eta=IMPACT_ETA, risk_aversion=DEFAULT_RISK_AVERSION_PER_BPS)[0]


def _policy_lots(policy: Policy, market: MarketData, order: OrderParams, mdp: str) -> np.ndarray:
    return policy_schedule(policy, market, order, mdp)[0]


def _decision(policy: Policy, market: MarketData, order: OrderParams, mdp: str) -> pd.DataFrame:
    """The policy's decision table on the nominal path of ``market`` (its one day)."""
    return decision_table(policy, order, mdp=mdp, size_vs_volume=float(size_vs_volume(market, order)[0]))


def plan_order(
    conn: Any,
    settings: Settings,
    order: ParentOrder,
    policies: PolicyCache,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> OrderPlan:
    """The champion's (or the override's) plan and the baselines' for one order, on the nominal path."""
    params = order.params(settings.order)
    nominal = nominal_path(conn, order.symbol, order.trading_day, params, lookback_days)
    market = nominal.market
    choice = policies.get(order.symbol, params, adv_shares(market))
    plan = OrderPlan(order, params, nominal, {}, CHAMPION, choice=choice)
    if choice.uses_model:
        plan.lots[CHAMPION] = slot_lots(_policy_lots(choice.policy, market, params, choice.mdp), params)
        plan.decision = _decision(choice.policy, market, params, choice.mdp)
    else:
        plan.lots[CHAMPION] = slot_lots(_baseline_lots("twap_seed", market, params), params)
    plan.model_ids[CHAMPION] = choice.model_id if choice.uses_model else None
    plan.notes[CHAMPION] = choice.note

    override = order.strategy_override
    if override and override != CHAMPION:
        plan.primary = override
        if override.startswith("model:"):
            model_id = int(override.partition(":")[2])
            record, policy = model_policy(conn, settings, model_id, params)
            plan.lots[override] = slot_lots(_policy_lots(policy, market, params, record.mdp), params)
            plan.model_ids[override] = model_id
            plan.notes[override] = f"strategy override: {record.agent} #{model_id}"
            plan.decision = _decision(policy, market, params, record.mdp)
        else:
            try:
                lots = _baseline_lots(override, market, params)
            except KeyError as exc:
                raise ValueError(f"order #{order.id}: {exc.args[0]}") from None
            plan.lots[override] = slot_lots(lots, params)
            plan.notes[override] = "strategy override"
            plan.decision = None
    for name in SCHEDULE_BASELINES:
        if name not in plan.lots:
            plan.lots[name] = slot_lots(_baseline_lots(name, market, params), params)
    for name, lots in plan.lots.items():
        if lots.sum() != params.lots or np.any(lots < 0):
            raise AssertionError(f"plan {name} of order #{order.id} holds {lots.sum()} lots, not {params.lots}")
    return plan


# ---------------------------------------------------------------- writing


def _file_stem(order: ParentOrder) -> str:
    return f"order-{order.id}-{order.symbol}-{order.side}-{order.start_time.replace(':', '')}"


def primary_description(plan: OrderPlan) -> tuple[str, str]:
    """(the strategy the primary plan really is, why): e.g. ``("twap_seed", "no trained model yet — twap_seed")``."""
    if plan.primary != CHAMPION:
        return plan.primary, plan.notes.get(plan.primary) or "strategy override"
    choice = plan.choice
    label = choice.strategy_label if choice is not None else CHAMPION
    return label, plan.notes.get(CHAMPION) or ""


def _csv_columns(plan: OrderPlan) -> list[tuple[str, str]]:
    """(header, strategy key) of the lots columns, the plan to execute first.

    When the champion's plan is in fact ``twap_seed`` (no model, or every model failed to load),
    there is no ``champion_lots`` column: the ``twap_seed_lots`` column is the plan to execute.
    """
    names = [plan.primary, *[n for n in plan.lots if n != plan.primary]]
    champion_is_twap = plan.choice is not None and not plan.choice.uses_model
    if plan.primary == CHAMPION and champion_is_twap:
        names = ["twap_seed", *[n for n in names if n not in (CHAMPION, "twap_seed")]]
    elif champion_is_twap:
        names = [n for n in names if n != CHAMPION]
    return [(f"{name}_lots", name) for name in names]


def schedule_csv_text(plan: OrderPlan) -> str:
    """The CSV of one order's plans: ``#`` lines that say which strategy is executed and why, then
    ``interval, planned_time, time_left_min, forced, <strategy>_lots ...`` (the plan to execute first)."""
    executed, why = primary_description(plan)
    order, params = plan.order, plan.params
    columns = _csv_columns(plan)
    buffer = io.StringIO()
    buffer.write(f"# order {order.describe()}\n")
    buffer.write(f"# plan to execute: {executed} (column {columns[0][0]}){f' — {why}' if why else ''}\n")
    buffer.write(f"# nominal path: {plan.nominal.description}\n")
    buffer.write("# lots per interval of each strategy; interval N is the forced order at the horizon\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["interval", "planned_time", "time_left_min", "forced", *[header for header, _ in columns]])
    n = params.intervals
    for k, when in enumerate(plan.times()):
        lots = [int(plan.lots[name][k]) for _, name in columns]
        writer.writerow([k, when.strftime("%H:%M"), (n - k) * params.interval_min, int(k == n), *lots])
    return buffer.getvalue()


def write_order_csv(plan: OrderPlan, folder: Path) -> Path:
    """Write :func:`schedule_csv_text` of ``plan`` into ``folder``; returns the path."""
    return write_text(folder / f"{_file_stem(plan.order)}.csv", schedule_csv_text(plan))


def decision_csv_path(folder: Path, order: ParentOrder) -> Path:
    """Where the decision table of ``order``'s plan is written in a schedules folder."""
    return folder / f"{_file_stem(order)}-decision-table.csv"


def write_decision_csv(plan: OrderPlan, folder: Path) -> Path | None:
    """The decision table as CSV (rows: inventory left in lots; columns: time left in minutes), if there is one."""
    if plan.decision is None:
        return None
    return write_text(decision_csv_path(folder, plan.order), plan.decision.to_csv())


def read_decision_table(settings: Settings, order: ParentOrder) -> pd.DataFrame | None:
    """The decision table written with ``order``'s schedule (None when its plan has none)."""
    path = decision_csv_path(schedules_dir(settings, order.trading_day), order)
    if not path.is_file():
        return None
    table = pd.read_csv(path, index_col=0)
    table.columns = pd.Index([int(c) for c in table.columns], name="time_left_min")
    table.index.name = "inventory_left_lots"
    return table


def store_plans(conn: Any, day: date, plans: list[OrderPlan]) -> int:
    """Replace the ``schedules`` rows of ``day`` with ``plans`` (no commit); returns the rows written."""
    from psycopg2.extras import execute_values

    rows = []
    for plan in plans:
        times = plan.times()
        for name, lots in plan.lots.items():
            for k, value in enumerate(lots):
                rows.append(
                    (
                        plan.order.id,
                        day,
                        plan.order.symbol,
                        name,
                        plan.model_ids.get(name),
                        name == plan.primary,
                        k,
                        times[k],
                        int(value),
                        int(value) * plan.params.lot_size,
                        plan.nominal.description,
                        plan.notes.get(name),
                    )
                )
    with conn.cursor() as cur:
        cur.execute("DELETE FROM schedules WHERE trading_day = %s", (day,))
        execute_values(
            cur,
            "INSERT INTO schedules (order_id, trading_day, symbol, strategy, model_id, is_primary, interval,"
            " planned_time, planned_lots, planned_qty, nominal_path, note) VALUES %s",
            rows,
            page_size=2000,
        )
    return len(rows)


@dataclass(frozen=True)
class Unplanned:
    """An order that could not be planned (its symbol has no published history, a bad override), and why."""

    order: ParentOrder
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The order and the reason, JSON-serialisable."""
        return {"order": self.order.to_json(), "reason": self.reason}


class SchedulesIncomplete(RuntimeError):
    """Some orders of a day have no plan (the others were written): names each order and why."""


def plan_day(
    conn: Any, settings: Settings, day: date, lookback_days: int = DEFAULT_LOOKBACK_DAYS
) -> tuple[list[OrderPlan], PolicyCache, list[Unplanned]]:
    """Plans of every order of ``day`` (the configured orders are added to a day without any).

    One order that cannot be planned does not stop the others (a symbol's missing history says
    nothing about another symbol's plan): it is returned as :class:`Unplanned`. ``ValueError``
    when ``day`` is not a trading day, or when no order at all could be planned.
    """
    check_trading_day(day)
    orders = ensure_default_orders(conn, settings, day)
    policies = PolicyCache(conn, settings)
    plans, unplanned = [], []
    for order in orders:
        try:
            plans.append(plan_order(conn, settings, order, policies, lookback_days))
        except ValueError as exc:
            log.error("order #%s %s on %s not planned: %s", order.id, order.symbol, day, exc)
            unplanned.append(Unplanned(order, str(exc)))
    if unplanned and not plans:
        raise ValueError("; ".join(u.reason for u in unplanned))
    return plans, policies, unplanned


def write_schedules(
    settings: Settings, day: date, *, strict: bool = True, lookback_days: int = DEFAULT_LOOKBACK_DAYS
) -> dict[str, Any]:
    """Plan every order of trading day ``day``; replace its ``schedules`` rows and CSVs; return a summary.

    All or nothing: the CSVs are written into a temporary folder, the rows replaced in one
    transaction, and only after its commit does the new folder replace the old one (a full disk
    or a failed database write leaves both as they were: :class:`WriteFailed` / the database error).
    ``ValueError`` when ``day`` is not a trading day or no order could be planned; orders that
    could not be planned are listed in ``summary["unplanned"]`` (:func:`raise_if_unplanned`).
    With ``strict`` (default), once everything is written, :class:`ChampionUnavailable` is
    raised if a registered champion could not be loaded (its orders were planned with twap_seed).
    """
    folder = schedules_dir(settings, day)
    conn = connect(settings)
    try:
        plans, policies, unplanned = plan_day(conn, settings, day, lookback_days)
        with replace_folder(folder) as staging:
            for plan in plans:
                write_order_csv(plan, staging)
                write_decision_csv(plan, staging)
            rows = store_plans(conn, day, plans)
            conn.commit()
    except BaseException:
        if not conn.closed:  # a lost connection keeps its own error, not "connection already closed"
            conn.rollback()
        raise
    finally:
        conn.close()
    for plan in plans:
        plan.csv_path = folder / f"{_file_stem(plan.order)}.csv"
        if plan.decision is not None:
            plan.decision_csv_path = folder / f"{_file_stem(plan.order)}-decision-table.csv"
    summary = {
        "trading_day": day.isoformat(),
        "folder": str(folder),
        "rows": rows,
        "orders": [plan.to_json() for plan in plans],
        "unplanned": [u.to_json() for u in unplanned],
        "champion_failures": [c.note for c in policies.failures],
    }
    log.info("schedules of %s: %d orders, %d rows in %s", day, len(plans), rows, folder)
    if strict:
        raise_if_failed(policies, f"schedules of {day}")
    return summary


def raise_if_unplanned(summary: dict[str, Any]) -> None:
    """:class:`SchedulesIncomplete` naming each order of a :func:`write_schedules` summary that has no plan."""
    unplanned = summary.get("unplanned") or []
    if unplanned:
        lines = "; ".join(f"order #{u['order']['id']} {u['order']['symbol']}: {u['reason']}" for u in unplanned)
        raise SchedulesIncomplete(
            f"schedules of {summary['trading_day']} written without {len(unplanned)} order(s): {lines}"
        )


def load_schedules(conn: Any, day: date) -> pd.DataFrame:
    """The stored ``schedules`` rows of ``day`` (order, strategy, interval order)."""
    columns = [
        "order_id",
        "trading_day",
        "symbol",
        "strategy",
        "model_id",
        "is_primary",
        "interval",
        "planned_time",
        "planned_lots",
        "planned_qty",
        "nominal_path",
        "note",
    ]
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(columns)} FROM schedules WHERE trading_day = %s ORDER BY order_id, strategy, interval",
            (day,),
        )
        return pd.DataFrame(cur.fetchall(), columns=columns)
