"""Which versions may serve, and a rollback that never restores an unsafe one unless forced (real sqlite registry)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from alignment_drift.integrations.mlflow import lineage, registry
from alignment_drift.integrations.mlflow.rollback import UnsafeRollback, rollback
from tests.integrations.mlflow.registered import GATED, record_night, register, unique_model


@pytest.fixture(scope="module")
def settings() -> Any:
    from alignment_drift.settings import Settings

    return Settings.from_env()


@pytest.mark.parametrize(
    ("tags", "gated"),
    [
        pytest.param({"gate": "passed", "approval": "automatic"}, True, id="passed-automatic"),
        pytest.param({"gate": "passed", "approval": "approved"}, True, id="passed-approved"),
        pytest.param({"gate": "passed"}, True, id="passed-no-approval-asked"),
        pytest.param({"gate": "passed", "approval": "pending"}, False, id="passed-awaiting-approval"),
        pytest.param({"gate": "passed", "approval": "timed_out"}, False, id="passed-timed-out"),
        pytest.param({"gate": "rejected"}, False, id="rejected"),
        pytest.param({"gate": "insufficient_evidence"}, False, id="insufficient-evidence"),
        pytest.param({"adopted": "true"}, True, id="adopted"),
        pytest.param({"deployed_by": "platform"}, False, id="deployed-outside-the-gate"),
    ],
)
def test_is_gated(tags: dict[str, str], gated: bool) -> None:
    assert lineage.is_gated(registry.VersionInfo("m", "1", None, tags)) is gated


def test_last_gated_version_skips_ungated_and_rolled_back_versions(settings: Any) -> None:
    model = unique_model("lineage_last")
    assert lineage.last_gated_version(settings, model) is None  # not registered at all
    v1 = register(settings, model, tags=GATED)
    v2 = register(settings, model, tags=GATED, champion=True)
    register(settings, model, tags={"deployed_by": "platform"})
    assert lineage.last_gated_version(settings, model).version == v2
    registry.set_version_tags(settings, model, v2, {"rolled_back": "true"})
    assert lineage.last_gated_version(settings, model).version == v2  # it is still the champion
    from alignment_drift.integrations.mlflow.store import client

    client(settings).set_registered_model_alias(model, "champion", v1)
    assert lineage.last_gated_version(settings, model).version == v1
    assert lineage.last_gated_version(settings, model, exclude=v1) is None


def test_last_verdict_is_the_latest_night_served(settings: Any) -> None:
    model = unique_model("lineage_verdict")
    v1 = register(settings, model, tags=GATED)
    assert lineage.last_verdict(settings, model, v1) is None
    record_night(settings, model, v1, 3, "misaligned")
    record_night(settings, model, v1, 4, "aligned")
    record_night(settings, model, v1, 2, "aligned")
    assert lineage.last_verdict(settings, model, v1) == ("aligned", "2026-03-04T00:00:00+00:00")


@pytest.fixture
def history(settings: Any) -> dict[str, str]:
    """v1 gated and aligned, v2 gated but misaligned on its last night, v3 ungated and serving (previous: v2)."""
    from alignment_drift.integrations.mlflow.store import client

    model = unique_model("rollback_safety")
    v1 = register(settings, model, tags=GATED)
    record_night(settings, model, v1, 1, "aligned")
    v2 = register(settings, model, tags=GATED)
    record_night(settings, model, v2, 2, "misaligned")
    v3 = register(settings, model, tags={"deployed_by": "platform"}, champion=True)
    client(settings).set_registered_model_alias(model, "previous", v2)
    return {"model": model, "v1": v1, "v2": v2, "v3": v3}


def test_rollback_refuses_a_misaligned_previous_version_and_names_the_safe_one(
    settings: Any, history: dict[str, str]
) -> None:
    model = history["model"]
    with pytest.raises(UnsafeRollback, match=r"misaligned on its last check.*last safe version is 1: pass --to 1"):
        rollback(settings, model, reason="v3 blocks too little")
    assert registry.champion(settings, model).version == history["v3"]  # nothing moved
    assert lineage.safe_rollback_target(settings, model, current=history["v3"]).version == history["v1"]
    done = rollback(settings, model, reason="v3 blocks too little", to_version=history["v1"], actor="alice")
    assert (done.from_version, done.to_version, done.forced) == (history["v3"], history["v1"], False)
    assert registry.champion(settings, model).version == history["v1"]
    assert registry.champion(settings, model, alias="previous").version == history["v3"]


def test_rollback_refuses_an_ungated_version(settings: Any, history: dict[str, str]) -> None:
    model = history["model"]
    rollback(settings, model, reason="back to v1", to_version=history["v1"])
    with pytest.raises(UnsafeRollback, match=r"never passed the gate \(it was deployed without the gate\)"):
        rollback(settings, model, reason="undo")  # previous is now the ungated v3


def test_a_forced_rollback_warns_loudly_and_is_recorded(
    settings: Any, history: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    from alignment_drift.integrations.mlflow.store import client

    model = history["model"]
    rollback(settings, model, reason="back to v1", to_version=history["v1"])
    with caplog.at_level(logging.WARNING):
        done = rollback(settings, model, reason="the ungated one was fine, says the owner", force=True, actor="bob")
    assert done.forced and done.to_version == history["v3"] and "never passed the gate" in done.overridden[0]
    assert "FORCED ROLLBACK" in caplog.text
    tags = registry.version_info(settings, model, history["v3"]).tags
    assert tags["rollback_forced"] == "true" and "never passed the gate" in tags["rollback_forced_over"]
    assert client(settings).get_run(done.mlflow_run_id).data.tags["rollback_forced"] == "true"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reason": " "}, "needs a reason"),
        ({"reason": "x", "to_version": "99"}, "has no version '99'"),
    ],
    ids=["no-reason", "unknown-version"],
)
def test_rollback_bad_input(settings: Any, history: dict[str, str], kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        rollback(settings, history["model"], **kwargs)


def test_a_review_is_opened_once_and_closed_by_a_decision(settings: Any) -> None:
    from alignment_drift.integrations.mlflow.store import client

    model = unique_model("lineage_review")
    v1 = register(settings, model, tags=GATED)
    v2 = register(settings, model, champion=True)
    run_id, opened = lineage.open_review(
        settings, model, v2, trigger="ungated", reason="served without the gate", reference_version=v1
    )
    assert opened and lineage.open_review(settings, model, v2, trigger="ungated", reason="x", reference_version=v1) == (
        run_id,
        False,
    )
    tags = registry.version_info(settings, model, v2).tags
    assert (tags["held"], tags["review"], tags["review_run_id"]) == ("true", "pending", run_id)
    run = client(settings).get_run(run_id)
    assert run.data.tags["kind"] == "deployment_review" and run.data.tags["approval"] == "pending"
    assert run.data.tags["challenger_version"] == v2 and run.data.tags["champion_version"] == v1
    assert lineage.close_review(settings, model, v2, approved=True, by="carol", why="checked by hand") == run_id
    info = registry.version_info(settings, model, v2)
    assert lineage.accepted_by_review(info) and not lineage.is_gated(info) and info.tags["held"] == "false"
    assert client(settings).get_run(run_id).data.tags["approval"] == "approved"
    assert lineage.close_review(settings, model, v2, approved=False, by="carol", why="") is None  # none open
