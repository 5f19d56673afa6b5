"""One entry point for every metric of every task: which rows count, whether it can be computed, its value.

The benchmarks (metric floors, slice gaps) and the gate's paired bootstrap
call :func:`measure` with the same weight matrices whatever the task, so the
confidence interval of a multiclass or regression metric is the same
percentile bootstrap over rows as a binary one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alignment_drift.core.benchmarks.metrics import METRICS, weighted_metric
from alignment_drift.core.benchmarks.multiclass import multiclass_metric
from alignment_drift.core.benchmarks.regression import regression_metric
from alignment_drift.core.benchmarks.result import Scored
from alignment_drift.core.spec import label_key

__all__ = ["class_position", "labelled", "measure", "unavailable"]


def class_position(rows: Scored, label: Any) -> int | None:
    """The position of class ``label`` in the rows' classes, or None when the model has no such class."""
    keys = [label_key(c) for c in rows.classes or ()]
    key = label_key(label)
    return keys.index(key) if key in keys else None


def labelled(rows: Scored, metric: str | None = None) -> np.ndarray:
    """The rows a metric can be measured on: a known target (and, for a regression, a prediction and an interval)."""
    keep = ~np.isnan(rows.target)
    if rows.task == "regression":
        keep &= np.isfinite(rows.prediction)
        if metric == "interval_coverage" and rows.lower is not None and rows.upper is not None:
            keep &= np.isfinite(rows.lower) & np.isfinite(rows.upper)
    return keep


def unavailable(metric: str, rows: Scored, *, label: Any = None, k: int | None = None) -> str | None:
    """Why ``metric`` cannot be measured on ``rows`` (a reason for ``skipped``), or None when it can."""
    if metric not in METRICS or rows.task not in METRICS[metric].tasks:
        return f"{metric} does not apply to a {rows.task} model"
    if rows.task == "multiclass":
        if "proba" in METRICS[metric].needs and rows.proba is None:
            return f"{metric} needs class probabilities, and these rows have none (declare columns.class_scores)"
        if metric in ("recall", "precision") and (label is None or class_position(rows, label) is None):
            return f"class {label!r} is not one of the model's classes {list(rows.classes or ())}"
        if metric == "top_k_accuracy" and rows.classes is not None and (k or 0) >= len(rows.classes):
            return f"k={k} covers all {len(rows.classes)} classes"
    if metric == "interval_coverage" and (rows.lower is None or rows.upper is None):
        return "these rows have no logged prediction interval (columns.interval)"
    return None


def measure(
    metric: str, rows: Scored, w: np.ndarray, *, label: Any = None, k: int | None = None, average: str | None = None
) -> np.ndarray:
    """``metric`` of ``rows`` (already restricted to :func:`labelled` rows) under each row of weights ``w``.

    Check :func:`unavailable` first: this raises on a metric the rows cannot give.

    Examples
    --------
    >>> rows = Scored(target=np.array([1.0, 2.0, 4.0]), score=np.array([1.0, 3.0, 4.0]),
    ...               prediction=np.array([1.0, 3.0, 4.0]), task="regression")
    >>> round(float(measure("mae", rows, np.ones((1, 3)))[0]), 3)
    0.333
    """
    reason = unavailable(metric, rows, label=label, k=k)
    if reason is not None:
        raise ValueError(f"The metric {metric!r} cannot be measured: {reason}.")
    if rows.task == "binary":
        return weighted_metric(metric, rows.target, rows.score, rows.prediction, w)
    if rows.task == "regression":
        return regression_metric(metric, rows.target, rows.prediction, w, lower=rows.lower, upper=rows.upper)
    position = None if label is None else class_position(rows, label)
    return multiclass_metric(
        metric, rows.target.astype(np.int64), rows.prediction, rows.proba, w, label=position, k=k, average=average
    )
