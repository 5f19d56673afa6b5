"""Three models a team already has in its MLflow registry, registered with MLflow itself (not the plugin).

Session-scoped, for every bring-your-own-model test (and later end-to-end ones):

- ``binary``: a HistGradientBoosting Pipeline (one-hot categories) on the
  simulated content platform's data, target ``unsafe``; saved with skops, the
  owner trusting HGB's ``TreePredictor``; with a signature.
- ``multiclass``: a RandomForest on sklearn's wine data (three cultivars);
  saved with cloudpickle; no signature (its inputs come from ``feature_names_in_``).
- ``regression``: a Ridge Pipeline on sklearn's diabetes data whose
  ColumnTransformer holds the owner's own step (``tests.byom.custom_steps.Winsorizer``);
  saved with skops, the owner trusting that class; with a signature.

Each model's data is split once: ``fit`` rows it was trained on and
``reference`` rows it never saw (what a team hands to ``init``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

WINSORIZER = "tests.byom.custom_steps.Winsorizer"


@dataclass(frozen=True)
class OwnedModel:
    """A registered model of the owner's, and the data they have for it."""

    task: str
    name: str
    version: str
    run_id: str
    features: tuple[str, ...]
    target: str
    reference: pd.DataFrame
    trusted_types: tuple[str, ...] = ()
    audit_fraction: float = 0.3

    @property
    def init_options(self) -> list[str]:
        """What ``init`` needs besides the URI, reference and target: trusted classes, a larger audit share."""
        trust = [a for t in self.trusted_types for a in ("--trust", t)]
        return [*trust, "--audit-fraction", str(self.audit_fraction)]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def run_uri(self) -> str:
        return f"runs:/{self.run_id}/model"


def _split(frame: pd.DataFrame, seed: int, fraction: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    keep = np.random.default_rng(seed).random(len(frame)) < fraction
    return frame[keep].reset_index(drop=True), frame[~keep].reset_index(drop=True)


def _register(name: str, model: Any, **kwargs: Any) -> tuple[str, str]:
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment("owner-team-models")
    with mlflow.start_run(run_name=f"train {name}") as run:
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name, **kwargs)
    return str(info.registered_model_version), run.info.run_id


def _binary() -> OwnedModel:
    import datetime as dt

    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from alignment_drift.demo.simulate import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, ContentPlatform

    data = ContentPlatform("stable", seed=21, rows_per_night=500, start_date=dt.date(2026, 1, 1)).training_data(5000)
    fit, reference = _split(data, seed=1, fraction=0.6)
    pipeline = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("numeric", "passthrough", list(NUMERIC_FEATURES)),
                        ("onehot", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES)),
                    ]
                ),
            ),
            ("classifier", HistGradientBoostingClassifier(max_iter=80, random_state=0)),
        ]
    ).fit(fit[list(FEATURES)], fit["unsafe"])
    trusted = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    version, run_id = _register(
        "owner_content_hgb",
        pipeline,
        input_example=fit[list(FEATURES)].head(5),
        serialization_format="skops",
        skops_trusted_types=trusted,
    )
    return OwnedModel("binary", "owner_content_hgb", version, run_id, tuple(FEATURES), "unsafe", reference)


def _multiclass() -> OwnedModel:
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_wine(return_X_y=True, as_frame=True)
    data = x.assign(cultivar=y)
    fit, reference = _split(data, seed=2, fraction=0.25)  # 178 wines: most kept for the reference and audit set
    forest = RandomForestClassifier(n_estimators=60, random_state=0).fit(fit[list(x.columns)], fit["cultivar"])
    version, run_id = _register("owner_wine_rf", forest, serialization_format="cloudpickle")
    return OwnedModel(
        "multiclass", "owner_wine_rf", version, run_id, tuple(x.columns), "cultivar", reference, audit_fraction=0.45
    )


def _regression() -> OwnedModel:
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    from tests.byom.custom_steps import Winsorizer

    x, y = load_diabetes(return_X_y=True, as_frame=True)
    data = x.assign(progression=y)
    fit, reference = _split(data, seed=3)
    continuous = [c for c in x.columns if c != "sex"]
    pipeline = Pipeline(
        [
            ("features", ColumnTransformer([("clip", Winsorizer(0.02), continuous), ("sex", "passthrough", ["sex"])])),
            ("regressor", Ridge(alpha=0.1)),
        ]
    ).fit(fit[list(x.columns)], fit["progression"])
    version, run_id = _register(
        "owner_diabetes_ridge",
        pipeline,
        input_example=fit[list(x.columns)].head(5),
        serialization_format="skops",
        skops_trusted_types=[WINSORIZER],
    )
    return OwnedModel(
        "regression", "owner_diabetes_ridge", version, run_id, tuple(x.columns), "progression", reference, (WINSORIZER,)
    )


@pytest.fixture(scope="session")
def owned_models() -> dict[str, OwnedModel]:
    """The owner's three registered models, by task."""
    return {m.task: m for m in (_binary(), _multiclass(), _regression())}


@dataclass(frozen=True)
class Project:
    """A project home of its own (specs, expectations, data) on the session's MLflow store."""

    home: Path
    settings: Any

    def env(self) -> dict[str, str]:
        return {
            "ALIGNMENT_DRIFT_HOME": str(self.home),
            "ALIGNMENT_DRIFT_SPECS_DIR": str(self.settings.specs_dir),
            "ALIGNMENT_DRIFT_EXPECTATIONS_DIR": str(self.settings.expectations_dir),
            "ALIGNMENT_DRIFT_DATA_DIR": str(self.settings.data_dir),
        }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An empty project home; the environment points the command at it (the MLflow store stays the session's)."""
    from alignment_drift.settings import Settings

    for sub in ("specs", "expectations", "data"):
        (tmp_path / sub).mkdir()
    proj = Project(tmp_path, None)
    settings = dataclasses.replace(
        Settings.from_env(tmp_path),
        home=tmp_path,
        specs_dir=tmp_path / "specs",
        expectations_dir=tmp_path / "expectations",
        data_dir=tmp_path / "data",
        quarantine_dir=tmp_path / "data" / "quarantine",
    )
    proj = Project(tmp_path, settings)
    for key, value in proj.env().items():
        monkeypatch.setenv(key, value)
    return proj
