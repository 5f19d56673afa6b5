"""Several worker processes record the same night on one ``mlflow server`` at once: one active run, nothing lost.

What Celery workers sharing a tracking server do when two Airflow runs (or a
run and a CLI ``check``) record one night: separate processes, started
together, each writing with ``record_check`` over HTTP.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import MlflowServer

pytestmark = pytest.mark.slow  # a real mlflow server and worker processes (about a minute)

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
MODEL = "nights_server"
_WORKER = """
import dataclasses, json, sys, time
from pathlib import Path
from alignment_drift.integrations.mlflow import checks
from alignment_drift.settings import Settings

uri, artifacts, data, at, alpha, check = sys.argv[1:7]
settings = dataclasses.replace(Settings.from_env(), tracking_uri=uri, artifact_root=artifacts, data_dir=Path(data))
check = json.loads(check)
while time.time() < float(at):
    time.sleep(0.005)
print(checks.record_check(
    settings, check, tags={"verdict": check["verdict"]}, params={"alpha": alpha}, artifacts={"check.json": check}
))
"""


def _check(verdict: str, rows: int) -> dict[str, Any]:
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    return {
        "model": MODEL,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "verdict": verdict,
        "verdict_code": 0 if verdict == "aligned" else 3,
        "source": {"rows": rows},
        "benchmarks": [],
        "attribution": [],
    }


def _race(server: MlflowServer, tmp: Path, alpha: str, checks: list[dict[str, Any]]) -> list[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "ALIGNMENT_DRIFT_MLFLOW_TRIES": "8",
        "ALIGNMENT_DRIFT_MLFLOW_BACKOFF": "0.2",
        "ALIGNMENT_DRIFT_SPOOL_DIR": str(tmp / "spool"),
    }
    at = str(time.time() + 25)  # every worker has imported MLflow by then: they start together
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, server.uri, server.artifacts, str(tmp), at, alpha, json.dumps(check)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for check in checks
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err[-2000:] for _, err in outputs]
    return [out.strip().splitlines()[-1] for out, _ in outputs]


def test_workers_recording_one_night_at_once_leave_one_active_run_and_every_record(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    from alignment_drift.cli.compare import compare
    from alignment_drift.integrations.mlflow import nights
    from alignment_drift.integrations.mlflow.store import client, experiment_id
    from alignment_drift.settings import Settings

    settings = dataclasses.replace(
        Settings.from_env(), tracking_uri=mlflow_server.uri, artifact_root=mlflow_server.artifacts, data_dir=tmp_path
    )
    start = _check("aligned", 0)["data_interval"]["start"]

    def active() -> list[Any]:
        return nights.night_runs(client(settings), experiment_id(settings, MODEL), start)

    first = _race(mlflow_server, tmp_path, "0.05", [_check("aligned", 10 + i) for i in range(WORKERS)])
    (run,) = active()
    assert run.info.run_id in first
    assert len(compare(settings, MODEL, last=10)["nights"]) == 1

    # the spec changed: every worker reruns the night with new params at once
    _race(mlflow_server, tmp_path, "0.01", [_check("misaligned", 20 + i) for i in range(WORKERS)])
    (rerun,) = active()
    assert rerun.data.tags["replaces"] == run.info.run_id and rerun.data.params["alpha"] == "0.01"
    assert [n["verdict"] for n in compare(settings, MODEL, last=10)["nights"]] == ["misaligned"]
    history = nights.night_history(client(settings), experiment_id(settings, MODEL), start)
    assert [h["state"] for h in history].count("active") == 1
    rows = sorted(h["check"]["source"]["rows"] for h in history)
    assert rows == [10 + i for i in range(WORKERS)] + [20 + i for i in range(WORKERS)], "every record is kept"
