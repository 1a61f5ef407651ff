# Two commands: `make demo` (set up from nothing, run the main job) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export EXEC_HOME ?= $(CURDIR)/.exec

.PHONY: demo test lint format bench clean install browser airflow

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==26.3"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m execution demo

# The layer contracts first (import-linter, pyproject.toml), then the suite.
test: $(STAMP) browser
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

# Headless Chromium for the report-rendering tests (Debian packages). Best effort: without root
# or apt the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium not installed: browser tests will be skipped"; }

# Airflow (API server with the UI, scheduler, DAG processor, triggerer) with this project's DAGs and
# plugin, against the same EXEC_HOME as `make demo`; prints the URL and the login.
airflow: $(STAMP)
	$(PY) -m execution airflow-ui

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) .exec
