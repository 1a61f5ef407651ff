"""The NSE execution reports inside the Airflow UI: a FastAPI app served by the Airflow API server.

Loaded by ``plugins/nse_reports_plugin.py`` (Airflow puts the plugins folder on ``sys.path``);
``plugins/.airflowignore`` keeps Airflow's plugin loader from importing these modules as plugins.
"""
