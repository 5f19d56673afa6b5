"""The DAG folder parses cleanly and fast, with both DAGs of every spec and no heavy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def dagbag(root: Path):
    from airflow.models import DagBag

    return DagBag(dag_folder=str(root / "dags"))


def test_no_import_errors_and_both_dags_per_spec(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert {"alignment_monitor__content_safety", "alignment_retrain__content_safety"} <= set(dagbag.dag_ids)


def test_parse_time_per_file_is_under_two_seconds(dagbag) -> None:
    stats = dagbag.dagbag_stats
    assert stats, "the DAG folder was not parsed"
    for stat in stats:
        seconds = stat.duration.total_seconds()
        assert seconds < 2.0, f"{stat.file} took {seconds:.2f} s to parse"


def test_monitor_dag_shape(dagbag) -> None:
    dag = dagbag.dags["alignment_monitor__content_safety"]
    assert set(dag.task_ids) == {
        "pull",
        "validate",
        "partitions",
        "profile_partition",
        "drift",
        "benchmarks",
        "trend",
        "verdict",
        "record",
        "request_retrain",
        "confirm_request",
        "notify",
        "finish",
    }
    assert dag.get_task("partitions").upstream_task_ids == {"pull", "validate"}
    assert dag.get_task("profile_partition").upstream_task_ids == {"pull", "partitions"}
    assert dag.get_task("drift").upstream_task_ids == {"pull", "validate", "profile_partition"}
    assert dag.get_task("trend").upstream_task_ids == {"pull", "drift", "benchmarks"}
    assert dag.get_task("verdict").upstream_task_ids == {"pull", "validate", "drift", "benchmarks", "trend"}
    assert dag.get_task("record").upstream_task_ids == {"verdict", "drift", "trend"}  # the report uses drift's profile
    assert [o.uri for o in dag.get_task("request_retrain").outlets] == [
        "alignment-drift://content_safety/retrain-request"
    ]
    # a request is marked emitted only downstream of the task whose success creates the event
    assert dag.get_task("confirm_request").upstream_task_ids == {"request_retrain"}
    assert dag.get_task("notify").upstream_task_ids == {"record", "verdict"} and dag.get_task("notify").retries == 3
    assert dag.get_task("request_retrain").depends_on_past and dag.get_task("request_retrain").wait_for_downstream
    assert dag.catchup is True


def test_retrain_dag_is_scheduled_on_the_retrain_request_asset(dagbag) -> None:
    dag = dagbag.dags["alignment_retrain__content_safety"]
    assert set(dag.task_ids) == {"request", "assemble", "train", "gate", "decide", "notify_gate_rejected"}
    assert "alignment-drift://content_safety/retrain-request" in str(dag.timetable.asset_condition)


def test_parsing_imports_no_heavy_library(root: Path) -> None:
    """Parsing the DAG file must not import MLflow, Great Expectations, scikit-learn or pandas."""
    code = (
        "import sys, runpy;"
        f"runpy.run_path({str(root / 'dags' / 'alignment_dags.py')!r});"
        "heavy = [m for m in ('mlflow', 'great_expectations', 'sklearn', 'pandas', 'scipy') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1:] in ([], [""]), result.stdout
