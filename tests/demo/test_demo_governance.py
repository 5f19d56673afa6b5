"""The demo shows governance acting: an ungated platform update is caught on its first night and rolled back,
and each incident's alert reaches the local receiver once, through the monitor DAG's notify task.

Three nights of the default scenario with the platform's updates brought forward to nights 2 and 3
(``update_nights``), 1,000 rows a night, through the real DAGs (``dag.test()`` on the session's metadata
DB) with an MLflow store, data folder and incidents of its own. Night 2's update (v2) drifts the model;
night 3's (v4) makes it misaligned: the same incident's second night.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A tracking store, artifact root and data folder of the test's own: the demo's model is the loop tests'."""
    import mlflow

    from alignment_drift.settings import Settings

    before = os.environ["MLFLOW_TRACKING_URI"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("ALIGNMENT_DRIFT_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", raising=False)
    yield Settings.from_env()
    mlflow.set_tracking_uri(before)


def test_the_ungated_update_is_rolled_back_and_each_incident_is_told_once(
    airflow_db: Path, root: Path, own_store: Any, restore_log_levels: None
) -> None:
    from alignment_drift.demo.governance import ALERT_CONN_ID
    from alignment_drift.demo.run import run_demo
    from alignment_drift.integrations.incident_store import list_incidents
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.checks import find_check_run
    from alignment_drift.integrations.mlflow.store import client

    settings, spec_file = own_store, root / "specs" / "content_safety.yaml"
    spec_text = spec_file.read_bytes()
    out = io.StringIO()
    rows = run_demo(nights=3, rows_per_night=1000, update_nights=(2, 3), home=root, out=out)
    table = out.getvalue()
    assert spec_file.read_bytes() == spec_text, "the demo never edits the spec file"
    assert f"AIRFLOW_CONN_{ALERT_CONN_ID.upper()}" not in os.environ, "the receiver's connection is gone"
    assert "governance.on_ungated: rollback (the file: notify)" in table

    # each ungated update is caught on the first night it serves, and champion goes back to a gated version
    assert [(r.version, r.ungated) for r in rows] == [("v1", ""), ("v2", "2"), ("v4", "4")]
    assert [r.rolled_back_to for r in rows] == ["", "1", "3"]
    assert "policy on_ungated: rollback v2 -> v1 (v2 never passed the gate)" in table
    for row in rows[1:]:
        run_id = find_check_run(settings, "content_safety", f"{row.date}T00:00:00+00:00")
        tags = client(settings).get_run(run_id).data.tags
        assert tags["deployment_gated"] == "false" and tags["policy.on_ungated"] == "rollback"
        assert tags["policy.on_ungated_rolled_back_to"] == row.rolled_back_to
        assert registry.version_info(settings, "content_safety", row.rolled_back_to).tags["gate"] == "passed"
    champion = registry.champion(settings, "content_safety")
    assert champion is not None and champion.version == "3" and champion.tags["gate"] == "passed"
    assert registry.champion(settings, "content_safety", alias="previous").version == "4"

    # the receiver got each incident once, on its first night, and each ungated version once
    files = sorted((settings.data_dir / "demo" / "alerts").glob("*.json"))
    received = [json.loads(p.read_bytes()) for p in files]
    assert received == [a for r in rows for a in r.alerts]
    assert {a["schema"] for a in received} == {"alignment-drift/alert@1"}
    (incident,) = list_incidents(settings, "content_safety")
    assert [o.verdict for o in incident.occurrences] == ["drifting", "misaligned"], "one incident over two nights"
    told = [a for a in received if a.get("incident")]
    assert [(a["incident"]["id"], a["verdict"], a["night"][:10]) for a in told] == [
        (incident.id, "drifting", "2026-01-02")
    ]
    assert not [a for a in rows[2].alerts if a.get("incident")], "its second night tells the receiver nothing"
    assert [n.status for n in incident.notifications] == ["sent"]
    assert [(a["event"], a["model_version"]) for a in received if a["event"] == "ungated"] == [
        ("ungated", "2"),
        ("ungated", "4"),
    ]
    assert f"alert -> receiver: incident {incident.id} drifting (first night)" in table
    assert "ungated updates caught 2, rolled back 2 (governance.on_ungated: rollback)" in table
    assert "alerts delivered 3 to the local receiver: incidents 1 of 1 opened (one alert each, first night only)" in (
        table
    )
