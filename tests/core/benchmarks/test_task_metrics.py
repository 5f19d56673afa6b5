"""Every multiclass and regression metric agrees with scikit-learn, unweighted and under bootstrap weights."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from alignment_drift.core.benchmarks import Scored, labelled, measure
from alignment_drift.core.benchmarks.metrics import bootstrap_weights


def _multiclass(fitted: dict[str, Any]) -> tuple[Scored, np.ndarray, np.ndarray, np.ndarray]:
    rows = fitted["multiclass"].audit_rows()
    assert rows.proba is not None
    return rows, rows.target.astype(int), rows.prediction, rows.proba


MULTICLASS = {
    "accuracy": ({}, lambda y, p, s, w: sk.accuracy_score(y, p, sample_weight=w)),
    "macro_f1": ({}, lambda y, p, s, w: sk.f1_score(y, p, average="macro", sample_weight=w)),
    "recall": ({"label": 3}, lambda y, p, s, w: sk.recall_score(y, p, labels=[3], average="macro", sample_weight=w)),
    "precision": (
        {"label": 8},
        lambda y, p, s, w: sk.precision_score(y, p, labels=[8], average="macro", sample_weight=w),
    ),
    "log_loss": ({}, lambda y, p, s, w: sk.log_loss(y, s, labels=list(range(10)), sample_weight=w)),
    "top_k_accuracy": (
        {"k": 2},
        lambda y, p, s, w: sk.top_k_accuracy_score(y, s, k=2, labels=list(range(10)), sample_weight=w),
    ),
    "roc_auc": (
        {"average": "macro"},
        lambda y, p, s, w: sk.roc_auc_score(y, s, multi_class="ovr", average="macro", sample_weight=w),
    ),
}


@pytest.mark.parametrize("metric", list(MULTICLASS))
def test_multiclass_metrics_match_scikit_learn(metric: str, fitted: dict[str, Any]) -> None:
    rows, y, p, proba = _multiclass(fitted)
    options, reference = MULTICLASS[metric]
    n = len(y)
    assert measure(metric, rows, np.ones((1, n)), **options)[0] == pytest.approx(reference(y, p, proba, None))
    weights = bootstrap_weights(n, 3, seed=7)
    for w in weights:
        assert measure(metric, rows, w[None, :], **options)[0] == pytest.approx(reference(y, p, proba, w), rel=1e-9)


def test_weighted_roc_auc_weights_classes_by_prevalence(fitted: dict[str, Any]) -> None:
    rows, y, _, proba = _multiclass(fitted)
    # scikit-learn's "weighted" one-vs-rest AUC weights by support; with unit weights it is the plain average here
    expected = sk.roc_auc_score(y, proba, multi_class="ovr", average="weighted")
    assert measure("roc_auc", rows, np.ones((1, len(y))), average="weighted")[0] == pytest.approx(expected)


def test_macro_f1_counts_the_classes_scikit_learn_counts(fitted: dict[str, Any]) -> None:
    rows, y, p, _ = _multiclass(fitted)
    keep = ~np.isin(y, [4, 5])  # two classes absent from the labels (and rarely predicted)
    sub = rows.subset(keep)
    assert measure("macro_f1", sub, np.ones((1, int(keep.sum()))))[0] == pytest.approx(
        sk.f1_score(y[keep], p[keep], average="macro")
    )


def test_a_label_the_model_does_not_know_counts_as_an_error(fitted: dict[str, Any]) -> None:
    rows, y, _, _ = _multiclass(fitted)
    unseen = rows.target.copy()
    unseen[:10] = len(rows.classes or ())  # ten rows of a class outside the model's classes
    broken = replace(rows, target=unseen)
    ones = np.ones((1, len(y)))
    assert measure("accuracy", broken, ones)[0] < measure("accuracy", rows, ones)[0]
    assert measure("top_k_accuracy", broken, ones, k=9)[0] <= 1 - 10 / len(y)
    assert np.isfinite(measure("log_loss", broken, ones)[0])


def test_regression_metrics_match_scikit_learn(fitted: dict[str, Any]) -> None:
    rows = fitted["regression"].batch_rows()
    keep = labelled(rows, "interval_coverage")
    rows = rows.subset(keep)
    y, p = rows.target, rows.prediction
    assert rows.lower is not None and rows.upper is not None
    for w in (None, *bootstrap_weights(len(y), 3, seed=3)):
        weights = np.ones((1, len(y))) if w is None else w[None, :]
        assert measure("mae", rows, weights)[0] == pytest.approx(sk.mean_absolute_error(y, p, sample_weight=w))
        assert measure("rmse", rows, weights)[0] == pytest.approx(sk.root_mean_squared_error(y, p, sample_weight=w))
        assert measure("r2", rows, weights)[0] == pytest.approx(sk.r2_score(y, p, sample_weight=w))
        inside = (rows.lower <= y) & (y <= rows.upper)
        assert measure("interval_coverage", rows, weights)[0] == pytest.approx(np.average(inside, weights=w))


def test_r2_of_a_constant_target_is_undefined_not_a_number() -> None:
    rows = Scored(target=np.full(5, 3.0), score=np.arange(5.0), prediction=np.arange(5.0), task="regression")
    assert np.isnan(measure("r2", rows, np.ones((1, 5)))[0])


def test_binary_log_loss_matches_scikit_learn(fitted: dict[str, Any]) -> None:
    rows = fitted["binary"].audit_rows()
    expected = sk.log_loss(rows.target, rows.score, labels=[0, 1])
    assert measure("log_loss", rows, np.ones((1, len(rows))))[0] == pytest.approx(expected)


def test_measure_refuses_a_metric_the_rows_cannot_give(fitted: dict[str, Any]) -> None:
    rows = fitted["regression"].audit_rows()
    with pytest.raises(ValueError, match="recall does not apply to a regression model"):
        measure("recall", rows, np.ones((1, len(rows))))
    with pytest.raises(ValueError, match="no logged prediction interval"):
        measure("interval_coverage", rows, np.ones((1, len(rows))))


def test_a_multiclass_log_without_probabilities_is_measured_on_its_labels(fitted: dict[str, Any]) -> None:
    from alignment_drift.core.scoring import logged_output

    m = fitted["multiclass"]
    spec = m.spec.model_copy(update={"columns": m.spec.columns.model_copy(update={"class_scores": None})})
    batch = m.batch.assign(prediction=m.batch["prediction"].astype(str))  # labels logged as text
    rows = Scored.from_output(batch, spec, logged_output(spec, batch), logged=True)
    assert rows.proba is None and len(rows.classes or ()) == 10
    ones = np.ones((1, len(rows)))
    y, p = m.batch["target"].astype(int), m.batch["prediction"].astype(int)
    assert measure("accuracy", rows, ones)[0] == pytest.approx(sk.accuracy_score(y, p))
    assert measure("macro_f1", rows, ones)[0] == pytest.approx(sk.f1_score(y, p, average="macro"))
    assert [str(c) for c in rows.classes or ()] == [str(c) for c in range(10)]  # 0..9 in numeric order
