"""The demo's governance settings: validated in memory, never written to the spec file; the receiver's connection
lives only as long as the demo."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from alignment_drift.demo.governance import (
    ALERT_CONN_ID,
    alert_note,
    alert_receiver,
    alerts_dir,
    demo_spec,
    policy_notes,
)
from alignment_drift.integrations.alerts import ALERT_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
CONN_VAR = f"AIRFLOW_CONN_{ALERT_CONN_ID.upper()}"


@pytest.fixture(scope="module")
def spec() -> Any:
    from alignment_drift.core.spec import load_spec

    return load_spec(ROOT / "specs" / "content_safety.yaml")


def test_the_demo_spec_differs_only_in_what_it_says(spec: Any) -> None:
    ran, differs = demo_spec(spec, on_ungated="rollback", alerts=True, source="specs/content_safety.yaml")
    assert spec.governance.on_ungated == "notify" and spec.governance.notify == [], "the loaded spec is untouched"
    assert ran.governance.on_ungated == "rollback"
    (route,) = ran.governance.notify
    assert (route.kind, route.conn_id, route.endpoint) == ("webhook", ALERT_CONN_ID, "alerts")
    assert set(route.on) == {"misaligned", "drifting", "quarantined", "ungated", "gate_rejected"}
    assert differs == [
        "governance.on_ungated: rollback (the file: notify)",
        f"governance.notify: + webhook (connection {ALERT_CONN_ID}, endpoint alerts) on misaligned, quarantined, "
        "drifting, ungated, gate_rejected (the file: 0 route(s))",
    ]
    keep = ran.model_dump(exclude={"governance"}) == spec.model_dump(exclude={"governance"})
    assert keep, "nothing but governance changes"
    assert ran.governance.model_dump(exclude={"on_ungated", "notify"}) == spec.governance.model_dump(
        exclude={"on_ungated", "notify"}
    )

    same, none = demo_spec(spec, on_ungated="notify", alerts=False, source="x.yaml")
    assert none == [] and same == spec
    with pytest.raises(ValueError, match=r"'on_ungated' parameter must be one of \['notify', 'hold', 'rollback'\]"):
        demo_spec(spec, on_ungated="ignore", alerts=False, source="x.yaml")


def test_the_receivers_connection_lives_only_as_long_as_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignment_drift.settings import Settings

    monkeypatch.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(tmp_path / "data"))
    settings = Settings.from_env(tmp_path)
    monkeypatch.setenv(CONN_VAR, "http://someone-elses:1")
    with alert_receiver(settings, True) as receiver:
        assert receiver is not None and receiver.folder == alerts_dir(settings) == tmp_path / "data/demo/alerts"
        assert json.loads(os.environ[CONN_VAR]) == receiver.connection()
        body = json.dumps({"schema": ALERT_SCHEMA, "event": "ungated", "model_version": "4"}).encode()
        request = urllib.request.Request(f"{receiver.url}/alerts", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200
    assert os.environ[CONN_VAR] == "http://someone-elses:1", "the earlier value is restored"
    assert (tmp_path / "data/demo/alerts/001.json").read_bytes() == body

    monkeypatch.delenv(CONN_VAR)
    with alert_receiver(settings, True):
        assert CONN_VAR in os.environ
    assert CONN_VAR not in os.environ
    with alert_receiver(settings, False) as off:
        assert off is None and CONN_VAR not in os.environ


def test_what_a_night_prints_about_policies_and_alerts() -> None:
    tags = {
        "deployment_gated": "false",
        "policy.on_ungated": "rollback",
        "policy.on_ungated_rolled_back_to": "8",
        "policy.on_misaligned": "notify",
    }
    assert policy_notes(tags, "9") == ["on_ungated: rollback v9 -> v8 (v9 never passed the gate)"]
    assert policy_notes({"policy.on_ungated": "hold"}, "9") == [
        "on_ungated: hold v9, approval requested (v9 never passed the gate)"
    ]
    rolled = {
        "policy.on_ungated": "none",
        "policy.on_misaligned": "rollback",
        "policy.on_misaligned_rolled_back_to": "7",
    }
    assert policy_notes(rolled, "8") == ["on_misaligned: rollback v8 -> v7"]
    assert policy_notes({"policy.on_ungated": "none", "policy.on_misaligned": "notify"}, "8") == []
    incident = {"id": "content_safety-2026-01-06-alignment", "occurrences": 1}
    assert alert_note({"event": "drifting", "verdict": "drifting", "incident": incident}) == (
        "incident content_safety-2026-01-06-alignment drifting (first night)"
    )
    assert alert_note({"event": "ungated", "model_version": "9"}) == "ungated v9 (once per version)"
