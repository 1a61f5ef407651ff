"""``make demo``: the main job end to end, through Airflow, from an empty ``EXEC_HOME``.

Steps (each one logs a line when it starts and when it ends, with its wall time):

1. **history** -- the embedded PostgreSQL starts (``$EXEC_HOME/pg``, migrations applied) and the
   training history is bulk-loaded *through the library* (:func:`execution.data.ingest.ingest`:
   synthetic bars, fetch -> staging -> Great Expectations -> publish) from ``start`` to the
   trading day before the Airflow backfill. This is the one step that does not go through Airflow:
   two years of bars as ~1,000 single-day DAG runs would take hours; the daily DAG runs the very
   same fetch/validate/publish code.
2. **airflow db migrate** -- Airflow's metadata database: the database ``airflow`` on the same
   embedded server (:mod:`execution.ops.airflow_config`).
3. **pool** -- ``airflow pools set nse_training 1``: one training at a time on 2 cores.
4. **nse_daily_bars** -- ``airflow dags test nse_daily_bars <D 16:00 IST>`` for each of the last
   ``daily_days`` trading days up to ``end``: fetch, validate, publish, emit the bars Asset.
5. **nse_weekly_retrain** -- ``airflow dags test`` on the Saturday after ``end`` with a small
   budget (``agents`` x every symbol, ``episodes`` each): rolling windows as of the day after
   ``end``, train, register, evaluate, promote.
6. **nse_intraday_execution** -- ``airflow dags test`` with ``{"day": that day, "replay": true, "speed": 0}``:
   the day's configured order of the first symbol worked intraday on the paper broker, replaying the
   published day as if live (decision by decision, child orders and fills recorded).
7. **nse_execution_reports** -- ``airflow dags test`` with ``{"day": end's last trading day}``:
   the next trading day's schedules and the day's report, with the executed order's section.

Every Airflow command runs as a subprocess (``airflow`` beside ``sys.executable``) in the
environment of :func:`execution.ops.airflow_config.airflow_environment`; its whole output goes to
``$EXEC_HOME/demo/NN-step.log`` and the lines the project's DAGs log (plus errors and task ends)
are echoed. No Airflow import here.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, TextIO

from execution.config import Settings
from execution.data.exchange_calendar import EXCHANGE_TZ, trading_days
from execution.data.ingest import ingest
from execution.models.windows import rolling_windows
from execution.ops.airflow_config import POOL_DESCRIPTION, TRAINING_POOL, TRAINING_POOL_SLOTS, airflow_environment
from execution.ops.airflow_ui import ADMIN_USER, ensure_login

log = logging.getLogger(__name__)

DEFAULT_START = date(2017, 11, 1)
DEFAULT_END = date(2020, 1, 31)
DEFAULT_DAILY_DAYS = 5
DEFAULT_AGENTS: tuple[str, ...] = ("dqn_sl", "a3c_sl")
DEFAULT_EPISODES = 300
DEFAULT_SEED = 7
LOOKBACK_TRADING_DAYS = 20  # history the simulator's trailing statistics need before a window
DAILY_RUN_TIME = clock(16, 0)  # the daily DAG's schedule, Asia/Kolkata
RETRAIN_RUN_TIME = clock(6, 0)  # the weekly DAG's schedule (Saturday), Asia/Kolkata
REPORTS_RUN_TIME = clock(16, 30)
INTRADAY_RUN_TIME = clock(9, 0)  # the intraday DAG's schedule, Asia/Kolkata
UI_URL = "http://localhost:8080"

# structlog's console lines: "2020-...Z [info     ] message   [logger] key=value ..."
_LOG_LINE = re.compile(r"^\S+ \[(?P<level>[a-z]+)\s*\] (?P<message>.*?)\s+\[(?P<logger>[^\]\s]+)\]")
_REPORT_LINE = re.compile(r"daily report of (?P<day>\d{4}-\d{2}-\d{2}): (?P<path>\S+\.html)")


@dataclass(frozen=True)
class DemoPlan:
    """What the demo loads, runs and reports, worked out from ``start``/``end`` before anything runs."""

    symbols: tuple[str, ...]
    history_start: date
    history_end: date  # last day of the bulk load (the trading day before the first daily run)
    daily_days: tuple[date, ...]  # trading days that go through nse_daily_bars
    agents: tuple[str, ...]
    episodes: int
    seed: int
    as_of: date  # the retrain's rolling windows end the day before
    train_start: date | None  # set when the history is too short for the DAG's default window

    @property
    def report_day(self) -> date:
        """The published day whose report the demo writes (the last daily run's day)."""
        return self.daily_days[-1]

    @property
    def retrain_logical_date(self) -> datetime:
        """The retrain run's logical date: the first Saturday after the last day, 06:00 IST."""
        saturday = self.report_day + timedelta(days=(5 - self.report_day.weekday()) % 7 or 7)
        return datetime.combine(saturday, RETRAIN_RUN_TIME, tzinfo=EXCHANGE_TZ)

    def intraday_conf(self) -> dict[str, Any]:
        """The params of the demo's nse_intraday_execution run: the report day replayed, one symbol's order."""
        return {"day": self.report_day.isoformat(), "replay": True, "speed": 0, "symbols": list(self.symbols[:1])}

    def retrain_conf(self) -> dict[str, Any]:
        """The params of the demo's nse_weekly_retrain run."""
        conf: dict[str, Any] = {
            "symbols": list(self.symbols),
            "agents": list(self.agents),
            "episodes": self.episodes,
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
        }
        if self.train_start is not None:
            conf["train_start"] = self.train_start.isoformat()
        return conf


def plan_demo(
    settings: Settings,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    daily_days: int = DEFAULT_DAILY_DAYS,
    agents: tuple[str, ...] = DEFAULT_AGENTS,
    episodes: int = DEFAULT_EPISODES,
    seed: int = DEFAULT_SEED,
) -> DemoPlan:
    """The demo's plan: bulk history ``start``.. before the last ``daily_days`` trading days up to ``end``.

    ``ValueError`` when the range holds too few trading days for a lookback, a training window,
    a validation window and the daily runs.
    """
    if daily_days < 1:
        raise ValueError(f"daily_days must be >= 1, not {daily_days}")
    days = trading_days(start, end)
    needed = LOOKBACK_TRADING_DAYS + 2 * daily_days + 10
    if len(days) < needed:
        raise ValueError(
            f"{start}..{end} holds {len(days)} trading days; the demo needs at least {needed} "
            f"({LOOKBACK_TRADING_DAYS} of lookback, training and validation days, {daily_days} daily runs)"
        )
    daily = tuple(days[-daily_days:])
    as_of = daily[-1] + timedelta(days=1)
    earliest = days[LOOKBACK_TRADING_DAYS]  # the first day with a full trailing history before it
    train_start = earliest if rolling_windows(settings.windows, as_of).train_start < earliest else None
    return DemoPlan(
        symbols=tuple(settings.symbols),
        history_start=start,
        history_end=days[-daily_days - 1],
        daily_days=daily,
        agents=tuple(agents),
        episodes=int(episodes),
        seed=int(seed),
        as_of=as_of,
        train_start=train_start,
    )


# --------------------------------------------------------------------------- Airflow commands


def airflow_executable() -> Path:
    """The ``airflow`` command of this interpreter's environment (``.venv/bin/airflow``)."""
    return Path(sys.executable).parent / "airflow"


def demo_environment(settings: Settings) -> dict[str, str]:
    """The environment of every Airflow command of the demo: :func:`~execution.ops.airflow_config.airflow_environment`.

    Airflow derives an async URL (``postgresql+asyncpg``) from the metadata URL; when ``asyncpg``
    is not installed and no async URL is configured, the async engine is switched off (the CLI
    commands the demo runs do not use it).
    """
    env = airflow_environment(settings)
    env["PATH"] = f"{airflow_executable().parent}:{env.get('PATH', '')}"
    conn = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if conn.startswith("postgresql") and importlib.util.find_spec("asyncpg") is None:
        env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC", "")
    return env


@dataclass(frozen=True)
class AirflowStep:
    """One Airflow CLI command of the demo."""

    name: str  # short, used in the log file name
    title: str  # what the progress line says
    argv: tuple[str, ...]  # arguments after ``airflow``


def dags_test_argv(dag_id: str, logical_date: datetime, conf: dict[str, Any] | None = None) -> tuple[str, ...]:
    """``dags test DAG_ID DATE [--conf JSON]`` arguments."""
    argv = ("dags", "test", dag_id, logical_date.isoformat())
    return (*argv, "--conf", json.dumps(conf, sort_keys=True)) if conf else argv


def airflow_steps(plan: DemoPlan) -> list[AirflowStep]:
    """The Airflow commands of the demo, in order (after the history load)."""
    steps = [
        AirflowStep("db-migrate", "Airflow metadata database: airflow db migrate", ("db", "migrate")),
        AirflowStep(
            "pool",
            f"pool {TRAINING_POOL} ({TRAINING_POOL_SLOTS} slot: one training at a time)",
            ("pools", "set", TRAINING_POOL, str(TRAINING_POOL_SLOTS), POOL_DESCRIPTION),
        ),
    ]
    for day in plan.daily_days:
        when = datetime.combine(day, DAILY_RUN_TIME, tzinfo=EXCHANGE_TZ)
        steps.append(AirflowStep(f"daily-{day}", f"nse_daily_bars for {day}", dags_test_argv("nse_daily_bars", when)))
    steps.append(
        AirflowStep(
            "retrain",
            f"nse_weekly_retrain: {', '.join(plan.agents)} x {', '.join(plan.symbols)}, {plan.episodes} episodes each",
            dags_test_argv("nse_weekly_retrain", plan.retrain_logical_date, plan.retrain_conf()),
        )
    )
    intraday_when = datetime.combine(plan.report_day, INTRADAY_RUN_TIME, tzinfo=EXCHANGE_TZ)
    steps.append(
        AirflowStep(
            "intraday",
            f"nse_intraday_execution for {plan.report_day}: {plan.symbols[0]}'s order on replay, paper broker",
            dags_test_argv("nse_intraday_execution", intraday_when, plan.intraday_conf()),
        )
    )
    report_when = datetime.combine(plan.report_day, REPORTS_RUN_TIME, tzinfo=EXCHANGE_TZ)
    steps.append(
        AirflowStep(
            "reports",
            f"nse_execution_reports for {plan.report_day}",
            dags_test_argv("nse_execution_reports", report_when, {"day": plan.report_day.isoformat()}),
        )
    )
    return steps


def echo_line(line: str) -> str | None:
    """The part of an Airflow output line worth showing on the console, or None.

    Shown: messages of the project's loggers (DAG modules, ``nse_dags``, ``execution.*``),
    warnings and errors, and the end of each task of ``dags test``.
    """
    match = _LOG_LINE.match(line)
    if match is None:
        return None
    level, message, logger = match["level"], match["message"].strip(), match["logger"]
    if message.startswith("[DAG TEST] end task"):
        return message.replace("[DAG TEST] ", "")
    ours = "nse_" in logger or logger.startswith("execution")
    if ours or level in ("error", "critical"):
        return f"{level}: {message}" if level not in ("info", "debug") else message
    return None


@dataclass
class StepResult:
    """How one step went."""

    name: str
    returncode: int
    wall_s: float
    log_path: Path | None = None
    lines: list[str] = field(default_factory=list)  # the echoed lines


def run_airflow(
    step: AirflowStep, env: dict[str, str], log_path: Path, say: Callable[[str], None] = print
) -> StepResult:
    """Run ``airflow <argv>`` with ``env``; its output to ``log_path``, the interesting lines to ``say``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    echoed: list[str] = []
    with log_path.open("w") as out:
        out.write(f"$ airflow {' '.join(step.argv)}\n")
        out.flush()
        process = subprocess.Popen(
            [str(airflow_executable()), *step.argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        _pump(process.stdout, out, echoed, say)
        returncode = process.wait()
    return StepResult(step.name, returncode, time.perf_counter() - started, log_path, echoed)


def _pump(stream: TextIO | None, out: TextIO, echoed: list[str], say: Callable[[str], None]) -> None:
    for line in stream or ():
        out.write(line)
        shown = echo_line(line)
        if shown:
            echoed.append(shown)
            say(f"    {shown}")


# --------------------------------------------------------------------------- the demo


def load_history(settings: Settings, plan: DemoPlan) -> dict[str, Any]:
    """Bulk-load the training history through the library (not Airflow); returns the ingest counts."""
    report = ingest(settings, "synthetic", list(plan.symbols), plan.history_start, plan.history_end, who="demo")
    if report.status not in ("success", "unchanged"):
        raise RuntimeError(f"history ingest run {report.run_id} ended {report.status}: {report.counts()}")
    return {"run_id": report.run_id, "status": report.status, "days": report.counts()}


def find_report(settings: Settings, results: list[StepResult], day: date) -> Path | None:
    """The daily report of ``day``: as logged by the reports DAG, else ``reports/daily/<day>*.html``."""
    for result in reversed(results):
        for line in result.lines:
            match = _REPORT_LINE.search(line)
            if match and match["day"] == day.isoformat() and Path(match["path"]).is_file():
                return Path(match["path"])
    found = sorted((settings.reports_dir / "daily").glob(f"**/*{day.isoformat()}*.html"))
    return found[0] if found else None


def ui_login(settings: Settings) -> tuple[str, str, Path]:
    """User, password and password file of the Airflow UI (the same ones ``make airflow`` uses)."""
    password, path = ensure_login(settings.home / "airflow")
    return ADMIN_USER, password, path


def run_demo(settings: Settings, plan: DemoPlan, say: Callable[[str], None] = print) -> int:
    """Run every step of ``plan``; stop at the first failure. Returns a process exit code."""
    logs = settings.home / "demo"
    steps = airflow_steps(plan)
    total = len(steps) + 1
    started = time.perf_counter()
    say(f"data folder {settings.home}; logs of every step in {logs}")

    say(f"[1/{total}] history {plan.history_start}..{plan.history_end} of {', '.join(plan.symbols)} via the library")
    t0 = time.perf_counter()
    counts = load_history(settings, plan)
    wall_s = time.perf_counter() - t0
    say(f"    done in {wall_s:.0f} s: ingest run {counts['run_id']} {counts['status']}, symbol-days {counts['days']}")

    env = demo_environment(settings)
    say(f"    Airflow: AIRFLOW_HOME={env['AIRFLOW_HOME']}, metadata DB {_redacted(env)}")
    results: list[StepResult] = []
    for number, step in enumerate(steps, start=2):
        say(f"[{number}/{total}] {step.title}")
        result = run_airflow(step, env, logs / f"{number:02d}-{step.name}.log", say)
        results.append(result)
        if result.returncode != 0:
            say(f"    FAILED (exit {result.returncode}) after {result.wall_s:.0f} s; see {result.log_path}")
            return result.returncode or 1
        say(f"    done in {result.wall_s:.0f} s")

    report = find_report(settings, results, plan.report_day)
    user, password, password_file = ui_login(settings)
    say(f"demo finished in {time.perf_counter() - started:.0f} s")
    say(f"daily report of {plan.report_day}: {report or 'not found under ' + str(settings.reports_dir)}")
    executed = executed_in_report(report)
    for line in executed:
        say(f"executed intraday (replay, paper broker): {line} -- section 'Executed intraday' of the report")
    say(f"schedules of the next trading day: {settings.reports_dir / 'schedules'}")
    say(
        f"Airflow UI: run `make airflow`, open {UI_URL} and log in as {user} / {password} (kept in {password_file}); "
        f"the report is at {UI_URL}/nse-reports/daily/{plan.report_day} (Browse > Reports), and each "
        "nse_daily_bars run has a Report tab"
    )
    return 0 if report is not None and executed else 1


def executed_in_report(report: Path | None) -> list[str]:
    """One line per order the report shows as executed intraday (from its JSON), ``[]`` when none."""
    if report is None or not report.with_suffix(".json").is_file():
        return []
    sections = json.loads(report.with_suffix(".json").read_text()).get("executed_intraday") or []
    lines = []
    for s in sections:
        done = s.get("metrics", {}).get("executed", {})
        lines.append(
            f"order #{s['order']['id']} {s['order']['symbol']} {s['order']['side']} {s['shares_filled']:,} shares, "
            f"{s['status']}, average ₹{done.get('avg_price', float('nan')):,.2f}, "
            f"{done.get('advantage_bps', float('nan')):+.2f} bps vs TWAP"
        )
    return lines


def _redacted(env: dict[str, str]) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "?"))
