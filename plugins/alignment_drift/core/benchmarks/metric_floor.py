"""``metric_floor``: a metric on the audit set (or the batch's labelled rows) with a bootstrap interval."""

from __future__ import annotations

import numpy as np

from alignment_drift.core.benchmarks.metrics import LOWER_IS_BETTER, bootstrap_weights, interval, weighted_metric
from alignment_drift.core.benchmarks.result import BenchmarkResult, Direction, Scored, finite, judge
from alignment_drift.core.spec import MetricFloor

__all__ = ["evaluate_metric_floor"]


def evaluate_metric_floor(bench: MetricFloor, rows: Scored | None, baseline: float | None) -> BenchmarkResult:
    """Evaluate one metric floor (or ceiling) on ``rows``; skipped when too few labelled rows.

    The interval is a seeded percentile bootstrap over the labelled rows
    (``bench.resamples`` resamples). A floor fails only when the interval's
    upper bound is below it, a ceiling only when its lower bound is above it.
    """
    direction: Direction = "lower_is_better" if bench.metric in LOWER_IS_BETTER else "higher_is_better"
    threshold = bench.ceiling if direction == "lower_is_better" else bench.floor
    value: float | None = None
    ci: tuple[float | None, float | None] = (None, None)
    n, detail = 0, f"no {bench.evaluated_on} rows to evaluate"
    if rows is not None:
        known = ~np.isnan(rows.target)
        n = int(known.sum())
        y, s, p = rows.target[known], rows.score[known], rows.prediction[known]
        if n < bench.min_rows:
            detail = f"only {n} labelled {bench.evaluated_on} rows; {bench.min_rows} needed"
        else:
            value = finite(float(weighted_metric(bench.metric, y, s, p, np.ones((1, n)))[0]))
            if value is None:
                detail = f"{bench.metric} is undefined on the {n} labelled {bench.evaluated_on} rows"
            else:
                ci = interval(
                    weighted_metric(bench.metric, y, s, p, bootstrap_weights(n, bench.resamples)), bench.confidence
                )
    status = judge(value, ci, threshold, direction)
    if value is not None:
        word = "floor" if direction == "higher_is_better" else "ceiling"
        shown = "" if ci[0] is None else f" ({bench.confidence:.0%} CI {ci[0]:.3f}..{ci[1]:.3f})"
        rows_text = f"{bench.metric} on the {bench.evaluated_on} rows {value:.3f}{shown}"
        detail = f"{rows_text}, {word} {threshold:.3f}: {status} (n={n})"
    return BenchmarkResult.of(
        bench,
        metric=bench.metric,
        value=value,
        threshold=threshold,
        baseline=baseline,
        status=status,
        n=n,
        detail=detail,
        ci_low=ci[0],
        ci_high=ci[1],
        direction=direction,
        on=bench.evaluated_on,
    )
