"""Real predictions shared by the benchmark tests: digits (multiclass) and diabetes (regression), out of sample."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from alignment_drift.core.benchmarks import Scored


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
