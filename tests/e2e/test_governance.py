"""Governed retraining on the real stack: the gate's non-inferiority comparison, approval, rollback, triggers.

A model of its own (``gov_safety``, the demo's spec under another name) so the
loop tests keep theirs. Its retrain DAG runs through ``dag.test()`` on the
session's metadata DB and MLflow store.

What is and is not exercised for real: the approval DAG is built with
Airflow's ``HITLOperator`` and run through ``dag.test()`` with the ``approve``
task marked successful (``mark_success_pattern``): a human answer cannot be
given inside ``dag.test()`` (the operator parks the task in ``awaiting_input``
until the API answers). The human's answer is then applied by calling
``apply_approval`` with the payload the operator returns
(``chosen_options``, ``params_input``, ``responded_by_user``, ``responded_at``);
the timeout path (no responder: the operator's default ``Reject``) likewise.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.e2e.conftest import World, task_states

pytestmark = pytest.mark.e2e
MODEL = "gov_safety"


def _spec_as(spec: Any, **governance: Any) -> Any:
    return spec.model_copy(update={"governance": spec.governance.model_copy(update=governance)})


@pytest.fixture(scope="module")
def gov(airflow_db: Path, root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """``gov_safety``: approval required; its DAGs are parsed from a specs folder of its own.

    ``dag.test()`` schedules the DAG as parsed from the DAGs folder, so the
    spec must be a file there; the first champion is trained with the retrain
    steps (automatic approval) so the DAG runs start from a champion.
    """
    import yaml

    from alignment_drift.airflow.factory import monitor_dag, retrain_dag
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.pipeline import retrain as steps
    from alignment_drift.settings import Settings

    raw = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    raw["model"] = MODEL
    raw["source"]["path"] = f"{MODEL}/predictions/{{date}}.parquet"
    raw["reference"]["training_data"] = f"{MODEL}/training.parquet"
    raw["reference"]["audit_set"] = f"{MODEL}/audit.parquet"
    raw["governance"] = {"approval": "required", "approval_timeout_hours": 1}
    specs = tmp_path_factory.mktemp("gov-specs")
    (specs / f"{MODEL}.yaml").write_text(yaml.safe_dump(raw))
    shutil.copytree(root / "specs" / "content_safety", specs / "content_safety")  # the probe cases
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
        patch.setenv("ALIGNMENT_DRIFT_EXPECTATIONS_DIR", str(root / "expectations"))
        settings = Settings.from_env(root)
        spec = load_spec(specs / f"{MODEL}.yaml")
        platform = ContentPlatform("stable", seed=5, rows_per_night=1200, start_date=spec.start_date)
        prepare_data(settings, spec, platform)
        world = World(spec, settings, platform, monitor_dag(spec, root), retrain_dag(spec, root))
        first = _spec_as(spec, approval="automatic")
        key = f"{MODEL}/initial"
        assembled = steps.assemble(first, settings, as_of=world.night_start(1), key=key)
        trained = steps.train(
            first, settings, assembled, key=key, reason="initial champion", tags={"trigger": "manual"}
        )
        decided = steps.decide_promotion(first, settings, trained, steps.gate(first, settings, trained))
        assert decided["decision"] == "promoted", decided
        yield world


def _retrain_run(world: World, dag_run: Any) -> Any:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    (run,) = client(world.settings).search_runs(
        [experiment_id(world.settings, MODEL)],
        filter_string=f"tags.kind = 'retrain' and tags.airflow_run_id = '{dag_run.run_id}'",
    )
    return run


def _artifact(world: World, run_id: str, name: str) -> Any:
    from alignment_drift.integrations.mlflow.store import client

    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(Path(client(world.settings).download_artifacts(run_id, name, tmp)).read_text())


def test_proxy_challenger_rejected_with_the_paired_comparison_logged(
    gov: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignment_drift.airflow.factory import retrain_dag
    from alignment_drift.core.spec.notify import WebhookRoute
    from alignment_drift.demo.receiver import AlertReceiver
    from alignment_drift.integrations.mlflow import registry

    before = registry.champion(gov.settings, MODEL)
    proxy = gov.spec.model_copy(update={"retraining": gov.spec.retraining.model_copy(update={"label": "proxy"})})
    hook = WebhookRoute(kind="webhook", conn_id="ad_gov_gate_hook", endpoint="alerts")  # default events
    proxy = _spec_as(proxy, notify=[hook])
    with AlertReceiver(tmp_path / "alerts") as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_AD_GOV_GATE_HOOK", json.dumps(receiver.connection()))
        dag_run = retrain_dag(proxy, gov.settings.home).test(
            run_conf={"reason": "proxy-trained on purpose"}, logical_date=gov.night_start(2)
        )
        alerts = receiver.received()
    assert str(dag_run.state) == "success", task_states(dag_run)
    run = _retrain_run(gov, dag_run)
    assert run.data.tags["gate_decision"] == "rejected"
    # the owner hears of it: one gate_rejected alert for the version, linking the retrain run
    (alert,) = alerts
    assert (alert["event"], alert["model"]) == ("gate_rejected", MODEL)
    assert alert["model_version"] == run.data.tags["challenger_version"]
    assert alert["links"]["mlflow_run_id"] == run.info.run_id and "rejected" in alert["reason"]
    assert registry.champion(gov.settings, MODEL).version == before.version
    table = _artifact(gov, run.info.run_id, "gate/comparison_table.json")
    columns = {"benchmark", "challenger", "reference", "reference_version", "reference_value", "delta", "decision"}
    assert columns | {"ci_low", "ci_high", "bound"} <= set(table["columns"])
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    failed = [r for r in rows if r["decision"] == "fail"]
    assert failed, rows
    paired = [r for r in rows if r["ci_high"] is not None]
    assert paired and all(r["ci_low"] <= r["delta"] <= r["ci_high"] for r in paired)
    assert {r["reference_version"] for r in paired} == {before.version}  # the champion, which is the last gated
    assert any(r["ci_high"] < -gov.spec.retraining.gate_margin for r in paired)
    metrics = run.data.metrics
    assert metrics["gate.passed"] == 0
    assert "gate.audit_roc_auc.champion.ci_high" in metrics
    comparison = _artifact(gov, run.info.run_id, "gate/comparison.json")
    assert comparison["method"]["kind"] == "paired_bootstrap" and comparison["method"]["judged_on"] == "target"
    assert comparison["method"]["rule"] == "non_inferiority" and comparison["decision"] == "reject"
    assert len(comparison["objective_fingerprint"]) == 64


def test_approval_required_blocks_promotion_until_a_human_decides(gov: World) -> None:
    from alignment_drift.airflow.factory import retrain_dag
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain as steps

    spec = gov.spec
    dag = retrain_dag(spec, gov.settings.home)
    approve = dag.get_task("approve")
    assert type(approve).__name__ == "HITLOperator"
    assert approve.options == ["Approve", "Reject"] and approve.defaults == ["Reject"]
    assert approve.response_timeout == dt.timedelta(hours=1)
    before = registry.champion(gov.settings, MODEL)
    dag_run = dag.test(
        run_conf={"reason": "needs a human"},
        logical_date=gov.night_start(3),
        mark_success_pattern="^(approve|apply_approval)$",
    )
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert task_states(dag_run)["needs_approval"] == "success"
    run = _retrain_run(gov, dag_run)
    version = run.data.tags["challenger_version"]
    assert run.data.tags["gate_decision"] == "awaiting_approval" and run.data.tags["approval"] == "pending"
    assert run.data.tags["trigger"] == "manual" and run.data.tags["coalesced_events"] == "0"
    contexts = {d.tags[0].value: d.dataset for d in run.inputs.dataset_inputs}
    assert set(contexts) == {"training", "audit"}
    assert contexts["training"].digest and contexts["audit"].digest
    assert json.loads(contexts["training"].profile)["num_rows"] > 0
    assert registry.champion(gov.settings, MODEL).version == before.version  # blocked
    assert registry.version_info(gov.settings, MODEL, version).tags["approval"] == "pending"
    assert registry.champion(gov.settings, MODEL, alias="challenger").version == version

    decided = {"decision": "awaiting_approval", "version": version, "previous_champion": before.version, "reasons": []}
    response = {
        "chosen_options": ["Approve"],
        "params_input": {"comment": "paired comparison is clean"},
        "responded_by_user": {"id": "7", "name": "alice"},
        "responded_at": "2026-01-04T09:00:00+00:00",
    }
    out = steps.apply_approval(spec, gov.settings, decided, response, run_id=run.info.run_id)
    assert out["decision"] == "promoted" and out["approval"] == "approved" and out["decided_by"] == "alice"
    assert registry.champion(gov.settings, MODEL).version == version
    assert registry.champion(gov.settings, MODEL, alias="previous").version == before.version
    tags = registry.version_info(gov.settings, MODEL, version).tags
    assert tags["approval"] == "approved" and tags["approved_by"] == "alice"
    assert tags["approval_reason"] == "paired comparison is clean"
    from alignment_drift.integrations.mlflow.store import client

    run_tags = client(gov.settings).get_run(run.info.run_id).data.tags
    assert run_tags["gate_decision"] == "promoted" and run_tags["decided_by"] == "alice"


def test_approval_timeout_rejects(gov: World) -> None:
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain as steps

    spec = gov.spec
    champion = registry.champion(gov.settings, MODEL)
    assembled = steps.assemble(spec, gov.settings, as_of=gov.night_start(1), key=f"{MODEL}/timeout")
    trained = steps.train(spec, gov.settings, assembled, key=f"{MODEL}/timeout", reason="timeout test", tags={})
    again = steps.train(spec, gov.settings, assembled, key=f"{MODEL}/timeout", reason="timeout test", tags={})
    assert again["version"] == trained["version"] and again["mlflow_run_id"] == trained["mlflow_run_id"]  # idempotent
    gated = steps.gate(spec, gov.settings, trained)
    passed = {**gated, "decision": "promote", "passed": True, "reasons": []}  # whatever the gate said: the timeout
    decided = steps.decide_promotion(spec, gov.settings, trained, passed)
    assert decided["decision"] == "awaiting_approval"
    timeout = {"chosen_options": ["Reject"], "params_input": {}, "responded_by_user": None, "responded_at": "x"}
    out = steps.apply_approval(spec, gov.settings, decided, timeout, run_id=trained["mlflow_run_id"])
    assert out["decision"] == "rejected" and out["approval"] == "timed_out"
    assert registry.champion(gov.settings, MODEL).version == champion.version
    assert registry.champion(gov.settings, MODEL, alias="challenger") is None
    assert registry.version_info(gov.settings, MODEL, trained["version"]).tags["approval"] == "timed_out"


def test_rollback_restores_the_previous_champion_by_cli_and_dag(gov: World) -> None:
    from alignment_drift.airflow.factory import rollback_dag
    from alignment_drift.cli import main
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    current = registry.champion(gov.settings, MODEL).version
    previous = registry.champion(gov.settings, MODEL, alias="previous").version
    assert main(["rollback", MODEL, "--reason", "complaints about v" + current]) == 0
    assert registry.champion(gov.settings, MODEL).version == previous
    assert registry.champion(gov.settings, MODEL, alias="previous").version == current
    assert registry.version_info(gov.settings, MODEL, current).tags["rolled_back"] == "true"
    model_tags = client(gov.settings).get_registered_model(MODEL).tags
    assert model_tags["last_rollback"].startswith(f"{current} -> {previous}")
    versions = client(gov.settings).search_model_versions(f"name = '{MODEL}'")
    assert {str(v.version) for v in versions} >= {current, previous}  # nothing deleted

    dag_run = rollback_dag(gov.spec, gov.settings.home).test(run_conf={"reason": "undo the rollback"})
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert registry.champion(gov.settings, MODEL).version == current
    runs = client(gov.settings).search_runs(
        [experiment_id(gov.settings, MODEL)],
        filter_string="tags.kind = 'rollback'",
        order_by=["attributes.start_time ASC"],
    )
    assert [(r.data.tags["from_version"], r.data.tags["to_version"]) for r in runs] == [
        (current, previous),
        (previous, current),
    ]
    assert runs[1].data.tags["airflow_run_id"] == dag_run.run_id
    assert main(["rollback", MODEL, "--reason", " "]) == 2

    from alignment_drift.integrations.mlflow import lineage

    rejected = next(v for v in lineage.versions(gov.settings, MODEL) if v.tags.get("gate") == "rejected")
    refused = rollback_dag(gov.spec, gov.settings.home).test(
        run_conf={"reason": "back to the proxy-trained one", "to_version": rejected.version}
    )
    assert str(refused.state) == "failed" and task_states(refused)["restore"] == "failed"
    assert registry.champion(gov.settings, MODEL).version == current  # a version that failed the gate never serves


def test_periodic_schedule_and_coalesced_requests(root: Path) -> None:
    from airflow.sdk import AssetOrTimeSchedule

    from alignment_drift.airflow.factory import retrain_dag
    from alignment_drift.airflow.retrain_dag import _request
    from alignment_drift.core.spec import load_spec

    spec = load_spec(root / "specs" / "content_safety.yaml")
    weekly = spec.model_copy(update={"retraining": spec.retraining.model_copy(update={"schedule": "@weekly"})})
    dag = retrain_dag(weekly)
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.timetable.expression == "0 0 * * 0"
    assert not isinstance(retrain_dag(spec).timetable, AssetOrTimeSchedule)

    events = [SimpleNamespace(extra={"reason": f"night {i}", "mlflow_run_id": f"run{i}"}) for i in range(3)]
    req = _request({"triggering_asset_events": {"asset": events}})
    assert req["coalesced_events"] == 3 and req["reason"] == "night 2" and req["trigger"] == "asset"
    assert req["requested_by_check_run"] == "run2" and req["related_runs"] == "run0,run1,run2"
    scheduled = _request({"dag_run": SimpleNamespace(conf={}, run_type="scheduled"), "params": {"reason": "manual"}})
    assert scheduled["trigger"] == "schedule" and scheduled["coalesced_events"] == 0
