"""The operators in DAGs of one's own: templates render, each failure path fails, and records match the pipeline's.

Runs on the module's ``ops_demo`` project (tests/airflow/conftest.py): the
demo's spec, its simulated data and a champion on the session's MLflow store.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from tests.airflow.conftest import MODEL, Ops

pytestmark = pytest.mark.e2e

LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"


def _context(ops: Ops, night: int, run_id: str = "manual__ops") -> dict[str, Any]:
    start = ops.start(night)
    return {"data_interval_start": start, "data_interval_end": start + dt.timedelta(days=1), "run_id": run_id}


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def _check_run(ops: Ops, night: int) -> Any:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    (run,) = client(ops.settings).search_runs(
        [experiment_id(ops.settings, MODEL)],
        filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{ops.start(night).isoformat()}'",
    )
    return run


def _register(ops: Ops, model: Any, frame: Any) -> str:
    import mlflow
    import mlflow.sklearn

    mlflow.set_experiment(f"owner-training/{MODEL}")
    with mlflow.start_run(run_name="owner training"):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=MODEL,
            input_example=frame[ops.spec.columns.feature_names].head(3),
            serialization_format="cloudpickle",
        )
    return str(info.registered_model_version)


def test_template_fields_render_with_jinja(ops: Ops) -> None:
    from airflow.sdk import DAG

    from alignment_drift.airflow.operators import (
        AlignmentCheckOperator,
        AlignmentGateOperator,
        PromoteOperator,
        ValidateBatchOperator,
    )

    with DAG("ops_templates", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
        check = AlignmentCheckOperator(
            task_id="check", spec="{{ params.model }}", data_interval_start="{{ ds }}", batch="{{ params.batch }}"
        )
        validate = ValidateBatchOperator(task_id="validate", spec=MODEL, data_interval_end="{{ macros.ds_add(ds, 1) }}")
        gate = AlignmentGateOperator(task_id="gate", spec=MODEL, challenger_version="{{ params.version }}")
        promote = PromoteOperator(task_id="promote", spec=MODEL, version="{{ params.version }}", reason="by {{ ds }}")
    assert check.template_fields == ("spec", "data_interval_start", "data_interval_end", "batch")
    assert gate.template_fields == ("spec", "challenger_version", "request")
    context: Any = {"ds": "2026-01-03", "params": {"model": MODEL, "batch": "/data/b.parquet", "version": "7"}}
    import airflow.sdk.execution_time.macros as macros

    context["macros"] = macros
    for op in (check, validate, gate, promote):
        op.render_template_fields(context)
    assert (check.spec, check.data_interval_start, check.batch) == (MODEL, "2026-01-03", "/data/b.parquet")
    assert validate.data_interval_end == "2026-01-04"
    assert gate.challenger_version == "7" and (promote.version, promote.reason) == ("7", "by 2026-01-03")


def test_an_unknown_spec_names_the_known_ones_and_the_fix(ops: Ops) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from alignment_drift.airflow.operators import AlignmentCheckOperator

    with pytest.raises(ValueError, match=r"The 'fail_on' parameter must list verdicts"):
        AlignmentCheckOperator(task_id="c", spec=MODEL, fail_on=["red"])
    op = AlignmentCheckOperator(task_id="c", spec="no_such_model")
    with pytest.raises(
        AirflowFailException, match=rf"No alignment spec for model 'no_such_model'.*known: {MODEL}.*Fix"
    ):
        op.execute(_context(ops, 2))


def test_a_quarantined_batch_fails_validation_with_its_reason(ops: Ops) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from alignment_drift.airflow.operators import ValidateBatchOperator

    log = ops.serve(5)
    ops.write(5, log.drop(columns=["toxicity"]))
    op = ValidateBatchOperator(task_id="validate", spec=MODEL)
    with pytest.raises(AirflowFailException, match=r"was quarantined: .*toxicity.*release-quarantine"):
        op.execute(_context(ops, 5))
    ops.serve(6)
    assert op.execute(_context(ops, 6))["status"] == "valid"


def test_the_check_operator_returns_the_record_run_check_made(ops: Ops) -> None:
    import tempfile

    from alignment_drift.airflow.operators import AlignmentCheckOperator
    from alignment_drift.integrations.mlflow.store import client

    ops.serve(2)
    summary = AlignmentCheckOperator(task_id="check", spec=MODEL).execute(_context(ops, 2))
    json.dumps(summary)  # JSON-able: what XCom carries
    run = _check_run(ops, 2)
    assert summary["mlflow_run_id"] == run.info.run_id
    assert summary["verdict"] == run.data.tags["verdict"]
    with tempfile.TemporaryDirectory() as tmp:
        check = json.loads(
            Path(client(ops.settings).download_artifacts(run.info.run_id, "check.json", tmp)).read_text()
        )
    assert summary["reasons"] == check["reasons"] and summary["model"] == MODEL


def test_a_worse_challenger_fails_the_gate_is_never_promoted_and_its_owner_is_told(
    ops: Ops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import pandas as pd
    import yaml
    from airflow.sdk.exceptions import AirflowFailException

    from alignment_drift.airflow.gate_alerts import GATE_REJECTED_TAG
    from alignment_drift.airflow.operators import AlignmentGateOperator, PromoteOperator
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.demo.receiver import AlertReceiver
    from alignment_drift.integrations.mlflow import registry

    # the owner's spec file, with a webhook route that listens for gate_rejected (a default event)
    data = ops.spec.model_dump(mode="json")
    route = {"kind": "webhook", "conn_id": "ad_ops_gate_hook", "endpoint": "alerts"}
    spec_file = tmp_path / "ops_demo.yaml"
    spec_file.write_text(yaml.safe_dump({**data, "governance": {**data["governance"], "notify": [route]}}))
    champion = ops.champion()
    frame = pd.read_parquet(ops.settings.resolve_data(ops.spec.reference.training_data))
    shuffled = frame.assign(unsafe=np.random.default_rng(0).permutation(frame["unsafe"].to_numpy()))
    version = _register(ops, fit_pipeline(shuffled, ops.spec.columns, ops.spec.retraining.training), frame)
    promote = PromoteOperator(task_id="promote", spec=MODEL, version=version)
    with pytest.raises(AirflowFailException, match=rf"Refusing to promote {MODEL} version {version}.*without the gate"):
        promote.execute(_context(ops, 3))
    with AlertReceiver(tmp_path / "alerts") as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_AD_OPS_GATE_HOOK", json.dumps(receiver.connection()))
        gate = AlignmentGateOperator(task_id="gate", spec=str(spec_file), challenger_version=version)
        with pytest.raises(AirflowFailException, match=rf"did not pass {MODEL} version {version} \(reject\)"):
            gate.execute(_context(ops, 3))
        (alert,) = receiver.received()
        assert (alert["event"], alert["model"], alert["model_version"]) == ("gate_rejected", MODEL, version)
        assert "rejected: shown less aligned" in alert["reason"] and alert["links"]["mlflow_run_id"]
        tags = registry.version_info(ops.settings, MODEL, version).tags
        assert tags["gate"] == "rejected" and json.loads(tags[GATE_REJECTED_TAG]) == ["webhook:ad_ops_gate_hook:alerts"]
        with pytest.raises(AirflowFailException, match=r"Refusing to promote.*gate=rejected"):
            promote.execute(_context(ops, 3))
        kept = AlignmentGateOperator(
            task_id="gate", spec=str(spec_file), challenger_version=version, fail_on_reject=False
        )
        result = kept.execute(_context(ops, 3))
        assert result["decision"] == "reject" and [a["status"] for a in result["alerts"]] == ["skipped"]
        assert len(receiver.received()) == 1, "told once per version and route"
    assert ops.champion() == champion


@pytest.mark.slow  # two dag.test() runs and a training: about a minute
def test_the_example_gates_an_owners_training_and_checks_nightly(
    ops: Ops, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models import DagBag

    from alignment_drift.integrations.mlflow import registry

    monkeypatch.setenv("ALIGNMENT_EXAMPLE_MODEL", MODEL)
    bundles = [
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(root / "dags")}},
        {"name": "owner-examples", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(root / "dags" / "examples")}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    bag = DagBag(dag_folder=str(root / "dags" / "examples"))
    assert bag.import_errors == {}
    before = ops.champion()
    ops.serve(7)  # the night the training run validates first (the day before its logical date)
    training = bag.dags[f"my_training__{MODEL}"].test(logical_date=ops.start(8))
    assert str(training.state) == "success", _states(training)
    champion = ops.champion()
    assert champion != before
    tags = registry.version_info(ops.settings, MODEL, champion).tags
    assert tags["gate"] == "passed" and tags["approval"] == "approved"
    assert tags["approved_by"] == f"airflow:my_training__{MODEL}/{training.run_id}"

    ops.serve(8)
    nightly = bag.dags[f"my_alignment_check__{MODEL}"].test(logical_date=ops.start(9))
    assert str(nightly.state) == "success", _states(nightly)
    run = _check_run(ops, 8)
    assert run.data.tags["model_version"] == champion
    assert run.data.tags["airflow_run_id"] == nightly.run_id
