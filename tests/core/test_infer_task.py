"""What a model says for each task (``score_model``), and which task a fitted model performs (``infer_task``)."""

from __future__ import annotations

import numpy as np
import pytest

from alignment_drift.core.scoring import infer_task, score_model


def test_binary_multiclass_and_regression_outputs() -> None:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    binary = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    out = score_model(binary, x, task="binary", features=list(x.columns), threshold=0.7)
    np.testing.assert_allclose(out.score, binary.predict_proba(x)[:, 1])
    np.testing.assert_array_equal(out.prediction, (out.score >= 0.7).astype(int))
    assert infer_task(binary) == ("binary", (0, 1))

    x, y = load_wine(return_X_y=True, as_frame=True)
    multi = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    out = score_model(multi, x, task="multiclass", features=list(x.columns))
    np.testing.assert_array_equal(out.prediction, multi.predict(x))
    np.testing.assert_allclose(out.score, multi.predict_proba(x).max(axis=1))
    assert out.classes == (0, 1, 2) and infer_task(multi) == ("multiclass", (0, 1, 2))

    x, y = load_diabetes(return_X_y=True, as_frame=True)
    reg = make_pipeline(StandardScaler(), LinearRegression()).fit(x, y)
    out = score_model(reg, x, task="regression", features=list(x.columns))
    np.testing.assert_allclose(out.prediction, reg.predict(x))
    assert out.score is None and out.proba is None and infer_task(reg) == ("regression", None)


def test_a_binary_positive_class_must_exist() -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), ["a", "b", "a", "b"])
    import pandas as pd

    with pytest.raises(ValueError, match="positive class 1 is not one of the model's classes"):
        score_model(model, pd.DataFrame({"x": [1.0]}), task="binary", features=["x"])
