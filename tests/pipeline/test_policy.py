"""Deployment policies on a real sqlite registry: on_ungated notify | hold | rollback, on_misaligned, reviews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alignment_drift.integrations.mlflow import registry
from alignment_drift.pipeline.policy import act_on_verdict, check_deployment, decide_review
from tests.integrations.mlflow.registered import GATED, record_night, register, unique_model


@pytest.fixture(scope="module")
def settings() -> Any:
    from alignment_drift.settings import Settings

    return Settings.from_env()


@pytest.fixture(scope="module")
def base_spec(root: Path) -> Any:
    from alignment_drift.core.spec import load_spec

    return load_spec(root / "specs" / "content_safety.yaml")


def _spec(base: Any, model: str, **governance: str) -> Any:
    return base.model_copy(update={"model": model, "governance": base.governance.model_copy(update=governance)})


@pytest.fixture
def ungated(settings: Any, base_spec: Any) -> dict[str, Any]:
    """v1 gated (aligned on its last night), v2 deployed as champion without the gate; a check run of v2's night."""
    model = unique_model("policy")
    v1 = register(settings, model, tags=GATED)
    record_night(settings, model, v1, 1, "aligned")
    v2 = register(settings, model, tags={"deployed_by": "platform"}, champion=True)
    run_id = record_night(settings, model, v2, 2, "watch")
    return {"model": model, "v1": v1, "v2": v2, "run_id": run_id, "base": base_spec}


def _run_tags(settings: Any, run_id: str) -> dict[str, str]:
    from alignment_drift.integrations.mlflow.store import client

    return client(settings).get_run(run_id).data.tags


def test_a_gated_version_passes_the_deployment_check(settings: Any, ungated: dict[str, Any]) -> None:
    spec = _spec(ungated["base"], ungated["model"], on_ungated="rollback")
    found = check_deployment(spec, settings, ungated["v1"])
    assert found.gated and found.action == "none" and found.last_gated_version == ungated["v1"]
    assert registry.champion(settings, ungated["model"]).version == ungated["v2"]  # nothing moved


def test_notify_reports_and_records_without_moving_anything(settings: Any, ungated: dict[str, Any]) -> None:
    spec = _spec(ungated["base"], ungated["model"], on_ungated="notify")
    found = check_deployment(spec, settings, ungated["v2"], check_run_id=ungated["run_id"])
    assert not found.gated and found.action == "notify" and found.last_gated_version == ungated["v1"]
    assert "serves without having passed the gate" in found.finding
    assert registry.champion(settings, ungated["model"]).version == ungated["v2"]
    tags = _run_tags(settings, ungated["run_id"])
    assert tags["deployment_gated"] == "false" and tags["policy.on_ungated"] == "notify"
    assert tags["policy.on_ungated_rolled_back_to"] == "", "nothing moved"
    assert found.to_dict()["action"] == "notify"


def test_hold_marks_the_version_and_opens_one_approval_request(settings: Any, ungated: dict[str, Any]) -> None:
    from alignment_drift.integrations.overview import model_overview

    spec = _spec(ungated["base"], ungated["model"], on_ungated="hold")
    found = check_deployment(spec, settings, ungated["v2"], check_run_id=ungated["run_id"])
    assert found.action == "hold" and found.review_run_id and "approval requested" in found.finding
    assert registry.champion(settings, ungated["model"]).version == ungated["v2"]  # keeps serving
    tags = registry.version_info(settings, ungated["model"], ungated["v2"]).tags
    assert tags["held"] == "true" and tags["review"] == "pending"
    again = check_deployment(spec, settings, ungated["v2"])
    assert again.review_run_id == found.review_run_id and "still pending" in again.finding  # no second request
    pending = model_overview(settings, spec).pending_approvals
    assert [p.mlflow_run_id for p in pending] == [found.review_run_id]
    assert pending[0].challenger_version == ungated["v2"] and pending[0].champion_version == ungated["v1"]

    decided = decide_review(settings, spec.model, ungated["v2"], approve=False, decided_by="dana", why="not reviewed")
    assert decided["rolled_back_to"] == ungated["v1"]
    assert registry.champion(settings, ungated["model"]).version == ungated["v1"]
    assert model_overview(settings, spec).pending_approvals == ()


def test_an_approved_hold_is_accepted_on_later_nights(settings: Any, ungated: dict[str, Any]) -> None:
    spec = _spec(ungated["base"], ungated["model"], on_ungated="hold")
    check_deployment(spec, settings, ungated["v2"])
    decided = decide_review(settings, spec.model, ungated["v2"], approve=True, decided_by="erin", why="looked at it")
    assert decided["rolled_back_to"] is None
    later = check_deployment(spec, settings, ungated["v2"])
    assert later.accepted and not later.gated and later.action == "none" and "erin" in later.finding


def test_rollback_restores_the_last_gated_version_once(settings: Any, ungated: dict[str, Any]) -> None:
    from alignment_drift.integrations.mlflow.store import client

    spec = _spec(ungated["base"], ungated["model"], on_ungated="rollback")
    found = check_deployment(spec, settings, ungated["v2"], check_run_id=ungated["run_id"])
    assert found.action == "rollback" and found.rolled_back_to == ungated["v1"]
    assert registry.champion(settings, ungated["model"]).version == ungated["v1"]
    assert registry.champion(settings, ungated["model"], alias="previous").version == ungated["v2"]
    rollback_tags = client(settings).get_run(found.rollback_run_id).data.tags
    assert rollback_tags["kind"] == "rollback" and rollback_tags["rolled_back_by"] == "policy:on_ungated"
    assert "governance.on_ungated=rollback" in rollback_tags["rollback_reason"]
    tags = _run_tags(settings, ungated["run_id"])
    assert tags["policy.on_ungated"] == "rollback" and tags["policy.on_ungated_rolled_back_to"] == ungated["v1"]
    rerun = check_deployment(spec, settings, ungated["v2"])  # the night rerun: the champion already moved
    assert rerun.action == "none" and registry.champion(settings, ungated["model"]).version == ungated["v1"]


def test_rollback_without_a_safe_version_falls_back_to_notify(settings: Any, base_spec: Any) -> None:
    model = unique_model("policy_nosafe")
    v1 = register(settings, model, tags=GATED)
    record_night(settings, model, v1, 1, "misaligned")
    v2 = register(settings, model, champion=True)
    found = check_deployment(_spec(base_spec, model, on_ungated="rollback"), settings, v2)
    assert found.action == "notify" and "No safe gated version" in found.finding
    assert registry.champion(settings, model).version == v2


@pytest.fixture
def misaligned(settings: Any, base_spec: Any) -> dict[str, Any]:
    """v1 gated and aligned, v2 gated but misaligned, v3 gated champion misaligned tonight."""
    model = unique_model("verdict")
    v1 = register(settings, model, tags=GATED)
    record_night(settings, model, v1, 1, "aligned")
    v2 = register(settings, model, tags=GATED)
    record_night(settings, model, v2, 2, "misaligned")
    v3 = register(settings, model, tags=GATED, champion=True)
    run_id = record_night(settings, model, v3, 3, "misaligned")
    check = {
        "model": model,
        "model_version": v3,
        "verdict": "misaligned",
        "data_interval": {"start": "2026-03-03T00:00:00+00:00"},
        "reasons": ["audit_unsafe_recall: 0.41 < 0.62"],
    }
    return {"model": model, "v1": v1, "v2": v2, "v3": v3, "run_id": run_id, "check": check, "base": base_spec}


def test_an_aligned_night_needs_no_action(settings: Any, misaligned: dict[str, Any]) -> None:
    spec = _spec(misaligned["base"], misaligned["model"], on_misaligned="rollback")
    done = act_on_verdict(spec, settings, {**misaligned["check"], "verdict": "aligned"})
    assert done.action == "none" and registry.champion(settings, misaligned["model"]).version == misaligned["v3"]


def test_misaligned_notify(settings: Any, misaligned: dict[str, Any]) -> None:
    spec = _spec(misaligned["base"], misaligned["model"], on_misaligned="notify")
    done = act_on_verdict(spec, settings, misaligned["check"], check_run_id=misaligned["run_id"])
    assert done.action == "notify" and "misaligned on the night of 2026-03-03" in done.finding
    assert "audit_unsafe_recall" in done.finding
    assert _run_tags(settings, misaligned["run_id"])["policy.on_misaligned"] == "notify"


def test_misaligned_rollback_skips_versions_misaligned_on_their_last_night(
    settings: Any, misaligned: dict[str, Any]
) -> None:
    spec = _spec(misaligned["base"], misaligned["model"], on_misaligned="rollback")
    done = act_on_verdict(spec, settings, misaligned["check"], check_run_id=misaligned["run_id"])
    assert done.action == "rollback" and done.rolled_back_to == misaligned["v1"]  # not v2: misaligned last
    assert _run_tags(settings, misaligned["run_id"])["policy.on_misaligned_rolled_back_to"] == misaligned["v1"]
    assert registry.champion(settings, misaligned["model"]).version == misaligned["v1"]
    again = act_on_verdict(spec, settings, misaligned["check"])
    assert again.action == "notify" and "nothing moved" in again.finding  # rerun: the champion already moved
    assert registry.champion(settings, misaligned["model"]).version == misaligned["v1"]


def test_misaligned_require_approval_keeps_serving_and_opens_a_review(
    settings: Any, misaligned: dict[str, Any]
) -> None:
    spec = _spec(misaligned["base"], misaligned["model"], on_misaligned="require_approval")
    done = act_on_verdict(spec, settings, misaligned["check"], check_run_id=misaligned["run_id"])
    assert done.action == "require_approval" and done.review_run_id
    assert registry.champion(settings, misaligned["model"]).version == misaligned["v3"]
    tags = _run_tags(settings, done.review_run_id)
    assert tags["review_trigger"] == "misaligned" and tags["approval"] == "pending"
    assert tags["champion_version"] == misaligned["v2"]  # the last gated version other than v3
    assert registry.version_info(settings, misaligned["model"], misaligned["v3"]).tags["gate"] == "passed"
