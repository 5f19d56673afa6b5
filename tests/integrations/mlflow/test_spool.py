"""The spool and retry layer of MLflow writes, without a server: fast, on the session's sqlite store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from alignment_drift.integrations.mlflow import checks, spool

MODEL = "spool_unit"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from alignment_drift.settings import Settings

    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_TRIES", "3")
    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_BACKOFF", "0")
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPOOL_DIR", str(tmp_path / "spool"))
    return dataclasses.replace(Settings.from_env(), data_dir=tmp_path)


def _check(day: int) -> dict[str, Any]:
    start = dt.datetime(2026, 5, day, tzinfo=dt.UTC)
    return {
        "model": MODEL,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "verdict": "aligned",
        "verdict_code": 0,
        "source": {"rows": 10},
        "benchmarks": [],
        "attribution": [],
    }


def _down(*_: Any, **__: Any) -> str:
    from mlflow.exceptions import MlflowException

    raise MlflowException("API request to http://127.0.0.1:1/api failed with exception ConnectionRefused")


def _record(settings: Any, day: int) -> str:
    return checks.record_check(
        settings,
        _check(day),
        tags={"verdict": "aligned"},
        params={"alpha": 0.05},
        artifacts={"check.json": _check(day)},
    )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        pytest.param(ConnectionError("refused"), True, id="connection-error"),
        pytest.param(TimeoutError(), True, id="timeout"),
        pytest.param(ValueError("bad"), False, id="value-error"),
    ],
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert spool.is_transient(error) is transient


def test_mlflow_errors_are_classified_by_code() -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE

    assert spool.is_transient(MlflowException("API request to x failed with exception y"))
    assert spool.is_transient(MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE))
    assert not spool.is_transient(MlflowException("bad key", error_code=INVALID_PARAMETER_VALUE))


def test_retrying_retries_transient_then_gives_up_and_never_retries_bad_requests() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "ok"

    assert spool.retrying(flaky, what="x", policy=spool.RetryPolicy(tries=3, backoff=0)) == "ok"
    calls.clear()
    with pytest.raises(ConnectionError):
        spool.retrying(
            lambda: (calls.append(1), _raise(ConnectionError()))[1],
            what="x",
            policy=spool.RetryPolicy(tries=2, backoff=0),
        )
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(ValueError):
        spool.retrying(
            lambda: (calls.append(1), _raise(ValueError()))[1], what="x", policy=spool.RetryPolicy(tries=5, backoff=0)
        )
    assert len(calls) == 1


def _raise(error: BaseException) -> None:
    raise error


@pytest.mark.parametrize(("tries", "backoff"), [("0", "1"), ("x", "1"), ("3", "-1")], ids=["zero", "nan", "neg"])
def test_retry_policy_env_is_validated(monkeypatch: pytest.MonkeyPatch, tries: str, backoff: str) -> None:
    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_TRIES", tries)
    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_BACKOFF", backoff)
    with pytest.raises(ValueError, match="ALIGNMENT_DRIFT_MLFLOW_TRIES"):
        spool.RetryPolicy.from_env()


def test_spool_dir_defaults_under_the_data_root(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    monkeypatch.delenv("ALIGNMENT_DRIFT_SPOOL_DIR")
    assert spool.spool_dir(settings) == settings.data_dir / "_spool"


def test_a_failed_record_is_spooled_raises_and_is_replayed_once(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    written = _record(settings, 1)
    real_write = checks._write_check
    monkeypatch.setattr(checks, "_write_check", _down)
    with pytest.raises(checks.RecordSpooled, match="will be replayed"):
        _record(settings, 2)
    ((path, document),) = spool.pending(settings, "check")
    assert document["schema"] == "alignment-drift/spool@1" and document["tracking_store"] == settings.tracking_uri
    assert document["payload"]["check"] == json.loads(json.dumps(_check(2)))
    assert not list(path.parent.glob(".tmp-*"))
    # another store's spool files are not replayed into this one
    other = dataclasses.replace(settings, tracking_uri="sqlite:////elsewhere.db")
    assert spool.pending(other, "check") == []

    monkeypatch.setattr(checks, "_write_check", real_write)
    assert _record(settings, 1) == written  # replays night 2 first, then updates night 1
    assert spool.pending(settings, "check") == []
    (run,) = _runs(settings, 2)
    assert run.data.tags["replayed_from_spool"] == path.name
    assert _record(settings, 2) == run.info.run_id  # replaying again never duplicates
    assert len(_runs(settings, 2)) == 1


def _runs(settings: Any, day: int) -> list[Any]:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    start = _check(day)["data_interval"]["start"]
    return client(settings).search_runs(
        [experiment_id(settings, MODEL)], filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{start}'"
    )


def test_a_spooled_record_keeps_no_credential_and_replays_into_its_store(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "cnry-spool-7Hq2Zp"
    server = dataclasses.replace(settings, tracking_uri=f"http://ad-user:{canary}@127.0.0.1:1/")
    check = {**_check(3), "source": {"rows": 1, "uri": f"https://h/x.parquet?sig={canary}"}}
    path = spool.spool_record(
        server, "check", "k", {"check": check, "tags": {"source_uri": check["source"]["uri"]}, "params": {}}
    )
    assert canary not in path.read_text()
    ((found, document),) = spool.pending(server, "check")  # still replayable into the store it names
    assert found == path and document["tracking_store"] == "http://***@127.0.0.1:1/"
    assert document["payload"]["check"]["source"]["uri"] == "https://h/x.parquet?sig=***"
    rotated = dataclasses.replace(server, tracking_uri="http://ad-user:rotated-pw@127.0.0.1:1/")
    assert [p for p, _ in spool.pending(rotated, "check")] == [path]  # a new password, the same store
    assert spool.pending(settings, "check") == []  # never into another store


def test_a_spool_file_of_an_older_version_is_rewritten_without_its_credential(settings: Any) -> None:
    canary = "cnry-legacy-p4Ss"
    server = dataclasses.replace(settings, tracking_uri=f"http://ad-user:{canary}@127.0.0.1:1/")
    folder = spool.spool_dir(server)
    folder.mkdir(parents=True)
    legacy = folder / "check__old.json"
    document = {"schema": spool.SPOOL_SCHEMA, "kind": "check", "key": "old", "tracking_uri": server.tracking_uri}
    legacy.write_text(json.dumps({**document, "payload": {"check": _check(4)}}))
    ((found, read),) = spool.pending(server, "check")
    assert found == legacy and read["payload"]["check"] == _check(4)
    assert canary not in legacy.read_text() and "tracking_uri" not in json.loads(legacy.read_text())
