"""A real ``mlflow server`` killed mid-run: no check is lost, none is duplicated.

Nights are recorded with ``record_check`` (what the monitor DAG's ``record``
task calls); the server process is terminated, a night's record fails, is
spooled and raises; the server restarts on the same store and the next record
replays the spooled night first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.integration.conftest import MlflowServer

pytestmark = pytest.mark.slow  # starts and restarts a real mlflow server (about a minute)

MODEL = "server_down"


def _check(night: int, verdict: str = "aligned") -> dict[str, Any]:
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(days=night)
    code = {"aligned": 0, "watch": 1, "drifting": 2, "misaligned": 3}[verdict]
    return {
        "schema": "alignment-drift/check@1",
        "model": MODEL,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "source": {"uri": f"file:///data/{night}.parquet", "rows": 1000 + night},
        "verdict": verdict,
        "verdict_code": code,
        "drift": {
            "drift_share": 0.1 * night,
            "columns": [
                {"name": "f0", "statistic": 0.1, "p_value": 0.5, "p_adjusted": 0.5, "effect": 0.01, "drift": False}
            ],
        },
        "benchmarks": [
            {
                "name": "audit_recall",
                "value": 0.7 - night / 100,
                "threshold": 0.6,
                "baseline": 0.7,
                "delta": -night / 100,
                "status": "pass",
            }
        ],
        "attribution": [{"source": "distribution_shift", "confidence": 0.5}] if verdict != "aligned" else [],
    }


def _record(settings: Any, night: int, verdict: str = "aligned") -> str:
    from alignment_drift.integrations.mlflow.checks import record_check

    check = _check(night, verdict)
    tags = {
        "model_version": "1",
        "verdict": verdict,
        "attribution": ",".join(a["source"] for a in check["attribution"]),
        "airflow_dag_id": "alignment_monitor__server_down",
        "airflow_run_id": f"scheduled__{night}",
    }
    return record_check(settings, check, tags=tags, params={"alpha": "0.05"}, artifacts={"check.json": check})


def _runs(settings: Any, night: int) -> list[Any]:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    start = _check(night)["data_interval"]["start"]
    return client(settings).search_runs(
        [experiment_id(settings, MODEL)], filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{start}'"
    )


def test_server_killed_mid_run_loses_and_duplicates_nothing(mlflow_server: MlflowServer, server_settings: Any) -> None:
    from alignment_drift.integrations.mlflow.checks import RecordSpooled, check_metrics
    from alignment_drift.integrations.mlflow.spool import pending, spool_dir

    for night in (1, 2, 3):
        _record(server_settings, night)
    mlflow_server.stop()
    with pytest.raises(RecordSpooled, match="will be replayed"):
        _record(server_settings, 4, "drifting")
    (spooled,) = pending(server_settings, "check")
    assert spooled[1]["payload"]["check"]["data_interval"] == _check(4)["data_interval"]
    # a retry of the same night while still down replaces its spool file, never adds a second one
    with pytest.raises(RecordSpooled):
        _record(server_settings, 4, "drifting")
    assert len(pending(server_settings, "check")) == 1
    assert not list(spool_dir(server_settings).glob(".tmp-*"))

    mlflow_server.start()
    _record(server_settings, 5)  # replays night 4 first
    assert pending(server_settings, "check") == []
    _record(server_settings, 2)  # an idempotent rerun of a night recorded before the outage
    for night in (1, 2, 3, 4, 5):
        (run,) = _runs(server_settings, night)
        expected = check_metrics(_check(night, "drifting" if night == 4 else "aligned"))
        assert set(expected) <= set(run.data.metrics), night
        assert run.data.tags["verdict"] == ("drifting" if night == 4 else "aligned")
        assert run.data.tags["airflow_run_id"] == f"scheduled__{night}"
    (replayed,) = _runs(server_settings, 4)
    assert replayed.data.tags["replayed_from_spool"].startswith("check__")


def test_documented_tags_are_searchable_with_mlflow_search_runs(server_settings: Any) -> None:
    import mlflow

    _record(server_settings, 10, "misaligned")
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server_settings.tracking_uri)
    try:
        found = mlflow.search_runs(
            experiment_names=[f"alignment-drift/{MODEL}"],
            filter_string="tags.kind = 'check' and tags.verdict = 'misaligned' and tags.attribution LIKE "
            "'%distribution_shift%' and tags.airflow_dag_id = 'alignment_monitor__server_down'",
        )
    finally:  # MLflow also writes the URI to the environment: later tests must not inherit this server
        mlflow.set_tracking_uri(before)
    assert len(found) == 1
    assert found.iloc[0]["tags.data_interval_start"] == _check(10)["data_interval"]["start"]
    assert found.iloc[0]["metrics.verdict_code"] == 3
