"""Operating the demo leaves it as it is: what ``make airflow`` starts, on the demo's own stores, changes nothing.

A short demo runs as ``make demo`` runs it (its own Airflow home, SQLite metadata DB, MLflow store and
data root; DAGs *unpaused* at creation, as the Makefile had it). Then Airflow's scheduler and DAG
processor run on that metadata DB for a bounded time, first as ``make airflow`` starts them, then
after every alignment DAG was unpaused by hand. The demo's check runs, registry and DAG runs are read
before and after: no recorded night is checked again, no retrain request the demo handled is run
again, and the scheduler does not loop on a run it finds already there.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NIGHTS = 6  # night 6 requests a retrain (the demo's README table): the demo runs it itself
MODEL = "content_safety"
SCHEDULER_SECONDS = 45
_CLI = "import sys; from alignment_drift.cli import main; sys.exit(main(sys.argv[1:]))"  # the installed command


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a finished demo of ``NIGHTS`` nights (what the Makefile exports, in a home of its own)."""
    home = tmp_path_factory.mktemp("operate")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW", "ALIGNMENT_DRIFT"))},
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # the worst case: the demo must hold them itself
        # tasks the scheduler might queue reach no execution API: nothing a test run starts can write
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:9/execution/",
        "ALIGNMENT_DRIFT_HOME": str(ROOT),
        "ALIGNMENT_DRIFT_DATA_DIR": str(home / "data"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "ALIGNMENT_DRIFT_ARTIFACT_ROOT": str(home / "artifacts"),
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    (home / "airflow").mkdir()
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    done = subprocess.run(
        [sys.executable, "-c", _CLI, "demo", "--nights", str(NIGHTS), "--no-alerts"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return env


def _snapshot(env: dict[str, str]) -> dict[str, Any]:
    """The demo's records: every MLflow run (any state), the registry's aliases and versions, and the DAG runs."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = {
        r.info.run_id: (r.info.lifecycle_stage, r.info.status, r.data.tags.get("kind"), r.data.tags.get("verdict"))
        for r in client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=10_000)
    }
    model = client.get_registered_model(MODEL)
    versions = sorted(v.version for v in client.search_model_versions(f"name = '{MODEL}'"))
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        dag_runs = sorted(
            db.execute("SELECT dag_id, run_id, logical_date, data_interval_start, state FROM dag_run").fetchall(),
            key=str,
        )
        queued = db.execute("SELECT count(*) FROM asset_dag_run_queue").fetchone()[0]
    return {"runs": runs, "aliases": dict(model.aliases), "versions": versions, "dag_runs": dag_runs, "queued": queued}


def _operate(env: dict[str, str], log: Path, seconds: float = SCHEDULER_SECONDS) -> str:
    """Airflow's scheduler and DAG processor on the demo's metadata DB for ``seconds``, then stopped."""
    airflow = str(Path(sys.executable).parent / "airflow")
    with log.open("w") as out:
        processes = [
            subprocess.Popen([airflow, part], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            for part in ("scheduler", "dag-processor")
        ]
        time.sleep(seconds)
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return log.read_text(errors="replace")


def _nights(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {run_id: state for run_id, state in snapshot["runs"].items() if state[2] in ("check", "check_superseded")}


def test_the_demo_leaves_its_dags_paused_with_nothing_queued_and_every_night_at_its_scheduled_date(
    demo: dict[str, str],
) -> None:
    with sqlite3.connect(Path(demo["AIRFLOW_HOME"]) / "airflow.db") as db:
        paused = dict(db.execute("SELECT dag_id, is_paused FROM dag WHERE dag_id LIKE 'alignment_%'").fetchall())
        monitor_runs = db.execute(
            "SELECT logical_date, data_interval_start FROM dag_run WHERE dag_id = ?", (f"alignment_monitor__{MODEL}",)
        ).fetchall()
    assert paused and set(paused.values()) == {1}, paused
    assert len(monitor_runs) == NIGHTS
    assert all(logical == start for logical, start in monitor_runs), monitor_runs
    with sqlite3.connect(Path(demo["AIRFLOW_HOME"]) / "airflow.db") as db:
        events = db.execute("SELECT count(*) FROM asset_event").fetchone()[0]
    assert events >= 1, "the demo emitted no retrain request: nothing here would show one replayed"
    assert _snapshot(demo)["queued"] == 0


def test_make_airflow_on_the_demos_store_changes_none_of_its_records(demo: dict[str, str], tmp_path: Path) -> None:
    before = _snapshot(demo)
    assert len(_nights(before)) == NIGHTS
    _operate({**demo, "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}, tmp_path / "scheduler.log")
    assert _snapshot(demo) == before


def test_unpausing_the_demos_dags_checks_no_recorded_night_again_replays_no_request_and_never_loops(
    demo: dict[str, str], tmp_path: Path
) -> None:
    airflow = str(Path(sys.executable).parent / "airflow")
    before = _snapshot(demo)
    last_night = max(str(row[3]) for row in before["dag_runs"] if row[0] == f"alignment_monitor__{MODEL}")
    for dag_id in (f"alignment_monitor__{MODEL}", f"alignment_retrain__{MODEL}"):
        subprocess.run([airflow, "dags", "unpause", dag_id], env=demo, check=True, capture_output=True, timeout=300)
    log = _operate(demo, tmp_path / "scheduler.log")
    after = _snapshot(demo)
    new_runs = sorted(set(after["dag_runs"]) - set(before["dag_runs"]), key=str)
    again = [r for r in new_runs if r[0] == f"alignment_monitor__{MODEL}" and str(r[3]) <= last_night]
    assert again == [], "a recorded night was scheduled again"
    assert [r for r in new_runs if r[0] == f"alignment_retrain__{MODEL}"] == [], "an old retrain request was run"
    # the scheduler walks past each demo night once per time it computes its next run (at most a few);
    # a run holding the next night's logical date made it skip the same night on every loop, ~1/s
    skipped = [line for line in log.splitlines() if "run already exists" in line]
    night = re.compile(r"logical_date=(datetime\.datetime\(\d+, \d+, \d+|\S+)")
    per_night = Counter(found.group(1) for found in map(night.search, skipped) if found)
    assert max(per_night.values(), default=0) <= 3, "the scheduler looped on a run it found already there:\n" + (
        "\n".join(skipped[:10])
    )
    assert _nights(after) == _nights(before)
    assert (after["aliases"], after["versions"]) == (before["aliases"], before["versions"])
