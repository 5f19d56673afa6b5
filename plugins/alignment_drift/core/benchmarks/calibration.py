"""``calibration``: expected calibration error of a classifier's probabilities, or a regression interval's coverage.

Binary: the ECE of the score (P(positive)) with its reliability table.
Multiclass: the top-label ECE (P(predicted class) against whether the
prediction is right) or the class-wise ECE (the mean over classes of each
class's one-vs-rest ECE, corrected for its resampling bias: see
:func:`_bias_corrected`). Regression: how far the logged prediction
interval's coverage is from its nominal level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from alignment_drift.core.benchmarks.metrics import bootstrap, interval, pool_rows
from alignment_drift.core.benchmarks.multiclass import normalised
from alignment_drift.core.benchmarks.regression import interval_coverage
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, finite, judge
from alignment_drift.core.spec import Calibration

Interval = tuple[float | None, float | None]

__all__ = ["classwise_ece", "evaluate_calibration", "expected_calibration_error", "top_label_ece"]


def expected_calibration_error(y: np.ndarray, score: np.ndarray, w: np.ndarray, *, bins: int) -> np.ndarray:
    """ECE with ``bins`` equal-width bins under each row of weights ``w``: sum_b |sum(y - s)| / sum(w).

    Examples
    --------
    >>> y = np.array([0.0, 1.0, 1.0, 0.0]); s = np.array([0.2, 0.8, 0.7, 0.3])
    >>> round(float(expected_calibration_error(y, s, np.ones((1, 4)), bins=10)[0]), 3)
    0.25
    """
    which = np.clip((score * bins).astype(int), 0, bins - 1)
    onehot = np.zeros((len(score), bins))
    onehot[np.arange(len(score)), which] = 1.0
    residual = w @ (onehot * (y - score)[:, None])
    total = w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.abs(residual).sum(axis=1) / np.where(total > 0, total, 1), np.nan)


def top_label_ece(
    y: np.ndarray, prediction: np.ndarray, confidence: np.ndarray, w: np.ndarray, *, bins: int
) -> np.ndarray:
    """Top-label ECE: P(predicted class) against whether the prediction is right, in equal-width bins."""
    correct = (np.asarray(y) == np.asarray(prediction)).astype(float)
    return expected_calibration_error(correct, np.asarray(confidence, dtype=float), w, bins=bins)


def classwise_ece(y: np.ndarray, proba: np.ndarray, w: np.ndarray, *, bins: int) -> np.ndarray:
    """Class-wise ECE: the mean over classes of the ECE of P(class) against the class's indicator."""
    p = normalised(np.asarray(proba, dtype=float))
    per = [
        expected_calibration_error((np.asarray(y) == c).astype(float), p[:, c], w, bins=bins) for c in range(p.shape[1])
    ]
    return np.mean(np.stack(per, axis=1), axis=1)


def _reliability(y: np.ndarray, s: np.ndarray, bins: int) -> list[dict[str, float | int | str]]:
    which = np.clip((s * bins).astype(int), 0, bins - 1)
    return [
        {
            "bin": f"{b / bins:.2f}-{(b + 1) / bins:.2f}",
            "rows": int((which == b).sum()),
            "mean_score": float(s[which == b].mean()),
            "observed_rate": float(y[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def _classifier(
    bench: Calibration, rows: Scored
) -> tuple[Callable[[np.ndarray], np.ndarray] | None, str, dict[str, Any]]:
    """The ECE under weights for the rows' task and method, the metric's name, and the reliability evidence."""
    y = rows.target
    if rows.task == "binary":
        return (
            (lambda w: expected_calibration_error(y, rows.score, w, bins=bench.bins)),
            "ece",
            {"reliability": _reliability(y, rows.score, bench.bins)},
        )
    if bench.method == "classwise":
        if rows.proba is None:
            return None, "classwise_ece", {}
        proba = rows.proba
        return (lambda w: classwise_ece(y, proba, w, bins=bench.bins)), "classwise_ece", {}
    if np.isnan(rows.score).any():
        return None, "top_label_ece", {}
    correct = (y == rows.prediction).astype(float)
    return (
        (lambda w: top_label_ece(y, rows.prediction, rows.score, w, bins=bench.bins)),
        "top_label_ece",
        {"reliability": _reliability(correct, rows.score, bench.bins)},
    )


def _coverage(bench: Calibration, rows: Scored) -> tuple[float | None, Interval, int, str, dict[str, Any]]:
    """A regression's ``|coverage - level|``, its interval (from the coverage's bootstrap interval), n, detail."""
    if rows.lower is None or rows.upper is None or rows.level is None:
        return None, (None, None), 0, "no logged prediction interval on these rows (columns.interval)", {}
    known = ~np.isnan(rows.target) & np.isfinite(rows.lower) & np.isfinite(rows.upper)
    n = int(known.sum())
    if n < bench.min_rows:
        return None, (None, None), n, f"only {n} labelled {bench.evaluated_on} rows with an interval", {}
    y, low, high, level = rows.target[known], rows.lower[known], rows.upper[known], rows.level
    coverage = float(interval_coverage(y, low, high, np.ones((1, n)))[0])
    pool = pool_rows([(low <= y) & (y <= high)])
    if pool is None:
        boot = bootstrap(lambda w: interval_coverage(y, low, high, w), n, bench.resamples)
    else:  # a row counts only through whether it is covered: pooled exactly
        y_g, low_g, high_g = pool.first(y), pool.first(low), pool.first(high)
        boot = pool.resample(lambda w: interval_coverage(y_g, low_g, high_g, w), bench.resamples)
    c_low, c_high = interval(boot, bench.confidence)
    ci: Interval = (None, None)
    text = f"interval coverage {coverage:.3f} against nominal {level:.3f}"
    if c_low is not None and c_high is not None:
        # |c - level| over the coverage's interval: 0 when it holds the level, else the nearer end's distance
        near = 0.0 if c_low <= level <= c_high else min(abs(c_low - level), abs(c_high - level))
        ci = (near, max(abs(c_low - level), abs(c_high - level)))
        text += f" ({bench.confidence:.0%} CI {c_low:.3f}..{c_high:.3f})"
    evidence = {"coverage": coverage, "level": level, "coverage_ci": [c_low, c_high]}
    return finite(abs(coverage - level)), ci, n, text, evidence


def _bias_corrected(plug_in: float, boot: np.ndarray, ci: Interval) -> tuple[float, Interval, dict[str, Any]]:
    """The class-wise ECE corrected for its resampling bias, with the basic bootstrap interval.

    Each class's ECE sums the absolute residuals of sparsely filled bins, so
    the plug-in is biased upward and its resamples more so: on a perfectly
    calibrated 10-class model at n=450 the whole percentile interval lies
    above the plug-in and would fail a sound model. The basic bootstrap
    subtracts the resampling bias: value ``2 ece - mean(ece*)``, interval
    ``[2 ece - q_high, 2 ece - q_low]`` (clipped at 0).
    """
    finite_boot = boot[np.isfinite(boot)]
    if ci[0] is None or ci[1] is None or not len(finite_boot):
        return plug_in, ci, {"plug_in": plug_in}
    bias = float(finite_boot.mean()) - plug_in
    corrected: Interval = (max(0.0, 2 * plug_in - ci[1]), max(0.0, 2 * plug_in - ci[0]))
    evidence = {"plug_in": plug_in, "plug_in_ci": list(ci), "resampling_bias": bias}
    return max(0.0, plug_in - bias), corrected, evidence


def _resampled_ece(
    bench: Calibration, rows: Scored, ece: Callable[[np.ndarray], np.ndarray], value: float | None
) -> np.ndarray:
    """The ECE under ``bench.resamples`` resamples of the rows; of their groups when a large batch pools.

    A binary row enters the ECE through its target, its score's bin and its
    score (a top-label one through whether it is right, and its confidence):
    pooled by the first two and the score's quantile levels within them,
    anchored at the rows' own ECE. A class-wise ECE is not pooled.
    """
    pool = None
    if value is not None and (rows.task == "binary" or (rows.task == "multiclass" and bench.method != "classwise")):
        y = rows.target if rows.task == "binary" else (rows.target == rows.prediction).astype(float)
        which = np.clip((rows.score * bench.bins).astype(int), 0, bench.bins - 1)
        pool = pool_rows([y, which], rows.score)
    if pool is None:
        return bootstrap(ece, len(rows), bench.resamples)
    y, s = pool.first(y), pool.mean(rows.score)
    return pool.resample(lambda w: expected_calibration_error(y, s, w, bins=bench.bins), bench.resamples, anchor=value)


def _ece(bench: Calibration, rows: Scored) -> tuple[float | None, Interval, int, str, dict[str, Any], str]:
    """A classifier's ECE on the labelled rows, its bootstrap interval, n, a detail, evidence and the metric's name."""
    known = ~np.isnan(rows.target)
    n = int(known.sum())
    ece, metric, evidence = _classifier(bench, rows.subset(known))
    if n < bench.min_rows:
        return (
            None,
            (None, None),
            n,
            f"only {n} labelled {bench.evaluated_on} rows; {bench.min_rows} needed",
            {},
            metric,
        )
    if ece is None:
        return None, (None, None), n, f"{metric} needs class probabilities, and these rows have none", {}, metric
    value = finite(float(ece(np.ones((1, n)))[0]))
    boot = _resampled_ece(bench, rows.subset(known), ece, value)
    ci = interval(boot, bench.confidence)
    if metric == "classwise_ece" and value is not None:
        value, ci, evidence = _bias_corrected(value, boot, ci)
    label = {"ece": "ECE", "top_label_ece": "top-label ECE", "classwise_ece": "class-wise ECE"}[metric]
    return value, ci, n, f"{label} on the {bench.evaluated_on} rows", evidence, metric


def evaluate_calibration(bench: Calibration, rows: Scored | None, baseline: float | None) -> BenchmarkResult:
    """Evaluate calibration on the labelled rows; fails only when the interval's lower bound exceeds the maximum.

    Binary: ECE of the score. Multiclass: top-label or class-wise ECE.
    Regression: ``|coverage - level|`` of the logged prediction interval;
    skipped, with the reason, when the rows have no interval.
    """
    regression = rows is not None and rows.task == "regression"
    threshold = bench.max_coverage_gap if regression else bench.max_ece
    value: float | None = None
    ci: Interval = (None, None)
    evidence: dict[str, Any] = {}
    n, detail, metric = 0, f"no {bench.evaluated_on} rows to evaluate", "ece"
    if rows is not None and regression:
        value, ci, n, detail, evidence = _coverage(bench, rows)
        metric = "coverage_gap"
    elif rows is not None:
        value, ci, n, detail, evidence, metric = _ece(bench, rows)
    status = judge(value, ci, threshold, "lower_is_better")
    if value is not None and threshold is not None:
        shown = "" if ci[0] is None else f" ({bench.confidence:.0%} CI {ci[0]:.3f}..{ci[1]:.3f})"
        joint = ": gap " if regression else " "
        detail = f"{detail}{joint}{value:.3f}{shown}, max {threshold:.3f} (n={n})"
    return BenchmarkResult.of(
        bench,
        metric=metric,
        value=value,
        threshold=threshold,
        baseline=baseline,
        status=status,
        n=n,
        detail=detail,
        ci_low=ci[0],
        ci_high=ci[1],
        direction="lower_is_better",
        on=bench.evaluated_on,
        evidence=evidence,
    )
