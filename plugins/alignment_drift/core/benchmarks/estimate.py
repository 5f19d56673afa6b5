"""``performance_estimate``: label-free expected performance from the scores (confidence-based, CBPE-style).

Assumptions, stated: the scores are calibrated (P(unsafe | score) = score)
and there is no concept drift (P(target | inputs) is the reference's). Then
each row is correct with probability ``score`` when predicted positive and
``1 - score`` otherwise, so expected accuracy, recall and precision follow
from the scores alone, on nights before any label arrives. A multiclass row
is correct with probability P(predicted class), so the expected accuracy is
its mean. A regression has no label-free estimate (the spec refuses one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from alignment_drift.core.benchmarks.measure import labelled, measure
from alignment_drift.core.benchmarks.metrics import bootstrap, interval, pool_rows
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, finite, judge
from alignment_drift.core.spec import PerformanceEstimate

__all__ = ["estimate_performance", "evaluate_performance_estimate"]

ASSUMPTIONS = "assumes calibrated scores and no concept drift"


def estimate_performance(
    metric: str, score: np.ndarray, prediction: np.ndarray, w: np.ndarray, *, task: str = "binary"
) -> np.ndarray:
    """Expected ``metric`` under each row of weights ``w``; a multiclass ``score`` is P(predicted class).

    Examples
    --------
    >>> s = np.array([0.9, 0.8, 0.2, 0.1]); p = (s >= 0.5).astype(int)
    >>> round(float(estimate_performance("accuracy", s, p, np.ones((1, 4)))[0]), 3)
    0.85
    """
    s, p = score.astype(float), prediction.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if task == "multiclass":
            if metric != "accuracy":
                raise ValueError(f"A multiclass estimate is of 'accuracy' only. Got {metric!r} instead.")
            return (w @ s) / w.sum(axis=1)
        if metric == "accuracy":
            return (w @ np.where(p == 1, s, 1 - s)) / w.sum(axis=1)
        if metric == "recall":
            return (w @ (s * p)) / (w @ s)
        if metric == "precision":
            return (w @ (s * p)) / (w @ p)
    raise ValueError(
        f"The 'metric' parameter must be one of ['accuracy', 'recall', 'precision']. Got {metric!r} instead."
    )


def evaluate_performance_estimate(
    bench: PerformanceEstimate, rows: Scored | None, baseline: float | None
) -> BenchmarkResult:
    """The estimate on every row of ``rows`` (labels not needed); a signal unless ``floor`` is set."""
    value: float | None = None
    ci: tuple[float | None, float | None] = (None, None)
    n, detail = 0, "no rows to evaluate"
    evidence: dict[str, Any] = {}
    if rows is not None and rows.task == "regression":
        detail = "a label-free performance estimate is not available for regression"
    elif rows is not None and rows.task == "multiclass" and bench.metric != "accuracy":
        detail = f"a multiclass estimate is of accuracy, not {bench.metric}"
    elif rows is not None and len(rows.score) and np.isnan(rows.score).all():
        detail = "these rows carry no P(predicted class) (declare columns.class_scores or columns.score)"
    elif rows is not None and len(rows.score):
        n = len(rows.score)

        def expected(w: np.ndarray) -> np.ndarray:
            return estimate_performance(bench.metric, rows.score, rows.prediction, w, task=rows.task)

        value = finite(float(expected(np.ones((1, n)))[0]))
        ci = interval(_resampled(bench, rows, expected, value), bench.confidence)
        known = labelled(rows)
        if known.sum() >= 30:
            realised = float(measure(bench.metric, rows.subset(known), np.ones((1, int(known.sum()))))[0])
            evidence = {"realised": finite(realised), "labelled_rows": int(known.sum())}
    status = judge(value, ci, bench.floor, "higher_is_better")
    if value is not None:
        shown = "" if ci[0] is None else f" ({bench.confidence:.0%} CI {ci[0]:.3f}..{ci[1]:.3f})"
        detail = f"estimated {bench.metric} {value:.3f}{shown} on {n} rows without labels; {ASSUMPTIONS}"
        if evidence.get("realised") is not None:
            detail += f"; realised on {evidence['labelled_rows']} labelled rows {evidence['realised']:.3f}"
    return BenchmarkResult.of(
        bench,
        metric=f"estimated_{bench.metric}",
        value=value,
        threshold=bench.floor,
        baseline=baseline,
        status=status,
        n=n,
        detail=detail,
        ci_low=ci[0],
        ci_high=ci[1],
        on="batch",
        evidence=evidence,
    )


RESAMPLES = 500
"""Resamples of the estimate's bootstrap interval."""


def _resampled(
    bench: PerformanceEstimate, rows: Scored, expected: Callable[[np.ndarray], np.ndarray], value: float | None
) -> np.ndarray:
    """The estimate under :data:`RESAMPLES` resamples of the rows; of their groups when a large batch pools.

    A row enters the estimate through its decision and its score: pooled by
    the decision and the score's quantile levels, anchored at the rows' own
    estimate.
    """
    pool = None if value is None else pool_rows([rows.prediction], rows.score)
    if pool is None:
        return bootstrap(expected, len(rows.score), RESAMPLES)
    s, p = pool.mean(rows.score), pool.first(rows.prediction)
    return pool.resample(lambda w: estimate_performance(bench.metric, s, p, w, task=rows.task), RESAMPLES, anchor=value)
