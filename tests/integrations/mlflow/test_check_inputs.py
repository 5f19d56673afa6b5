"""A check run's inputs in a real SQLite MLflow store: the night's batch as a dataset, the judged version's model.

Each run is opened with ``MlflowClient`` as a person (or MLflow's UI) reads
it: ``run.inputs.dataset_inputs`` must hold the batch's digest, source and
schema, ``run.inputs.model_inputs`` the logged model of the version judged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from typing import Any

import pytest

from alignment_drift.integrations.mlflow import checks, inputs, nights
from tests.integrations.mlflow.registered import register, unique_model

COLUMNS = [
    {"name": "item_id", "type": "string"},
    {"name": "ts", "type": "datetime"},
    {"name": "toxicity", "type": "double"},
    {"name": "account_age_days", "type": "long"},
    {"name": "category", "type": "string"},
]


def _check(model: str, version: str | None, *, batch: bytes = b"night one", uri: str | None = None) -> dict[str, Any]:
    start = dt.datetime(2026, 11, 4, tzinfo=dt.UTC)
    quarantined = version is None
    return {
        "model": model,
        "model_version": version,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "source": {
            "uri": uri or f"file:///data/{model}/predictions/2026-11-04.parquet",
            "sha256": hashlib.sha256(batch).hexdigest() if batch else None,
            "rows": 1200,
            "kind": "files",
            "format": "parquet",
            "layout": "file",
            "files": 1,
            "bytes": len(batch),
            "columns": [] if quarantined else COLUMNS,
        },
        "verdict": "quarantined" if quarantined else "aligned",
        "verdict_code": 4 if quarantined else 0,
        "benchmarks": [],
        "attribution": [],
        "reasons": [],
        "drift": {
            "drift_share": 0.0,
            "columns": [{"name": "category", "kind": "categorical", "test": "chi2", "drift": False, "effect": 0.01}],
        },
    }


def _record(settings: Any, check: dict[str, Any]) -> str:
    return checks.record_check(
        settings,
        check,
        tags={"verdict": check["verdict"], "model_version": check["model_version"] or ""},
        params={"alpha": "0.05"},
        artifacts={"check.json": check},
    )


def _batch_inputs(run: Any) -> list[Any]:
    return [
        d
        for d in run.inputs.dataset_inputs
        if {t.key: t.value for t in d.tags}.get("mlflow.data.context") == inputs.CONTEXT
    ]


@pytest.fixture
def model() -> str:
    return unique_model("inputs")


def test_a_check_run_holds_its_batch_as_a_dataset_and_links_the_judged_model(settings: Any, model: str) -> None:
    from alignment_drift.integrations.mlflow.store import EXPERIMENT_KIND, client, experiment_id

    version = register(settings, model)
    check = _check(model, version)
    run_id = _record(settings, check)

    mlflow_client = client(settings)
    run = mlflow_client.get_run(run_id)
    (batch,) = _batch_inputs(run)
    dataset = batch.dataset
    assert dataset.name == f"{model} 2026-11-04"
    assert dataset.digest == check["source"]["sha256"][:12]
    assert dataset.source_type == "local"
    assert json.loads(dataset.source) == {"uri": check["source"]["uri"]}
    schema = json.loads(dataset.schema)["mlflow_colspec"]
    assert [(c["name"], c["type"]) for c in schema] == [(c["name"], c["type"]) for c in COLUMNS]
    profile = json.loads(dataset.profile)
    assert profile["sha256"] == check["source"]["sha256"] and profile["num_rows"] == 1200
    assert {t.key: t.value for t in batch.tags}["validation"] == "valid"

    registered = mlflow_client.get_model_version(model, version)
    (linked,) = run.inputs.model_inputs
    assert registered.source == f"models:/{linked.model_id}"
    logged_model = mlflow_client.get_logged_model(linked.model_id)
    assert {"name": model, "version": int(version)} in json.loads(logged_model.tags["mlflow.modelVersions"])
    tags = run.data.tags
    assert tags["model_uri"] == f"models:/{model}/{version}"
    assert tags["model_id"] == linked.model_id and tags["model_run_id"] == registered.run_id
    assert run.info.run_name == "check 2026-11-04"
    # the experiment opens on MLflow's model-training view
    experiment = mlflow_client.get_experiment(experiment_id(settings, model))
    assert experiment.tags[EXPERIMENT_KIND[0]] == EXPERIMENT_KIND[1]


def test_a_password_in_the_batch_uri_is_logged_masked(settings: Any, model: str) -> None:
    from alignment_drift.integrations.mlflow.store import client

    canary = "Canary-pw-8d1f"
    uri = f"s3://etl-user:{canary}@bucket/{model}/2026-11-04.parquet?X-Amz-Signature={canary}sig"
    run_id = _record(settings, _check(model, register(settings, model), uri=uri))

    (batch,) = _batch_inputs(client(settings).get_run(run_id))
    dataset = batch.dataset
    assert dataset.source_type == "s3"
    assert json.loads(dataset.source)["uri"] == f"s3://***@bucket/{model}/2026-11-04.parquet?X-Amz-Signature=***"
    for text in (dataset.source, dataset.profile, dataset.name, dataset.schema):
        assert canary not in text


def test_a_rerun_of_the_same_batch_adds_no_input_and_a_changed_batch_gets_a_run_of_its_own(
    settings: Any, model: str
) -> None:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    version = register(settings, model)
    first = _record(settings, _check(model, version))
    again = _record(settings, _check(model, version))
    assert again == first
    run = client(settings).get_run(first)
    assert len(_batch_inputs(run)) == 1 and len(run.inputs.model_inputs) == 1

    fixed = _record(settings, _check(model, version, batch=b"night one, fixed and released"))
    assert fixed != first
    mlflow_client = client(settings)
    start = _check(model, version)["data_interval"]["start"]
    (active,) = nights.night_runs(mlflow_client, experiment_id(settings, model), start)
    assert active.info.run_id == fixed and active.data.tags["replaces"] == first
    (batch,) = _batch_inputs(mlflow_client.get_run(fixed))
    assert batch.dataset.digest == hashlib.sha256(b"night one, fixed and released").hexdigest()[:12]
    earlier = mlflow_client.get_run(first)
    assert earlier.data.tags["kind"] == nights.SUPERSEDED and earlier.data.tags["superseded_by"] == fixed
    (kept,) = _batch_inputs(earlier)  # the earlier run still shows the batch it judged
    assert kept.dataset.digest == hashlib.sha256(b"night one").hexdigest()[:12]


def test_a_night_without_a_batch_has_no_dataset_and_no_model(settings: Any, model: str) -> None:
    from alignment_drift.integrations.mlflow.store import client

    run = client(settings).get_run(_record(settings, _check(model, None, batch=b"")))
    assert run.inputs.dataset_inputs == [] and run.inputs.model_inputs == []
    assert "model_uri" not in run.data.tags


def test_a_version_registered_from_plain_artifacts_is_named_by_tags(settings: Any, model: str) -> None:
    from alignment_drift.integrations.mlflow.store import client

    version = register(settings, model)
    mlflow_client = client(settings)
    logged = mlflow_client.get_model_version(model, version)
    artifacts = mlflow_client.get_logged_model(logged.source.removeprefix("models:/")).artifact_location
    plain = mlflow_client.create_model_version(model, source=artifacts, run_id=logged.run_id).version

    run = mlflow_client.get_run(_record(settings, _check(model, str(plain))))
    assert run.inputs.model_inputs == []
    assert run.data.tags["model_uri"] == f"models:/{model}/{plain}"
    assert run.data.tags["model_id"] == "" and run.data.tags["model_run_id"] == logged.run_id
    assert len(_batch_inputs(run)) == 1


@pytest.mark.parametrize("version", ["99", '7"><b>x</b>'], ids=["gone", "not-a-version-number"])
def test_a_version_the_registry_cannot_give_is_not_linked_and_the_night_is_recorded(
    settings: Any, model: str, version: str
) -> None:
    from alignment_drift.integrations.mlflow.store import client

    register(settings, model)
    run = client(settings).get_run(_record(settings, _check(model, version)))
    assert run.inputs.model_inputs == [] and run.data.tags["verdict"] == "aligned"
    assert run.data.tags["model_uri"] == f"models:/{model}/{version}" and run.data.tags["model_id"] == ""
    assert len(_batch_inputs(run)) == 1


def test_recording_a_check_raises_no_warning(settings: Any, model: str) -> None:
    version = register(settings, model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _record(settings, _check(model, version))
    assert [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught] == []
