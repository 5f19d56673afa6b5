"""One active check run per night under concurrency, and nothing a night recorded lost: a real SQLite MLflow store.

The races are real (threads released together by a barrier, each writing
with the same code the ``record`` task uses); the fault is real too (the
store's database refuses new runs, as a full disk would).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignment_drift.integrations.mlflow import checks, nights

WRITERS = 6


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nights") / "mlflow.db"


@pytest.fixture
def settings(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Any:
    from alignment_drift.settings import Settings

    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_TRIES", "8")
    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_BACKOFF", "0.2")
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPOOL_DIR", str(tmp_path / "spool"))
    return dataclasses.replace(
        Settings.from_env(),
        data_dir=tmp_path,
        tracking_uri=f"sqlite:///{store}",
        artifact_root=f"file://{store.parent / 'artifacts'}",
    )


def _check(model: str, *, verdict: str = "aligned", rows: int = 10) -> dict[str, Any]:
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    return {
        "model": model,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "model_version": "1",
        "verdict": verdict,
        "verdict_code": 0 if verdict == "aligned" else 3,
        "source": {"rows": rows},
        "benchmarks": [],
        "attribution": [],
    }


def _record(settings: Any, check: dict[str, Any], *, alpha: str = "0.05") -> str:
    return checks.record_check(
        settings,
        check,
        tags={"verdict": check["verdict"], "model_version": "1"},
        params={"alpha": alpha},
        artifacts={"check.json": check},
    )


def _active(settings: Any, model: str) -> list[Any]:
    """What a reader searching MLflow by hand sees: runs tagged kind=check for the night."""
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    start = _check(model)["data_interval"]["start"]
    return nights.night_runs(client(settings), experiment_id(settings, model), start)


def _history(settings: Any, model: str) -> list[dict[str, Any]]:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    start = _check(model)["data_interval"]["start"]
    return nights.night_history(client(settings), experiment_id(settings, model), start)


def _race(settings: Any, checks_to_write: list[tuple[dict[str, Any], str]]) -> list[str]:
    barrier = threading.Barrier(len(checks_to_write))
    results: list[str | BaseException] = [""] * len(checks_to_write)

    def write(i: int) -> None:
        check, alpha = checks_to_write[i]
        barrier.wait()
        try:
            results[i] = _record(settings, check, alpha=alpha)
        except BaseException as error:  # surfaced below
            results[i] = error

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(checks_to_write))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return [str(r) for r in results]


def _rows(settings: Any, model: str) -> list[int]:
    return sorted(h["check"]["source"]["rows"] for h in _history(settings, model))


def test_concurrent_first_checks_of_a_night_end_with_one_run_listed_once(settings: Any) -> None:
    from alignment_drift.cli.compare import compare

    model = "nights_first"
    returned = _race(settings, [(_check(model, rows=10 + i), "0.05") for i in range(WRITERS)])
    (run,) = _active(settings, model)
    assert run.data.tags["verdict"] == "aligned" and run.info.status == "FINISHED"
    assert [n["date"] for n in compare(settings, model, last=10)["nights"]] == ["2026-05-01"]
    assert run.info.run_id in returned
    assert _rows(settings, model) == [10 + i for i in range(WRITERS)], "every writer's record is kept"


def test_concurrent_reruns_with_new_params_keep_one_active_run_and_every_record(settings: Any) -> None:
    from alignment_drift.cli.compare import compare

    model = "nights_rerun_race"
    first = _record(settings, _check(model, verdict="aligned"))
    _race(settings, [(_check(model, verdict="misaligned", rows=20 + i), "0.01") for i in range(WRITERS)])
    (run,) = _active(settings, model)
    assert run.info.run_id != first and run.data.tags["replaces"] == first
    assert run.data.params["alpha"] == "0.01" and run.data.tags["verdict"] == "misaligned"
    assert len(compare(settings, model, last=10)["nights"]) == 1
    assert [h["state"] for h in _history(settings, model)].count("active") == 1
    assert _rows(settings, model) == [10] + [20 + i for i in range(WRITERS)], "every record is kept"


def test_a_rerun_keeps_the_earlier_record_in_the_nights_history(settings: Any) -> None:
    model = "nights_history"
    first = _record(settings, _check(model, verdict="aligned", rows=10))
    again = _record(settings, _check(model, verdict="misaligned", rows=11))  # same params: updated in place
    assert again == first
    (run,) = _active(settings, model)
    assert run.data.tags["verdict"] == "misaligned"
    newer = _record(settings, _check(model, verdict="degraded", rows=12), alpha="0.01")  # new params: a new run
    assert newer != first
    history = _history(settings, model)
    assert [(h["state"], h["tags"]["verdict"]) for h in history] == [
        ("active", "degraded"),
        ("superseded", "misaligned"),
        ("archived", "aligned"),
    ]
    assert history[2]["check"]["source"]["rows"] == 10 and history[2]["run_id"] == first
    assert history[1]["tags"]["superseded_by"] == newer


@pytest.fixture
def refusing_store(settings: Any) -> Iterator[Any]:
    """The store's database refuses new runs from now on (what a full disk does to an insert), then recovers."""
    path = settings.tracking_uri.removeprefix("sqlite:///")

    def refuse(on: bool) -> None:
        with sqlite3.connect(path) as db:
            if on:
                db.execute("CREATE TRIGGER disk_full BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'disk full'); END")
            else:
                db.execute("DROP TRIGGER IF EXISTS disk_full")

    yield refuse
    refuse(False)


def test_a_failure_while_recording_a_rerun_leaves_the_earlier_run_active(settings: Any, refusing_store: Any) -> None:
    from alignment_drift.cli.compare import compare

    model = "nights_disk_full"
    first = _record(settings, _check(model, verdict="aligned"))
    refusing_store(True)
    with pytest.raises(Exception, match="disk full"):
        _record(settings, _check(model, verdict="misaligned"), alpha="0.01")
    (run,) = _active(settings, model)
    assert run.info.run_id == first and run.data.tags["verdict"] == "aligned"
    assert [n["verdict"] for n in compare(settings, model, last=10)["nights"]] == ["aligned"]
    refusing_store(False)
    assert _record(settings, _check(model, verdict="misaligned"), alpha="0.01") != first  # the retry replaces it
    assert [n["verdict"] for n in compare(settings, model, last=10)["nights"]] == ["misaligned"]


def test_an_archived_copy_never_replaces_the_record_its_writer_kept(settings: Any) -> None:
    """The interleaving behind a lost record, made exact: a rerun archives the run while the first writer is
    between its tags (already logged) and its own record (kept while the archive is being written), and the run's
    ``check.json`` is already the rerun's. The night's history keeps both writers' records, once each."""
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    model = "nights_archive_race"
    mlflow_client = client(settings)
    start = _check(model)["data_interval"]["start"]
    first = {"recorded_at": "2026-05-02T01:00:00+00:00", "tags": {"verdict": "aligned"}, "check": _check(model)}
    run_id = nights.claim(
        mlflow_client,
        experiment_id(settings, model),
        start,
        run_name="race",
        tags={"kind": nights.ACTIVE, "data_interval_start": start},
    )
    mlflow_client.set_tag(run_id, "verdict", "aligned")
    mlflow_client.set_tag(run_id, "recorded_at", first["recorded_at"])
    mlflow_client.log_dict(run_id, _check(model, rows=11), "check.json")  # the rerun's, written meanwhile

    class KeepsDuringTheListing:
        """The client the archiving writer uses: the first writer keeps its record right after the listing."""

        def __getattr__(self, name: str) -> Any:
            return getattr(mlflow_client, name)

        def list_artifacts(self, *args: Any, **kwargs: Any) -> Any:
            listed = mlflow_client.list_artifacts(*args, **kwargs)
            nights.keep(mlflow_client, run_id, first)
            return listed

    assert nights.archive(KeepsDuringTheListing(), run_id) is not None  # type: ignore[arg-type]
    rerun = {**first, "recorded_at": "2026-05-02T01:00:01+00:00", "check": _check(model, rows=11)}
    nights.keep(mlflow_client, run_id, rerun)
    history = _history(settings, model)
    assert sorted(h["check"]["source"]["rows"] for h in history) == [10, 11], history


def test_a_rerun_with_a_smaller_verdict_code_is_the_latest_value_mlflow_shows(settings: Any) -> None:
    """A quarantined night rerun as aligned (same step, same labels) must chart 0, not the earlier 4."""
    from alignment_drift.integrations.mlflow.store import client

    model = "rerun_lower"
    quarantined = {**_check(model, verdict="quarantined"), "verdict_code": 4}
    first = _record(settings, quarantined)
    assert client(settings).get_run(first).data.metrics["verdict_code"] == 4
    again = _record(settings, _check(model, verdict="aligned", rows=11))
    assert again == first
    run = client(settings).get_run(again)
    assert run.data.tags["verdict"] == "aligned"
    assert run.data.metrics["verdict_code"] == 0 and run.data.metrics["batch.rows"] == 11
    points = client(settings).get_metric_history(again, "verdict_code")
    assert len({p.step for p in points}) == 1 and sorted(p.value for p in points) == [0, 4]
    back = _record(settings, quarantined)  # and back again: each rerun is the latest
    assert client(settings).get_run(back).data.metrics["verdict_code"] == 4
