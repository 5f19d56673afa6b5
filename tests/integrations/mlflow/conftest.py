"""Real owner models in the session's MLflow sqlite store, and their policy models.

``pf_content``: the content-safety classifier (binary), trained on the
simulated platform like the retrain DAG trains it, with its held-out reference
and profile. ``pf_diabetes``: a ridge regression of scikit-learn's diabetes
data (``sex`` as a category). Both are registered and promoted once per session.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CONTENT_RULES = [
    {
        "when": [
            {"feature": "source_type", "op": "==", "value": "new_account"},
            {"feature": "category", "op": "==", "value": "politics"},
        ],
        "action": "block",
        "reason": "political posts from new accounts wait for a moderator",
    },
    {"when": {"output": "score", "op": ">=", "value": 0.995}, "action": "review", "reason": "near-certain: confirm"},
]
DIABETES_NUMERIC = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
DIABETES_RULES = [
    {"when": {"feature": "s5", "op": ">", "value": 0.1}, "action": "block", "reason": "s5 above 0.1 needs a clinician"},
    {"when": {"output": "prediction", "op": ">", "value": 280}, "action": "review", "reason": "high progression"},
]


@dataclass(frozen=True)
class Owner:
    """A registered, promoted owner model: its spec, version, fitted estimator and reference rows."""

    spec: Any
    version: str
    estimator: Any
    reference: pd.DataFrame


def content_spec_named(model: str, runtime: dict[str, Any]) -> Any:
    from alignment_drift.core.spec import parse_spec

    data = yaml.safe_load((ROOT / "specs" / "content_safety.yaml").read_text())
    data = copy.deepcopy(data)
    data["model"] = model
    data["governance"]["runtime"] = runtime
    return parse_spec(data)


def diabetes_spec(runtime: dict[str, Any]) -> Any:
    from alignment_drift.core.spec import parse_spec

    features = [{"name": n, "kind": "numeric"} for n in DIABETES_NUMERIC] + [{"name": "sex", "kind": "categorical"}]
    return parse_spec(
        {
            "model": "pf_diabetes",
            "task": "regression",
            "start_date": "2026-01-01",
            "source": {"kind": "files", "path": "pf_diabetes/{date}.parquet"},
            "expectations": "pf_diabetes",
            "columns": {
                "id": "id",
                "timestamp": "ts",
                "features": features,
                "prediction": "prediction",
                "target": "progression",
            },
            "reference": {"training_data": "pf_diabetes/train.parquet", "audit_set": "pf_diabetes/audit.parquet"},
            # the spec needs one benchmark; it is not evaluated here
            "benchmarks": [{"kind": "metric_floor", "name": "audit_mae", "metric": "mae", "ceiling": 60.0}],
            "governance": {"runtime": runtime},
        }
    )


def register_owner(settings: Any, spec: Any, estimator: Any, reference: pd.DataFrame, profile: Any) -> str:
    """Register ``estimator`` as a new version with its reference, the way the retrain DAG does, and promote it."""
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    run = client(settings).create_run(experiment_id(settings, spec.model), run_name="train (test)")
    info = registry.log_candidate(
        settings,
        spec.model,
        estimator,
        run_id=run.info.run_id,
        input_example=reference[spec.columns.feature_names].head(3),
        reference=reference.head(500),
        profile=profile,
        baselines={},
        decision_threshold=spec.retraining.training.decision_threshold,
        tags={"deployed_by": "test"},
    )
    client(settings).set_terminated(run.info.run_id, "FINISHED")
    registry.promote(settings, spec.model, info.version, reason="test owner")
    return info.version


@pytest.fixture(scope="session")
def settings() -> Any:
    import dataclasses

    from alignment_drift.settings import Settings
    from tests.conftest import SESSION_TRACKING_URI

    # the session's store, whatever an earlier test left in MLFLOW_TRACKING_URI
    return dataclasses.replace(Settings.from_env(), tracking_uri=SESSION_TRACKING_URI)


@pytest.fixture(scope="session")
def platform_data() -> pd.DataFrame:
    from alignment_drift.demo.simulate import ContentPlatform

    return ContentPlatform("stable", seed=5).training_data(6000)


@pytest.fixture(scope="session")
def content_owner(settings: Any, platform_data: pd.DataFrame) -> Owner:
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.pipeline.retrain import reference_profile

    spec = content_spec_named("pf_content", {"rules": CONTENT_RULES})
    holdout = np.random.default_rng(0).random(len(platform_data)) < 0.25
    pipeline = fit_pipeline(platform_data[~holdout], spec.columns, spec.retraining.training)
    reference = platform_data[holdout].reset_index(drop=True)
    reference["score"] = pipeline.predict_proba(reference[spec.columns.feature_names])[:, 1]
    reference["prediction"] = (reference["score"] >= 0.5).astype("int64")
    version = register_owner(settings, spec, pipeline, reference, reference_profile(spec, reference))
    return Owner(spec, version, pipeline, reference)


@pytest.fixture(scope="session")
def content_policy(settings: Any, content_owner: Owner) -> Any:
    from alignment_drift.integrations.mlflow.policy_registry import register_policy_model

    return register_policy_model(content_owner.spec, settings, content_owner.version)


@pytest.fixture(scope="session")
def diabetes_owner(settings: Any) -> Owner:
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from alignment_drift.core.drift.profile import ReferenceProfile

    spec = diabetes_spec({"rules": DIABETES_RULES})
    frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
    frame["sex"] = np.where(frame["sex"] > 0, "m", "f").astype(object)
    holdout = np.random.default_rng(0).random(len(frame)) < 0.25
    features = [*DIABETES_NUMERIC, "sex"]
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("numeric", "passthrough", DIABETES_NUMERIC),
                        ("sex", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
                    ]
                ),
            ),
            ("regressor", Ridge(alpha=0.1)),
        ]
    ).fit(frame.loc[~holdout, features], frame.loc[~holdout, "progression"])
    reference = frame[holdout].reset_index(drop=True)
    profile = ReferenceProfile.fit(reference, numeric=DIABETES_NUMERIC, categorical=["sex"])
    version = register_owner(settings, spec, model, reference, profile)
    return Owner(spec, version, model, reference)


@pytest.fixture(scope="session")
def diabetes_policy(settings: Any, diabetes_owner: Owner) -> Any:
    from alignment_drift.integrations.mlflow.policy_registry import register_policy_model

    return register_policy_model(diabetes_owner.spec, settings, diabetes_owner.version)
