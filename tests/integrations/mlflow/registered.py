"""Small real scikit-learn models registered in the session's MLflow store, for registry and policy tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np


def unique_model(prefix: str) -> str:
    """A registered-model name no other test uses (spec model names: lower case, digits, '_')."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def register(settings: Any, model: str, *, tags: dict[str, str] | None = None, champion: bool = False) -> str:
    """Fit a small logistic regression, log and register it as a new version of ``model``; returns the version.

    ``tags`` are set on the version (e.g. ``{"gate": "passed", "approval": "automatic"}`` for a gated
    one); ``champion`` moves alias ``champion`` to it directly, as a deployment outside the gate would.
    """
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    from alignment_drift.integrations.mlflow.registry import SKOPS_TRUSTED
    from alignment_drift.integrations.mlflow.store import client, experiment_id, in_run

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + rng.normal(0, 0.5, 200) > 0).astype(int)
    mlflow_client = client(settings)
    run = mlflow_client.create_run(experiment_id(settings, model), tags={"kind": "test_model"})
    with in_run(settings, run.info.run_id):
        logged = mlflow.sklearn.log_model(
            LogisticRegression().fit(x, y),
            name="model",
            registered_model_name=model,
            pip_requirements=["scikit-learn"],
            skops_trusted_types=SKOPS_TRUSTED,
        )
    version = str(logged.registered_model_version)
    for key, value in (tags or {}).items():
        mlflow_client.set_model_version_tag(model, version, key, value)
    if champion:
        mlflow_client.set_registered_model_alias(model, "champion", version)
    return version


GATED = {"gate": "passed", "approval": "automatic"}


def record_night(settings: Any, model: str, version: str, day: int, verdict: str) -> str:
    """Record a check of ``model`` served by ``version`` on 2026-03-<day> with ``verdict``; returns its run id."""
    from alignment_drift.integrations.mlflow.checks import record_check

    start = dt.datetime(2026, 3, day, tzinfo=dt.UTC)
    check = {
        "model": model,
        "model_version": version,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "verdict": verdict,
        "verdict_code": {"aligned": 0, "watch": 1, "drifting": 2, "misaligned": 3}[verdict],
        "benchmarks": [],
        "attribution": [],
        "reasons": ["audit_unsafe_recall fails"] if verdict == "misaligned" else [],
    }
    return record_check(
        settings,
        check,
        tags={"model_version": version, "verdict": verdict},
        params={},
        artifacts={"check.json": check},
    )
