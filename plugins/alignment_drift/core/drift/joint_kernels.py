"""The joint tests' computational kernels: cross-fitted classifier scores and MMD permutations.

:func:`out_of_fold_scores` gives the domain classifier's out-of-fold scores
(the folds fitted side by side); :func:`mmd_permutation_test` counts the
permuted MMD statistics at least as large as the observed one without
recomputing the kernel. :mod:`~alignment_drift.core.drift.multivariate` turns
both into p-values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from .exact import sequential_p_value

__all__ = ["FOLD_THREADS", "PERMUTATION_CHUNK", "mmd_permutation_test", "out_of_fold_scores"]

#: Domain-classifier folds fitted at once (each on one OpenMP thread).
FOLD_THREADS = 2
#: Permutations per matrix product in the MMD test (bounds memory).
PERMUTATION_CHUNK = 64


def out_of_fold_scores(model: Any, x: np.ndarray, labels: np.ndarray, folds: StratifiedKFold) -> np.ndarray:
    """Each row's class-1 probability from the fold model that did not see it (``cross_val_predict``'s values).

    The folds are fitted side by side, at most :data:`FOLD_THREADS` at once, each with one OpenMP
    thread: on a shared 2-core worker the default OpenMP thread count made the fits ~15x slower,
    and the fits release the GIL, so two single-threaded folds use both cores without contention.
    Every fold model is ``clone(model)`` fitted on the same rows as in turn: the scores are
    identical whatever the thread count.
    """

    def fit_fold(split: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        train, test = split
        with threadpool_limits(limits=1, user_api="openmp"):  # this thread's OpenMP setting
            fitted = clone(model).fit(x[train], labels[train])
            return test, fitted.predict_proba(x[test])[:, 1]

    scores = np.empty(len(labels), dtype=np.float64)
    splits = list(folds.split(x, labels))
    with ThreadPoolExecutor(max_workers=max(1, min(FOLD_THREADS, os.cpu_count() or 1))) as pool:
        for test, fold_scores in pool.map(fit_fold, splits):
            scores[test] = fold_scores
    return scores


def mmd_permutation_test(
    kernel: np.ndarray, m: int, permutations: int, seed: list[int], *, exceedances: float = math.inf
) -> tuple[float, float, int, int]:
    """Observed unbiased MMD^2 of rows ``:m`` vs ``m:``, its permutation p-value, the permuted statistics >= it,
    and the permutations drawn.

    ``kernel`` is the pooled Gram matrix with a zero diagonal and is never recomputed: a permutation is a 0/1 column
    ``a`` marking the first sample, whose within sums are ``a'Ka`` and ``(1-a)'K(1-a)`` and cross sum ``a'K(1-a)``.
    Permutations are drawn until ``exceedances`` of them reach the statistic or ``permutations`` were drawn
    (:func:`~alignment_drift.core.drift.exact.sequential_p_value`; every one by default).
    """
    size, n = kernel.shape[0], kernel.shape[0] - m
    row_sums = kernel.sum(axis=1)
    total = float(row_sums.sum())

    def mmd2(assign: np.ndarray) -> np.ndarray:
        within_x = np.einsum("ij,ij->j", assign, kernel @ assign)
        x_rows = assign.T @ row_sums
        within_y = total - 2.0 * x_rows + within_x
        return within_x / (m * (m - 1)) + within_y / (n * (n - 1)) - 2.0 * (x_rows - within_x) / (m * n)

    def permuted() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(seed)
        for start in range(0, permutations, PERMUTATION_CHUNK):
            assign = np.zeros((size, min(PERMUTATION_CHUNK, permutations - start)))
            for j in range(assign.shape[1]):
                assign[rng.permutation(size)[:m], j] = 1.0
            yield mmd2(assign)

    observed = float(mmd2(np.repeat([1.0, 0.0], [m, n])[:, None])[0])
    tolerance = 1e-9 * abs(observed) + 1e-15  # rounding noise in tied statistics counts as a tie
    return (observed, *sequential_p_value(permuted(), observed - tolerance, exceedances))
