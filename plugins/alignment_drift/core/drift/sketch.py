"""A mergeable quantile summary with a proven, tracked, one-sided CDF error bound.

A summary of a numeric column is a sorted array of distinct values ``v`` with
integer weights ``w`` summing to ``n``. While a column has at most
``capacity`` distinct values the summary is exact: each value carries its own
count. Beyond that, :meth:`QuantileSummary.compress` groups neighbouring
values into buckets of about ``ceil(n / capacity)`` points, each represented
by the bucket's largest value, and :meth:`QuantileSummary.merge` pools two
summaries (then compresses).

**The bound, and why it holds under merges.** Call the value that carries a
data point its *representative*. Every operation keeps one invariant:

    (R) each point's representative is >= the point.

An exact summary represents each point by itself; ``compress`` moves every
point of a bucket to the bucket's largest value (up, never down); ``merge``
only pools weights and moves nothing. Two consequences, for every ``x``:

1. *The CDF lags, one-sidedly*: ``F_summary(x) = #{p : rep(p) <= x} / n <=
   #{p : p <= x} / n = F_data(x)``. The lag, as a count, is
   ``L(x) = #{p : p <= x < rep(p)}``.
2. *The lag is at most* ``rank_error``, by induction over the operations:
   ``fit`` of distinct values has ``L = 0``; ``merge`` of ``A`` and ``B``
   gives ``L(x) = L_A(x) + L_B(x) <= rank_error_A + rank_error_B`` (counts
   add, which is what ``merge`` records); ``compress`` newly lags only points
   whose old representative is ``<= x`` and whose bucket's largest value is
   ``> x``. Buckets are disjoint runs of sorted values, so at most one bucket
   straddles ``x``; it holds at least two distinct values, and the points at
   its largest value are not among them (their representative did not move
   and is ``> x``). So ``L_new(x) <= L_old(x) + max_b (w_b - w_b,last)`` over
   multi-valued buckets ``b`` — exactly what ``compress`` adds to
   ``rank_error``.

Hence, at every ``x`` and at every left limit ``x-``,

    0 <= F_data(x) - F_summary(x) <= rank_error / n = error_bound,

for fitted, compressed, merged (in any order or tree shape) and reloaded
summaries alike. Two-sided, ``sup |F_summary - F_data| <= error_bound``;
the one-sidedness is what the KS tests in
:mod:`~alignment_drift.core.drift.profile_tests` use. Merging many partitions
as a balanced tree (:meth:`merge_all`) keeps the bound near
``(log2(partitions) + 1) / capacity`` (at most twice that: a bucket can reach
twice its target weight when a heavy value closes it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["QuantileSummary"]


@dataclass(frozen=True)
class QuantileSummary:
    """Distinct sorted ``values`` with integer ``weights`` summing to ``n``; CDF lag in ``[0, rank_error / n]``."""

    values: np.ndarray
    weights: np.ndarray
    rank_error: int = 0

    @property
    def n(self) -> int:
        return int(self.weights.sum())

    @property
    def error_bound(self) -> float:
        """The proven bound on the CDF's lag: ``0 <= F_data(x) - F_summary(x) <= error_bound`` at every ``x``."""
        return self.rank_error / self.n if self.n else 0.0

    @property
    def exact(self) -> bool:
        return self.rank_error == 0

    @classmethod
    def fit(cls, values: np.ndarray, *, capacity: int = 4096) -> QuantileSummary:
        """Summarise finite ``values`` (NaN/inf must already be removed).

        Examples
        --------
        >>> s = QuantileSummary.fit(np.arange(10_000.0), capacity=100)
        >>> s.n, len(s.values) <= 100, s.error_bound
        (10000, True, 0.0099)
        """
        if capacity < 2:
            raise ValueError(f"The 'capacity' parameter must be >= 2. Got {capacity} instead.")
        data = np.sort(np.asarray(values, dtype=np.float64))
        if data.size == 0:
            return cls(np.empty(0), np.empty(0, dtype=np.int64))
        if data.size > capacity and not np.any(data[1:] == data[:-1]):
            # every value distinct (a continuous column): compress's buckets are runs of `target` sorted values,
            # so they are cut directly (what compress would build, at a fraction of the passes over the data)
            target = -(-data.size // capacity)
            ends = np.arange(target - 1, data.size + target - 1, target)
            ends[-1] = data.size - 1
            weights = np.diff(ends, prepend=-1)
            return cls(data[ends], weights.astype(np.int64), int(weights.max()) - 1)
        # distinct values and their counts (exact), from the sorted data
        starts = np.flatnonzero(np.concatenate(([True], data[1:] != data[:-1])))
        counts = np.diff(np.append(starts, data.size))
        summary = cls(data[starts], counts.astype(np.int64), 0)
        return summary.compress(capacity) if summary.values.size > capacity else summary

    def compress(self, capacity: int) -> QuantileSummary:
        """Group neighbouring values into about ``capacity`` buckets (atoms heavier than a bucket stay whole)."""
        if self.values.size <= capacity:
            return self
        n = self.n
        target = -(-n // capacity)  # ceil(n / capacity)
        cum = np.cumsum(self.weights)
        # bucket id of each value: which multiple of `target` its cumulative weight reaches
        bucket = (cum - 1) // target
        # a value as heavy as a bucket (an atom such as exact zeros) always stands alone: merged with
        # its neighbours it would be represented by the largest of them, moving the atom
        heavy = self.weights >= target
        boundary = (bucket[1:] != bucket[:-1]) | heavy[1:] | heavy[:-1]
        ends = np.flatnonzero(np.concatenate((boundary, [True])))
        starts = np.concatenate(([0], ends[:-1] + 1))
        weights = np.add.reduceat(self.weights, starts)
        # a bucket of several distinct values lags, at a point x inside it, by at most its points below its
        # largest value (those at that value did not move): the module docstring's proof
        multi = ends > starts
        added = int((weights - self.weights[ends])[multi].max()) if multi.any() else 0
        return QuantileSummary(self.values[ends], weights.astype(np.int64), self.rank_error + added)

    def merge(self, other: QuantileSummary, *, capacity: int = 4096) -> QuantileSummary:
        """The summary of both inputs' data, compressed to ``capacity``; errors add."""
        values = np.concatenate((self.values, other.values))
        weights = np.concatenate((self.weights, other.weights))
        if values.size == 0:
            return QuantileSummary(values, weights.astype(np.int64), 0)
        order = np.argsort(values, kind="stable")
        values, weights = values[order], weights[order]
        starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
        merged = QuantileSummary(
            values[starts], np.add.reduceat(weights, starts).astype(np.int64), self.rank_error + other.rank_error
        )
        return merged.compress(capacity)

    @staticmethod
    def merge_all(summaries: list[QuantileSummary], *, capacity: int = 4096) -> QuantileSummary:
        """Merge many summaries pairwise, as a balanced tree: the error grows with log2 of their number.

        (A chain of merges would add up to about one bucket per merge instead.)
        """
        if not summaries:
            raise ValueError("The 'summaries' parameter must hold at least one summary. Got none instead.")
        level = list(summaries)
        while len(level) > 1:
            pairs = [level[i].merge(level[i + 1], capacity=capacity) for i in range(0, len(level) - 1, 2)]
            level = pairs + ([level[-1]] if len(level) % 2 else [])
        return level[0]

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """``F_summary(x)``, the share of weight at values <= x: within ``[F_data(x) - error_bound, F_data(x)]``."""
        cum = np.concatenate(([0], np.cumsum(self.weights)))
        return cum[np.searchsorted(self.values, x, side="right")] / max(self.n, 1)

    def quantiles(self, probs: np.ndarray) -> np.ndarray:
        """The summary's quantile function (left-continuous inverse of its CDF) at ``probs`` in [0, 1]."""
        if self.n == 0:
            return np.full(np.shape(probs), np.nan)
        cum = np.cumsum(self.weights) / self.n
        index = np.searchsorted(cum, np.clip(probs, 0.0, 1.0), side="left")
        return self.values[np.minimum(index, self.values.size - 1)]

    def expand(self) -> np.ndarray:
        """The data itself, when the summary is exact (each value repeated by its weight)."""
        if not self.exact:
            raise ValueError("The summary is compressed; its data cannot be recovered. Use its CDF or quantiles.")
        return np.repeat(self.values, self.weights)
