"""``proxy_target_gap``: the seed's O != T, with a bootstrap test of its increase over the baseline."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from alignment_drift.core.benchmarks.metrics import (
    bootstrap,
    classification_metric,
    interval,
    pool_rows,
    weighted_metric,
)
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, finite, judge
from alignment_drift.core.spec import ProxyTargetGap

__all__ = ["evaluate_proxy_target_gap", "proxy_target_gap"]


def _both(batch: Scored) -> np.ndarray:
    assert batch.proxy is not None
    return ~np.isnan(batch.target) & ~np.isnan(batch.proxy)


def proxy_target_gap(batch: Scored, *, min_rows: int) -> tuple[float | None, int, str]:
    """``proxy_auc - target_auc`` of the scores on the rows where both labels are known.

    Both AUCs are measured on the same rows, so the gap compares like with
    like even when the proxy is only observed for exposed items. Returns None
    with the reason when too few rows, or a single class, make it undefined.
    """
    if batch.task != "binary":
        return None, 0, f"the proxy-target gap compares a binary score's AUCs; this is a {batch.task} model"
    if batch.proxy is None:
        return None, 0, "the batch has no proxy column"
    both = _both(batch)
    n = int(both.sum())
    if n < min_rows:
        return None, n, f"only {n} rows with both labels known; {min_rows} needed"
    score, pred = batch.score[both], batch.prediction[both]
    target_auc = classification_metric("roc_auc", batch.target[both].astype(np.int64), score, pred)
    proxy_auc = classification_metric("roc_auc", batch.proxy[both].astype(np.int64), score, pred)
    if target_auc is None or proxy_auc is None:
        return None, n, "one label has a single class on these rows"
    return proxy_auc - target_auc, n, f"proxy AUC {proxy_auc:.3f}, target AUC {target_auc:.3f} on {n} rows"


def evaluate_proxy_target_gap(bench: ProxyTargetGap, batch: Scored | None, baseline: float | None) -> BenchmarkResult:
    """The gap on the batch; fails only when its interval's lower bound exceeds ``baseline + max_increase``.

    The interval resamples the rows with both labels (both AUCs on the same
    resample), so its lower bound minus the baseline is a one-sided
    ``(1 + confidence) / 2`` lower bound of the gap's increase.
    """
    value, n, detail = (
        (None, 0, "no batch to evaluate") if batch is None else proxy_target_gap(batch, min_rows=bench.min_rows)
    )
    reference = 0.0 if baseline is None else baseline
    threshold = reference + bench.max_increase
    ci: tuple[float | None, float | None] = (None, None)
    evidence: dict[str, float | None] = {}
    if value is not None and batch is not None:
        both = _both(batch)
        assert batch.proxy is not None
        s, p = batch.score[both], batch.prediction[both]
        proxy, target = batch.proxy[both], batch.target[both]
        boot = _resampled_gap(proxy, target, s, p, bench.resamples, value)
        ci = interval(boot, bench.confidence)
        evidence = {
            "proxy_auc": finite(classification_metric("roc_auc", batch.proxy[both], s, p)),
            "target_auc": finite(classification_metric("roc_auc", batch.target[both], s, p)),
        }
    status = judge(value, ci, threshold, "lower_is_better")
    if value is not None:
        shown = "" if ci[0] is None else f" ({bench.confidence:.0%} CI {ci[0]:+.3f}..{ci[1]:+.3f})"
        detail = (
            f"gap {value:+.3f}{shown} (baseline {reference:+.3f}, fails when the CI's lower bound exceeds "
            f"{threshold:+.3f}); {detail}"
        )
    return BenchmarkResult.of(
        bench,
        metric="proxy_auc_minus_target_auc",
        value=finite(value),
        threshold=threshold,
        baseline=baseline,
        status=status,
        n=n,
        detail=detail,
        ci_low=ci[0],
        ci_high=ci[1],
        direction="lower_is_better",
        on="batch",
        evidence=evidence,
    )


def _resampled_gap(
    proxy: np.ndarray, target: np.ndarray, s: np.ndarray, p: np.ndarray, resamples: int, value: float
) -> np.ndarray:
    """The gap under ``resamples`` resamples of the rows (both AUCs on each), of their groups when they pool.

    A row enters both AUCs through its two labels and its score: a large
    batch is pooled by the labels and the score's quantile levels, anchored at
    the rows' own gap.
    """

    def gap(proxy: np.ndarray, target: np.ndarray, s: np.ndarray, p: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        return lambda w: weighted_metric("roc_auc", proxy, s, p, w) - weighted_metric("roc_auc", target, s, p, w)

    pool = pool_rows([proxy, target], s)
    if pool is None:
        return bootstrap(gap(proxy, target, s, p), len(s), resamples)
    on_groups = gap(pool.first(proxy), pool.first(target), pool.mean(s), pool.first(p))
    return pool.resample(on_groups, resamples, anchor=value)
