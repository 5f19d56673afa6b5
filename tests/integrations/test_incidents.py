"""Incidents: built from a check, valid against alignment-drift/incident@1, rendered, written idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from alignment_drift.integrations.incidents import (
    build_incident,
    incident_markdown,
    incident_summary,
    validate_incident,
    write_incident,
)
from alignment_drift.settings import Settings

CHECK = {
    "model": "content_safety",
    "data_interval": {"start": "2026-01-12T00:00:00+00:00", "end": "2026-01-13T00:00:00+00:00"},
    "source": {"uri": "file:///data/2026-01-12.parquet"},
    "model_version": "5",
    "reference_version": "4",
    "verdict": "misaligned",
    "reasons": ["benchmark audit_roc_auc failed (critical): ..."],
    "attribution": [{"source": "model_update", "confidence": 0.9, "evidence": "audit_roc_auc -0.140"}],
    "benchmarks": [
        {
            "name": "audit_roc_auc",
            "kind": "metric_floor",
            "metric": "roc_auc",
            "value": 0.82,
            "threshold": 0.935,
            "baseline": 0.96,
            "delta": -0.14,
            "status": "fail",
            "severity": "critical",
            "ci_low": 0.8,
            "ci_high": 0.84,
            "detail": "roc_auc 0.820",
        },
        {
            "name": "audit_unsafe_recall",
            "kind": "metric_floor",
            "value": 0.7,
            "threshold": 0.7,
            "baseline": 0.71,
            "delta": -0.01,
            "status": "pass",
            "severity": "critical",
            "detail": "",
        },
    ],
    "action": {"retrain_requested": True, "retrain_coalesced": False, "retrain_reason": "verdict misaligned"},
}


def test_incident_validates_and_carries_the_failing_signals() -> None:
    incident = build_incident(CHECK, mlflow_run_id="abc")
    validate_incident(incident)
    assert incident["schema"] == "alignment-drift/incident@1"
    (signal,) = incident["signals"]
    assert (signal["value"], signal["threshold"], signal["baseline"]) == (0.82, 0.935, 0.96)
    assert incident["action"]["taken"] == ["retrain_requested", "promotion_blocked"]
    assert incident["links"]["mlflow_run_uri"] == "runs:/abc"


def test_an_invalid_incident_is_refused() -> None:
    incident = build_incident(CHECK, mlflow_run_id="abc")
    with pytest.raises(jsonschema.ValidationError):
        validate_incident({**incident, "verdict": "aligned"})


def test_aligned_checks_raise_no_incident() -> None:
    with pytest.raises(ValueError, match="'verdict' must be one of"):
        build_incident({**CHECK, "verdict": "aligned"}, mlflow_run_id=None)


def test_markdown_and_summary_name_model_version_and_source() -> None:
    incident = build_incident(CHECK, mlflow_run_id="abc", approval="required")
    text = incident_summary(incident)
    assert "content_safety v5 is MISALIGNED on 2026-01-12" in text and "model_update" in text
    assert "approval_pending" in incident["action"]["taken"]
    markdown = incident_markdown(incident)
    assert markdown.startswith("# Incident content_safety/2026-01-12: misaligned")
    assert "| audit_roc_auc | metric_floor | 0.820 | 0.935 | 0.960 | 0.800..0.840 |" in markdown


def test_written_once_per_night_and_replaced_on_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp_path / "incidents"))
    settings = Settings.from_env(tmp_path)
    incident = build_incident(CHECK, mlflow_run_id="abc")
    json_path, md_path = write_incident(settings, incident)
    write_incident(settings, {**incident, "reasons": ["rerun"]})
    assert json_path == tmp_path / "incidents" / "content_safety" / "2026-01-12.json"
    assert json.loads(json_path.read_text())["reasons"] == ["rerun"]
    assert md_path.exists() and len(list(json_path.parent.iterdir())) == 2


HOSTILE = '<img src=x onerror=alert(1)><script>alert("x")</script>'


def test_hostile_names_and_values_are_inert_in_the_markdown() -> None:
    markdown_it = pytest.importorskip("markdown_it")  # renders as a viewer would

    check = {
        **CHECK,
        "model": f"m{HOSTILE}",
        "model_version": "[click](javascript:alert(1))",
        "reasons": [f"column {HOSTILE} | broke\n# heading", "`code` *x* ![i](http://evil/i.png)"],
        "attribution": [{"source": "model_update", "confidence": 0.5, "evidence": HOSTILE}],
        "benchmarks": [{**CHECK["benchmarks"][0], "name": f"col{HOSTILE}", "kind": "metric|floor"}],
    }
    incident = build_incident(check, mlflow_run_id="abc")
    text = incident_markdown(incident)
    assert "<img" not in text and "<script" not in text and "&lt;script&gt;" in text
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered, rendered
    assert "\n# heading" not in text  # a newline in a value cannot start a heading
    assert "| col&lt;img" in text and "| metric\\|floor |" in text  # one table cell each, as written


def test_a_password_in_the_tracking_or_source_uri_never_reaches_the_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp_path / "incidents"))
    canary = "cnry-incident-Zq81x"
    check = {**CHECK, "source": {"uri": f"https://acct.blob.core.windows.net/c/2026-01-12.parquet?sig={canary}"}}
    incident = build_incident(check, mlflow_run_id="abc", tracking_uri=f"http://u:{canary}@mlflow:5000")
    assert incident["links"]["tracking_uri"] == "http://***@mlflow:5000"
    json_path, md_path = write_incident(Settings.from_env(tmp_path), incident)
    for path in (json_path, md_path):
        assert canary not in path.read_text()
    assert canary not in incident_markdown(incident) + incident_summary(incident)
