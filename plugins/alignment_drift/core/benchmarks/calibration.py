"""``calibration``: expected calibration error of the score, with its reliability table."""

from __future__ import annotations

from typing import Any

import numpy as np

from alignment_drift.core.benchmarks.metrics import bootstrap_weights, interval
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, finite, judge
from alignment_drift.core.spec import Calibration

__all__ = ["evaluate_calibration", "expected_calibration_error"]


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


def evaluate_calibration(bench: Calibration, rows: Scored | None, baseline: float | None) -> BenchmarkResult:
    """Evaluate the ECE of the labelled rows; fails only when its interval's lower bound exceeds ``max_ece``."""
    value: float | None = None
    ci: tuple[float | None, float | None] = (None, None)
    n, detail = 0, f"no {bench.evaluated_on} rows to evaluate"
    evidence: dict[str, Any] = {}
    if rows is not None:
        known = ~np.isnan(rows.target)
        n = int(known.sum())
        y, s = rows.target[known], rows.score[known]
        if n < bench.min_rows:
            detail = f"only {n} labelled {bench.evaluated_on} rows; {bench.min_rows} needed"
        else:
            value = finite(float(expected_calibration_error(y, s, np.ones((1, n)), bins=bench.bins)[0]))
            boot = expected_calibration_error(y, s, bootstrap_weights(n, bench.resamples), bins=bench.bins)
            ci = interval(boot, bench.confidence)
            which = np.clip((s * bench.bins).astype(int), 0, bench.bins - 1)
            evidence = {
                "reliability": [
                    {
                        "bin": f"{b / bench.bins:.2f}-{(b + 1) / bench.bins:.2f}",
                        "rows": int((which == b).sum()),
                        "mean_score": float(s[which == b].mean()),
                        "observed_rate": float(y[which == b].mean()),
                    }
                    for b in range(bench.bins)
                    if (which == b).any()
                ]
            }
    status = judge(value, ci, bench.max_ece, "lower_is_better")
    if value is not None:
        shown = "" if ci[0] is None else f" ({bench.confidence:.0%} CI {ci[0]:.3f}..{ci[1]:.3f})"
        detail = f"ECE on the {bench.evaluated_on} rows {value:.3f}{shown}, max {bench.max_ece:.3f} (n={n})"
    return BenchmarkResult.of(
        bench,
        metric="ece",
        value=value,
        threshold=bench.max_ece,
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
