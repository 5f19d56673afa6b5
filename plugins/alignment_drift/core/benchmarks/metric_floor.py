"""``metric_floor``: a metric on the audit set (or the batch's labelled rows) with a bootstrap interval."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from alignment_drift.core.benchmarks.measure import labelled, measure, pooled, unavailable
from alignment_drift.core.benchmarks.metrics import bootstrap, direction_of, interval
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, finite, judge
from alignment_drift.core.spec import MetricFloor

__all__ = ["evaluate_metric_floor", "metric_label"]


def metric_label(bench: MetricFloor) -> str:
    """The metric's name with its options: ``recall[class=2]``, ``top_k_accuracy[k=3]``, ``roc_auc[macro]``."""
    if bench.class_ is not None:
        return f"{bench.metric}[class={bench.class_}]"
    if bench.k is not None:
        return f"{bench.metric}[k={bench.k}]"
    if bench.average is not None:
        return f"{bench.metric}[{bench.average}]"
    return bench.metric


def evaluate_metric_floor(bench: MetricFloor, rows: Scored | None, baseline: float | None) -> BenchmarkResult:
    """Evaluate one metric floor (or ceiling) on ``rows`` of any task; skipped when too few labelled rows.

    The interval is a seeded percentile bootstrap over the labelled rows
    (``bench.resamples`` resamples; for a regression, a bootstrap of the
    per-row errors). A floor fails only when the interval's upper bound is
    below it, a ceiling only when its lower bound is above it.
    """
    direction = direction_of(bench.metric)
    threshold = bench.ceiling if direction == "lower_is_better" else bench.floor
    name = metric_label(bench)
    value: float | None = None
    ci: tuple[float | None, float | None] = (None, None)
    n, detail = 0, f"no {bench.evaluated_on} rows to evaluate"
    if rows is not None:
        reason = unavailable(bench.metric, rows, label=bench.class_, k=bench.k)
        known = labelled(rows, bench.metric)
        n = int(known.sum())
        if reason is not None:
            detail = f"{name} on the {bench.evaluated_on} rows: {reason}"
        elif n < bench.min_rows:
            detail = f"only {n} labelled {bench.evaluated_on} rows; {bench.min_rows} needed"
        else:
            kept = rows.subset(known)

            def at(w: np.ndarray) -> np.ndarray:
                return measure(bench.metric, kept, w, label=bench.class_, k=bench.k, average=bench.average)

            value = finite(float(at(np.ones((1, n)))[0]))
            if value is None:
                detail = f"{name} is undefined on the {n} labelled {bench.evaluated_on} rows"
            else:
                ci = interval(_resampled(bench, kept, at, value), bench.confidence)
    status = judge(value, ci, threshold, direction)
    if value is not None:
        word = "floor" if direction == "higher_is_better" else "ceiling"
        shown = "" if ci[0] is None else f" ({bench.confidence:.0%} CI {ci[0]:.3f}..{ci[1]:.3f})"
        rows_text = f"{name} on the {bench.evaluated_on} rows {value:.3f}{shown}"
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


def _resampled(bench: MetricFloor, rows: Scored, at: Callable[[np.ndarray], np.ndarray], value: float) -> np.ndarray:
    """The metric under ``bench.resamples`` resamples of the rows: of their groups when they pool (a large batch)."""
    found = pooled(bench.metric, rows)
    if found is None:
        return bootstrap(at, len(rows), bench.resamples)
    pool, groups = found

    def on_groups(w: np.ndarray) -> np.ndarray:
        return measure(bench.metric, groups, w, label=bench.class_, k=bench.k, average=bench.average)

    return pool.resample(on_groups, bench.resamples, anchor=None if pool.exact else value)
