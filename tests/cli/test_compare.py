"""``alignment-drift compare``: nights and retrains side by side from the session's MLflow store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from alignment_drift.cli import main

MODEL = "cli_compare"


def _check(day: int, verdict: str, recall: float) -> dict[str, Any]:
    start = dt.datetime(2026, 4, day, tzinfo=dt.UTC)
    return {
        "model": MODEL,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "verdict": verdict,
        "verdict_code": {"aligned": 0, "misaligned": 3}[verdict],
        "source": {"rows": 100},
        "drift": {"drift_share": 0.25, "columns": []},
        "benchmarks": [{"name": "audit_recall", "value": recall, "threshold": 0.6, "status": "pass"}],
        "attribution": [{"source": "model_update", "confidence": 0.9}] if verdict != "aligned" else [],
    }


@pytest.fixture(scope="module")
def recorded() -> str:
    from alignment_drift.integrations.mlflow.checks import record_check
    from alignment_drift.integrations.mlflow.store import client, experiment_id
    from alignment_drift.settings import Settings

    settings = Settings.from_env()
    for day, verdict, recall in ((1, "aligned", 0.71), (2, "aligned", 0.70), (3, "misaligned", 0.55)):
        check = _check(day, verdict, recall)
        tags = {
            "model_version": "1" if day < 3 else "2",
            "verdict": verdict,
            "attribution": ",".join(a["source"] for a in check["attribution"]),
        }
        record_check(settings, check, tags=tags, params={}, artifacts={"check.json": check})
    mlflow_client = client(settings)
    run = mlflow_client.create_run(
        experiment_id(settings, MODEL),
        tags={
            "kind": "retrain",
            "challenger_version": "3",
            "champion_version": "2",
            "gate_decision": "promoted",
            "trigger": "asset",
            "retrain_reason": "verdict misaligned",
        },
    )
    gated = {
        "comparison": [
            {
                "benchmark": "audit_recall",
                "challenger": 0.72,
                "champion": 0.55,
                "delta": 0.17,
                "ci_low": 0.12,
                "ci_high": 0.21,
                "decision": "pass",
            }
        ]
    }
    mlflow_client.log_dict(run.info.run_id, gated, "gate/comparison.json")
    return run.info.run_id


def test_json_has_nights_and_the_retrains_comparison(recorded: str, tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    assert main(["compare", MODEL, "--format", "json", "--output", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["schema"] == "alignment-drift/compare@1"
    assert [n["date"] for n in document["nights"]] == ["2026-04-01", "2026-04-02", "2026-04-03"]
    last = document["nights"][-1]
    assert last["verdict"] == "misaligned" and last["model_version"] == "2"
    assert last["benchmarks"]["audit_recall"] == pytest.approx(0.55)
    assert last["attribution"] == ["model_update"] and last["signals"]["drift.share"] == 0.25
    (retrain,) = document["retrains"]
    assert retrain["mlflow_run_id"] == recorded and retrain["gate_decision"] == "promoted"
    assert retrain["comparison"][0]["delta"] == pytest.approx(0.17)


def test_last_n_and_table(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", MODEL, "--last", "2"]) == 0
    text = capsys.readouterr().out
    assert "2026-04-01" not in text and "2026-04-03" in text and "misaligned" in text
    assert "challenger v3 vs champion v2 -> promoted" in text and "audit_recall" in text


def test_unknown_model_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "no_such_model"]) == 2
    assert "no MLflow experiment" in capsys.readouterr().err


def test_a_retrain_that_never_reached_its_gate_has_an_empty_comparison(tmp_path: Path) -> None:
    from alignment_drift.integrations.mlflow.store import client, experiment_id
    from alignment_drift.settings import Settings

    settings, model = Settings.from_env(), "cli_compare_no_gate"
    mlflow_client = client(settings)
    run = mlflow_client.create_run(experiment_id(settings, model), tags={"kind": "retrain", "trigger": "asset"})
    mlflow_client.log_dict(run.info.run_id, {"rows": 10}, "gate/assembled.json")  # a gate folder, no comparison
    out = tmp_path / "compare.json"
    assert main(["compare", model, "--format", "json", "--output", str(out)]) == 0
    (retrain,) = json.loads(out.read_text())["retrains"]
    assert retrain["mlflow_run_id"] == run.info.run_id and retrain["comparison"] == []
