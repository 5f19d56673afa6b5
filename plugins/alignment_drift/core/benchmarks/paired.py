"""The paired bootstrap of a metric difference between two models scored on the same labelled rows.

Each replicate resamples the row indices once and both models' metric is
computed on that same resample, so what the two models share (the rows'
difficulty) cancels and only their disagreement is left in the interval.
The resamples are a (replicates x rows) matrix of counts and every metric,
of every task, a weighted count (:func:`~alignment_drift.core.benchmarks.measure.measure`),
so 500 replicates cost a few matrix products.

:func:`paired_delta` compares two :class:`~alignment_drift.core.benchmarks.result.Scored`
row sets of any task (binary, multiclass, regression); :func:`paired_bootstrap`
is the same for a binary model's ``(score, prediction)`` arrays.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from alignment_drift.core.benchmarks.measure import labelled, measure, unavailable
from alignment_drift.core.benchmarks.metrics import CLASSIFICATION_METRICS, bootstrap_weights
from alignment_drift.core.benchmarks.result import Scored
from alignment_drift.core.spec.metrics import LOWER_IS_BETTER
from alignment_drift.core.spec.metrics import METRICS as METRIC_TABLE

__all__ = ["METRICS", "PairedDelta", "paired_bootstrap", "paired_delta"]

# every metric of every task can be compared paired
METRICS: frozenset[str] = frozenset(METRIC_TABLE) | frozenset(CLASSIFICATION_METRICS) | LOWER_IS_BETTER


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


def _check(replicates: int, confidence: float) -> None:
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ValueError(f"The 'replicates' parameter must be an integer >= 1. Got {replicates!r} instead.")
    if not 0.5 < confidence < 1:
        raise ValueError(f"The 'confidence' parameter must be in (0.5, 1). Got {confidence} instead.")


def paired_delta(
    metric: str,
    challenger: Scored,
    reference: Scored,
    *,
    label: Any = None,
    k: int | None = None,
    average: str | None = None,
    replicates: int = 500,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDelta:
    """The paired bootstrap of (challenger - reference) for ``metric`` on the same rows, for any task.

    Parameters
    ----------
    metric : str
        A metric of the rows' task (see :mod:`alignment_drift.core.spec.metrics`).
    challenger, reference : Scored
        The same rows (same order, same target) scored by each model.
    label, k, average
        A multiclass metric's class, ``k`` and one-vs-rest averaging (as the benchmark declares them).
    replicates : int
        Bootstrap replicates (each resamples the row indices once, for both models).
    confidence : float
        Two-sided level of the percentile interval, in (0.5, 1).
    seed : int
        Seed of the resampling.

    Returns
    -------
    PairedDelta
        All None (and ``replicates`` 0) when no row is labelled or the metric
        cannot be measured on either model's rows.

    Examples
    --------
    >>> y = np.array([3.0, 5.0, 7.0, 9.0] * 50)
    >>> close = Scored(target=y, score=y + 0.5, prediction=y + 0.5, task="regression")
    >>> far = Scored(target=y, score=y + 2.0, prediction=y + 2.0, task="regression")
    >>> d = paired_delta("mae", far, close, replicates=200)
    >>> round(d.delta, 2), d.advantage_high < 0
    (1.5, True)
    """
    _check(replicates, confidence)
    if len(challenger) != len(reference) or challenger.task != reference.task:
        raise ValueError(
            "The 'challenger' and 'reference' rows must be the same rows of the same task. "
            f"Got {len(challenger)} {challenger.task} rows and {len(reference)} {reference.task} rows instead."
        )
    known = labelled(challenger, metric) & labelled(reference, metric)
    mine, theirs = challenger.subset(known), reference.subset(known)
    n = int(known.sum())
    empty = PairedDelta(metric, None, None, None, None, None, 0, confidence, n)
    if n == 0 or unavailable(metric, mine, label=label, k=k) or unavailable(metric, theirs, label=label, k=k):
        return empty

    def value(rows: Scored, w: np.ndarray) -> np.ndarray:
        return np.asarray(measure(metric, rows, w, label=label, k=k, average=average), dtype=float)

    ones = np.ones((1, n))
    point1, point2 = _finite(float(value(mine, ones)[0])), _finite(float(value(theirs, ones)[0]))
    if point1 is None or point2 is None:
        return PairedDelta(metric, point1, point2, None, None, None, 0, confidence, n)
    weights = bootstrap_weights(n, replicates, seed=seed)
    diff = value(mine, weights) - value(theirs, weights)
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
    """The paired bootstrap of (challenger - reference) for a binary ``metric`` on the same labelled rows.

    Parameters
    ----------
    metric : str
        One of the binary metrics (``fpr``, ``fnr``, ``log_loss`` are lower-is-better).
    y : ndarray
        The 0/1 target of the rows (NaN where unknown; those rows are dropped).
    challenger, reference : tuple of ndarray
        Each model's ``(score, prediction)`` on the same rows, in the same order.
    replicates, confidence, seed
        As :func:`paired_delta`.

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
    if metric not in CLASSIFICATION_METRICS:
        raise ValueError(
            f"The 'metric' parameter must be one of {sorted(CLASSIFICATION_METRICS)}. Got {metric!r} instead."
        )
    _check(replicates, confidence)
    target = np.asarray(y, dtype=float)
    sizes = [len(a) for pair in (challenger, reference) for a in pair]
    if any(size != len(target) for size in sizes):
        raise ValueError(
            "The 'challenger' and 'reference' (score, prediction) arrays must be on the same rows as 'y'. "
            f"Got lengths {sizes} for {len(target)} rows instead."
        )
    rows = [
        Scored(target=target, score=np.asarray(s, float), prediction=np.asarray(p)) for s, p in (challenger, reference)
    ]
    return paired_delta(metric, rows[0], rows[1], replicates=replicates, confidence=confidence, seed=seed)
