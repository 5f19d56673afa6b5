"""Nights of the owner's three models, end to end: ``alignment-drift check`` and the monitor and retrain DAGs.

For each model of :mod:`tests.byom.conftest` (a binary HistGradientBoosting
Pipeline, a multiclass RandomForest on wine, a regression Pipeline with the
owner's ColumnTransformer on diabetes), once per module:

- ``init`` plans the spec from the owner's reference data; the owner reviews
  it: a batch copy of every audit metric (labels are logged with the
  predictions), output drift counted as drifting, automatic approval, and
  their own training entrypoint; then ``adopt`` makes the registered model the champion;
- each night the owner's serving writes its prediction log where the spec's
  source looks: rows drawn from the owner's held-back data (a bootstrap of
  the reference rows ``init`` split off), scored by the champion, with the
  columns the spec names. The values stay as recorded: Gaussian jitter on
  measurements recorded on a grid (diabetes' standardised readings, wine's
  two-decimal ones) moves every batch value off the grid the reference's
  values sit on, a real change of the data that the domain classifier, with
  a night's every row against the reference, flags (AUC 0.77 on diabetes).

Two stable nights are ``aligned`` (one through the command, one through the
monitor DAG); a night with a corrupted feature and a night whose labels
shifted are caught, with the attribution the check records; a retrain
through the entrypoint is gated.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.byom.conftest import WINSORIZER, OwnedModel, Project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

START = dt.date(2026, 2, 1)
ROWS = {"binary": 500, "multiclass": 160, "regression": 300}
ENTRYPOINTS = {
    "binary": ("tests.byom.custom_steps:content_classifier", {"max_iter": 40}),
    "multiclass": ("tests.byom.custom_steps:wine_forest", {"n_estimators": 40}),
    "regression": ("tests.byom.custom_steps:diabetes_ridge", {"alpha": 0.1}),
}
#: The feature each model's corrupted night breaks, and how (see :func:`corrupt`).
CORRUPTED = {"binary": "toxicity", "multiclass": "proline", "regression": "bmi"}


@dataclass
class Owner:
    """One owner's model adopted in the module's project: its spec, settings and the nights served."""

    owned: OwnedModel
    spec_path: Path
    spec: Any
    settings: Any
    home: Path
    champion: str

    @property
    def task(self) -> str:
        return self.owned.task

    def night_start(self, night: int) -> dt.datetime:
        day = START + dt.timedelta(days=night - 1)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)

    def date(self, night: int) -> str:
        return f"{self.night_start(night):%Y-%m-%d}"

    def serve(self, night: int, *, degrade: str | None = None) -> pd.DataFrame:
        """Write night ``night``'s prediction log, as the owner's serving does (``degrade``: what went wrong)."""
        from alignment_drift.core.scoring import score_model
        from alignment_drift.integrations.mlflow import registry

        rng = np.random.default_rng(1000 * night + len(self.task))
        roles = self.spec.columns
        held_back = pd.read_parquet(self.settings.resolve_data(self.spec.reference.training_data))
        # a bootstrap, so no two nights are alike; values stay as recorded (no jitter, see the module docstring)
        rows = held_back.sample(ROWS[self.task], replace=True, random_state=rng.integers(2**31)).reset_index(drop=True)
        if degrade == "corrupted_feature":
            rows = corrupt(self.task, rows)
        model = registry.load_model(
            self.settings, self.spec.model, self.champion, trusted_types=self.owned.trusted_types
        )
        out = score_model(
            model,
            rows,
            task=self.spec.task,
            features=roles.feature_names,
            threshold=self.spec.retraining.training.decision_threshold,
            positive=roles.positive_class,
        )
        start = self.night_start(night)
        seconds = np.sort(rng.integers(0, 86_400, len(rows)))
        log = pd.DataFrame(
            {
                roles.id: [f"{self.spec.model}-{start:%Y%m%d}-{i:05d}" for i in range(len(rows))],
                roles.timestamp: pd.to_datetime(start) + pd.to_timedelta(seconds, unit="s"),
            }
        )
        for feature in roles.feature_names:
            log[feature] = rows[feature].to_numpy()
        log[roles.prediction] = out.prediction
        if roles.score:
            log[roles.score] = out.score
        log[roles.target] = rows[self.owned.target].to_numpy()
        if degrade == "label_shift":
            log[roles.target] = shift_labels(self.task, log[roles.target], rng)
        relative = self.spec.source.path.format(date=self.date(night), model=self.spec.model, start="", end="")
        path = self.settings.resolve_data(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)
        return log

    def check_record(self, night: int) -> tuple[dict[str, str], dict[str, Any]]:
        """The check run of night ``night`` in MLflow: its tags and its ``check.json``."""
        from alignment_drift.integrations.mlflow.store import client, experiment_id

        mlflow = client(self.settings)
        runs = mlflow.search_runs(
            [experiment_id(self.settings, self.spec.model)],
            filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{self.night_start(night).isoformat()}'",
        )
        assert len(runs) == 1, f"{len(runs)} check runs for night {night}"
        with tempfile.TemporaryDirectory() as tmp:
            check = json.loads(Path(mlflow.download_artifacts(runs[0].info.run_id, "check.json", tmp)).read_text())
        return runs[0].data.tags, check


def corrupt(task: str, rows: pd.DataFrame) -> pd.DataFrame:
    """An upstream fault in one feature the model leans on, inside the ranges the expectation suite allows.

    Binary: the toxicity scorer upstream is swapped for one on the opposite
    scale (``1 - toxicity``); multiclass: the lab's instrument is recalibrated
    and reports ``proline`` 40 % low; regression: a stale cache serves one
    high ``bmi`` reading (its 95th percentile) for every patient.
    """
    rows = rows.copy()
    column = CORRUPTED[task]
    values = rows[column]
    if task == "binary":
        rows[column] = 1.0 - values
    elif task == "multiclass":
        rows[column] = values * 0.6
    else:
        rows[column] = float(values.quantile(0.95))
    return rows


def shift_labels(task: str, target: pd.Series, rng: np.random.Generator) -> pd.Series:
    """The relation between inputs and label changes while the inputs stay as they were.

    Binary and multiclass: for 45 % of the rows the label is another class;
    regression: the outcome of the same patients is worse by 90 (a new
    protocol measuring disease progression).
    """
    values = target.to_numpy().copy()
    if task == "regression":
        return pd.Series(values + 90.0, index=target.index)
    classes = np.unique(values)
    flip = rng.random(len(values)) < 0.45
    others = np.array([rng.choice(classes[classes != v]) for v in values[flip]], dtype=values.dtype)
    values[flip] = others
    return pd.Series(values, index=target.index)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The module's project home; the environment points every command and DAG at it."""
    from alignment_drift.settings import Settings

    root = tmp_path_factory.mktemp("nights")
    with pytest.MonkeyPatch.context() as patch:
        for sub in ("specs", "expectations", "data"):
            (root / sub).mkdir()
        env = {
            "ALIGNMENT_DRIFT_HOME": str(root),
            "ALIGNMENT_DRIFT_SPECS_DIR": str(root / "specs"),
            "ALIGNMENT_DRIFT_EXPECTATIONS_DIR": str(root / "expectations"),
            "ALIGNMENT_DRIFT_DATA_DIR": str(root / "data"),
        }
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("ALIGNMENT_DRIFT_QUARANTINE_DIR", raising=False)
        yield Project(root, Settings.from_env(root))


def review(spec_path: Path, task: str, trusted: tuple[str, ...]) -> None:
    """What the owner changes in the spec ``init`` wrote, before adopting."""
    data = yaml.safe_load(spec_path.read_text())
    batch = [
        {**b, "name": b["name"].replace("audit_", "batch_"), "evaluated_on": "batch", "resamples": 300}
        for b in data["benchmarks"]
        if b["kind"] == "metric_floor"
    ]
    data["benchmarks"] += batch
    if task == "multiclass":  # the cultivar the owner sells most of must stay recognised, night by night
        recall = {"kind": "metric_floor", "name": "batch_recall_cultivar_0", "metric": "recall", "class": 0}
        data["benchmarks"].append({**recall, "floor": 0.8, "evaluated_on": "batch", "resamples": 300})
    data["verdict"] = {"output_drift_is_drifting": True}  # when what the model says moves, look now
    entrypoint, params = ENTRYPOINTS[task]
    data["retraining"]["training"] = {"entrypoint": entrypoint, "params": params}
    data["governance"]["approval"] = "automatic"
    data["registry"] = {"trusted_types": sorted({*trusted, WINSORIZER})}
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def owner(request: pytest.FixtureRequest, home: Project, owned_models: dict[str, OwnedModel]) -> Owner:
    """``init``, the owner's review and ``adopt``, for one of the three models."""
    from alignment_drift.cli import main
    from alignment_drift.core.spec import load_spec
    from alignment_drift.pipeline.adopt import adopt

    owned = owned_models[request.param]
    name = f"nights_{owned.task}"
    reference = home.home / f"{owned.name}-reference.parquet"
    owned.reference.to_parquet(reference, index=False)
    args = ["init", "--model-uri", owned.uri, "--reference", str(reference), "--target", owned.target]
    assert main([*args, "--name", name, "--start-date", START.isoformat(), *owned.init_options]) == 0
    spec_path = home.settings.specs_dir / f"{name}.yaml"
    review(spec_path, owned.task, owned.trusted_types)
    spec = load_spec(spec_path)
    result = adopt(spec, home.settings, owned.uri, reason="adopted for the nightly end-to-end tests")
    assert result.task == owned.task and set(result.baselines) == {b.name for b in spec.benchmarks}
    return Owner(owned, spec_path, spec, home.settings, home.home, result.version)


def _monitor(owner: Owner, night: int, *, red: bool = False) -> None:
    """Run the monitor DAG for the night; ``red``: its verdict is one of ``governance.fail_run_on`` (finish fails)."""
    from alignment_drift.airflow.factory import monitor_dag

    dag_run = monitor_dag(owner.spec, owner.home).test(logical_date=owner.night_start(night) + dt.timedelta(days=1))
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == ("failed" if red else "success"), states
    assert states.pop("finish") == ("failed" if red else "success")
    assert set(states.values()) <= {"success", "skipped"}, states


def test_stable_nights_are_aligned_through_the_command_and_the_monitor_dag(
    owner: Owner, airflow_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alignment_drift.cli import main

    owner.serve(1)
    capsys.readouterr()
    assert main(["check", str(owner.spec_path), "--date", owner.date(1), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "aligned", result
    assert result["model_version"] == owner.champion and result["validation"]["status"] == "valid"
    # every benchmark was evaluated on the night, the batch ones on its labelled rows
    statuses = {b["name"]: b["status"] for b in result["benchmarks"]}
    assert set(statuses) == {b.name for b in owner.spec.benchmarks}
    assert all(s == "pass" for s in statuses.values()), statuses

    owner.serve(2)
    _monitor(owner, 2)
    for night in (1, 2):
        tags, check = owner.check_record(night)
        assert tags["verdict"] == check["verdict"] == "aligned", check["reasons"]
        assert check["attribution"] == [] and check["model_version"] == owner.champion
    assert owner.check_record(2)[0]["airflow_dag_id"] == owner.spec.monitor_dag_id


def test_a_corrupted_feature_is_caught_and_attributed_to_it(
    owner: Owner, airflow_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alignment_drift.cli import main

    owner.serve(3, degrade="corrupted_feature")
    capsys.readouterr()
    assert main(["check", str(owner.spec_path), "--date", owner.date(3), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    tags, check = owner.check_record(3)
    assert check["verdict"] == tags["verdict"] == result["verdict"]
    assert check["verdict"] in ("drifting", "misaligned"), check["reasons"]
    feature = CORRUPTED[owner.task]
    assert feature in result["drift"]["drifted"]
    shift = [a for a in check["attribution"] if a["source"] == "distribution_shift"]
    assert shift and feature in shift[0]["evidence"], check["attribution"]
    assert check["attribution"][0]["source"] == "distribution_shift"  # the likeliest source


def test_a_label_shift_fails_the_batch_benchmarks(owner: Owner, airflow_db: Path) -> None:
    owner.serve(4, degrade="label_shift")
    _monitor(owner, 4, red="misaligned" in owner.spec.governance.fail_run_on)
    tags, check = owner.check_record(4)
    assert check["verdict"] == tags["verdict"] == "misaligned", check["reasons"]
    results = {b["name"]: b for b in check["benchmarks"]}
    failed = {name for name, b in results.items() if b["status"] == "fail"}
    batch = {b.name for b in owner.spec.benchmarks if getattr(b, "evaluated_on", "") == "batch"}
    audit = {b.name for b in owner.spec.benchmarks if getattr(b, "evaluated_on", "") == "audit"}
    assert failed & batch and not failed & audit, failed  # the model is the same: only the night's labels moved
    assert any(f"benchmark {name} failed (critical)" in r for name in failed for r in check["reasons"])
    # the inputs did not move, the model did not change: a concept (label) shift of the joint distribution
    (source,) = check["attribution"]
    assert source["source"] == "distribution_shift", check["attribution"]
    assert source["evidence"].startswith("concept or label shift") and "input drift" not in source["evidence"]


def test_a_retrain_through_the_entrypoint_is_gated(owner: Owner, airflow_db: Path) -> None:
    from alignment_drift.airflow.factory import retrain_dag_for
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    settings, model = owner.settings, owner.spec.model
    before = registry.champion(settings, model).version
    as_of = owner.night_start(3)  # the stable nights and the reference data, not the degraded nights
    dag_run = retrain_dag_for(owner.spec, owner.home).test(
        run_conf={"reason": "owner's retrain", "as_of": as_of.isoformat()},
        logical_date=as_of + dt.timedelta(hours=1),
    )
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    (run,) = client(settings).search_runs([experiment_id(settings, model)], filter_string="tags.kind = 'retrain'")
    assert run.data.params["estimator"] == ENTRYPOINTS[owner.task][0]
    with tempfile.TemporaryDirectory() as tmp:
        gated = json.loads(
            Path(client(settings).download_artifacts(run.info.run_id, "gate/comparison.json", tmp)).read_text()
        )
    decision = gated["decision"]
    assert decision in ("promote", "reject", "insufficient_evidence")
    assert run.data.tags["gate_decision"] in ("promoted", "rejected", "insufficient_evidence")
    # every critical metric floor on the audit set was compared with the champion, pairwise, not skipped
    critical = [
        b.name
        for b in owner.spec.benchmarks
        if b.kind == "metric_floor" and b.severity == "critical" and b.evaluated_on == "audit"
    ]
    judged = {j["benchmark"]: j for j in gated["benchmarks"]}
    for name in critical:
        comparisons = judged[name]["comparisons"]
        assert judged[name]["outcome"] != "skipped", judged[name]
        assert comparisons and all(c["kind"] == "non_inferiority" for c in comparisons), judged[name]
        assert all(c["outcome"] != "skipped" and c["ci_low"] is not None for c in comparisons), comparisons
        assert {c["reference_version"] for c in comparisons} == {before}
    challenger = gated["challenger_version"]
    after = registry.champion(settings, model).version
    assert after == (challenger if decision == "promote" else before), (decision, before, after)
