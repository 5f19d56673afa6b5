# The two commands: `make demo` and `make test`. Everything they need is set up here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Embedded defaults: SQLite metadata DB in .airflow/, MLflow in .mlflow/, data in data/.
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
# DAGs start paused: `make airflow` on the demo's metadata DB must not re-run what the demo recorded
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := True
export ALIGNMENT_DRIFT_HOME := $(CURDIR)
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/.mlflow/mlflow.db
export GX_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: install install-lowest demo test test-all test-lowest test-integration lint airflow mlflow-ui clean

# The demo and CI install the locked latest versions (constraints/latest.txt); pyproject.toml holds the ranges.
$(STAMP): setup.cfg pyproject.toml constraints/latest.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c constraints/latest.txt -e '.[dev]'
	@touch $@

install: $(STAMP)

$(AIRFLOW_HOME)/airflow.db: | $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || { cat $(AIRFLOW_HOME)/migrate.log; exit 1; }

# 30 simulated nights of the seed's scenario through the real DAGs, from a clean local store.
demo: $(STAMP) $(AIRFLOW_HOME)/airflow.db
	@rm -rf .mlflow data
	$(BIN)/alignment-drift demo --nights 30 || { tail -n 60 $(AIRFLOW_HOME)/demo.log; exit 1; }

# The default suite (slow suites are marked and run by .ci/run), in TEST_WORKERS processes (pytest-xdist; a test
# file stays in one process, so module fixtures are built once). TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

test-all: $(STAMP)
	$(BIN)/pytest -m "slow or not slow"

# The default suite on the lowest supported versions (constraints/lowest.txt: every direct dependency at the
# lower bound of its range), in a venv of its own (run by .ci/run after make test).
LOWEST_VENV := .venv-lowest
LOWEST_STAMP := $(LOWEST_VENV)/.installed
$(LOWEST_STAMP): setup.cfg pyproject.toml constraints/lowest.txt
	@test -x $(LOWEST_VENV)/bin/python || $(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	$(LOWEST_VENV)/bin/python -m pip install --quiet -c constraints/lowest.txt -e '.[dev]'
	@touch $@

install-lowest: $(LOWEST_STAMP)

test-lowest: $(LOWEST_STAMP)
	$(LOWEST_VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile

# The production extras (PostgreSQL, Celery + Redis, S3), installed once into the same venv.
INTEGRATION_STAMP := $(VENV)/.installed-integration
$(INTEGRATION_STAMP): $(STAMP) setup.cfg pyproject.toml constraints/latest.txt
	$(BIN)/python -m pip install --quiet -c constraints/latest.txt -e '.[dev,postgres,celery,s3]'
	@touch $@

# The production topology as real processes on loopback (PostgreSQL, Redis, CeleryExecutor, mlflow server
# with S3 artifacts), with faults injected: tests/integration/topology/.
test-integration: $(INTEGRATION_STAMP)
	$(BIN)/pytest -m integration

# ruff; mypy on the whole package; the layer contracts of setup.cfg [importlinter] (import cycles: make test)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy plugins/alignment_drift
	PYTHONPATH=$(CURDIR)/plugins $(BIN)/lint-imports --no-cache

# The Airflow UI on the demo's metadata DB (http://127.0.0.1:8080; login printed at start). The demo's DAGs
# stay paused and the demo's records unchanged (tests/demo/test_operate.py); unpausing schedules only new nights.
airflow: $(STAMP) $(AIRFLOW_HOME)/airflow.db
	PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW__API__HOST=127.0.0.1 $(BIN)/airflow standalone

mlflow-ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

clean:
	rm -rf .airflow .mlflow data .pytest_cache
