"""Objective versioning on a real MLflow store: each distinct spec once, each change with its diff, in the report."""

from __future__ import annotations

import copy
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignment_drift.core.spec import objective_fingerprint, parse_spec
from alignment_drift.integrations.objective import objective_changes, objective_section, record_objective
from alignment_drift.settings import Settings


@pytest.fixture
def model(request: pytest.FixtureRequest) -> str:
    """A model name of this test's own, so each test starts with no recorded objective."""
    return f"objective_{abs(hash(request.node.name)) % 10**8}"


@pytest.fixture
def raw(root: Path, model: str) -> dict[str, Any]:
    return {**yaml.safe_load((root / "specs" / "content_safety.yaml").read_text()), "model": model}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp_path / "incidents"))
    return Settings.from_env(tmp_path)


def _loosened(raw: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(raw)
    changed["benchmarks"][0]["floor"] = 0.55  # audit_unsafe_recall, 0.62 in the demo spec
    return changed


def _objective_run(settings: Settings, model: str) -> Any:
    from alignment_drift.integrations.mlflow.store import client

    mlflow_client = client(settings)
    experiment = mlflow_client.get_experiment_by_name(f"alignment-drift/{model}")
    (run,) = mlflow_client.search_runs([experiment.experiment_id], filter_string="tags.kind = 'objective'")
    return mlflow_client, run


def test_the_first_objective_is_stored_and_is_no_change(settings: Settings, raw: dict[str, Any], model: str) -> None:
    spec = parse_spec(raw)
    assert record_objective(spec, settings) is None
    assert record_objective(spec, settings) is None, "the same objective again is no change"
    mlflow_client, run = _objective_run(settings, model)
    fingerprint = objective_fingerprint(spec)
    assert run.data.tags["objective.fingerprint"] == fingerprint and run.data.tags["objective.changes"] == "0"
    assert run.info.run_name == "objective"
    with tempfile.TemporaryDirectory() as tmp:
        stored = json.loads(
            Path(mlflow_client.download_artifacts(run.info.run_id, f"objectives/{fingerprint}.json", tmp)).read_text()
        )
    assert stored["schema"] == "alignment-drift/objective@1" and stored["spec"] == spec.model_dump(mode="json")
    assert objective_section(spec, None) == {
        "fingerprint": fingerprint,
        "changed_since_last_night": False,
        "previous_fingerprint": None,
        "diff": [],
    }


def test_loosening_a_floor_is_a_recorded_change_with_a_readable_diff(
    settings: Settings, raw: dict[str, Any], model: str
) -> None:
    before, after = parse_spec(raw), parse_spec(_loosened(raw))
    record_objective(before, settings)
    change = record_objective(after, settings, now=dt.datetime(2026, 1, 12, 3, 0, tzinfo=dt.UTC))
    assert change is not None
    assert change.lines() == ["benchmarks[audit_unsafe_recall].floor: 0.62 → 0.55"]
    assert (change.previous_fingerprint, change.fingerprint) == (
        objective_fingerprint(before),
        objective_fingerprint(after),
    )
    assert record_objective(after, settings) is None, "recorded once: the next night is unchanged"
    section = objective_section(after, change)
    assert section["changed_since_last_night"] and section["previous_fingerprint"] == objective_fingerprint(before)
    assert section["diff"][0]["text"] == "benchmarks[audit_unsafe_recall].floor: 0.62 → 0.55"
    assert section["diff"][0]["old"] == 0.62 and section["diff"][0]["new"] == 0.55

    back = record_objective(before, settings)
    assert back is not None and back.lines() == ["benchmarks[audit_unsafe_recall].floor: 0.55 → 0.62"]
    history = objective_changes(settings, model)
    assert [(c["sequence"], c["recorded_at"]) for c in history][:1] == [(1, "2026-01-12T03:00:00+00:00")]
    assert [c["diff"][0]["text"] for c in history] == [
        "benchmarks[audit_unsafe_recall].floor: 0.62 → 0.55",
        "benchmarks[audit_unsafe_recall].floor: 0.55 → 0.62",
    ]
    mlflow_client, run = _objective_run(settings, model)
    assert len(mlflow_client.list_artifacts(run.info.run_id, "objectives")) == 2, "each distinct objective once"
    assert run.data.tags["objective.changes"] == "2"
    with pytest.raises(ValueError, match="'change' parameter is for objective"):
        objective_section(after, back)


def test_the_report_shows_a_changed_objective_and_marks_loosened_thresholds(raw: dict[str, Any]) -> None:
    from alignment_drift.core.spec.fingerprint import objective_diff
    from alignment_drift.integrations.reports import render_report

    before, after = parse_spec(raw), parse_spec(_loosened(raw))
    diff = [c.to_dict() for c in objective_diff(before.model_dump(mode="json"), after.model_dump(mode="json"))]
    check = {
        "schema": "alignment-drift/check@1",
        "model": raw["model"],
        "data_interval": {"start": "2026-01-12T00:00:00+00:00", "end": "2026-01-13T00:00:00+00:00"},
        "source": {"uri": "file:///data/x.parquet", "rows": 10},
        "verdict": "aligned",
        "attribution": [],
        "benchmarks": [],
        "reasons": [],
    }
    changed = {
        "fingerprint": objective_fingerprint(after),
        "changed_since_last_night": True,
        "previous_fingerprint": objective_fingerprint(before),
        "diff": diff,
    }
    page = render_report({**check, "objective": changed})
    assert 'id="objective-change"' in page and 'href="#objective-change"' in page
    assert "benchmarks[audit_unsafe_recall].floor: 0.62 → 0.55" in page and "loosened" in page
    assert (
        f"<code>{objective_fingerprint(before)[:12]}</code> → <code>{objective_fingerprint(after)[:12]}</code>" in page
    )
    unchanged = render_report({**check, "objective": objective_section(after, None)})
    assert 'id="objective-change"' not in unchanged and 'id="objective-change"' not in render_report(check)
