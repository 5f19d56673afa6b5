"""``alignment-drift incident list|show|ack|resolve``: the lifecycle from the command line, exit codes 0 / 2."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from alignment_drift.cli import main

START = dt.datetime(2026, 1, 9, tzinfo=dt.UTC)
INCIDENT = "content_safety-2026-01-09-alignment"


@pytest.fixture
def incidents(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three nights of content_safety tracked: misaligned, misaligned, quarantined."""
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.incident_tracking import track_incident
    from alignment_drift.settings import Settings

    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp_path / "incidents"))
    spec, settings = load_spec(root / "specs" / "content_safety.yaml"), Settings.from_env()
    for day, verdict in enumerate(["misaligned", "misaligned", "quarantined"]):
        start = START + dt.timedelta(days=day)
        check = {
            "model": "content_safety",
            "model_version": "4",
            "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
            "verdict": verdict,
            "reasons": ["benchmark audit_unsafe_recall fell below its floor"],
            "attribution": [] if verdict == "quarantined" else [{"source": "model_update", "confidence": 0.9}],
        }
        track_incident(spec, settings, check, mlflow_run_id=None, report_path=None)
    return tmp_path / "incidents"


def test_list_shows_each_incident_with_state_nights_and_owner(
    root: Path, incidents: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incident", "list", str(root / "specs" / "content_safety.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["incident", "state", "verdict", "nights"]
    assert lines[1].split()[:5] == ["content_safety-2026-01-11-quarantine", "open", "quarantined", "1", "2026-01-11"]
    assert lines[2].split()[:5] == [INCIDENT, "open", "misaligned", "2", "2026-01-09…2026-01-10"]
    assert "trust-and-safety-ml" in lines[2] and "model_update" in lines[2]


def test_ack_then_resolve_is_recorded_and_listed_by_state(
    root: Path, incidents: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = str(root / "specs" / "content_safety.yaml")
    assert main(["incident", "ack", INCIDENT, "--note", "rolling back to v3", "--by", "ada"]) == 0
    assert capsys.readouterr().out.startswith(f"{INCIDENT} is acknowledged (by ada at ")
    assert main(["incident", "list", spec, "--state", "acknowledged", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["schema"] == "alignment-drift/incident-list@1"
    assert [i["id"] for i in listed["incidents"]] == [INCIDENT]
    assert main(["incident", "resolve", INCIDENT, "--note", "v3 restored", "--format", "json"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["schema"] == "alignment-drift/incident@2" and resolved["state"] == "resolved"
    assert [(h["action"], h["note"]) for h in resolved["history"]][1:] == [
        ("acknowledged", "rolling back to v3"),
        ("resolved", "v3 restored"),
    ]
    assert main(["incident", "show", INCIDENT]) == 0
    shown = capsys.readouterr().out
    assert "resolved" in shown and "by ada: rolling back to v3" in shown and "nights (2):" in shown
    assert main(["incident", "list", spec, "--state", "unresolved", "--format", "json"]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)["incidents"]] == [
        "content_safety-2026-01-11-quarantine"
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["incident", "ack", "../../etc/passwd", "--note", "x"], "is not an incident id"),
        (["incident", "ack", "content_safety-2026-02-01-alignment", "--note", "x"], "no incident"),
        (["incident", "ack", INCIDENT, "--note", "   "], "'note' parameter (--note) must not be empty"),
        (["incident", "show", "nope"], "is not an incident id"),
    ],
    ids=["path-as-id", "unknown-id", "empty-note", "show-bad-id"],
)
def test_bad_input_exits_2_with_the_fix(
    incidents: Path, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("alignment-drift incident: ") and expected in err and "Traceback" not in err


def test_a_transition_the_state_does_not_allow_exits_2(incidents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incident", "resolve", INCIDENT, "--note", "done", "--by", "ada"]) == 0
    capsys.readouterr()
    assert main(["incident", "ack", INCIDENT, "--note", "late"]) == 2
    assert "is resolved by ada" in capsys.readouterr().err


def test_a_bad_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incident", "list", str(tmp_path / "missing.yaml")]) == 2
    assert "no such alignment spec file" in capsys.readouterr().err
