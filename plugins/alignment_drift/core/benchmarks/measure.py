"""One entry point for every metric of every task: which rows count, whether it can be computed, its value.

The benchmarks (metric floors, slice gaps) and the gate's paired bootstrap
call :func:`measure` with the same weight matrices whatever the task, so the
confidence interval of a multiclass or regression metric is the same
percentile bootstrap over rows as a binary one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from alignment_drift.core.benchmarks.metrics import METRICS, Pool, pool_rows, weighted_metric
from alignment_drift.core.benchmarks.multiclass import multiclass_metric
from alignment_drift.core.benchmarks.regression import regression_metric
from alignment_drift.core.benchmarks.result import Scored
from alignment_drift.core.spec import label_key

__all__ = ["class_position", "labelled", "measure", "pooled", "unavailable"]


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


_DECISIONS = {
    "binary": ("recall", "precision", "accuracy", "f1", "specificity", "fpr", "fnr"),
    "multiclass": ("recall", "precision", "accuracy", "macro_f1"),
}


def pooled(metric: str, rows: Scored) -> tuple[Pool, Scored] | None:
    """``rows`` pooled for ``metric``'s bootstrap (:func:`~.metrics.pool_rows`), with one row per group; or None.

    A metric of decisions reads a row only through its (target, prediction):
    pooled by those, exactly. A binary AUC reads the score too, a
    regression's MAE or RMSE the error: pooled by their quantile levels, so
    the pool is not exact (anchor its resamples). Interval coverage reads
    only whether the target is inside. Any other metric is not pooled.
    """
    task = rows.task
    columns: dict[str, np.ndarray] = {}
    if metric in _DECISIONS.get(task, ()):
        pool = pool_rows([rows.target, rows.prediction])
    elif task == "binary" and metric == "roc_auc":
        pool = pool_rows([rows.target], rows.score)
        if pool is not None:
            columns = {"score": pool.mean(rows.score)}
    elif task == "regression" and metric in ("mae", "rmse"):
        error = rows.target.astype(float) - rows.prediction.astype(float)
        reads = np.abs(error) if metric == "mae" else error**2
        pool = pool_rows([], reads)
        if pool is not None:
            # a group's target is the value whose error against a prediction of 0 keeps the group's sum
            per_group = pool.mean(reads)
            columns = {
                "target": per_group if metric == "mae" else np.sqrt(per_group),
                "prediction": np.zeros(len(per_group)),
            }
    elif task == "regression" and metric == "interval_coverage" and rows.lower is not None and rows.upper is not None:
        pool = pool_rows([(rows.lower <= rows.target) & (rows.target <= rows.upper)])
        if pool is not None:
            columns = {"lower": pool.first(rows.lower), "upper": pool.first(rows.upper)}
    else:
        return None
    return None if pool is None else (pool, _one_per_group(rows, pool, **columns))


def _one_per_group(rows: Scored, pool: Pool, **columns: np.ndarray) -> Scored:
    """One row per group: a group's own value of each column given, else of any of its rows."""
    grouped = replace(
        rows,
        target=pool.first(rows.target),
        score=pool.first(rows.score),
        prediction=pool.first(rows.prediction),
        proxy=None,
        frame=None,
        exposure=None,
        proba=None,
        lower=None,
        upper=None,
        exposed_rows=None,
    )
    return replace(grouped, **columns)  # type: ignore[arg-type]


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
