"""Weekly retrain: one universal model per agent, trained, validated on an order set, registered, promoted.

**When it runs.** Saturdays at 06:00 Asia/Kolkata (``CronTriggerTimetable("0 6 * * 6")``), and
on demand (trigger with params). ``max_active_runs=1``: two retrains never race for the champion.

**Windows.** With ``window="rolling"`` (the default) the configured windows
(``settings.windows``, seed: validation 2019-11-01..2019-12-31) are slid so that the
validation window, of the configured length, ends the day before ``as_of`` (default: the
exchange date of the run), and the training window is the ``train_years`` years (default 2)
right before the validation window. ``as_of=2020-01-01`` gives the seed's validation window
and trains on 2017-11-01..2019-10-31. ``window="configured"`` uses ``settings.windows`` as they
are. ``train_start``/``train_end``/``validation_start``/``validation_end`` override any of the
four dates.

**Tasks.** ``resolve_symbols`` and ``resolve_agents`` list what to train (params, else Variable
``nse_symbols`` / settings, and all six agents); ``plan_retrain`` resolves the windows and the
budget; ``check_data_windows`` counts each symbol's quarantined and missing trading days in the
training and in the validation window; ``train_evaluate_promote`` is mapped over the agents in the
pool ``nse_training`` (1 slot on a 2-core machine: one training at a time) and calls
:func:`execution.models.universal.retrain_universal` -- one pace-MDP model for every order of every
symbol whose windows are usable (a symbol with more unusable days than ``max_bad_day_fraction``,
default 5 %, is left out with the counts and the first bad days in the log; with none usable the
task is skipped): train on the pooled days with a new order drawn from the envelope every episode,
save, register under ``*``, validate on an order set of the validation days, promote by the
configured rule. The training budget does not grow with the number of symbols.
``summarize_retrain`` logs one line per model (status, advantage over TWAP with its CI, why).
Every task has retries and an ``execution_timeout`` (training: 2 h, 1 retry, none for a bad
request such as an unknown agent); failures go to ``common.log_task_failure``.

**Pool.** Create it once per deployment (the demo does)::

    airflow pools set nse_training 1 "RL training: one run at a time (2 cores)"

Without it the scheduler never runs the training tasks ("Tasks using non-existent pool 'nse_training' will not
be scheduled" in its log). Raise its slots on a bigger machine.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import (
    CronTriggerTimetable,
    ExceptionRetryPolicy,
    Param,
    RetryAction,
    RetryRule,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowSkipException

# The DAG processor puts dags/ on sys.path; a plain DagBag (or a script) does not: make `common` importable.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import EXCHANGE_TZ, default_args, label_task, run_settings

from execution.agents.catalog import AGENTS  # light: no torch
from execution.ops.airflow_config import TRAINING_POOL  # shared with the demo and make airflow

log = logging.getLogger(__name__)

DAG_ID = "nse_weekly_retrain"
SCHEDULE_CRON = "0 6 * * 6"  # Saturday 06:00 IST

TRAIN_TIMEOUT = timedelta(hours=2)
SHORT_TIMEOUT = timedelta(minutes=10)
CONTEXT_AGENT = "nse_agent"

_DATE = r"^\d{4}-\d{2}-\d{2}$"

#: Bad requests (unknown agent, empty window) fail at once; anything else (a worker process that
#: died, the database restarting) is retried once after a pause.
TRAIN_RETRY_POLICY = ExceptionRetryPolicy(
    rules=[RetryRule(exception=["builtins.ValueError"], action=RetryAction.FAIL, reason="bad request: not retried")],
    default=RetryAction.DEFAULT,
)


def _date_param(description: str) -> Param:
    return Param(None, type=["null", "string"], pattern=_DATE, description=description)


def windows_of(settings: Any, plan: dict[str, Any]) -> Any:
    """The run's windows (``plan["window"]`` holds them as ISO dates) over the configured ones."""
    from execution.models.windows import resolve_windows

    return resolve_windows(settings.windows, {"window": "configured", **plan["window"]}, settings.windows.test_start)


def _bps(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


@dag(
    dag_id=DAG_ID,
    schedule=CronTriggerTimetable(SCHEDULE_CRON, timezone=EXCHANGE_TZ),
    start_date=pendulum.datetime(2018, 1, 1, tz=EXCHANGE_TZ),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=4,
    dagrun_timeout=timedelta(hours=12),
    default_args={
        **default_args(),
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "execution_timeout": SHORT_TIMEOUT,
    },
    params={
        "symbols": Param(None, type=["null", "array"], description="Symbols (default: Variable nse_symbols)"),
        "agents": Param(None, type=["null", "array"], description=f"Agents (default: all six: {', '.join(AGENTS)})"),
        "episodes": Param(None, type=["null", "integer"], minimum=1, description="Episodes (default: the seed's)"),
        "seed": Param(None, type=["null", "integer"], description="Random seed (default: drawn and recorded)"),
        "fine_tune": Param(False, type="boolean", description="Continue from the champion of the same agent"),
        "window": Param("rolling", enum=["rolling", "configured"], description="Rolling or configured windows"),
        "as_of": _date_param("Rolling windows end the day before this date (default: the run's date)"),
        "train_years": Param(
            None, type=["null", "integer"], minimum=1, description="Years of the rolling training window (default 2)"
        ),
        "train_start": _date_param("Override: first training day"),
        "train_end": _date_param("Override: last training day"),
        "validation_start": _date_param("Override: first validation day"),
        "validation_end": _date_param("Override: last validation day"),
        "max_bad_day_fraction": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            description="Skip a symbol whose windows have more quarantined + missing trading days than this (5 %)",
        ),
    },
    tags=["nse", "training"],
    doc_md=__doc__,
)
def nse_weekly_retrain() -> None:
    """Train, evaluate, register and promote every configured agent for every symbol."""

    @task
    def resolve_symbols() -> list[str]:
        """The symbols to train for (param > Variable nse_symbols > settings)."""
        symbols = list(run_settings(get_current_context()).symbols)
        log.info("symbols: %s", ", ".join(symbols))
        return symbols

    @task
    def resolve_agents() -> list[str]:
        """The agents to train (param ``agents``, default the seed's five); an unknown name fails the run."""
        from execution.agents.catalog import agent_spec

        agents = list(get_current_context()["params"].get("agents") or AGENTS)
        for agent in agents:
            agent_spec(agent)  # ValueError naming the known agents
        log.info("agents: %s", ", ".join(agents))
        return agents

    @task
    def plan_retrain() -> dict[str, Any]:
        """Windows and budget of this run (shared by every training task)."""
        from execution.models.windows import max_bad_day_fraction, resolve_windows

        context = get_current_context()
        params = dict(context["params"])
        settings = run_settings(context)
        run_date = pendulum.instance(context.get("logical_date") or context["dag_run"].run_after)
        windows = resolve_windows(settings.windows, params, run_date.in_timezone(EXCHANGE_TZ).date())
        plan = {
            "episodes": params.get("episodes"),
            "seed": params.get("seed"),
            "fine_tune": bool(params.get("fine_tune")),
            "max_bad_day_fraction": max_bad_day_fraction(params),
            "window": {
                "train_start": windows.train_start.isoformat(),
                "train_end": windows.train_end.isoformat(),
                "validation_start": windows.validation_start.isoformat(),
                "validation_end": windows.validation_end.isoformat(),
            },
        }
        log.info("train %s..%s, validate %s..%s", *plan["window"].values())
        log.info(
            "episodes %s, seed %s, fine_tune %s", plan["episodes"] or "seed default", plan["seed"], plan["fine_tune"]
        )
        return plan

    @task
    def check_data_windows(symbols: list[str], plan: dict[str, Any]) -> dict[str, str | None]:
        """{symbol: why its data is unusable, or None}: quarantined + missing days in either window."""
        from execution.models.windows import data_verdict

        settings = run_settings(get_current_context())
        windows = windows_of(settings, plan)
        verdicts: dict[str, str | None] = {}
        for symbol in symbols:
            verdicts[symbol], healths = data_verdict(settings, symbol, windows, plan["max_bad_day_fraction"])
            for h in healths:
                log.info(
                    "%s %s window %s..%s: %d trading days, %d published, %d quarantined, %d missing",
                    symbol, h["window"], h["start"], h["end"], h["trading_days"], h["published_days"],
                    h["quarantined_days"], h["missing_days"],
                )  # fmt: skip
            if verdicts[symbol]:
                log.warning("%s will be skipped: %s", symbol, verdicts[symbol])
        return verdicts

    @task(
        pool=TRAINING_POOL,
        pool_slots=1,
        map_index_template="{{ nse_agent }}",
        execution_timeout=TRAIN_TIMEOUT,
        retries=1,
        retry_delay=timedelta(minutes=5),
        retry_policy=TRAIN_RETRY_POLICY,
    )
    def train_evaluate_promote(agent: str, plan: dict[str, Any], verdicts: dict[str, str | None]) -> dict[str, Any]:
        """Train one universal ``agent`` model on every usable symbol, register, validate, promote; skip without one."""
        from execution.models.universal import retrain_universal

        context = get_current_context()
        window = plan["window"]
        usable = [symbol for symbol, reason in verdicts.items() if not reason]
        label_task(context, ",".join(usable) or "-", f"{window['train_start']}..{window['validation_end']}")
        context[CONTEXT_AGENT] = agent
        for symbol, reason in verdicts.items():
            if reason:
                log.warning("%s left out of the %s training: the data window is unusable: %s", symbol, agent, reason)
        if not usable:
            message = f"{agent}: not trained, no symbol has a usable data window"
            log.warning("%s", message)
            raise AirflowSkipException(message)
        settings = run_settings(context)
        windows = windows_of(settings, plan)
        summary = retrain_universal(
            settings.with_overrides(windows=windows),
            usable,
            agent,
            windows.train_start,
            windows.train_end,
            episodes=plan["episodes"],
            seed=plan["seed"],
            fine_tune=plan["fine_tune"],
        )
        log.info(
            "%s on %s: model %s trained (%s episodes, %.1f s), %s: %s",
            agent, ",".join(usable), summary["model_id"], summary["episodes"], summary["wall_s"], summary["status"],
            (summary.get("decision") or {}).get("reason", ""),
        )  # fmt: skip
        return summary

    @task(trigger_rule="none_failed")
    def summarize_retrain(summaries: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
        """One line per trained model: status and validation advantages (skipped pairs are left out)."""
        from execution.models.retrain import summary_row

        rows = [summary_row(s) for s in (summaries[:] if summaries else []) if s]  # one slice request
        for row in rows:
            log.info(
                "model %s %s %s -> %s; advantage over twap_seed %s bps (CI %s..%s); %s",
                row["model_id"], row["symbol"], row["agent"], row["status"], _bps(row["advantage_over_twap_bps"]),
                _bps(row["ci_low_bps"]), _bps(row["ci_high_bps"]), row["reason"],
            )  # fmt: skip
        log.info("%d model(s) trained and registered", len(rows))
        return rows

    symbols = resolve_symbols()
    agents = resolve_agents()
    plan = plan_retrain()
    verdicts = check_data_windows(symbols, plan)
    summaries = train_evaluate_promote.partial(plan=plan, verdicts=verdicts).expand(agent=agents)
    summarize_retrain(summaries)


nse_weekly_retrain()
