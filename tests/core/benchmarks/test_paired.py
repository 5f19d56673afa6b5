"""The paired bootstrap: exact at unit weights, paired, seeded, oriented, and it catches regressions."""

from __future__ import annotations

import numpy as np
import pytest

from alignment_drift.core.benchmarks import classification_metric
from alignment_drift.core.benchmarks.metrics import CLASSIFICATION_METRICS, weighted_metric
from alignment_drift.core.benchmarks.paired import METRICS, paired_bootstrap, paired_delta
from alignment_drift.core.benchmarks.result import Scored


def _data(n: int = 600, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    good = np.clip(y * 0.5 + rng.normal(0.25, 0.2, n), 0, 1).round(2)  # ties on purpose
    bad = np.clip(y * 0.15 + rng.normal(0.4, 0.25, n), 0, 1).round(2)
    return y, good, bad


@pytest.mark.parametrize("metric", ["recall", "precision", "accuracy", "f1", "roc_auc", "specificity"])
def test_unit_weights_give_the_plain_metric(metric: str) -> None:
    y, score, _ = _data()
    pred = (score >= 0.5).astype(int)
    plain = classification_metric(metric, y.astype(int), score, pred)
    assert weighted_metric(metric, y, score, pred, np.ones((1, len(y))))[0] == pytest.approx(plain)


def test_weights_equal_the_metric_on_the_resampled_rows() -> None:
    y, score, _ = _data(200)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(y), len(y))
    weights = np.bincount(idx, minlength=len(y))[None, :].astype(float)
    pred = (score >= 0.5).astype(int)
    for metric in ("roc_auc", "recall", "f1"):
        expected = classification_metric(metric, y[idx].astype(int), score[idx], pred[idx])
        assert weighted_metric(metric, y, score, pred, weights)[0] == pytest.approx(expected)


def test_a_worse_challenger_is_confidently_worse_and_the_same_model_is_not() -> None:
    y, good, bad = _data()
    pg, pb = (good >= 0.5).astype(int), (bad >= 0.5).astype(int)
    worse = paired_bootstrap("roc_auc", y, (bad, pb), (good, pg), replicates=300, seed=0)
    assert worse.delta < 0 and worse.ci_low <= worse.delta <= worse.ci_high
    assert worse.advantage_high < -0.02  # confidently worse by more than a margin of 0.02
    same = paired_bootstrap("roc_auc", y, (good, pg), (good, pg), replicates=300, seed=0)
    assert same.delta == 0 and same.ci_low == 0 and same.ci_high == 0  # paired: identical models never differ
    better = paired_bootstrap("recall", y, (good, pg), (bad, pb), replicates=300, seed=0)
    assert better.advantage_low > 0


def test_pairing_narrows_the_interval_of_similar_models() -> None:
    """Two models that agree on most rows: the paired interval is far narrower than two separate ones."""
    y, good, _ = _data(2000, seed=5)
    rng = np.random.default_rng(9)
    other = np.clip(good + rng.normal(0, 0.03, len(good)), 0, 1)
    d = paired_bootstrap("roc_auc", y, (other, (other >= 0.5).astype(int)), (good, (good >= 0.5).astype(int)))
    unpaired = paired_bootstrap("roc_auc", y, (good, (good >= 0.5).astype(int)), (y * 0 + 0.5, y * 0))
    assert (d.ci_high - d.ci_low) < 0.25 * (unpaired.ci_high - unpaired.ci_low)


def test_lower_is_better_metrics_are_oriented_so_positive_is_better() -> None:
    y, good, bad = _data()
    d = paired_bootstrap("fnr", y, (bad, (bad >= 0.5).astype(int)), (good, (good >= 0.5).astype(int)), seed=0)
    assert d.lower_is_better and d.delta > 0  # the bad model misses more positives
    assert d.advantage == -d.delta and d.advantage_low == -d.ci_high and d.advantage_high == -d.ci_low
    assert d.advantage_high < -0.02


def test_seeded_and_labels_unknown_rows_dropped() -> None:
    y, good, bad = _data()
    y[:50] = np.nan
    args = ("precision", y, (bad, (bad >= 0.5).astype(int)), (good, (good >= 0.5).astype(int)))
    assert paired_bootstrap(*args, seed=4) == paired_bootstrap(*args, seed=4)
    assert paired_bootstrap(*args, seed=4).replicates == 500


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"metric": "nope"}, "'metric'"), ({"replicates": 0}, "'replicates'"), ({"confidence": 1.0}, "'confidence'")],
    ids=["metric", "replicates", "confidence"],
)
def test_parameters_are_validated(kwargs: dict, match: str) -> None:
    y, good, _ = _data(50)
    call = {"metric": "recall", "replicates": 10, "confidence": 0.9, **kwargs}
    pair = (good, (good >= 0.5).astype(int))
    with pytest.raises(ValueError, match=match):
        paired_bootstrap(call["metric"], y, pair, pair, replicates=call["replicates"], confidence=call["confidence"])


def test_every_binary_metric_is_supported() -> None:
    y, good, _ = _data(100)
    pair = (good, (good >= 0.5).astype(int))
    for metric in CLASSIFICATION_METRICS:
        assert paired_bootstrap(metric, y, pair, pair, replicates=20).delta == 0
    assert {"mae", "macro_f1", "r2"} <= METRICS  # the gate compares every task's metrics (paired_delta)


def _multiclass(n: int = 600, seed: int = 0) -> tuple[Scored, Scored]:
    """Wine-like 3-class rows: a good model (85 % right) and one that confuses class 2 with class 1 half the time."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.33, 0.4, 0.27])
    good = np.where(rng.random(n) < 0.85, y, (y + 1) % 3)
    bad = np.where((good == 2) & (rng.random(n) < 0.5), 1, good)
    proba = np.full((n, 3), 0.1)
    proba[np.arange(n), good] = 0.8
    rows = [
        Scored(y.astype(float), np.full(n, 0.8), p, task="multiclass", classes=(0, 1, 2), proba=proba)
        for p in (good, bad)
    ]
    return rows[0], rows[1]


def test_multiclass_metrics_are_compared_paired_per_class_and_overall() -> None:
    good, bad = _multiclass()
    overall = paired_delta("accuracy", bad, good, replicates=300)
    assert overall.delta < 0 and overall.advantage_high < 0  # shown worse on the same rows
    per_class = paired_delta("recall", bad, good, label=2, replicates=300)
    assert per_class.delta < -0.3 and per_class.ci_high < 0  # class 2's recall halves
    untouched = paired_delta("recall", bad, good, label=0, replicates=300)
    assert untouched.delta == 0 and untouched.ci_low == untouched.ci_high == 0
    assert paired_delta("recall", bad, good, label=7).replicates == 0  # not one of the model's classes


def test_regression_errors_are_compared_paired_and_oriented() -> None:
    rng = np.random.default_rng(3)
    y = np.exp(rng.normal(10.5, 0.6, 800))  # incomes: skewed, in dollars
    close = y + rng.normal(0, 0.1, 800) * y
    far = y + rng.normal(0, 0.13, 800) * y
    rows = [Scored(y, p, p, task="regression") for p in (far, close)]
    d = paired_delta("mae", rows[0], rows[1], replicates=300)
    assert d.lower_is_better and d.delta > 0 and d.advantage_high < 0
    assert paired_delta("r2", rows[0], rows[1], replicates=300).advantage < 0
    with pytest.raises(ValueError, match="same rows of the same task"):
        paired_delta("mae", rows[0], _multiclass()[0])


def test_rows_must_match() -> None:
    y, good, _ = _data(50)
    with pytest.raises(ValueError, match="same rows"):
        paired_bootstrap("recall", y, (good, good > 0.5), (good[:10], good[:10] > 0.5))


def test_one_lower_is_better_definition_for_the_package() -> None:
    from alignment_drift.core.benchmarks import metrics
    from alignment_drift.core.spec import metrics as spec_benchmarks

    assert metrics.LOWER_IS_BETTER is spec_benchmarks.LOWER_IS_BETTER
    assert spec_benchmarks.LOWER_IS_BETTER == {"fpr", "fnr", "log_loss", "mae", "rmse"}
