"""Test set-up: a throw-away Airflow home (SQLite), MLflow store and data folder per session.

The environment is set before anything imports Airflow. Specs and
expectation suites are the repository's own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_TMP = Path(tempfile.mkdtemp(prefix="alignment-drift-tests-"))

os.environ["AIRFLOW_HOME"] = str(_TMP / "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["ALIGNMENT_DRIFT_HOME"] = str(ROOT)
os.environ["ALIGNMENT_DRIFT_DATA_DIR"] = str(_TMP / "data")
SESSION_TRACKING_URI = f"sqlite:///{_TMP / 'mlflow.db'}"
os.environ["MLFLOW_TRACKING_URI"] = SESSION_TRACKING_URI
os.environ["ALIGNMENT_DRIFT_ARTIFACT_ROOT"] = str(_TMP / "artifacts")
os.environ["GX_ANALYTICS_ENABLED"] = "false"
# GX Data Docs cost about a third of a validation's CPU; the tests that check them turn them on
# (tests/cli/test_report.py, tests/integrations/test_gx.py), the demo and users have them on by default
os.environ["ALIGNMENT_DRIFT_GX_DATA_DOCS"] = "0"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
# Airflow's API signs the UI tests' tokens with this; a key of 64 bytes or more, as PyJWT asks for HS512
os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_urlsafe(64)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("ALIGNMENT_DRIFT_KEEP_TEST_STATE") != "1":
        shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite) for ``dag.test()``."""
    from airflow.utils import db

    db.resetdb()
    _one_execution_api_per_process()
    return Path(os.environ["AIRFLOW_HOME"])


def _one_execution_api_per_process() -> None:
    """Reuse one in-process execution API for every task ``dag.test()`` runs, as Airflow 3.3 does.

    Airflow 3.2 builds a new one for each task (``in_process_api_server`` has no cache there; 3.3 added
    ``functools.lru_cache(maxsize=1)``): Cadwyn generating its versioned routes took about 4 s of every
    task, 35 s of one monitor night, in ``make test-lowest``. The API itself is Airflow's, unchanged.
    """
    import functools

    from airflow.sdk.execution_time import supervisor

    server = supervisor.in_process_api_server
    if not hasattr(server, "cache_info"):  # Airflow < 3.3
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(server)
