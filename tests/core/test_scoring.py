"""The shared scoring interface: any scikit-learn estimator scored the same way for its task, or a clear error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import SVC

from alignment_drift.core.scoring import (
    ModelOutput,
    class_index,
    label_key,
    label_matches,
    logged_output,
    score_model,
)


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    data = load_iris(as_frame=True)
    return data.data, data.target.map(dict(enumerate(data.target_names)))


def test_binary_score_is_the_probability_of_the_positive_class_wherever_it_sits(fitted: dict[str, Any]) -> None:
    b = fitted["binary"]  # breast_cancer: classes (0, 1), positive class 0
    out = b.score(b.audit)
    proba = b.model.predict_proba(b.audit[b.features])
    assert out.classes == (0, 1)
    np.testing.assert_allclose(out.score, proba[:, 0])
    assert np.array_equal(out.prediction, (proba[:, 0] >= 0.5).astype(np.int64))
    strict = score_model(b.model, b.audit, task="binary", features=b.features, threshold=0.9, positive=0)
    assert strict.prediction.sum() < out.prediction.sum()


def test_multiclass_predicts_labels_with_the_probability_of_each(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    x, y = iris
    model = LogisticRegression(max_iter=1000).fit(x, y)
    out = score_model(model, x, task="multiclass", features=list(x.columns))
    assert out.classes == ("setosa", "versicolor", "virginica")
    assert out.proba is not None and out.proba.shape == (150, 3)
    assert list(out.prediction) == list(model.predict(x))
    np.testing.assert_allclose(out.score, out.proba.max(axis=1))
    assert len(out) == 150


def test_regression_predicts_values_and_has_no_score(fitted: dict[str, Any]) -> None:
    r = fitted["regression"]
    out = r.score(r.audit)
    np.testing.assert_allclose(out.prediction, r.model.predict(r.audit[r.features]))
    assert out.score is None and out.proba is None and out.classes is None


class _Wrapped:
    """A model that only exposes predict_proba (a serving wrapper): read with the 0/1 convention."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(x)


def test_a_binary_wrapper_without_classes_reads_column_one_as_positive(fitted: dict[str, Any]) -> None:
    b = fitted["binary"]
    out = score_model(_Wrapped(b.model), b.audit, task="binary", features=b.features)
    np.testing.assert_allclose(out.score, b.model.predict_proba(b.audit[b.features])[:, 1])


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param("no-proba", r"has no predict_proba\(\); a multiclass task needs class probabilities", id="svc"),
        pytest.param("positive", r"positive class 'spam' is not one of the model's classes \[0, 1\]", id="positive"),
        pytest.param("three-classes", r"task is 'binary' but the model .* has 3 classes", id="binary-3-classes"),
        pytest.param("classifier-regression", r"is a classifier but the task is 'regression'", id="classifier"),
        pytest.param("features", r"names column\(s\) \['nope'\] that the frame does not have", id="features"),
        pytest.param("task", r"The 'task' parameter must be one of", id="task"),
        pytest.param("threshold", r"The 'threshold' parameter must be in \(0, 1\). Got 1.5", id="threshold"),
        pytest.param("multiclass-no-classes", r"has no classes_", id="no-classes"),
    ],
)
def test_unscorable_models_are_refused_clearly(
    case: str, expected: str, fitted: dict[str, Any], iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    b = fitted["binary"]
    x, y = iris
    calls = {
        "no-proba": lambda: score_model(SVC().fit(x, y), x, task="multiclass", features=list(x.columns)),
        "positive": lambda: score_model(b.model, b.audit, task="binary", features=b.features, positive="spam"),
        "three-classes": lambda: score_model(
            LogisticRegression(max_iter=500).fit(x, y), x, task="binary", features=list(x.columns)
        ),
        "classifier-regression": lambda: score_model(b.model, b.audit, task="regression", features=b.features),
        "features": lambda: score_model(b.model, b.audit, task="binary", features=["nope"]),
        "task": lambda: score_model(b.model, b.audit, task="ranking", features=b.features),  # type: ignore[arg-type]
        "threshold": lambda: score_model(b.model, b.audit, task="binary", features=b.features, threshold=1.5),
        "multiclass-no-classes": lambda: score_model(
            _Wrapped(LogisticRegression(max_iter=500).fit(x, y)), x, task="multiclass", features=list(x.columns)
        ),
    }
    with pytest.raises(ValueError, match=expected):
        calls[case]()


def test_a_regressor_without_predict_proba_scores_as_a_regression() -> None:
    x = pd.DataFrame({"a": np.arange(20.0)})
    out = score_model(LinearRegression().fit(x, 2 * x["a"] + 1), x, task="regression", features=["a"])
    np.testing.assert_allclose(out.prediction, 2 * np.arange(20.0) + 1)


def test_a_model_fitted_on_an_array_scores_a_frame_without_a_warning(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    import warnings

    x, y = iris
    model = LogisticRegression(max_iter=1000).fit(x.to_numpy(), y)
    shuffled = x[list(reversed(x.columns))]  # the features are passed in the spec's order, whatever the frame's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = score_model(model, shuffled, task="multiclass", features=list(x.columns))
    np.testing.assert_allclose(out.proba, model.predict_proba(x.to_numpy()))


def test_labels_match_across_their_spellings() -> None:
    assert label_key(1) == label_key(1.0) == label_key("1") == label_key(np.int64(1)) == label_key(True) == "1"
    assert label_key(" spam ") == "spam" and label_key(None) is None and label_key(np.nan) is None
    assert label_key(0.5) != label_key(0)
    assert class_index([1.0, "2", None, 7], [1, 2, 3]).tolist()[:2] == [0.0, 1.0]
    assert np.isnan(class_index([None], [1])[0]) and class_index([7], [1, 2, 3])[0] == 3


def _row_by_row(labels: Any, keys: set[str]) -> np.ndarray:
    """The definition: each row's label keyed on its own."""
    return np.array([np.nan if (k := label_key(v)) is None else float(k in keys) for v in labels], dtype=float)


@pytest.mark.parametrize(
    "labels",
    [
        [1, 1.0, True, "1", np.int64(1), " 1 ", 0, False, 0.0, "0", None, np.nan, pd.NA, "spam", " spam", 2.5, "2.5"],
        np.array([1.0, 0.0, np.nan, 2.0, 1.0, -0.0]),
        np.array([3, 1, 2, 1, 0], dtype=np.int64),
        np.array([True, False, True]),
        pd.Series(["spam", None, "ham", "spam", " ham"], dtype="string[pyarrow]"),
        pd.Series(["spam", "ham", None], dtype="category"),
        pd.Series([1, None, 0, 1], dtype="Int64"),
        pd.Series([1, "1", 1.0, None, "x"], dtype=object),
        [],
    ],
    ids=["mixed", "float", "int", "bool", "arrow-str", "category", "Int64", "object", "empty"],
)
@pytest.mark.parametrize("keys", [{"1"}, {"spam", "2.5"}, {"0", "ham"}, set()], ids=["1", "spam", "0-ham", "none"])
def test_matching_each_distinct_label_once_equals_keying_every_row(labels: Any, keys: set[str]) -> None:
    got = label_matches(labels, keys)
    want = _row_by_row(labels, keys)
    assert got.dtype == np.float64 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # NaN where missing, in the same places


def test_label_matching_scales_with_distinct_labels_not_rows() -> None:
    calls = 0
    real = label_key

    def counting(value: Any) -> str | None:
        nonlocal calls
        calls += 1
        return real(value)

    labels = pd.Series(np.random.default_rng(0).choice(["a", "b", "c", None], 100_000))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("alignment_drift.core.scoring.label_key", counting)
        matched = label_matches(labels, {"a", "c"})
    assert calls == 3  # a, b and c; missing values are never keyed
    assert np.nansum(matched) == labels.isin(["a", "c"]).sum()


def test_logged_output_reads_each_task_from_the_log(fitted: dict[str, Any]) -> None:
    b, m, r = fitted["binary"], fitted["multiclass"], fitted["regression"]
    binary = logged_output(b.spec, b.batch)
    np.testing.assert_allclose(binary.score, b.batch["score"])
    assert np.array_equal(binary.prediction, b.batch["prediction"])
    multi = logged_output(m.spec, m.batch)
    assert multi.classes == tuple(range(10)) and multi.proba is not None
    np.testing.assert_allclose(multi.score, multi.proba.max(axis=1))
    regression = logged_output(r.spec, r.batch)
    assert isinstance(regression, ModelOutput) and regression.score is None
    np.testing.assert_allclose(regression.prediction, r.batch["prediction"])
