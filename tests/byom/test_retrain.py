"""Retraining with any estimator: the built-in HGB saves and loads, the owner's entrypoint trains the challenger."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.byom.conftest import WINSORIZER, Project
from tests.byom.helpers import content_project

AS_OF = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
ENTRYPOINT = "tests.byom.custom_steps:content_classifier"


def _train(spec: Any, settings: Any, key: str) -> dict[str, Any]:
    from alignment_drift.pipeline import retrain

    assembled = retrain.assemble(spec, settings, as_of=AS_OF, key=key)
    return retrain.train(spec, settings, assembled, key=key, reason="test", tags={})


def _requirements(settings: Any, model: str, version: str) -> list[str]:
    import mlflow.artifacts

    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{model}/{version}/requirements.txt", tracking_uri=settings.tracking_uri
    )
    return Path(path).read_text().split()


def test_the_documented_hist_gradient_boosting_retrain_saves_with_skops_and_loads(project: Project, root: Path) -> None:
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier

    from alignment_drift.integrations.mlflow import registry

    settings = project.settings
    spec = content_project(
        settings, root, model="byo_hgb", retraining={"training": {"estimator": "hist_gradient_boosting"}}
    )
    trained = _train(spec, settings, "byo_hgb/hgb")
    info = registry.version_info(settings, "byo_hgb", trained["version"])
    assert info.tags["serialization"] == "skops" and "serialization_why" not in info.tags
    assert registry.champion(settings, "byo_hgb", alias="challenger").version == trained["version"]
    model = registry.load_model(settings, "byo_hgb", trained["version"])
    assert isinstance(model.steps[-1][1], HistGradientBoostingClassifier)
    # what was saved is what scored the reference: same scores after the round trip
    reference = registry.load_reference(settings, "byo_hgb", info)
    rescored = model.predict_proba(reference.frame[spec.columns.feature_names])[:, 1]
    np.testing.assert_allclose(rescored, reference.frame["score"].to_numpy())
    assert reference.baselines["audit_roc_auc"] > 0.9
    # requirements: the installed scikit-learn (not a pinned literal), and skops to read the file
    requirements = _requirements(settings, "byo_hgb", trained["version"])
    assert f"scikit-learn=={sklearn.__version__}" in requirements
    assert any(r.startswith("skops==") for r in requirements)


def test_an_entrypoint_trains_the_challenger_with_the_owners_pipeline(project: Project, root: Path) -> None:
    from sklearn.compose import ColumnTransformer

    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client
    from tests.byom.custom_steps import Winsorizer

    settings = project.settings
    spec = content_project(
        settings,
        root,
        model="byo_entry",
        retraining={"training": {"entrypoint": ENTRYPOINT, "estimator": None, "params": {"max_iter": 40}}},
        registry={"trusted_types": [WINSORIZER]},
    )
    trained = _train(spec, settings, "byo_entry/1")
    info = registry.version_info(settings, "byo_entry", trained["version"])
    assert registry.champion(settings, "byo_entry", alias="challenger").version == trained["version"]
    assert info.tags["serialization"] == "skops"  # the owner's class is declared trusted
    model = registry.load_model(settings, "byo_entry", trained["version"], trusted_types=[WINSORIZER])
    steps = dict(model.steps)
    assert isinstance(steps["features"], ColumnTransformer)
    assert isinstance(steps["features"].named_transformers_["clip"], Winsorizer)
    assert steps["classifier"].max_iter == 40  # the spec's params reached the entrypoint
    run = client(settings).get_run(trained["mlflow_run_id"])
    assert run.data.params["estimator"] == "tests.byom.custom_steps:content_classifier"
    # a retry of the same retrain finds the challenger it registered
    assert _train(spec, settings, "byo_entry/1")["version"] == trained["version"]


def test_an_owners_class_that_is_not_declared_is_saved_with_cloudpickle_and_says_why(
    project: Project, root: Path
) -> None:
    from alignment_drift.integrations.mlflow import registry

    settings = project.settings
    spec = content_project(
        settings,
        root,
        model="byo_undeclared",
        retraining={"training": {"entrypoint": ENTRYPOINT, "estimator": None, "params": {"max_iter": 20}}},
    )
    trained = _train(spec, settings, "byo_undeclared/1")
    info = registry.version_info(settings, "byo_undeclared", trained["version"])
    assert info.tags["serialization"] == "cloudpickle"
    assert WINSORIZER in info.tags["serialization_why"]
    assert registry.load_model(settings, "byo_undeclared", trained["version"]).predict_proba is not None


def test_the_reference_json_keeps_its_shape(project: Project, root: Path) -> None:
    """The reference files of a version are what they were before any-estimator support (monitor reads them)."""
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client

    settings = project.settings
    spec = content_project(settings, root, model="byo_shape")
    trained = _train(spec, settings, "byo_shape/1")
    run_id = trained["mlflow_run_id"]
    names = {a.path for a in client(settings).list_artifacts(run_id, "reference")}
    assert names == {"reference/reference.parquet", "reference/profile.parquet", "reference/baselines.json"}
    meta_path = client(settings).download_artifacts(run_id, "reference/baselines.json", str(project.home))
    meta = json.loads(Path(meta_path).read_text())
    assert set(meta) == {"baselines", "decision_threshold"} and meta["decision_threshold"] == 0.5
    assert registry.version_info(settings, "byo_shape", trained["version"]).tags["serialization"] == "skops"
