"""``alignment-drift check --format json`` prints JSON alone on stdout, whatever the libraries log.

The command runs as its own process, as a user runs it (slow run): against a SQL
source on this machine's PostgreSQL (Great Expectations and Airflow log while it
runs), and against a real ``mlflow server``; and, in the default run, against a
database nothing listens on. Its stdout must parse as JSON
as a whole; the libraries' log lines are on stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import Setup, trained
from tests.integrations.conftest import PG_CONN, pg_engine, pg_table  # noqa: F401  (shared fixtures)

MODEL = "cli_json"


@pytest.fixture(scope="module")
def setup(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with trained(root, tmp_path_factory.mktemp("cli-json"), MODEL) as ready:
        yield ready


def _run(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alignment_drift.cli", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env},
    )


def _sql_spec(setup: Setup, table: str, folder: Path) -> Path:
    data = yaml.safe_load(setup.spec_path.read_text())
    data["source"] = {
        "kind": "sql",
        "conn_id": PG_CONN,
        "query": f'SELECT * FROM "{table}" WHERE "timestamp" >= :start AND "timestamp" < :end',
    }
    path = folder / f"{MODEL}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow  # ~30 s: training the champion, then the check's own process
def test_a_sql_source_check_prints_only_json(setup: Setup, pg_engine: Any, pg_table: str, tmp_path: Path) -> None:  # noqa: F811
    day, log = setup.log(5)
    log.to_sql(pg_table, pg_engine, index=False, method="multi", chunksize=1000)
    done = _run("check", str(_sql_spec(setup, pg_table, tmp_path)), "--date", f"{day}", "--format", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # the whole of stdout, nothing before or after
    assert result["schema"] == "alignment-drift/check-result@1" and result["source"]["kind"] == "sql"
    assert result["source"]["rows"] == len(log) and result["verdict"] in ("aligned", "watch")
    assert "great_expectations" in done.stderr  # what used to come first on stdout is still shown, on stderr


def test_a_failure_prints_nothing_on_stdout(root: Path, tmp_path: Path) -> None:
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["source"] = {"kind": "sql", "conn_id": "ad_test_pg_nowhere", "query": "SELECT 1 WHERE :start < :end"}
    spec = tmp_path / "content_safety.yaml"
    spec.write_text(yaml.safe_dump(data))
    done = _run(
        "check",
        str(spec),
        "--date",
        "2026-01-05",
        "--format",
        "json",
        AIRFLOW_CONN_AD_TEST_PG_NOWHERE="postgresql://postgres@127.0.0.1:1/test",
    )
    assert done.stdout == ""
    assert done.returncode == 4, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and done.stderr.rstrip().splitlines()[-1].startswith("alignment-drift check:")


@pytest.mark.slow
def test_a_check_against_an_mlflow_server_prints_only_json(setup: Setup, tmp_path: Path) -> None:
    from tests.integration.conftest import MlflowServer

    store = Path(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"))
    folder = tmp_path / "server"
    folder.mkdir()
    shutil.copy(store, folder / "mlflow.db")  # the session's store, with this model's champion
    server = MlflowServer(folder)
    server.start()
    try:
        day, _ = setup.serve(6)
        argv = ("check", str(setup.spec_path), "--date", f"{day}", "--format", "json")
        done = _run(*argv, MLFLOW_TRACKING_URI=server.uri)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["model"] == MODEL and result["mlflow_run_id"]
