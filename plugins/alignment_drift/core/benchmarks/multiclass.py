"""Multiclass metrics under row weights: point estimates and vectorised bootstrap intervals.

Labels are positions in the model's classes (``0..k-1``; ``k`` a target
class the model does not know, ``k + 1`` a logged prediction outside its
classes). As in :mod:`alignment_drift.core.benchmarks.metrics`, every metric
is computed under a matrix of row weights ``W`` (resamples x rows): one row of
ones gives the point value, multinomial counts a bootstrap.
"""

from __future__ import annotations

import numpy as np

from alignment_drift.core.benchmarks.metrics import _auc, _div

__all__ = ["MULTICLASS_METRICS", "multiclass_metric", "normalised"]

MULTICLASS_METRICS = ("accuracy", "recall", "precision", "macro_f1", "log_loss", "top_k_accuracy", "roc_auc")
_EPS = float(np.finfo(float).eps)


def _onehot(labels: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(labels), width))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _row_mean(values: np.ndarray) -> np.ndarray:
    """The mean of each row over its finite entries; NaN for a row without any."""
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def normalised(proba: np.ndarray) -> np.ndarray:
    """Probability rows scaled to sum to 1 (logged probabilities are rounded)."""
    total = proba.sum(axis=1, keepdims=True)
    return proba / np.where(total > 0, total, 1.0)


def multiclass_metric(
    metric: str,
    y: np.ndarray,
    prediction: np.ndarray,
    proba: np.ndarray | None,
    w: np.ndarray,
    *,
    label: int | None = None,
    k: int | None = None,
    average: str | None = None,
) -> np.ndarray:
    """``metric`` under each row of weights ``w``; NaN where undefined.

    Parameters
    ----------
    metric : str
        One of :data:`MULTICLASS_METRICS`.
    y, prediction : ndarray of int
        Class positions of the target and of the prediction.
    proba : ndarray of shape (n, k) or None
        Class probabilities (``log_loss``, ``top_k_accuracy``, ``roc_auc`` need them).
    w : ndarray of shape (resamples, n)
    label : int, optional
        The class position of ``recall`` and ``precision``.
    k : int, optional
        How many of the most probable classes ``top_k_accuracy`` counts.
    average : {"macro", "weighted"}, optional
        One-vs-rest averaging of ``roc_auc``.

    Examples
    --------
    >>> y = np.array([0, 1, 2, 2]); p = np.array([0, 2, 2, 2])
    >>> round(float(multiclass_metric("macro_f1", y, p, None, np.ones((1, 4)))[0]), 3)
    0.6
    """
    y, prediction = np.asarray(y, dtype=np.int64), np.asarray(prediction, dtype=np.int64)
    total = w.sum(axis=1)
    if metric == "accuracy":
        return _div(w @ (y == prediction).astype(float), total)
    if metric in ("recall", "precision"):
        if label is None:
            raise ValueError(f"The 'label' parameter is required for a multiclass {metric}. Got None instead.")
        hit = w @ ((y == label) & (prediction == label)).astype(float)
        base = (y == label) if metric == "recall" else (prediction == label)
        return _div(hit, w @ base.astype(float))
    if metric == "macro_f1":
        width = int(max(y.max(initial=0), prediction.max(initial=0))) + 1
        truth, guess = _onehot(y, width), _onehot(prediction, width)
        tp, fp, fn = w @ (truth * guess), w @ ((1 - truth) * guess), w @ (truth * (1 - guess))
        return _row_mean(_div(2 * tp, 2 * tp + fp + fn))  # a class neither present nor predicted does not count
    if proba is None:
        raise ValueError(f"The multiclass metric {metric!r} needs class probabilities. Got proba=None instead.")
    p = normalised(np.asarray(proba, dtype=float))
    n, classes = p.shape
    known = y < classes
    if metric == "log_loss":
        picked = np.where(known, p[np.arange(n), np.minimum(y, classes - 1)], 0.0)
        return _div(w @ -np.log(np.clip(picked, _EPS, 1 - _EPS)), total)
    if metric == "top_k_accuracy":
        if k is None or k < 1:
            raise ValueError(f"The 'k' parameter must be a positive integer. Got {k!r} instead.")
        mine = np.where(known, p[np.arange(n), np.minimum(y, classes - 1)], -np.inf)
        above = (p > mine[:, None]).sum(axis=1)
        return _div(w @ (known & (above < k)).astype(float), total)
    if metric == "roc_auc":
        if average not in ("macro", "weighted"):
            raise ValueError(f"The 'average' parameter must be 'macro' or 'weighted'. Got {average!r} instead.")
        per = np.stack([_auc((y == c).astype(float), p[:, c], w) for c in range(classes)], axis=1)
        share = np.stack([w @ (y == c).astype(float) for c in range(classes)], axis=1)
        defined = np.isfinite(per)
        if average == "macro":
            return _row_mean(per)
        share = np.where(defined, share, 0.0)
        return _div((np.where(defined, per, 0.0) * share).sum(axis=1), share.sum(axis=1))
    raise ValueError(f"The 'metric' parameter must be one of {list(MULTICLASS_METRICS)}. Got {metric!r} instead.")
