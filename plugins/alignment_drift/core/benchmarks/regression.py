"""Regression metrics under row weights: point estimates and a bootstrap of the per-row errors.

As in :mod:`alignment_drift.core.benchmarks.metrics`, each metric is computed
under a matrix of row weights ``W`` (resamples x rows): one row of ones gives
the point value, multinomial counts resample the rows (their errors) for a
percentile interval.
"""

from __future__ import annotations

import numpy as np

from alignment_drift.core.benchmarks.metrics import _div

__all__ = ["REGRESSION_METRICS", "interval_coverage", "regression_metric"]

REGRESSION_METRICS = ("mae", "rmse", "r2", "interval_coverage")


def interval_coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted share of rows whose value lies in ``[lower, upper]``."""
    inside = ((lower <= y) & (y <= upper)).astype(float)
    return _div(w @ inside, w.sum(axis=1))


def regression_metric(
    metric: str,
    y: np.ndarray,
    prediction: np.ndarray,
    w: np.ndarray,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> np.ndarray:
    """``metric`` of the predictions under each row of weights ``w``; NaN where undefined.

    ``mae`` and ``rmse`` are in the target's units; ``r2`` is
    ``1 - SS_res / SS_tot`` around the (weighted) mean of ``y``, NaN for a
    constant target; ``interval_coverage`` needs ``lower`` and ``upper``.

    Examples
    --------
    >>> y = np.array([1.0, 2.0, 3.0, 4.0]); p = np.array([1.5, 2.0, 2.5, 4.0])
    >>> [round(float(regression_metric(m, y, p, np.ones((1, 4)))[0]), 3) for m in ("mae", "rmse", "r2")]
    [0.25, 0.354, 0.9]
    """
    y, prediction = np.asarray(y, dtype=float), np.asarray(prediction, dtype=float)
    total = w.sum(axis=1)
    squared = w @ (y - prediction) ** 2
    if metric == "mae":
        return _div(w @ np.abs(y - prediction), total)
    if metric == "rmse":
        return np.sqrt(_div(squared, total))
    if metric == "r2":
        spread = w @ y**2 - _div((w @ y) ** 2, total)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(spread > 1e-12 * np.maximum(w @ y**2, 1e-300), 1.0 - squared / spread, np.nan)
    if metric == "interval_coverage":
        if lower is None or upper is None:
            raise ValueError("The 'interval_coverage' metric needs 'lower' and 'upper'. Got None instead.")
        return interval_coverage(y, np.asarray(lower, dtype=float), np.asarray(upper, dtype=float), w)
    raise ValueError(f"The 'metric' parameter must be one of {list(REGRESSION_METRICS)}. Got {metric!r} instead.")
