"""Training per task: the estimators each task trains, the labels they learn, and the mixes refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge

from alignment_drift.core.spec import ColumnRoles, Training
from alignment_drift.core.training import build_pipeline, fit_pipeline, label_values


def test_the_fitted_models_of_each_task(fitted: dict[str, Any]) -> None:
    binary, multi, regression = (fitted[t].model for t in ("binary", "multiclass", "regression"))
    assert binary.steps[-1][0] == "classifier" and isinstance(binary[-1], LogisticRegression)
    assert list(binary.classes_) == [0, 1]
    assert list(multi.classes_) == list(range(10))
    assert regression.steps[-1][0] == "regressor" and isinstance(regression[-1], Ridge)


@pytest.mark.parametrize(
    ("task", "estimator", "expected"),
    [
        ("binary", "hist_gradient_boosting", HistGradientBoostingClassifier),
        ("multiclass", "logistic_regression", LogisticRegression),
        ("regression", "hist_gradient_boosting", HistGradientBoostingRegressor),
        ("regression", "ridge", Ridge),
    ],
)
def test_build_pipeline_gives_the_tasks_estimator(task: str, estimator: str, expected: type) -> None:
    pipeline = build_pipeline(Training(estimator=estimator), numeric=["a"], categorical=["c"], task=task)  # type: ignore[arg-type]
    assert isinstance(pipeline[-1], expected)
    assert (is_regressor if task == "regression" else is_classifier)(pipeline)


@pytest.mark.parametrize(
    ("task", "estimator", "expected"),
    [
        ("regression", "logistic_regression", r"'logistic_regression' is a classifier and the task is 'regression'"),
        ("binary", "ridge", r"'ridge' is a regressor and the task is 'binary'"),
        ("ranking", "ridge", r"The 'task' parameter must be one of"),
    ],
)
def test_a_classifier_for_a_regression_is_refused(task: str, estimator: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        build_pipeline(Training(estimator=estimator), numeric=["a"], categorical=[], task=task)  # type: ignore[arg-type]


def _roles(**extra: Any) -> ColumnRoles:
    return ColumnRoles(
        id="id",
        timestamp="ts",
        features=[{"name": "a", "kind": "numeric"}, {"name": "c", "kind": "categorical"}],
        prediction="p",
        score="s",
        target="y",
        **extra,
    )


def _frame(labels: list[Any], n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = np.array(labels * (n // len(labels)), dtype=object)
    return pd.DataFrame({"a": rng.normal(size=len(y)), "c": rng.choice(["u", "v"], len(y)), "y": y})


def test_string_classes_and_regression_values_are_learnt_as_they_are() -> None:
    multi = fit_pipeline(_frame(["cat", "dog", "owl"]), _roles(), Training(), task="multiclass")
    assert list(multi.classes_) == ["cat", "dog", "owl"]
    values = _frame([1.5, 2.5, 40.0]).astype({"y": float})
    regression = fit_pipeline(values, _roles(), Training(estimator="ridge"), task="regression")
    assert regression.predict(values[["a", "c"]]).dtype.kind == "f"


def test_a_binary_task_with_three_classes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"task is 'binary' but the target label has 3 classes"):
        fit_pipeline(_frame(["cat", "dog", "owl"]), _roles(), Training(), task="binary")


def test_binary_proxy_labels_map_onto_the_positive_class() -> None:
    frame = pd.DataFrame({"y": [0.0, 1.0, np.nan, 1.0], "engaged": [1.0, 0.0, 1.0, np.nan]})
    # the demo's convention: a 0/1 target, proxy_positive 0: unchanged
    demo = label_values(frame, _roles(proxy="engaged", proxy_positive=0), label="proxy")
    assert demo.tolist()[:3] == [0.0, 1.0, 0.0] and np.isnan(demo.iloc[3])
    spam = pd.DataFrame({"y": ["ham", "spam", None, "ham"], "engaged": [1.0, 0.0, 1.0, np.nan]})
    mapped = label_values(spam, _roles(proxy="engaged", positive_class="spam"), label="proxy")
    assert mapped.tolist() == ["spam", "ham", "spam", None]


def test_sample_weights_reach_the_regressor() -> None:
    values = _frame([1.0, 2.0, 30.0]).astype({"y": float})
    weights = np.where(values["y"] > 10, 100.0, 1.0)
    plain = fit_pipeline(values, _roles(), Training(estimator="ridge"), task="regression")
    weighted = fit_pipeline(values, _roles(), Training(estimator="ridge"), task="regression", sample_weight=weights)
    x = values[["a", "c"]]
    assert weighted.predict(x).mean() > plain.predict(x).mean()


def test_a_regression_target_in_a_binary_spec_is_refused_not_fitted_as_classes() -> None:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False).frame
    roles = ColumnRoles(
        id="id",
        timestamp="ts",
        features=[{"name": c, "kind": "numeric"} for c in data.columns if c != "target"],
        prediction="p",
        score="s",
        target="target",
    )
    with pytest.raises(ValueError, match=r"has 214 classes .*'regression' for a numeric target"):
        fit_pipeline(data, roles, Training())
    assert is_regressor(fit_pipeline(data, roles, Training(estimator="ridge"), task="regression"))
