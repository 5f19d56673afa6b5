"""Recording a trigger night while the tracking server is unreachable: the check is spooled, not lost.

The retraining decision reads the cooldown from MLflow; when that read fails
the check must still reach the spool before the task fails (and is retried).
A refused loopback port is the unreachable server: no stand-in.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import END, START


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check(model: str) -> Any:
    from alignment_drift.pipeline.night import Check, Interval

    return Check(
        model=model,
        data_interval=Interval.of(START, END),
        source={"uri": "file:///nowhere.parquet", "sha256": None, "rows": 10},
        verdict="misaligned",
        verdict_code=3,
        reasons=["benchmark audit_unsafe_recall failed"],
    )


def test_a_trigger_night_is_spooled_when_the_cooldown_cannot_be_read(
    content_spec: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignment_drift.integrations.mlflow.spool import RecordSpooled, pending
    from alignment_drift.pipeline.steps.record import record
    from alignment_drift.settings import Settings

    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_TRIES", "1")
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    settings = dataclasses.replace(
        Settings.from_env(), data_dir=tmp_path / "data", tracking_uri=f"http://127.0.0.1:{_closed_port()}"
    )
    assert "misaligned" in content_spec.retraining.trigger_verdicts

    with pytest.raises(RecordSpooled, match="will be replayed"):
        record(content_spec, settings, _check(content_spec.model), dag_id="d", run_id="r")

    ((_, document),) = pending(settings, "check")
    payload = document["payload"]
    assert payload["check"]["verdict"] == "misaligned"
    assert payload["tags"]["retrain_requested"] == "false"
    assert payload["check"]["action"]["retrain_reason"].startswith("retraining not decided yet")
