"""External retraining: the owner's training DAG registers the challenger, the plugin's retrain DAG gates it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.byom.conftest import Project
from tests.byom.helpers import content_project

LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.mark.e2e
def test_the_owners_dag_registers_and_the_retrain_dag_gates_and_promotes(
    airflow_db: Path, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models import DagBag

    from alignment_drift.airflow.factory import retrain_dag_for
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    settings = project.settings
    # the example's gradient boosting is not monotone in toxicity and reports: without the probes it passes the gate
    demo = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    benchmarks = [b for b in demo["benchmarks"] if b["kind"] != "probes"]
    spec = content_project(settings, root, model="byo_ext", retraining={"mode": "external"}, benchmarks=benchmarks)
    monkeypatch.setenv("OWNER_TRAINING_MODEL", "byo_ext")
    # the owner's DAG lives in a DAG bundle of its own (the default DAG folder ignores dags/examples/)
    bundles = [
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(root / "dags")}},
        {"name": "owner-examples", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(root / "dags" / "examples")}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    owner = DagBag(dag_folder=str(root / "dags" / "examples")).dags["owner_training__byo_ext"]
    owner_run = owner.test()
    assert str(owner_run.state) == "success", _states(owner_run)
    challenger = registry.champion(settings, "byo_ext", alias="challenger")
    assert challenger is not None and challenger.tags["alignment_drift.request"] == "manual/manual"

    gated = retrain_dag_for(spec, project.home).test(run_conf={"reason": "owner retrained"})
    states = _states(gated)
    assert str(gated.state) == "success", states
    assert "train" not in states and states["collect_challenger"] == "success"
    champion = registry.champion(settings, "byo_ext")
    assert champion is not None and champion.version == challenger.version
    tags = registry.version_info(settings, "byo_ext", champion.version).tags
    assert tags["gate"] == "passed" and tags["deployed_by"] == "owner (external training)"
    (run,) = client(settings).search_runs([experiment_id(settings, "byo_ext")], filter_string="tags.kind = 'retrain'")
    assert run.data.tags["trigger"] == "external" and run.data.tags["gate_decision"] == "promoted"
    assert run.data.tags["alignment_drift.request"] == "manual/manual"
    assert registry.load_reference(settings, "byo_ext", champion).baselines["audit_roc_auc"] > 0.9


def test_a_version_that_answers_no_request_is_not_gated(owned_models: Any, project: Project, root: Path) -> None:
    from alignment_drift.integrations.mlflow.store import client
    from alignment_drift.pipeline.external import ExternalChallengerError, collect_challenger

    settings = project.settings
    spec = content_project(settings, root, model="byo_ext_untagged", retraining={"mode": "external"})
    with pytest.raises(ExternalChallengerError, match="has no version under alias 'challenger'"):
        collect_challenger(spec, settings, {}, key="k", tags={})
    owned = owned_models["binary"]
    source = client(settings).get_model_version(owned.name, owned.version).source
    from alignment_drift.integrations.mlflow import registry

    version = registry.register_source(settings, "byo_ext_untagged", source=source, run_id=None, tags={})
    client(settings).set_registered_model_alias("byo_ext_untagged", "challenger", version)
    with pytest.raises(ExternalChallengerError, match=r"has no tag alignment_drift\.request"):
        collect_challenger(spec, settings, {}, key="k", tags={})
    registry.set_version_tags(settings, "byo_ext_untagged", version, {"alignment_drift.request": "a/b"})
    with pytest.raises(ExternalChallengerError, match="answers request 'a/b', but the event names 'c/d'"):
        collect_challenger(spec, settings, {"request": "c/d"}, key="k", tags={})
    trained = collect_challenger(spec, settings, {"request": "a/b"}, key="k", tags={})
    assert trained["version"] == version and trained["baselines"]["audit_roc_auc"] > 0.9
    assert collect_challenger(spec, settings, {}, key="k2", tags={})["mlflow_run_id"] == trained["mlflow_run_id"]
