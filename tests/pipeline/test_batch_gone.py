"""A rerun of a recorded night whose batch is no longer at the source keeps the night's record.

The night is recorded by the real steps (pull, GX validation, verdict, record) in an MLflow store of
its own; the batch is then moved away from the source and the night is pulled again, as a rerun does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.pipeline.conftest import END, START, Workspace


@pytest.fixture
def recorded(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> tuple[Workspace, str, str]:
    """The night recorded with its batch: the workspace (own MLflow store), the run id and the verdict."""
    from alignment_drift.pipeline.night import BenchmarkResults, Check, DriftResult, Pulled, Validation
    from alignment_drift.pipeline.steps.record import record
    from alignment_drift.pipeline.steps.verdict import decide

    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(ws.tmp / "incidents"))
    ws.settings = dataclasses.replace(
        ws.settings, tracking_uri=f"sqlite:///{ws.tmp / 'mlflow.db'}", artifact_root=(ws.tmp / "artifacts").as_uri()
    )
    ws.log.to_parquet(ws.batch_path())
    pulled, validation = ws.run()
    assert validation["status"] != "quarantined" and pulled["sha256"]
    check = decide(
        ws.spec,
        Pulled.model_validate(pulled),
        Validation.model_validate(validation),
        DriftResult(skipped=True),
        BenchmarkResults(skipped=True),
    )
    done = record(ws.spec, ws.settings, Check.model_validate(check.to_xcom()))
    return ws, done.mlflow_run_id, done.verdict


def _night_runs(ws: Workspace) -> list[Any]:
    from alignment_drift.integrations.mlflow import nights
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    return nights.night_runs(client(ws.settings), experiment_id(ws.settings, ws.spec.model), START.isoformat())


def test_a_rerun_after_the_batch_left_the_source_keeps_the_recorded_verdict(recorded: Any) -> None:
    from alignment_drift.pipeline.steps.pull import BatchGone, pull_night

    ws, run_id, verdict = recorded
    ws.batch_path().unlink()
    quarantined_before = sorted(ws.settings.quarantine_dir.rglob("*")) if ws.settings.quarantine_dir.exists() else []
    with pytest.raises(BatchGone, match="batch no longer at the source") as caught:
        pull_night(ws.spec, ws.settings, start=START, end=END)  # what the monitor DAG's pull task and check run
    message = str(caught.value)
    assert "\n" not in message and run_id in message and f"'{verdict}'" in message and "Fix:" in message
    (run,) = _night_runs(ws)
    assert run.info.run_id == run_id and run.data.tags["verdict"] == verdict != "quarantined"
    after = sorted(ws.settings.quarantine_dir.rglob("*")) if ws.settings.quarantine_dir.exists() else []
    assert after == quarantined_before, "nothing was quarantined for the rerun"


def test_a_batch_put_back_is_checked_again_and_a_night_never_recorded_is_still_quarantined(recorded: Any) -> None:
    from alignment_drift.pipeline.steps.pull import pull_night
    from alignment_drift.pipeline.steps.validate import validate

    ws, _, _ = recorded
    pulled = pull_night(ws.spec, ws.settings, start=START, end=END)  # the batch is still there: checked again
    assert pulled.sha256 and pulled.exists
    ws.batch_path().unlink()
    other = ws.spec.model_copy(update={"model": "batch_gone_other"})  # no record for this night
    missing = pull_night(other, ws.settings, start=START, end=END)
    assert validate(other, ws.settings, missing).status == "quarantined"


def test_reading_a_recorded_nights_batch_elsewhere_still_sees_it_missing(recorded: Any) -> None:
    """Retraining and late labels read recorded nights with ``pull``: a gone batch is theirs to skip, not an error."""
    from alignment_drift.pipeline.steps.pull import pull

    ws, _, _ = recorded
    ws.batch_path().unlink()
    assert pull(ws.spec, ws.settings, start=START, end=END).layout == "missing"
