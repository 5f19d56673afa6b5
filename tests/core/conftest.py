"""One realistic model per task, fitted once per session on scikit-learn's bundled datasets.

- ``binary``: breast_cancer, positive class 0 (malignant), logistic regression;
- ``multiclass``: digits on 22 of its 64 pixels (accuracy about 0.87, so
  errors are plentiful), logistic regression;
- ``regression``: diabetes (raw units), ridge, with a split-conformal 90 %
  prediction interval logged beside each prediction.

Each is split 50/25/25 into training rows, a fixed audit set and one logged
night (the batch: the model's outputs in the spec's columns, as a
deployment would log them). Every frame carries a random ``region`` segment.

``digits`` and ``diabetes`` are real predictions as benchmark rows
(:class:`Scored`) for the benchmarks' interval tests: digits scored by a
logistic model fitted on other rows, diabetes predicted out of fold by ridge
with a 90 % interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from alignment_drift.core.benchmarks import Scored
from alignment_drift.core.scoring import logged_output, score_model
from alignment_drift.core.spec import AlignmentSpec, parse_spec
from alignment_drift.core.training import fit_pipeline


def spec_data(task: str, features: list[str], **columns: Any) -> dict[str, Any]:
    """A minimal valid spec mapping of ``task`` (one metric floor), to extend or break in tests."""
    metric = {"binary": ("recall", "floor", 0.5), "multiclass": ("accuracy", "floor", 0.5)}.get(
        task, ("mae", "ceiling", 100.0)
    )
    roles = {
        "id": "id",
        "timestamp": "timestamp",
        "features": [{"name": f, "kind": "numeric"} for f in features],
        "prediction": "prediction",
        "target": "target",
        "segments": ["region"],
        **({"score": "score"} if task == "binary" else {}),
        **columns,
    }
    return {
        "model": f"{task}_model",
        "task": task,
        "start_date": "2026-01-01",
        "source": {"kind": "files", "path": f"{task}/{{date}}.parquet"},
        "expectations": task,
        "columns": roles,
        "reference": {"training_data": "t.parquet", "audit_set": "a.parquet"},
        "benchmarks": [{"kind": "metric_floor", "name": "m", "metric": metric[0], metric[1]: metric[2]}],
    }


@dataclass(frozen=True)
class Fitted:
    """A task's spec, its fitted model, the audit set and one logged night."""

    task: str
    spec: AlignmentSpec
    model: Any
    train: pd.DataFrame
    audit: pd.DataFrame
    batch: pd.DataFrame

    @property
    def features(self) -> list[str]:
        return self.spec.columns.feature_names

    def score(self, frame: pd.DataFrame) -> Any:
        return score_model(
            self.model,
            frame,
            task=self.spec.task,
            features=self.features,
            threshold=self.spec.retraining.training.decision_threshold,
            positive=self.spec.columns.positive_class,
        )

    def audit_rows(self) -> Scored:
        """The audit set re-scored by the model under test."""
        return Scored.from_output(self.audit, self.spec, self.score(self.audit))

    def batch_rows(self) -> Scored:
        """The night as logged (outputs read from the log's columns)."""
        return Scored.from_output(self.batch, self.spec, logged_output(self.spec, self.batch), logged=True)


def _split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame["region"] = rng.choice(["na", "eu"], len(frame))
    frame["id"] = np.arange(len(frame))
    frame["timestamp"] = pd.Timestamp("2026-01-01", tz="UTC")
    a, b = len(frame) // 2, (3 * len(frame)) // 4
    return (
        frame.iloc[:a].reset_index(drop=True),
        frame.iloc[a:b].reset_index(drop=True),
        frame.iloc[b:].reset_index(drop=True),
    )


def _binary() -> Fitted:
    data = load_breast_cancer(as_frame=True).frame
    data.columns = [c.replace(" ", "_") for c in data.columns]
    features = [c for c in data.columns if c.startswith("mean_")]
    spec = parse_spec(spec_data("binary", features, positive_class=0, proxy="engaged", exposure="shown"))
    train, audit, batch = _split(data, 0)
    model = fit_pipeline(train, spec.columns, spec.retraining.training, task="binary")
    out = score_model(model, batch, task="binary", features=features, positive=0)
    rng = np.random.default_rng(1)
    batch = batch.assign(
        score=out.score,
        prediction=out.prediction,
        # a proxy that agrees with the target on 75 % of the rows, observed only where the item was shown
        engaged=np.where(rng.random(len(batch)) < 0.75, batch["target"] == 0, batch["target"] == 1).astype(float),
        shown=(out.score < 0.5).astype(float),
    )
    return Fitted("binary", spec, model, train, audit, batch)


def _multiclass() -> Fitted:
    data = load_digits(as_frame=True).frame
    features = [c for k, c in enumerate(data.columns[:-1]) if k % 3 == 0]
    class_scores = {k: f"p_{k}" for k in range(10)}
    spec = parse_spec(spec_data("multiclass", features, class_scores=class_scores))
    train, audit, batch = _split(data, 2)
    model = fit_pipeline(train, spec.columns, spec.retraining.training, task="multiclass")
    out = score_model(model, batch, task="multiclass", features=features)
    assert out.proba is not None
    logged = {f"p_{c}": out.proba[:, i] for i, c in enumerate(out.classes or ())}
    return Fitted("multiclass", spec, model, train, audit, batch.assign(prediction=out.prediction, **logged))


def _regression() -> Fitted:
    data = load_diabetes(as_frame=True, scaled=False).frame
    features = [c for c in data.columns if c != "target"]
    interval = {"lower": "lower", "upper": "upper", "level": 0.9}
    spec = parse_spec(spec_data("regression", features, interval=interval))
    train, audit, batch = _split(data, 3)
    model = fit_pipeline(train, spec.columns, spec.retraining.training, task="regression")
    # split conformal: the 90 % quantile of the audit set's absolute residuals bounds the batch's predictions
    residual = np.abs(audit["target"] - model.predict(audit[features]))
    half = float(np.quantile(residual, 0.9 * (1 + 1 / len(audit))))
    prediction = model.predict(batch[features])
    return Fitted(
        "regression",
        spec,
        model,
        train,
        audit,
        batch.assign(prediction=prediction, lower=prediction - half, upper=prediction + half),
    )


@pytest.fixture(scope="session")
def fitted() -> dict[str, Fitted]:
    """The three fitted tasks, by task name."""
    return {"binary": _binary(), "multiclass": _multiclass(), "regression": _regression()}


@pytest.fixture(scope="session")
def digits() -> Scored:
    data = load_digits(as_frame=True)
    x = data.data[[c for k, c in enumerate(data.data.columns) if k % 3 == 0]]
    y = data.target.to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x[:600], y[:600])
    proba = model.predict_proba(x[600:])
    return Scored(
        target=y[600:].astype(float),
        score=proba.max(axis=1),
        prediction=proba.argmax(axis=1),
        task="multiclass",
        proba=proba,
        classes=tuple(range(10)),
    )


@pytest.fixture(scope="session")
def diabetes() -> Scored:
    data = load_diabetes(as_frame=True, scaled=False)
    x, y = data.data, data.target.to_numpy(dtype=float)
    prediction = cross_val_predict(make_pipeline(StandardScaler(), Ridge()), x, y, cv=5)
    half = float(np.quantile(np.abs(y - prediction), 0.9))
    return Scored(
        target=y,
        score=prediction,
        prediction=prediction,
        task="regression",
        lower=prediction - half,
        upper=prediction + half,
        level=0.9,
    )
