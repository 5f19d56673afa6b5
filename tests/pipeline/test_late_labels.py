"""Late labels on the real stack: nights recorded without labels, then updated in place when the labels arrive.

The repository's spec with a ``labels`` section, the simulator's nights with
their moderator labels held back, the real MLflow store of the session and
the pipeline steps the DAGs run. Tests run in file order on one world.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.pipeline.conftest import ROOT

MODEL = "late_labels_unit"
DAY = dt.timedelta(days=1)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@dataclass
class World:
    spec: Any
    settings: Any
    truth: dict[int, pd.DataFrame]  # night -> its log with the labels

    def start(self, night: int) -> dt.datetime:
        from alignment_drift.demo.simulate.content import night_start

        return night_start(self.spec.start_date, night)

    def check(self, night: int) -> dict[str, Any]:
        """The night's check, composed as the DAG runs it; the recorded result."""
        from alignment_drift.pipeline.check import run_check

        start = self.start(night)
        checked = run_check(
            self.spec, self.settings, start=start, end=start + DAY, now=NOW, dag_id="monitor", run_id=f"night-{night}"
        )
        assert checked.validation.valid, checked.validation.reason
        return checked.recorded.model_dump()

    def runs(self, night: int) -> list[Any]:
        from alignment_drift.integrations.mlflow.store import client, experiment_id

        start = self.start(night).isoformat()
        return client(self.settings).search_runs(
            [experiment_id(self.settings, MODEL)],
            filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{start}'",
        )

    def labels_path(self, arrival: dt.datetime) -> Path:
        return self.settings.data_dir / "late_labels" / f"{arrival:%Y-%m-%d}.parquet"

    def recorded_check(self, night: int) -> dict[str, Any]:
        from alignment_drift.integrations.mlflow.store import client

        (run,) = self.runs(night)
        with tempfile.TemporaryDirectory() as tmp:
            path = client(self.settings).download_artifacts(run.info.run_id, "check.json", tmp)
            return json.loads(Path(path).read_text())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """``late_labels_unit``: the repository's spec with a labels section, as a file of its own specs folder.

    ``dag.test()`` schedules a DAG as parsed from the DAGs folder, so the spec
    lives in a specs folder the factory reads (set in the environment for the module).
    """
    import yaml

    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform, defer_labels
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain
    from alignment_drift.settings import Settings

    base = tmp_path_factory.mktemp("late-labels")
    raw = yaml.safe_load((ROOT / "specs" / "content_safety.yaml").read_text())
    raw["model"] = MODEL
    raw["labels"] = {"source": {"kind": "files", "path": "late_labels/{date}.parquet"}, "max_delay_days": 5}
    specs = base / "specs"
    specs.mkdir()
    (specs / f"{MODEL}.yaml").write_text(yaml.safe_dump(raw))
    shutil.copytree(ROOT / "specs" / "content_safety", specs / "content_safety")  # the probe cases
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
        patch.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(base / "data"))
        patch.delenv("ALIGNMENT_DRIFT_QUARANTINE_DIR", raising=False)
        settings = Settings.from_env(ROOT)
        spec = load_spec(specs / f"{MODEL}.yaml")
        platform = ContentPlatform("stable", seed=21, rows_per_night=600, start_date=spec.start_date)
        prepare_data(settings, spec, platform)
        assembled = retrain.assemble(spec, settings, as_of=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), key="seed")
        trained = retrain.train(spec, settings, assembled, key="seed", reason="initial champion", tags={})
        decided = retrain.decide_promotion(spec, settings, trained, retrain.gate(spec, settings, trained))
        assert decided["decision"] == "promoted"
        model = registry.load_model(settings, MODEL, trained["version"])
        w = World(spec, settings, {})
        for night in (1, 2, 3):
            log = platform.night(night, model, model_version=trained["version"])
            w.truth[night] = log
            bare, _ = defer_labels(log, columns=["unsafe"], delays=(2,), seed=night)
            path = settings.resolve_data(f"content_safety/predictions/{w.start(night):%Y-%m-%d}.parquet")
            path.parent.mkdir(parents=True, exist_ok=True)
            bare.to_parquet(path, index=False)
        yield w


def _metric(run: Any, name: str) -> float | None:
    return run.data.metrics.get(name)


def test_nights_without_labels_record_the_label_dependent_benchmarks_as_skipped(world: World) -> None:
    for night in (1, 2, 3):
        world.check(night)
    (run,) = world.runs(1)
    assert _metric(run, "benchmark.batch_unsafe_recall.value") is None
    assert "labels_as_of" not in run.data.tags
    statuses = {b["name"]: b["status"] for b in world.recorded_check(1)["benchmarks"]}
    assert statuses["batch_unsafe_recall"] == "skipped"
    assert statuses["audit_unsafe_recall"] == "pass"


def test_arrived_labels_update_the_nights_they_complete_in_place(world: World) -> None:
    from alignment_drift.core.benchmarks import classification_metric
    from alignment_drift.pipeline import labels

    before = {night: world.runs(night)[0].info.run_id for night in (1, 2, 3)}
    arrival = world.start(3)
    frames = [world.truth[n].loc[world.truth[n]["unsafe"].notna(), ["prediction_id", "unsafe"]] for n in (1, 2)]
    world.labels_path(arrival).parent.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_parquet(world.labels_path(arrival), index=False)

    out = labels.apply(world.spec, world.settings, start=arrival, end=arrival + DAY)

    assert out["status"] == "applied" and out["rows"] == sum(len(f) for f in frames)
    assert sorted(n["night"][:10] for n in out["nights"]) == ["2026-01-01", "2026-01-02"]
    assert [s["why"] for s in out["skipped"]] == ["none of its rows is labelled by this arrival"]
    for night in (1, 2):
        (run,) = world.runs(night)  # updated, never duplicated
        assert run.info.run_id == before[night]
        assert run.data.tags["labels_as_of"] == (arrival + DAY).isoformat()
        truth = world.truth[night]
        known = truth["unsafe"].notna()
        expected = classification_metric(
            "recall",
            truth.loc[known, "unsafe"].astype(int).to_numpy(),
            truth.loc[known, "score"].to_numpy(),
            truth.loc[known, "prediction"].to_numpy(),
        )
        assert _metric(run, "benchmark.batch_unsafe_recall.value") == pytest.approx(expected)
        recorded = world.recorded_check(night)
        assert recorded["labels"]["matched"] == int(known.sum())
        assert recorded["labels"]["filled"] == {"unsafe": int(known.sum())}
        assert {b["name"]: b["status"] for b in recorded["benchmarks"]}["batch_unsafe_recall"] in ("pass", "fail")
    (third,) = world.runs(3)
    assert third.info.run_id == before[3] and "labels_as_of" not in third.data.tags


def test_applying_the_same_arrival_again_changes_nothing(world: World) -> None:
    from alignment_drift.pipeline import labels

    arrival = world.start(3)
    metrics = {night: world.runs(night)[0].data.metrics for night in (1, 2)}
    out = labels.apply(world.spec, world.settings, start=arrival, end=arrival + DAY)
    assert out["nights"] == []
    assert {s["why"].split(" by ")[0] for s in out["skipped"][:2]} == {"already has the labels arrived"}
    for night in (1, 2):
        (run,) = world.runs(night)
        assert run.data.metrics == metrics[night]


def test_rerunning_a_labelled_night_joins_the_same_labels_and_gives_the_same_record(world: World) -> None:
    (before,) = world.runs(1)
    world.check(1)
    (after,) = world.runs(1)
    assert after.info.run_id == before.info.run_id
    assert after.data.tags["labels_as_of"] == before.data.tags["labels_as_of"]
    for name in ("benchmark.batch_unsafe_recall.value", "benchmark.batch_calibration.value", "verdict_code"):
        assert _metric(after, name) == _metric(before, name)


def test_retraining_reads_the_nights_through_the_source_with_their_late_labels(world: World) -> None:
    from alignment_drift.pipeline import retrain

    assembled = retrain.assemble(world.spec, world.settings, as_of=world.start(4), key="late-labels-window")
    assert assembled["nights"] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert assembled["left_out"] == []
    training = pd.read_parquet(world.settings.resolve_data(world.spec.reference.training_data))
    late = sum(int(world.truth[n]["unsafe"].notna().sum()) for n in (1, 2))
    assert assembled["labelled_rows"] == int(training["unsafe"].notna().sum()) + late


def test_a_night_whose_batch_changed_since_validation_is_left_out_of_training(world: World) -> None:
    from alignment_drift.pipeline import retrain

    path = world.settings.resolve_data(f"content_safety/predictions/{world.start(3):%Y-%m-%d}.parquet")
    original = path.read_bytes()
    try:
        frame = pd.read_parquet(path)
        frame.iloc[:5].to_parquet(path, index=False)
        assembled = retrain.assemble(world.spec, world.settings, as_of=world.start(4), key="late-labels-changed")
    finally:
        path.write_bytes(original)
    assert assembled["nights"] == ["2026-01-01", "2026-01-02"]
    ((left,),) = [[x for x in assembled["left_out"]]]
    assert left["night"].startswith("2026-01-03") and "changed since it was validated" in left["why"]


@pytest.mark.parametrize(
    ("case", "frame", "match"),
    [
        pytest.param("no-id", pd.DataFrame({"unsafe": [1, 0]}), "no id column 'prediction_id'", id="no-id-column"),
        pytest.param(
            "no-label", pd.DataFrame({"prediction_id": ["x"], "mood": [1]}), "none of the label columns", id="no-label"
        ),
        pytest.param(
            "not-binary",
            pd.DataFrame({"prediction_id": ["x", "y"], "unsafe": [1, 7]}),
            "not 0 or 1",
            id="not-binary",
        ),
    ],
)
def test_a_bad_labels_batch_is_quarantined_intact_and_updates_nothing(
    world: World, case: str, frame: pd.DataFrame, match: str
) -> None:
    from alignment_drift.pipeline import labels

    arrival = world.start(5)
    path = world.labels_path(arrival)
    frame.to_parquet(path, index=False)
    original = path.read_bytes()
    metrics = world.runs(1)[0].data.metrics
    try:
        out = labels.apply(world.spec, world.settings, start=arrival, end=arrival + DAY)
    finally:
        path.unlink()
    assert out["status"] == "quarantined" and match in out["reason"]
    assert out["nights"] == []
    kept = Path(out["quarantine"]["path"])
    assert kept.name == "labels-2026-01-05"
    (copy,) = [p for p in kept.iterdir() if p.name != "manifest.json"]
    assert copy.read_bytes() == original
    assert out["quarantine"]["sha256"] == hashlib.sha256(original).hexdigest()
    assert world.runs(1)[0].data.metrics == metrics


def test_no_arrival_is_not_an_error(world: World) -> None:
    from alignment_drift.pipeline import labels

    arrival = world.start(9)
    out = labels.apply(world.spec, world.settings, start=arrival, end=arrival + DAY)
    assert out["status"] == "none" and "no labels arrived" in out["reason"] and out["nights"] == []
    assert np.isfinite(len(out["skipped"]))


def test_the_labels_dag_applies_an_arrival_through_airflow(world: World, airflow_db: Path) -> None:
    from alignment_drift.airflow.factory import labels_dag

    arrival = world.start(6)
    truth = world.truth[3]
    truth.loc[truth["unsafe"].notna(), ["prediction_id", "unsafe"]].to_parquet(world.labels_path(arrival), index=False)
    (before,) = world.runs(3)

    dag = labels_dag(world.spec, ROOT)
    assert dag.dag_id == f"alignment_labels__{MODEL}" and set(dag.task_ids) == {
        "apply",
        "request_retrain",
        "confirm_request",
        "finish",
    }
    dag_run = dag.test(logical_date=arrival + DAY)  # the data interval ending then: the arrival day

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    assert states["apply"] == "success" and states["finish"] == "success"
    (after,) = world.runs(3)
    assert after.info.run_id == before.info.run_id
    assert after.data.tags["labels_as_of"] == (arrival + DAY).isoformat()
    assert _metric(after, "benchmark.batch_unsafe_recall.value") is not None
    expected = "success" if after.data.tags["retrain_requested"] == "true" else "skipped"
    assert states["request_retrain"] == expected and states["confirm_request"] == expected
    # a request is marked emitted only once its asset event exists
    assert after.data.tags["retrain_request"] == ("emitted" if expected == "success" else "none")
