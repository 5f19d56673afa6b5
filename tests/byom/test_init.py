"""``alignment-drift init``: a valid spec, a data split and a suite from a registered model; clear refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.cli import main
from tests.byom.conftest import WINSORIZER, OwnedModel, Project
from tests.byom.helpers import write_reference


def _init(owned: OwnedModel, reference: Path, *extra: str) -> list[str]:
    return ["init", "--model-uri", owned.uri, "--reference", str(reference), "--target", owned.target, *extra]


def test_init_writes_a_spec_that_loads_with_the_models_inputs_and_thresholds_it_meets(
    owned_models: dict[str, OwnedModel], project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.gx import load_suite

    owned = owned_models["binary"]
    code = main(_init(owned, write_reference(tmp_path, owned), "--name", "content_hgb", "--start-date", "2026-01-01"))
    out = capsys.readouterr().out
    assert code == 0, out
    spec = load_spec(project.settings.specs_dir / "content_hgb.yaml")
    assert spec.columns.feature_names == list(owned.features)
    assert spec.columns.categorical == ["category", "source_type"]
    assert spec.columns.target == "unsafe" and spec.columns.score == "score"
    assert str(spec.start_date) == "2026-01-01" and spec.source.kind == "files"
    assert spec.governance.approval == "required"
    floors = {b.name: b for b in spec.benchmarks}
    assert {"audit_roc_auc", "audit_recall", "audit_precision", "audit_calibration"} == set(floors)
    # the data split: 30 % of the labelled rows, stratified, as the audit set; the rest as training data
    training = pd.read_parquet(project.settings.resolve_data(spec.reference.training_data))
    audit = pd.read_parquet(project.settings.resolve_data(spec.reference.audit_set))
    assert len(training) + len(audit) == len(owned.reference)
    assert len(audit) == pytest.approx(0.3 * len(owned.reference), abs=2)
    assert audit["unsafe"].mean() == pytest.approx(owned.reference["unsafe"].mean(), abs=0.01)
    # the thresholds sit below what the model achieves on that audit set (it passes its own spec)
    from sklearn.metrics import roc_auc_score

    from alignment_drift.integrations.mlflow.models import load_from_registry

    model = load_from_registry(project.settings, owned.uri).model
    auc = roc_auc_score(audit["unsafe"], model.predict_proba(audit[list(owned.features)])[:, 1])
    assert floors["audit_roc_auc"].floor == pytest.approx(auc - 0.05, abs=0.011) and floors["audit_roc_auc"].floor < auc
    # the claim init prints: the unchanged model passes every benchmark on its (fixed) audit set, intervals and all
    from alignment_drift.core.benchmarks import Scored, run_benchmarks

    score = model.predict_proba(audit[list(owned.features)])[:, 1]
    results = run_benchmarks(
        spec.benchmarks,
        audit=Scored.from_frame(audit, spec.columns, score=score, threshold=0.5),
        batch=None,
        model=model,
    )
    assert {r.name: r.status for r in results} == dict.fromkeys(floors, "pass")
    # and a model that lost its ranking (scores shuffled across rows) fails the critical ones
    shuffled = np.random.default_rng(0).permutation(score)
    worse = run_benchmarks(
        spec.benchmarks,
        audit=Scored.from_frame(audit, spec.columns, score=shuffled, threshold=0.5),
        batch=None,
        model=model,
    )
    assert {r.name for r in worse if r.failed} >= {"audit_roc_auc", "audit_recall"}
    # the suite: loadable, and it knows the model's decisions
    suite_path = project.settings.expectations_dir / "content_hgb_predictions.json"
    suite = load_suite(suite_path)
    assert suite["name"] == spec.expectations
    sets = {
        e["kwargs"]["column"]: e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    }
    assert sets["prediction"] == [0, 1] and sets["unsafe"] == [0, 1]
    assert set(sets["category"]) == set(owned.reference["category"])
    assert "task: binary (inferred from the model: classes [0, 1]" in out
    assert "columns not used by the model, left out: ['region', 'engaged']" in out
    assert "audit_roc_auc observed" in out and "next:  alignment-drift adopt" in out


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_init_for_other_tasks_writes_a_valid_spec(
    owned_models: dict[str, OwnedModel], project: Project, tmp_path: Path, task: str, capsys: Any
) -> None:
    from alignment_drift.core.spec import load_spec

    owned = owned_models[task]
    code = main(_init(owned, write_reference(tmp_path, owned), "--name", f"owned_{task}", *owned.init_options))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    spec = load_spec(project.settings.specs_dir / f"owned_{task}.yaml")
    assert spec.task == task
    assert spec.columns.feature_names == list(owned.features)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_the_plan_for_other_tasks_has_their_benchmarks_and_inputs(
    owned_models: dict[str, OwnedModel], project: Project, task: str
) -> None:
    """What init plans for a multiclass or a regression model: the task's benchmarks, the model's inputs."""
    from alignment_drift.integrations.mlflow.models import load_from_registry
    from alignment_drift.integrations.scaffold import plan_spec

    owned = owned_models[task]
    loaded = load_from_registry(project.settings, owned.uri, trusted_types=owned.trusted_types)
    plan = plan_spec(
        loaded.model,
        loaded.inputs,
        owned.reference,
        name=f"owned_{task}",
        target=owned.target,
        trusted_types=owned.trusted_types,
        audit_fraction=owned.audit_fraction,
        inputs_from=loaded.inputs_from,
    )
    assert plan.task == task and plan.spec["task"] == task
    assert [f["name"] for f in plan.spec["columns"]["features"]] == list(owned.features)
    if task == "multiclass":
        # the forest has no MLflow signature: its inputs come from feature_names_in_
        assert loaded.format == "cloudpickle" and any("feature_names_in_" in note for note in plan.review)
        assert sorted(plan.audit[owned.target].unique()) == [0, 1, 2]
        observed = plan.thresholds["audit_accuracy"]
        assert observed["floor"] < observed["observed"] <= 1.0
        assert plan.spec["columns"]["score"] == "score"
    else:
        assert plan.spec["registry"] == {"trusted_types": [WINSORIZER]} and "score" not in plan.spec["columns"]
        mae = plan.thresholds["audit_mae"]
        assert mae["ceiling"] == pytest.approx(1.25 * mae["observed"], rel=1e-3)
        assert 20 < mae["observed"] < 80  # diabetes progression: the error is in the target's own unit


def test_init_never_overwrites_without_force(
    owned_models: dict[str, OwnedModel], project: Project, tmp_path: Path, capsys: Any
) -> None:
    owned = owned_models["binary"]
    args = _init(owned, write_reference(tmp_path, owned), "--name", "content_hgb")
    assert main(args) == 0
    spec_path = project.settings.specs_dir / "content_hgb.yaml"
    spec_path.write_text(spec_path.read_text() + "# my edits\n")
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already exist" in err and "--force" in err
    assert spec_path.read_text().endswith("# my edits\n")
    assert main([*args, "--force"]) == 0
    assert not spec_path.read_text().endswith("# my edits\n")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: [*a[:2], "/tmp/model.pkl", *a[3:]], "registry forms"),
        (lambda a: [*a[:2], "file:///tmp/model", *a[3:]], "registry forms"),
        (lambda a: [*a[:2], "models:/owner_content_hgb/99", *a[3:]], "not found"),
        (lambda a: [*a[:6], "no_such_column"], "--target 'no_such_column' is not a column"),
        (lambda a: [*a, "--task", "regression"], "does not fit the model"),
        (lambda a: [*a, "--out", "/tmp/elsewhere.yaml"], "must be named content_hgb.yaml"),
        (lambda a: [*a, "--start-date", "yesterday"], "--start-date must be YYYY-MM-DD"),
    ],
    ids=["file-path", "file-uri", "unknown-version", "target", "task", "out-name", "start-date"],
)
def test_init_refuses_bad_input_with_a_message(
    owned_models: dict[str, OwnedModel], project: Project, tmp_path: Path, capsys: Any, change: Any, message: str
) -> None:
    owned = owned_models["binary"]
    args = change(_init(owned, write_reference(tmp_path, owned), "--name", "content_hgb"))
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (project.settings.specs_dir / "content_hgb.yaml").exists()


def test_a_model_with_an_untrusted_custom_class_is_refused_until_trusted(
    owned_models: dict[str, OwnedModel], project: Project, tmp_path: Path, capsys: Any
) -> None:
    owned = owned_models["regression"]
    assert main(_init(owned, write_reference(tmp_path, owned), "--name", "diabetes")) == 2
    err = capsys.readouterr().err
    assert WINSORIZER in err and "registry.trusted_types" in err


def test_a_binary_model_with_named_classes_gets_its_positive_class(project: Project) -> None:
    """Classes ``ham``/``spam``: the spec's positive class is ``spam`` (the score's class), and the plan validates."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from alignment_drift.core.spec import parse_spec
    from alignment_drift.integrations.scaffold import plan_spec

    rng = np.random.default_rng(4)
    n = 1500
    frame = pd.DataFrame(
        {"links": rng.poisson(2, n), "caps_share": rng.beta(2, 8, n), "length": rng.lognormal(5, 1, n)}
    )
    spam = rng.random(n) < 1 / (1 + np.exp(-(0.8 * frame["links"] + 6 * frame["caps_share"] - 4)))
    frame["label"] = np.where(spam, "spam", "ham")
    model = HistGradientBoostingClassifier(max_iter=40).fit(frame[["links", "caps_share", "length"]], frame["label"])
    plan = plan_spec(model, ("links", "caps_share", "length"), frame, name="mail_filter", target="label")
    assert plan.spec["columns"]["positive_class"] == "spam"
    assert any("columns.positive_class: 'spam'" in note for note in plan.review)
    spec = parse_spec(plan.spec)
    assert spec.task == "binary" and spec.columns.positive_class == "spam"
    recall = plan.thresholds["audit_recall"]
    assert 0.3 < recall["observed"] <= 1.0 and recall["floor"] < recall["observed"]
