"""Binary metrics of the positive class, point estimates and vectorised bootstrap intervals.

Multiclass and regression metrics live in :mod:`.multiclass` and
:mod:`.regression`; :func:`alignment_drift.core.benchmarks.measure.measure`
dispatches by task. Which way each metric is better comes from the one table
of :mod:`alignment_drift.core.spec.metrics` (``LOWER_IS_BETTER`` here).

Every metric is computed from a matrix of row weights ``W`` (resamples x
rows): the point estimate uses one row of ones, a bootstrap uses
multinomial counts (a seeded resample of the rows each), so a 500-resample
interval costs a few matrix products, not 500 metric calls.

Above :data:`POOL_MIN_ROWS` rows a benchmark may pool its rows first
(:func:`pool_rows`): rows a statistic cannot tell apart form one group, and a
resample of the rows is drawn as multinomial counts of the groups, so a
bootstrap costs O(resamples x groups) instead of O(resamples x rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from alignment_drift.core.spec.metrics import LOWER_IS_BETTER, METRICS, direction_of

__all__ = [
    "BOOTSTRAP_CELLS",
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "METRICS",
    "POOL_LEVELS",
    "POOL_MIN_ROWS",
    "Pool",
    "bootstrap",
    "bootstrap_weights",
    "classification_metric",
    "direction_of",
    "interval",
    "pool_rows",
    "weighted_metric",
]

CLASSIFICATION_METRICS = ("recall", "precision", "accuracy", "f1", "roc_auc", "specificity", "fpr", "fnr", "log_loss")
_ALL = (*CLASSIFICATION_METRICS, "mae", "rmse")
_EPS = float(np.finfo(float).eps)


def classification_metric(metric: str, y: np.ndarray, score: np.ndarray, prediction: np.ndarray) -> float | None:
    """A binary metric of the positive class; None when it is undefined for these rows.

    ``mae`` and ``rmse`` here are errors of ``score`` against ``y`` (a
    regression passes its predictions as ``score``).

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1]); s = np.array([0.1, 0.6, 0.4, 0.9])
    >>> classification_metric("recall", y, s, (s >= 0.5).astype(int))
    0.5
    """
    if metric not in _ALL:
        raise ValueError(f"The 'metric' parameter must be one of {list(_ALL)}. Got {metric!r} instead.")
    if len(y) == 0:
        return None
    if metric == "roc_auc":
        return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else None
    if metric == "recall":
        return float(recall_score(y, prediction, zero_division=np.nan)) if y.sum() > 0 else None
    if metric == "precision":
        return float(precision_score(y, prediction, zero_division=np.nan)) if prediction.sum() > 0 else None
    if metric == "f1":
        return float(f1_score(y, prediction, zero_division=np.nan)) if (y.sum() + prediction.sum()) > 0 else None
    if metric == "accuracy":
        return float(accuracy_score(y, prediction))
    value = weighted_metric(metric, y, score, prediction, np.ones((1, len(y))))[0]
    return float(value) if np.isfinite(value) else None


def bootstrap_weights(n: int, resamples: int, *, seed: int = 0) -> np.ndarray:
    """Resample counts, ``resamples`` x ``n``: row ``b`` counts how often each row is drawn (seeded, read-only).

    The whole matrix at once: for large ``n`` use :func:`bootstrap`, which
    evaluates a statistic over the same resamples in bounded memory.

    Examples
    --------
    >>> w = bootstrap_weights(5, 3)
    >>> w.shape, w.sum(axis=1).tolist()
    ((3, 5), [5.0, 5.0, 5.0])
    """
    if resamples <= 0 or n == 0:
        return np.zeros((0, n))
    return _weights(n, resamples, seed)


BOOTSTRAP_CELLS = 4_000_000
"""Resample-count cells built at once by :func:`bootstrap` (32 MB of float64): the bound on its memory."""


def bootstrap(statistic: Callable[[np.ndarray], np.ndarray], n: int, resamples: int, *, seed: int = 0) -> np.ndarray:
    """``statistic`` under each of ``resamples`` seeded resamples of ``n`` rows, in bounded memory.

    ``statistic`` maps a (k x n) matrix of resample counts to k values. The
    resamples are those of :func:`bootstrap_weights` (same seed, same values),
    built a block of rows at a time so that at most :data:`BOOTSTRAP_CELLS`
    counts exist at once: a 1M-row batch costs tens of MB, not 500 x 1M x 8 bytes.
    A small matrix is built once and cached (benchmarks of one night share it).

    Examples
    --------
    >>> x = np.arange(10.0)
    >>> mean = lambda w: (w @ x) / w.sum(axis=1)
    >>> bool(np.allclose(bootstrap(mean, 10, 50), mean(bootstrap_weights(10, 50))))
    True
    """
    if resamples <= 0 or n == 0:
        return np.asarray(statistic(np.zeros((0, n))), dtype=float)
    block = max(1, BOOTSTRAP_CELLS // n)
    if resamples <= block:
        return np.asarray(statistic(_weights(n, resamples, seed)), dtype=float)
    rng = np.random.default_rng(seed)
    parts = []
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        parts.append(np.asarray(statistic(_counts(rng.integers(0, n, size=(rows, n)), n)), dtype=float))
    return np.concatenate(parts)


POOL_MIN_ROWS = 50_000
"""Rows from which :func:`pool_rows` pools; below it every bootstrap resamples the rows themselves."""

POOL_LEVELS = 1_024
"""Equal-frequency levels a continuous column is cut into by :func:`pool_rows` (per discrete group)."""


@dataclass(frozen=True)
class Pool:
    """Rows pooled into groups, for a bootstrap whose cost does not grow with the rows.

    ``inverse[i]`` is the group of row ``i``, ``counts[g]`` the rows in
    group ``g`` and ``rows[g]`` the first of them. Drawing ``n`` rows with replacement puts
    Multinomial(n, counts / n) rows into the groups, so when a statistic
    reads a row only through its group's values, resampling the groups'
    counts *is* the row bootstrap (the same distribution, not the same draws).
    """

    inverse: np.ndarray
    counts: np.ndarray
    rows: np.ndarray
    exact: bool

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def first(self, values: np.ndarray) -> np.ndarray:
        """The first row's value of each group (the group's value for a column the groups were formed by)."""
        return values[self.rows]

    def mean(self, values: np.ndarray) -> np.ndarray:
        """Each group's mean of ``values`` (a group's sum is its count times its mean, as on the rows)."""
        return np.bincount(self.inverse, weights=values.astype(float), minlength=len(self.counts)) / self.counts

    def resample(
        self,
        statistic: Callable[[np.ndarray], np.ndarray],
        resamples: int,
        *,
        seed: int = 0,
        anchor: float | None = None,
    ) -> np.ndarray:
        """``statistic`` of the groups under ``resamples`` seeded multinomial resamples of the rows.

        ``statistic`` maps a (k x groups) matrix of counts to k values. With
        ``anchor`` (the statistic on the rows themselves) the values are
        shifted by the anchor minus the statistic at the groups' own counts:
        a pooled continuous column moves the centre by its rounding, not the
        spread.
        """
        n = self.n
        if resamples <= 0 or n == 0:
            return np.zeros(0)
        rng = np.random.default_rng(seed)
        block = max(1, BOOTSTRAP_CELLS // len(self.counts))
        share = self.counts / n
        parts = []
        for start in range(0, resamples, block):
            drawn = rng.multinomial(n, share, size=min(block, resamples - start)).astype(float)
            parts.append(np.asarray(statistic(drawn), dtype=float))
        values = np.concatenate(parts)
        if anchor is not None:
            centre = float(np.asarray(statistic(self.counts[None, :]), dtype=float)[0])
            if np.isfinite(centre) and np.isfinite(anchor):
                values = values + (anchor - centre)
        return values


def pool_rows(
    discrete: Sequence[np.ndarray],
    continuous: np.ndarray | None = None,
    *,
    levels: int | None = None,
    min_rows: int | None = None,
) -> Pool | None:
    """Group rows by their ``discrete`` values and ``levels`` quantile bins of ``continuous`` (:data:`POOL_LEVELS`).

    None when pooling would not pay: fewer than ``min_rows`` rows (default
    :data:`POOL_MIN_ROWS`), groups more than an eighth of the rows, or a
    non-finite continuous value. With
    ``continuous`` the pool is not ``exact``: a statistic of the groups reads
    each row's continuous value as its group's mean (:meth:`Pool.mean`, which
    keeps every group's sum), so pair such a pool with an ``anchor``.

    Examples
    --------
    >>> y = np.tile([0.0, 1.0], 50_000); p = np.repeat([0.0, 1.0], 50_000)
    >>> pool = pool_rows([y, p])
    >>> pool.counts.astype(int).tolist(), pool.exact
    ([25000, 25000, 25000, 25000], True)
    """
    levels = POOL_LEVELS if levels is None else levels
    min_rows = POOL_MIN_ROWS if min_rows is None else min_rows
    n = len(discrete[0]) if discrete else (0 if continuous is None else len(continuous))
    if n < max(min_rows, 1):
        return None
    key = np.zeros(n, dtype=np.int64)
    width = 1
    for column in discrete:
        _, codes = np.unique(column, return_inverse=True)
        codes = codes.reshape(-1).astype(np.int64)
        width *= int(codes.max()) + 1
        if width > n:
            return None
        key = key * (int(codes.max()) + 1) + codes
    if continuous is not None:
        values = np.asarray(continuous, dtype=float)
        if not np.isfinite(values).all():
            return None
        edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, levels + 1)[1:-1]))
        key = key * (len(edges) + 1) + np.searchsorted(edges, values, side="right")
    _, rows, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    if len(counts) * 8 > n:
        return None
    return Pool(inverse=inverse.reshape(-1), counts=counts.astype(float), rows=rows, exact=continuous is None)


def _counts(drawn: np.ndarray, n: int) -> np.ndarray:
    rows = len(drawn)
    flat = (drawn + (np.arange(rows) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


@lru_cache(maxsize=8)
def _weights(n: int, resamples: int, seed: int) -> np.ndarray:
    counts = _counts(np.random.default_rng(seed).integers(0, n, size=(resamples, n)), n)
    counts.setflags(write=False)
    return counts


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


_SORTED: list[tuple[np.ndarray, tuple[float, float], np.ndarray, np.ndarray]] = []


def _sort_plan(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order of ``score`` and where each distinct value starts in it; kept for the last array sorted.

    A bootstrap calls the AUC once per block of resamples with the same score
    array: it is sorted once, not once a block. The plan is kept with the array
    itself (so its identity cannot be reused) and a fingerprint of its values
    (so an array changed in place is sorted again).
    """
    mark = (float(score.sum()), float(score[:: max(1, len(score) // 64)].sum()))
    if _SORTED and _SORTED[0][0] is score and _SORTED[0][1] == mark:
        return _SORTED[0][2], _SORTED[0][3]
    order = np.argsort(score, kind="mergesort")
    _, starts = np.unique(score[order], return_index=True)
    _SORTED[:] = [(score, mark, order, starts)]
    return order, starts


def _auc(y: np.ndarray, score: np.ndarray, w: np.ndarray) -> np.ndarray:
    order, starts = _sort_plan(score)
    ys, ws = y[order], w[:, order]
    pos = np.add.reduceat(ws * ys, starts, axis=1)
    neg = np.add.reduceat(ws * (1 - ys), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    return _div((pos * (below + 0.5 * neg)).sum(axis=1), pos.sum(axis=1) * neg.sum(axis=1))


def weighted_metric(metric: str, y: np.ndarray, score: np.ndarray, prediction: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The metric under each row of weights ``w`` (resamples x rows); NaN where undefined."""
    y = y.astype(float)
    p = prediction.astype(float)
    if metric == "roc_auc":
        return _auc(y, np.asarray(score, dtype=float), w)
    if metric == "mae":
        return _div(w @ np.abs(y - score), w.sum(axis=1))
    if metric == "rmse":
        return np.sqrt(_div(w @ (y - score) ** 2, w.sum(axis=1)))
    if metric == "log_loss":
        s = np.clip(score.astype(float), _EPS, 1 - _EPS)
        return _div(w @ -(y * np.log(s) + (1 - y) * np.log(1 - s)), w.sum(axis=1))
    tp, fp = w @ (y * p), w @ ((1 - y) * p)
    fn, tn = w @ (y * (1 - p)), w @ ((1 - y) * (1 - p))
    table = {
        "recall": (tp, tp + fn),
        "precision": (tp, tp + fp),
        "specificity": (tn, tn + fp),
        "fpr": (fp, fp + tn),
        "fnr": (fn, fn + tp),
        "accuracy": (tp + tn, tp + tn + fp + fn),
        "f1": (2 * tp, 2 * tp + fp + fn),
    }
    if metric not in table:
        raise ValueError(f"The 'metric' parameter must be one of {list(_ALL)}. Got {metric!r} instead.")
    num, den = table[metric]
    return _div(num, den)


def interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """The percentile interval of bootstrap values (NaN resamples dropped); None when too few remain."""
    finite_values = values[np.isfinite(values)]
    if len(finite_values) < 20:
        return None, None
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(finite_values, [tail, 100 - tail])
    return float(low), float(high)
