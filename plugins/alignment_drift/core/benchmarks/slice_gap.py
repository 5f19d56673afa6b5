"""``slice_gap``: the worst gap of a metric across the segments of a column, with a bootstrap interval."""

from __future__ import annotations

from typing import Any

import numpy as np

from alignment_drift.core.benchmarks.measure import labelled, measure, unavailable
from alignment_drift.core.benchmarks.metrics import bootstrap, interval
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, finite, judge
from alignment_drift.core.spec import SliceGap

__all__ = ["evaluate_slice_gap"]


def _gap(metric: str, rows: Scored, slices: list[np.ndarray], w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    per = np.stack([measure(metric, rows.subset(m), w[:, m]) for m in slices], axis=1)
    with np.errstate(all="ignore"):
        gap = np.nanmax(per, axis=1) - np.nanmin(per, axis=1)
    return gap, per


def evaluate_slice_gap(bench: SliceGap, rows: Scored | None, baseline: float | None) -> BenchmarkResult:
    """Evaluate the largest difference of the metric between any two slices of ``bench.segment``.

    The metric follows the rows' task (binary recall by default, multiclass
    accuracy or macro-F1, a regression's MAE or RMSE in the target's units).
    Slices with fewer than ``min_slice_rows`` labelled rows are left out
    (listed in the evidence); fewer than two slices left means skipped.
    Fails only when the bootstrap interval's lower bound exceeds ``max_gap``.
    """
    value: float | None = None
    ci: tuple[float | None, float | None] = (None, None)
    n, detail = 0, f"no {bench.evaluated_on} rows to evaluate"
    evidence: dict[str, Any] = {}
    metric = bench.metric_for("binary" if rows is None else rows.task)
    reason = None if rows is None else unavailable(metric, rows)
    if rows is not None and reason is not None:
        detail = f"{metric} across {bench.segment}: {reason}"
    elif rows is not None and (rows.frame is None or bench.segment not in rows.frame.columns):
        detail = f"the {bench.evaluated_on} rows have no segment column {bench.segment!r}"
    elif rows is not None:
        known = labelled(rows, metric)
        rows = rows.subset(known)
        n = int(known.sum())
        assert rows.frame is not None
        segment = rows.frame[bench.segment].astype(str).to_numpy()
        names, counts = np.unique(segment, return_counts=True)
        kept = [str(s) for s, c in zip(names, counts, strict=True) if c >= bench.min_slice_rows]
        small = {str(s): int(c) for s, c in zip(names, counts, strict=True) if c < bench.min_slice_rows}
        if len(kept) < 2:
            detail = f"fewer than two slices of {bench.segment} with {bench.min_slice_rows}+ labelled rows"
        else:
            slices = [segment == s for s in kept]
            point, per = _gap(metric, rows, slices, np.ones((1, n)))
            value = finite(float(point[0]))
            boot = bootstrap(lambda w: _gap(metric, rows, slices, w)[0], n, bench.resamples)
            ci = interval(boot, bench.confidence)
            evidence = {
                "segment": bench.segment,
                "slices": {s: finite(float(v)) for s, v in zip(kept, per[0], strict=True)},
                "too_small": small,
            }
            if value is None:
                detail = f"{metric} is undefined on every slice of {bench.segment}"
    status = judge(value, ci, bench.max_gap, "lower_is_better")
    if value is not None:
        slices_text = ", ".join(f"{k} {v:.3f}" for k, v in evidence["slices"].items() if v is not None)
        shown = "" if ci[0] is None else f" ({bench.confidence:.0%} CI {ci[0]:.3f}..{ci[1]:.3f})"
        gap_text = f"worst {metric} gap across {bench.segment} {value:.3f}{shown}"
        detail = f"{gap_text}, max {bench.max_gap:.3f}: {slices_text}"
    return BenchmarkResult.of(
        bench,
        metric=f"{metric}_gap",
        value=value,
        threshold=bench.max_gap,
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
