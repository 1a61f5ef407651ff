"""Operations layer: running the service -- the demo, Airflow's environment and UI, alerts.

* ``demo`` -- ``make demo``: the whole service end to end through Airflow;
* ``airflow_config`` -- the environment Airflow runs in (metadata database, folders, the training pool);
* ``airflow_ui`` -- ``make airflow``: ``airflow standalone`` with the project's DAGs, URL and login;
* ``alerts`` -- failure alerts to a webhook or by e-mail.

No Airflow import: Airflow runs as a subprocess or calls in through the DAG files. Knows every
layer below ``report`` (and not ``report``: the two are independent).
"""

from execution import lazy_exports

_EXPORTS = {
    "run_demo": "demo",
    "plan_demo": "demo",
    "airflow_environment": "airflow_config",
    "TRAINING_POOL": "airflow_config",
    "serve": "airflow_ui",
    "ensure_login": "airflow_ui",
    "send_alert": "alerts",
    "target_from_connection": "alerts",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
