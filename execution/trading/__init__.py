"""Trading layer: what the trader has to get done and how it will be done.

* ``orders`` -- parent orders of a trading day (the ``orders`` table), validated;
* ``schedules`` -- next-day schedules: the champion's plan on a nominal path beside the baselines,
  in the ``schedules`` table and as CSV files;
* intraday execution -- ``executor`` (one order worked decision by decision, restart-safe),
  ``decisions`` (the strategy and its next decision, stepped as the backtester steps it),
  ``live_market`` (today as known at an instant), ``brokers/`` (paper, kite), ``ledger`` (child
  orders, fills, cancellations), ``clock`` (live and replay time), ``intraday`` (a day's orders, the
  kill switch).

Knows ``models`` (which policy executes), ``sim`` and ``data``.
"""

from execution import lazy_exports

_EXPORTS = {
    "ParentOrder": "orders",
    "add_order": "orders",
    "list_orders": "orders",
    "ensure_default_orders": "orders",
    "check_trading_day": "orders",
    "write_schedules": "schedules",
    "load_schedules": "schedules",
    "plan_day": "schedules",
    "decision_table": "schedules",
    "schedules_dir": "schedules",
    "ExecuteOptions": "intraday",
    "execute_day": "intraday",
    "run_order": "intraday",
    "cancel_order": "intraday",
    "OrderExecutor": "executor",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
