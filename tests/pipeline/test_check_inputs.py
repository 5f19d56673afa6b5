"""The night's real batch becomes its check run's dataset input, described from the pull and the validation.

The night goes through the real steps (pull, GX validation, verdict, record) into an MLflow store of its
own. The batch is moved away before ``record``: the dataset's digest, source and schema come from what the
steps already hold, never from reading the batch again.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.pipeline.conftest import Workspace


def test_the_checked_batch_is_the_runs_dataset_without_reading_it_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignment_drift.integrations.mlflow.inputs import CONTEXT
    from alignment_drift.integrations.mlflow.store import client
    from alignment_drift.integrations.sources.schema import batch_columns
    from alignment_drift.pipeline.night import BenchmarkResults, Check, DriftResult, Pulled, Validation
    from alignment_drift.pipeline.steps.record import record
    from alignment_drift.pipeline.steps.verdict import decide

    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(ws.tmp / "incidents"))
    ws.settings = dataclasses.replace(
        ws.settings, tracking_uri=f"sqlite:///{ws.tmp / 'mlflow.db'}", artifact_root=(ws.tmp / "artifacts").as_uri()
    )
    ws.log.to_parquet(ws.batch_path(), index=False)
    pulled, validation = ws.run()
    assert validation["status"] == "valid"
    check = decide(
        ws.spec,
        Pulled.model_validate(pulled),
        Validation.model_validate(validation),
        DriftResult(skipped=True),
        BenchmarkResults(skipped=True),
    )
    ws.batch_path().rename(ws.tmp / "moved-away.parquet")  # record cannot read it: it describes it

    run_id = record(ws.spec, ws.settings, Check.model_validate(check.to_xcom())).mlflow_run_id

    run = client(ws.settings).get_run(run_id)
    (batch,) = run.inputs.dataset_inputs
    assert {t.key: t.value for t in batch.tags} == {"mlflow.data.context": CONTEXT, "validation": "valid"}
    dataset = batch.dataset
    assert dataset.digest == pulled["sha256"][:12] and dataset.name == "content_safety 2026-01-01"
    assert json.loads(dataset.source) == {"uri": pulled["uri"]} and dataset.source_type == "local"
    read = batch_columns(ws.log)
    assert [(c["name"], c["type"]) for c in json.loads(dataset.schema)["mlflow_colspec"]] == [
        (c["name"], c["type"]) for c in read
    ]
    types = {c["name"]: c["type"] for c in read}
    assert types[ws.spec.columns.timestamp] == "datetime" and types[ws.spec.columns.score] == "double"
    profile = json.loads(dataset.profile)
    assert profile == {
        "num_rows": len(ws.log),
        "sha256": pulled["sha256"],
        "files": 1,
        "bytes": pulled["bytes"],
        "format": "parquet",
        "layout": "file",
        "kind": "files",
    }
    assert run.inputs.model_inputs == []  # the check judged no version (drift and benchmarks skipped)
