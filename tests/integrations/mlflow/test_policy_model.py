"""The policy model in the registry: registered once per (version, objective, policy), tagged, following the champion,
loading only its own verified artifacts and code; in process (the served path is in test_policy_serving.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.integrations.mlflow import policy_model
from alignment_drift.integrations.mlflow.policy_registry import (
    PolicyModelVersion,
    objective_fingerprint,
    register_policy_model,
    sync_policy_champion,
)
from tests.integrations.mlflow.conftest import Owner, content_spec_named, register_owner

BASE = {
    "toxicity": 0.30,
    "sensationalism": 0.30,
    "report_rate": 0.05,
    "author_reputation": 0.65,
    "text_length": 250,
    "category": "news",
    "source_type": "verified",
}
SAFE_ITEM = {**BASE, "toxicity": 0.10, "sensationalism": 0.10, "report_rate": 0.01, "author_reputation": 0.90}


def _load(uri: str) -> Any:
    """The policy model, loaded in this process as a user would; this process's ``sys.path`` is put back after.

    MLflow puts a model's ``code_paths`` first on ``sys.path`` and leaves them there: the staged copy of
    ``alignment_drift`` (its core and the policy module only) would then shadow the installed package for
    every later subprocess a test starts with this ``sys.path`` (``No module named alignment_drift.cli``).
    """
    import sys

    import mlflow.pyfunc

    path = list(sys.path)
    try:
        return mlflow.pyfunc.load_model(uri)
    finally:
        sys.path[:] = path


def test_registration_is_tagged_and_idempotent(settings: Any, content_owner: Owner, content_policy: Any) -> None:
    from alignment_drift.integrations.mlflow.store import client

    assert isinstance(content_policy, PolicyModelVersion)
    assert content_policy.name == "pf_content_policy" and content_policy.task == "binary"
    assert content_policy.champion and not content_policy.reused
    spec_json = json.dumps(content_owner.spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert content_policy.objective_fingerprint == hashlib.sha256(spec_json.encode()).hexdigest()
    tags = client(settings).get_model_version("pf_content_policy", content_policy.version).tags
    assert tags["wraps_model"] == "pf_content" and tags["wraps_version"] == content_owner.version
    assert tags["objective_fingerprint"] == objective_fingerprint(content_owner.spec)
    assert tags["policy_sha256"] == content_policy.policy_sha256 and tags["task"] == "binary"
    assert len(tags["wraps_sha256"]) == 64
    alias = client(settings).get_model_version_by_alias("pf_content_policy", "champion")
    assert str(alias.version) == content_policy.version
    again = register_policy_model(content_owner.spec, settings, content_owner.version)
    assert again is not None and again.reused and again.version == content_policy.version
    run = client(settings).get_run(content_policy.mlflow_run_id)
    assert run.data.tags["kind"] == "runtime_policy" and run.data.tags["wraps_version"] == content_owner.version


def test_a_changed_objective_registers_a_new_policy_version(
    settings: Any, content_owner: Owner, content_policy: Any
) -> None:
    stricter = content_spec_named("pf_content", {"abstain_band": 0.1})
    changed = register_policy_model(stricter, settings, content_owner.version)
    try:
        assert changed is not None and not changed.reused and changed.version != content_policy.version
        assert changed.objective_fingerprint != content_policy.objective_fingerprint
        assert changed.wraps_version == content_owner.version and changed.champion
    finally:  # leave the champion's policy as the session's fixture registered it
        register_policy_model(content_owner.spec, settings, content_owner.version)


def test_the_wrapper_applies_the_policy_in_process(content_policy: Any, content_owner: Owner) -> None:
    model = _load(content_policy.model_uri)
    rows = pd.DataFrame([SAFE_ITEM, {**BASE, "category": "memes"}, {**BASE, "toxicity": None}])
    result = model.predict(rows)
    assert list(result.columns) == ["prediction", "score", "policy_action", "policy_reasons"]
    assert result["policy_action"].tolist() == ["allow", "review", "block"]
    assert [json.loads(r) for r in result["policy_reasons"]] == [[], ["unseen_category:category"], ["missing:toxicity"]]
    expected = content_owner.estimator.predict_proba(rows.iloc[:2])[:, 1]
    assert np.allclose(result["score"].iloc[:2].astype(float), expected)
    assert result["prediction"].tolist()[:2] == [int(s >= 0.5) for s in expected]
    assert result["prediction"].iloc[2] is None and result["score"].iloc[2] is None


def test_the_alias_follows_the_owners_champion_and_a_probe_breaking_model_is_blocked(
    settings: Any, content_owner: Owner, content_policy: Any, platform_data: pd.DataFrame
) -> None:
    """An owner version trained on inverted labels shows unsafe items and blocks safe ones: the probes catch it."""
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.integrations.mlflow.rollback import rollback
    from alignment_drift.integrations.mlflow.store import client

    spec = content_owner.spec
    inverted = platform_data.assign(unsafe=1 - platform_data["unsafe"])
    bad = fit_pipeline(inverted, spec.columns, spec.retraining.training)
    reference = content_owner.reference.copy()
    reference["score"] = bad.predict_proba(reference[spec.columns.feature_names])[:, 1]
    reference["prediction"] = (reference["score"] >= 0.5).astype("int64")
    from alignment_drift.pipeline.retrain import reference_profile

    bad_version = register_owner(settings, spec, bad, reference, reference_profile(spec, reference))
    bad_policy = register_policy_model(spec, settings, bad_version)
    assert bad_policy is not None and bad_policy.champion
    mlflow_client = client(settings)
    assert str(mlflow_client.get_model_version_by_alias("pf_content_policy", "champion").version) == bad_policy.version

    result = _load(bad_policy.model_uri).predict(pd.DataFrame([SAFE_ITEM]))
    assert result["prediction"].tolist() == [1]  # the inverted model blocks a clearly safe item
    assert result["policy_action"].tolist() == ["block"]
    assert "probe:clearly_safe_is_shown" in json.loads(result["policy_reasons"].iloc[0])

    # the test registered both versions outside the gate: restoring one is a forced, recorded rollback
    rollback(settings, spec.model, reason="test: the inverted model", force=True)
    synced = sync_policy_champion(spec, settings)
    assert synced is not None and synced.reused and synced.version == content_policy.version
    champion = mlflow_client.get_model_version_by_alias("pf_content_policy", "champion")
    assert str(champion.version) == content_policy.version


def test_a_tampered_model_is_not_loaded(content_policy: Any, tmp_path: Path) -> None:
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    local = Path(download_artifacts(content_policy.model_uri, dst_path=str(tmp_path / "copy")))
    with (local / "artifacts" / "model" / "model.skops").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(MlflowException, match="refusing to load them"):
        _load(str(local))


def test_requests_are_bounded(content_policy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException

    model = _load(content_policy.model_uri)
    monkeypatch.setattr(policy_model, "MAX_ROWS", 2)
    with pytest.raises(MlflowException, match="at most 2 rows; got 3"):
        model.predict(pd.DataFrame([BASE] * 3))


def test_a_repeated_feature_column_is_a_clear_error(content_policy: Any) -> None:
    from mlflow.exceptions import MlflowException

    frame = pd.concat([pd.DataFrame([BASE]), pd.DataFrame({"toxicity": [0.2]})], axis=1)
    with pytest.raises(MlflowException, match=r"feature column\(s\) \['toxicity'\] more than once"):
        _load(content_policy.model_uri).predict(frame)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_score_rows_for_every_task(task: str) -> None:
    """The wrapper's scoring, shaped like the shared ModelOutput, on scikit-learn's bundled data."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    loader = {"binary": load_breast_cancer, "multiclass": load_wine, "regression": load_diabetes}[task]
    x, y = loader(return_X_y=True, as_frame=True)
    estimator = Ridge() if task == "regression" else LogisticRegression(max_iter=2000)
    model = make_pipeline(StandardScaler(), estimator).fit(x, y)
    assert policy_model.infer_task(model) == task
    out = policy_model.score_rows(model, x, task=task, threshold=0.3)
    if task == "regression":
        assert out.score is None and out.proba is None and np.allclose(out.prediction, model.predict(x))
        return
    proba = model.predict_proba(x)
    assert out.classes == tuple(model.classes_) and np.allclose(out.proba, proba)
    if task == "binary":
        assert np.allclose(out.score, proba[:, 1])
        assert np.array_equal(out.prediction, (proba[:, 1] >= 0.3).astype(int))
    else:
        assert np.allclose(out.score, proba.max(axis=1))
        assert np.array_equal(out.prediction.astype(int), model.predict(x))


def test_a_disabled_runtime_policy_registers_nothing(settings: Any, content_owner: Owner) -> None:
    off = content_spec_named("pf_content", {"enabled": False})
    assert register_policy_model(off, settings, content_owner.version) is None


def test_regression_through_the_same_wrapper(diabetes_policy: Any, diabetes_owner: Owner) -> None:
    assert diabetes_policy.task == "regression"
    row = diabetes_owner.reference[diabetes_owner.spec.columns.feature_names].median(numeric_only=True).to_dict()
    result = _load(diabetes_policy.model_uri).predict(pd.DataFrame([{**row, "sex": "f"}, {**row, "sex": "x"}]))
    assert list(result.columns) == ["prediction", "policy_action", "policy_reasons"]  # no score for regression
    assert result["policy_action"].tolist() == ["allow", "review"]
    assert isinstance(result["prediction"].iloc[0], float)
