"""The ``ungated`` alert: sent through the HTTP provider's ``HttpNotifier`` to a real receiver on loopback,
once per ungated version and route (the routes told are recorded on the model version)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integrations.mlflow.registered import GATED, record_night, register, unique_model

from alignment_drift.demo.receiver import AlertReceiver


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertReceiver]:
    with AlertReceiver(tmp_path / "alerts") as running:
        monkeypatch.setenv("AIRFLOW_CONN_AD_UNGATED_HOOK", json.dumps(running.connection()))
        yield running


@pytest.fixture(scope="module")
def settings() -> Any:
    from alignment_drift.settings import Settings

    return Settings.from_env()


def _spec(root: Path, model: str, routes: list[dict[str, Any]]) -> Any:
    from alignment_drift.core.spec import load_spec, parse_spec

    data = load_spec(root / "specs" / "content_safety.yaml").model_dump(mode="json")
    governance = {**data["governance"], "on_ungated": "rollback", "notify": routes}
    return parse_spec({**data, "model": model, "governance": governance})


HOOK = {"kind": "webhook", "conn_id": "ad_ungated_hook", "endpoint": "alerts"}  # default on: includes ungated
MISALIGNED_ONLY = {"kind": "webhook", "conn_id": "ad_ungated_hook", "endpoint": "pages", "on": ["misaligned"]}


def test_an_ungated_version_is_told_once_with_what_the_policy_did(
    root: Path, settings: Any, receiver: AlertReceiver
) -> None:
    from alignment_drift.airflow.gate_alerts import UNGATED_TAG, notify_ungated
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline.policy import check_deployment

    model = unique_model("ungated_alert")
    v1 = register(settings, model, tags=GATED)
    record_night(settings, model, v1, 1, "aligned")
    v2 = register(settings, model, tags={"deployed_by": "platform"}, champion=True)
    run_id = record_night(settings, model, v2, 2, "watch")
    spec = _spec(root, model, [HOOK, MISALIGNED_ONLY])

    found = check_deployment(spec, settings, v2, check_run_id=run_id).to_dict()
    assert found["action"] == "rollback" and found["rolled_back_to"] == v1
    deliveries = notify_ungated(spec, found, settings=settings, check_run_id=run_id)
    assert [(d.route, d.event, d.status) for d in deliveries] == [("webhook:ad_ungated_hook:alerts", "ungated", "sent")]
    (alert,) = receiver.received()
    assert alert["schema"] == "alignment-drift/alert@1" and alert["event"] == "ungated"
    assert alert["model"] == model and alert["model_version"] == v2
    assert (
        f"serves without having passed the gate (the last gated version is v{v1}). Rolled back to v{v1}."
        in (alert["reason"])
    )
    assert alert["links"]["mlflow_run_id"] == run_id
    assert json.loads(registry.version_info(settings, model, v2).tags[UNGATED_TAG]) == [
        "webhook:ad_ungated_hook:alerts"
    ]

    # the version's next night (a rerun, or a policy that keeps it serving): told before, nobody is told again
    again = notify_ungated(spec, found, settings=settings, check_run_id=run_id)
    assert [d.status for d in again] == ["skipped"] and len(receiver.received()) == 1

    # a gated version, a night without a deployment check, a spec without an ungated route: nothing to tell
    assert notify_ungated(spec, check_deployment(spec, settings, v1).to_dict(), settings=settings) == []
    assert notify_ungated(spec, None, settings=settings) == []
    assert notify_ungated(_spec(root, model, [MISALIGNED_ONLY]), found, settings=settings) == []
    assert len(receiver.received()) == 1


def test_a_failed_ungated_alert_is_not_marked_told_and_goes_out_on_the_retry(
    root: Path, settings: Any, receiver: AlertReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignment_drift.airflow.gate_alerts import UNGATED_TAG, notify_ungated
    from alignment_drift.airflow.notify import NotificationFailed, raise_for_deliveries
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline.policy import check_deployment

    model = unique_model("ungated_retry")
    register(settings, model, tags=GATED)
    v2 = register(settings, model, tags={"deployed_by": "platform"}, champion=True)
    spec = _spec(root, model, [HOOK])
    found = check_deployment(spec, settings, v2).to_dict()
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        nowhere = closed.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_AD_UNGATED_HOOK", json.dumps({**receiver.connection(), "port": nowhere}))
    failed = notify_ungated(spec, found, settings=settings)
    assert [d.status for d in failed] == ["failed"] and failed[0].error
    with pytest.raises(NotificationFailed, match="1 alert"):
        raise_for_deliveries(failed)
    assert UNGATED_TAG not in registry.version_info(settings, model, v2).tags

    monkeypatch.setenv("AIRFLOW_CONN_AD_UNGATED_HOOK", json.dumps(receiver.connection()))
    assert [d.status for d in notify_ungated(spec, found, settings=settings)] == ["sent"]
    assert [a["model_version"] for a in receiver.received()] == [v2]
