"""Simulation layer: an execution episode on real (or synthetic) bars, and replaying strategies over many days.

* ``market`` -- one symbol's validated bars of a window as ``[days, 375]`` arrays with trailing statistics;
* ``episode`` -- episode geometry (decision minutes, fill bar, arrival price);
* ``execution_env`` -- the seed's MDP as a gymnasium environment; ``fills`` and ``rewards`` -- the two
  fill models and the two rewards, vectorised;
* ``baselines`` -- TWAP, VWAP, Almgren-Chriss, immediate, oracle; ``strategies`` -- names to strategies;
* ``informed`` -- the strategy that knows the synthetic source's planted component (the achievable edge);
* ``policy`` -- the :class:`Policy` protocol and a policy's schedule; ``metrics``, ``backtest`` -- SPEC
  section 6 metrics over a window, stored in ``backtest_results``.

Knows ``data`` (published bars) and nothing of learning, the registry, orders or reports.
"""

from execution import lazy_exports

_EXPORTS = {
    "MarketData": "market",
    "from_bars": "market",
    "load": "market",
    "lookback_start": "market",
    "DEFAULT_LOOKBACK_DAYS": "market",
    "start_minute": "episode",
    "decision_minutes": "episode",
    "side_sign": "episode",
    "ExecutionEnv": "execution_env",
    "observation_table": "execution_env",
    "FILL_MODELS": "fills",
    "IMPACT_ETA": "fills",
    "execute_schedule": "fills",
    "REWARDS": "rewards",
    "DEFAULT_RISK_AVERSION_PER_BPS": "rewards",
    "BASELINES": "baselines",
    "Schedule": "baselines",
    "twap_seed": "baselines",
    "informed_strategy": "informed",
    "informed_resolvers": "informed",
    "resolve_strategy": "strategies",
    "strategy_names": "strategies",
    "Policy": "policy",
    "policy_schedule": "policy",
    "policy_strategy": "policy",
    "summarize": "metrics",
    "bootstrap_mean_ci": "metrics",
    "BacktestResult": "backtest",
    "METRIC_COLUMNS": "backtest",
    "backtest": "backtest",
    "run_backtest": "backtest",
    "run_strategies": "backtest",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
