"""The paired bootstrap of a metric difference between two models scored on the same labelled rows.

Each replicate resamples the row indices once and both models' metric is
computed on that same resample, so what the two models share (the rows'
difficulty) cancels and only their disagreement is left in the interval.
The resamples are a (replicates x rows) matrix of counts and every metric a
weighted count (:func:`~alignment_drift.core.benchmarks.metrics.weighted_metric`),
so 500 replicates cost a few matrix products.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from alignment_drift.core.benchmarks.metrics import CLASSIFICATION_METRICS, bootstrap_weights, weighted_metric
from alignment_drift.core.spec.metrics import LOWER_IS_BETTER

__all__ = ["METRICS", "PairedDelta", "paired_bootstrap"]

METRICS: frozenset[str] = frozenset(CLASSIFICATION_METRICS) | LOWER_IS_BETTER


@dataclass(frozen=True)
class PairedDelta:
    """(challenger - reference) of ``metric`` on the same rows: the point difference and its paired interval.

    ``delta``, ``ci_low`` and ``ci_high`` are the raw difference;
    :attr:`advantage`, :attr:`advantage_low` and :attr:`advantage_high` the
    same oriented so that positive means the challenger is better (negated
    for lower-is-better metrics). ``n`` is the number of labelled rows.
    """

    metric: str
    challenger: float | None
    reference: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    replicates: int
    confidence: float
    n: int

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    @property
    def advantage(self) -> float | None:
        """The challenger's advantage: ``delta``, negated when lower is better."""
        return None if self.delta is None else (-self.delta if self.lower_is_better else self.delta)

    @property
    def advantage_low(self) -> float | None:
        """The lower bound of the advantage's interval."""
        return -self.ci_high if self.lower_is_better and self.ci_high is not None else self.ci_low

    @property
    def advantage_high(self) -> float | None:
        """The upper bound of the advantage's interval."""
        return -self.ci_low if self.lower_is_better and self.ci_low is not None else self.ci_high

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(advantage=self.advantage, advantage_low=self.advantage_low, advantage_high=self.advantage_high)
        return out


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def paired_bootstrap(
    metric: str,
    y: np.ndarray,
    challenger: tuple[np.ndarray, np.ndarray],
    reference: tuple[np.ndarray, np.ndarray],
    *,
    replicates: int = 500,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDelta:
    """The paired bootstrap of (challenger - reference) for ``metric`` on the same labelled rows.

    Parameters
    ----------
    metric : str
        One of :data:`METRICS` (``fpr``, ``fnr``, ``mae``, ``rmse`` are lower-is-better).
    y : ndarray
        The 0/1 target of the rows (NaN where unknown; those rows are dropped).
    challenger, reference : tuple of ndarray
        Each model's ``(score, prediction)`` on the same rows, in the same order.
    replicates : int
        Bootstrap replicates (each resamples the row indices once, for both models).
    confidence : float
        Two-sided level of the percentile interval, in (0.5, 1).
    seed : int
        Seed of the resampling.

    Returns
    -------
    PairedDelta
        All None (and ``replicates`` 0) when no row is labelled or the metric is undefined.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400).astype(float)
    >>> good = y * 0.6 + rng.random(400) * 0.5
    >>> bad = rng.random(400)
    >>> d = paired_bootstrap("roc_auc", y, (bad, (bad >= .5).astype(int)), (good, (good >= .5).astype(int)))
    >>> d.ci_high < 0 and d.advantage_high < 0
    True
    """
    if metric not in METRICS:
        raise ValueError(f"The 'metric' parameter must be one of {sorted(METRICS)}. Got {metric!r} instead.")
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ValueError(f"The 'replicates' parameter must be an integer >= 1. Got {replicates!r} instead.")
    if not 0.5 < confidence < 1:
        raise ValueError(f"The 'confidence' parameter must be in (0.5, 1). Got {confidence} instead.")
    target = np.asarray(y, dtype=float)
    sizes = [len(a) for pair in (challenger, reference) for a in pair]
    if any(size != len(target) for size in sizes):
        raise ValueError(
            "The 'challenger' and 'reference' (score, prediction) arrays must be on the same rows as 'y'. "
            f"Got lengths {sizes} for {len(target)} rows instead."
        )
    known = ~np.isnan(target)
    yk = target[known]
    (s1, p1), (s2, p2) = ((np.asarray(s, float)[known], np.asarray(p)[known]) for s, p in (challenger, reference))
    n = len(yk)
    empty = PairedDelta(metric, None, None, None, None, None, 0, confidence, n)
    if n == 0:
        return empty
    ones = np.ones((1, n))
    point1 = _finite(float(weighted_metric(metric, yk, s1, p1, ones)[0]))
    point2 = _finite(float(weighted_metric(metric, yk, s2, p2, ones)[0]))
    if point1 is None or point2 is None:
        return PairedDelta(metric, point1, point2, None, None, None, 0, confidence, n)
    weights = bootstrap_weights(n, replicates, seed=seed)
    diff = weighted_metric(metric, yk, s1, p1, weights) - weighted_metric(metric, yk, s2, p2, weights)
    diff = diff[np.isfinite(diff)]
    low = high = None
    if len(diff):
        tail = (1.0 - confidence) / 2
        low, high = (float(q) for q in np.quantile(diff, [tail, 1.0 - tail]))
    return PairedDelta(
        metric=metric,
        challenger=point1,
        reference=point2,
        delta=point1 - point2,
        ci_low=low,
        ci_high=high,
        replicates=len(diff),
        confidence=confidence,
        n=n,
    )
