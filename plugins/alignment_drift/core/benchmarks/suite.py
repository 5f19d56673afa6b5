"""Safety benchmarks: the behavioural tests that define the intended behaviour (T).

Each benchmark kind of the spec evaluates a scored frame and returns a
:class:`BenchmarkResult` carrying its value, threshold, baseline (recorded
when the model version was promoted), delta and status. A benchmark that
cannot be evaluated (too few labelled rows) is ``skipped``, never a silent
pass and never a NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from alignment_drift.core.spec import Benchmark, ColumnRoles, MetricFloor, ProxyTargetGap

__all__ = ["BenchmarkResult", "Scored", "classification_metric", "run_benchmarks"]

Status = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class BenchmarkResult:
    """One safety benchmark evaluated once."""

    name: str
    kind: str
    metric: str
    value: float | None
    threshold: float
    baseline: float | None
    delta: float | None
    status: Status
    severity: str
    n: int
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Scored:
    """Rows scored by the model under test: the labels known for them, its scores and decisions."""

    target: np.ndarray
    score: np.ndarray
    prediction: np.ndarray
    proxy: np.ndarray | None = None

    def exposed(self) -> Scored:
        """The rows the model exposes (predicts negative): where an exposure-gated proxy is observed."""
        keep = self.prediction == 0
        return Scored(
            self.target[keep], self.score[keep], self.prediction[keep], None if self.proxy is None else self.proxy[keep]
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, roles: ColumnRoles, *, score: np.ndarray, threshold: float) -> Scored:
        """Build from a frame holding the target (and proxy) columns and the model's ``score``."""
        proxy = None
        if roles.proxy and roles.proxy in frame.columns:
            raw = frame[roles.proxy].to_numpy(dtype=float)
            proxy = raw if roles.proxy_positive == 1 else 1.0 - raw
        score = np.asarray(score, dtype=float)
        return cls(
            target=frame[roles.target].to_numpy(dtype=float),
            score=score,
            prediction=(score >= threshold).astype(np.int64),
            proxy=proxy,
        )


def classification_metric(metric: str, y: np.ndarray, score: np.ndarray, prediction: np.ndarray) -> float | None:
    """A classification metric of the positive class; None when it is undefined for these rows."""
    if len(y) == 0:
        return None
    if metric == "roc_auc":
        return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else None
    if metric == "recall":
        return float(recall_score(y, prediction, zero_division=np.nan)) if y.sum() > 0 else None
    if metric == "precision":
        return float(precision_score(y, prediction, zero_division=np.nan)) if prediction.sum() > 0 else None
    if metric == "specificity":
        negatives = y == 0
        return float((prediction[negatives] == 0).mean()) if negatives.any() else None
    if metric == "f1":
        return float(f1_score(y, prediction, zero_division=np.nan)) if (y.sum() + prediction.sum()) > 0 else None
    if metric == "accuracy":
        return float(accuracy_score(y, prediction))
    raise ValueError(f"Unknown metric {metric!r}; allowed: recall, precision, accuracy, f1, roc_auc, specificity.")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _metric_floor(bench: MetricFloor, audit: Scored, baseline: float | None) -> BenchmarkResult:
    known = ~np.isnan(audit.target)
    y = audit.target[known].astype(np.int64)
    value = _finite(classification_metric(bench.metric, y, audit.score[known], audit.prediction[known]))
    if value is None:
        status: Status = "skipped"
        detail = f"{bench.metric} is undefined on the {int(known.sum())} labelled audit rows"
    else:
        status = "pass" if value >= bench.floor else "fail"
        detail = (
            f"{bench.metric} on the audit set {value:.3f} {'>=' if status == 'pass' else '<'} floor {bench.floor:.3f}"
        )
    return BenchmarkResult(
        name=bench.name,
        kind=bench.kind,
        metric=bench.metric,
        value=value,
        threshold=bench.floor,
        baseline=baseline,
        delta=None if value is None or baseline is None else value - baseline,
        status=status,
        severity=bench.severity,
        n=int(known.sum()),
        detail=detail,
    )


def proxy_target_gap(batch: Scored, *, min_rows: int) -> tuple[float | None, int, str]:
    """``proxy_auc - target_auc`` of the scores on the rows where both labels are known.

    Both AUCs are measured on the same rows, so the gap compares like with
    like even when the proxy is only observed for exposed items. Returns None
    with the reason when too few rows, or a single class, make it undefined.
    """
    if batch.proxy is None:
        return None, 0, "the batch has no proxy column"
    both = ~np.isnan(batch.target) & ~np.isnan(batch.proxy)
    n = int(both.sum())
    if n < min_rows:
        return None, n, f"only {n} rows with both labels known; {min_rows} needed"
    score, pred = batch.score[both], batch.prediction[both]
    target_auc = classification_metric("roc_auc", batch.target[both].astype(np.int64), score, pred)
    proxy_auc = classification_metric("roc_auc", batch.proxy[both].astype(np.int64), score, pred)
    if target_auc is None or proxy_auc is None:
        return None, n, "one label has a single class on these rows"
    return proxy_auc - target_auc, n, f"proxy AUC {proxy_auc:.3f}, target AUC {target_auc:.3f} on {n} rows"


def _proxy_target_gap(bench: ProxyTargetGap, batch: Scored | None, baseline: float | None) -> BenchmarkResult:
    value, n, detail = (
        (None, 0, "no batch to evaluate") if batch is None else proxy_target_gap(batch, min_rows=bench.min_rows)
    )
    reference = 0.0 if baseline is None else baseline
    threshold = reference + bench.max_increase
    status: Status = "skipped" if value is None else ("pass" if value <= threshold else "fail")
    if value is not None:
        detail = f"gap {value:+.3f} (baseline {reference:+.3f}, allowed up to {threshold:+.3f}); {detail}"
    return BenchmarkResult(
        name=bench.name,
        kind=bench.kind,
        metric="proxy_auc_minus_target_auc",
        value=value,
        threshold=threshold,
        baseline=baseline,
        delta=None if value is None or baseline is None else value - baseline,
        status=status,
        severity=bench.severity,
        n=n,
        detail=detail,
    )


def run_benchmarks(
    benchmarks: Sequence[Benchmark],
    *,
    audit: Scored,
    batch: Scored | None,
    baselines: Mapping[str, float | None] | None = None,
) -> list[BenchmarkResult]:
    """Evaluate every benchmark of a spec.

    Parameters
    ----------
    benchmarks : sequence of Benchmark
        The spec's benchmarks.
    audit : Scored
        The fixed audit set scored by the model under test.
    batch : Scored or None
        The night's batch (for label-dependent benchmarks), or None when judging
        a model without a batch (the retraining gate).
    baselines : mapping, optional
        Benchmark name -> value recorded when the model version was promoted.

    Returns
    -------
    list of BenchmarkResult
        In the spec's order.
    """
    baselines = baselines or {}
    results = []
    for bench in benchmarks:
        baseline = _finite(baselines.get(bench.name))
        if isinstance(bench, MetricFloor):
            results.append(_metric_floor(bench, audit, baseline))
        else:
            results.append(_proxy_target_gap(bench, batch, baseline))
    return results
