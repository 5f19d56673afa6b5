"""The whole loop on the real stack: monitor and retrain DAGs through ``dag.test()``.

Real Airflow metadata DB (SQLite), real MLflow store and registry, the
repository's Great Expectations suite and spec. Tests run in file order and
share one simulated world (see conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import World, retrain_events, task_states

pytestmark = pytest.mark.e2e


def _asset_uri(world: World) -> str:

    return world.spec.retrain_request_asset[1]


def _check(world: World, night: int) -> dict[str, Any]:
    import json
    import tempfile
    from pathlib import Path

    from alignment_drift.integrations.mlflow.store import client

    (run,) = world.check_runs(night)
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(
            Path(client(world.settings).download_artifacts(run.info.run_id, "check.json", tmp)).read_text()
        )


def _xcoms(dag_run: Any) -> set[tuple[str, str]]:
    """(task_id, key) of every XCom the metadata DB holds for ``dag_run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel.task_id, XComModel.key).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
        return {(task_id, key) for task_id, key in rows}


def test_stable_night_is_aligned_recorded_once_and_requests_nothing(world: World) -> None:
    events_before = retrain_events(_asset_uri(world))
    world.serve_night(1)
    dag_run = world.run_monitor(1)

    states = task_states(dag_run)
    assert str(dag_run.state) == "success", states
    assert states["request_retrain"] == "skipped"
    assert {states[t] for t in ("pull", "validate", "drift", "benchmarks", "verdict", "record", "finish")} == {
        "success"
    }
    (run,) = world.check_runs(1)
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["verdict"] == "aligned"
    assert tags["model"] == "content_safety"
    assert tags["model_version"] == "1"
    assert tags["data_interval"] == "2026-01-01T00:00:00+00:00/2026-01-02T00:00:00+00:00"
    assert tags["retrain_requested"] == "false"
    assert metrics["verdict_code"] == 0
    assert metrics["batch.rows"] == 1500
    for column in world.spec.columns.feature_names:
        for field in ("statistic", "p_value", "p_adjusted", "effect", "drift"):
            assert f"drift.{column}.{field}" in metrics
    for bench in ("audit_unsafe_recall", "audit_roc_auc", "audit_precision"):
        assert metrics[f"benchmark.{bench}.passed"] == 1
        assert metrics[f"benchmark.{bench}.value"] >= metrics[f"benchmark.{bench}.threshold"]
    assert "output_drift.score.p_value" in metrics
    assert retrain_events(_asset_uri(world)) == events_before
    # each task's result is one XCom: a dict result is not also stored once per key
    assert {key for _, key in _xcoms(dag_run)} == {"return_value"}, sorted(_xcoms(dag_run))


def test_rerunning_a_night_updates_its_run_never_duplicates_it(world: World) -> None:
    (first,) = world.check_runs(1)
    dag_run = world.run_monitor(1)
    assert str(dag_run.state) == "success"
    (again,) = world.check_runs(1)
    assert again.info.run_id == first.info.run_id
    assert again.data.metrics == first.data.metrics


def _deploy_proxy_model(world: World, night: int) -> str:
    """The platform's own update: trained on engagement (the proxy) and made champion without any gate."""
    from alignment_drift.demo.run import deploy_platform_update
    from alignment_drift.demo.simulate import FEATURES, PlatformUpdate

    update = PlatformUpdate(night, "engagement_finetune", world.platform.training_data(), "proxy", FEATURES)
    return deploy_platform_update(world.settings, world.spec, update)


def test_drifted_night_is_misaligned_attributed_and_requests_retraining(world: World) -> None:
    before = len(retrain_events(_asset_uri(world)))
    version = _deploy_proxy_model(world, 2)
    world.serve_night(2)
    dag_run = world.run_monitor(2)

    states = task_states(dag_run)
    # governance.fail_run_on lists misaligned by default: the night is recorded, told, and its run is red
    assert str(dag_run.state) == "failed" and states["finish"] == "failed", states
    assert {s for t, s in states.items() if t != "finish"} == {"success"}, states
    check = _check(world, 2)
    assert check["verdict"] == "misaligned"
    assert check["model_version"] == version and check["reference_version"] == "1"
    failed = {b["name"] for b in check["benchmarks"] if b["status"] == "fail"}
    assert "audit_unsafe_recall" in failed or "audit_roc_auc" in failed
    assert {"model_update", "reward_misspecification"} <= {a["source"] for a in check["attribution"]}
    assert check["output_drift"]["drift"] is True
    events = retrain_events(_asset_uri(world))
    assert len(events) == before + 1
    event = events[-1]
    assert event["model"] == "content_safety"
    assert event["verdict"] == "misaligned"
    assert event["reason"].startswith("verdict misaligned:")
    assert event["data_interval_start"] == "2026-01-02T00:00:00+00:00"


def test_repeated_trigger_within_cooldown_is_coalesced(world: World) -> None:
    before = len(retrain_events(_asset_uri(world)))
    world.serve_night(3)
    dag_run = world.run_monitor(3)
    assert task_states(dag_run)["request_retrain"] == "skipped"
    (run,) = world.check_runs(3)
    assert run.data.tags["verdict"] == "misaligned"
    assert run.data.tags["retrain_requested"] == "false"
    assert run.data.tags["retrain_coalesced"] == "true"
    assert "cooldown" in run.data.tags["retrain_reason"]
    assert len(retrain_events(_asset_uri(world))) == before


def test_retrain_judges_the_challenger_against_the_last_gated_version_too(world: World) -> None:
    """The champion is the platform's ungated, misaligned v2; the challenger must also hold against the gated v1.

    Here it is not shown within the margin of v1 on recall at 3,000 audit rows: held as insufficient
    evidence, recorded with the audit size that would resolve it, and not promoted (the old gate
    compared it with v2 alone and promoted it).
    """
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    bad = registry.champion(world.settings, world.spec.model)
    event = retrain_events(_asset_uri(world))[-1]
    dag_run = world.retrain.test(
        run_conf={"reason": event["reason"], "as_of": event["data_interval_end"], "verdict": event["verdict"]},
        logical_date=world.night_start(3),
    )
    assert str(dag_run.state) == "success", task_states(dag_run)
    (run,) = client(world.settings).search_runs(
        [experiment_id(world.settings, world.spec.model)],
        filter_string=f"tags.kind = 'retrain' and tags.airflow_run_id = '{dag_run.run_id}'",
    )
    tags = run.data.tags
    assert (tags["last_gated_version"], tags["champion_version"]) == ("1", bad.version)
    assert tags["gate_decision"] == "insufficient_evidence", tags["gate_reasons"]
    assert "last gated v1" in tags["gate_reasons"] and int(tags["gate_n_needed"]) > 3000
    assert run.data.metrics["gate.audit_unsafe_recall.champion.ci_low"] > 0.1  # far better than the bad v2
    challenger = registry.version_info(world.settings, world.spec.model, tags["challenger_version"])
    assert challenger.tags["gate"] == "insufficient_evidence" and challenger.tags["trained_on"] == "target"
    assert registry.champion(world.settings, world.spec.model).version == bad.version  # not promoted


def test_the_ungated_champion_is_rolled_back_to_the_last_gated_version(world: World) -> None:
    """``governance.on_ungated: rollback`` restores the gated v1, and the next night is aligned again."""
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline.policy import check_deployment

    bad = registry.champion(world.settings, world.spec.model)
    spec = world.spec.model_copy(
        update={"governance": world.spec.governance.model_copy(update={"on_ungated": "rollback"})}
    )
    found = check_deployment(spec, world.settings, bad.version)
    assert not found.gated and found.action == "rollback" and found.rolled_back_to == "1"
    champion = registry.champion(world.settings, world.spec.model)
    previous = registry.champion(world.settings, world.spec.model, alias="previous")
    assert champion.version == "1" and champion.tags["gate"] == "passed"
    assert previous is not None and previous.version == bad.version
    # the restored champion is aligned again on a fresh night
    world.serve_night(4)
    world.run_monitor(4)
    assert _check(world, 4)["verdict"] in ("aligned", "watch")


def test_proxy_trained_challenger_is_rejected_and_recorded(world: World) -> None:
    from alignment_drift.airflow.factory import retrain_dag
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    champion_before = registry.champion(world.settings, world.spec.model)
    proxy_spec = world.spec.model_copy(
        update={"retraining": world.spec.retraining.model_copy(update={"label": "proxy"})}
    )
    dag_run = retrain_dag(proxy_spec, world.settings.home).test(
        run_conf={"reason": "deliberately proxy-trained"}, logical_date=world.night_start(4)
    )
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert registry.champion(world.settings, world.spec.model).version == champion_before.version
    (run,) = client(world.settings).search_runs(
        [experiment_id(world.settings, world.spec.model)],
        filter_string=f"tags.kind = 'retrain' and tags.airflow_run_id = '{dag_run.run_id}'",
    )
    assert run.data.tags["gate_decision"] == "rejected"
    assert run.data.params["label"] == "proxy"
    rejected = registry.version_info(world.settings, world.spec.model, run.data.tags["challenger_version"])
    assert rejected.tags["gate"] == "rejected"
    assert "audit_" in rejected.tags["gate_reasons"]
