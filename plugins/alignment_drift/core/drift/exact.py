"""Small-count p-values: Fisher's exact test of two proportions and Monte-Carlo tests of homogeneity.

Both condition on the margins of the table (the row totals: reference and
current sizes; the column totals: how often each value occurs overall), so
their p-values are valid at every sample size, where the normal and
chi-square approximations overstate significance when counts are small.

- :func:`fisher_two_sided` is the two-sided Fisher exact test of a 2x2 table,
  summed over the part of the hypergeometric support that holds any
  probability mass, so it costs at most tens of milliseconds at 10M rows a side.
  It also returns the smallest p-value attainable with the table's margins:
  a test that cannot reach the level is left out of its correction family
  (Tarone 1990, see :func:`~alignment_drift.core.drift.multiple_testing.tarone_family`).
- :func:`monte_carlo_homogeneity` is the sequential Monte-Carlo p-value of
  Besag and Clifford (1991) for a 2xK table with Cressie and Read's power
  divergence (lambda = 2/3), Pearson's chi-square or the G statistic:
  tables are drawn with both margins fixed (multivariate hypergeometric) until
  ``exceedances`` of them reach the observed statistic or ``max_draws`` were drawn.
  The seed is derived from the table, so the same counts always give the same p-value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Literal, get_args

import numpy as np
from scipy import special

__all__ = [
    "CATEGORICAL_TESTS",
    "CRESSIE_READ_LAMBDA",
    "MC_EXCEEDANCES",
    "MC_MAX_DRAWS",
    "CategoricalTest",
    "fisher_two_sided",
    "homogeneity_statistic",
    "monte_carlo_homogeneity",
    "sequential_p_value",
]

#: The statistics of a categorical column's test of homogeneity: Cressie and Read's power divergence
#: (lambda = 2/3, the default), Pearson's chi-square, the log-likelihood ratio G.
CategoricalTest = Literal["cressie_read", "chi2", "g_test"]
CATEGORICAL_TESTS: tuple[str, ...] = get_args(CategoricalTest)
#: Cressie and Read's (1984) exponent: between G (0) and Pearson (1), the one they recommend.
CRESSIE_READ_LAMBDA = 2.0 / 3.0

#: Besag-Clifford stopping count: the relative Monte-Carlo error of a p-value is about 1/sqrt(this).
MC_EXCEEDANCES = 50
#: Most tables drawn for one Monte-Carlo p-value; its smallest value is 1 / (MC_MAX_DRAWS + 1).
MC_MAX_DRAWS = 20_000
#: Two tables whose probabilities differ by less than this (relative) count as equally likely, as in scipy.
_LOG_TIES = 1e-7
#: Upper bound on the probability mass beyond the summed window, on one side (see :func:`fisher_two_sided`).
_TAIL_BOUND = 1e-32
#: Half-width of the summed part of the hypergeometric support, in binomial standard deviations (+ as many counts).
_WINDOW_SD = 50.0
#: Values held at once by a batch of drawn tables (bounds the memory at about 32 MB).
_BATCH_VALUES = 4_000_000
#: Mixed into a Monte-Carlo p-value's seed, one per statistic.
_SEED_TAGS = {"chi2": 0, "g_test": 1, "cressie_read": 2}
#: numpy's multivariate hypergeometric sampler needs fewer items than this.
_EXACT_SAMPLER_MAX_TOTAL = 10**9
#: Above this total, drawing by "count" would need a temporary array that large; "marginals" is used instead.
_COUNT_METHOD_MAX_TOTAL = 2_000_000


def _log_pmf(k: int, n: int, n_cur: int, first: int, last: int) -> np.ndarray:
    """Normalised log probabilities of ``first..last`` current events given the margins.

    Built from the ratio of neighbouring probabilities and normalised over the
    range, so no large lgamma values are subtracted (their rounding, ~1e-8 at
    10M rows, would blur ties).
    """
    y = np.arange(first, last, dtype=float)
    steps = np.log(k - y) + np.log(n_cur - y) - np.log(y + 1.0) - np.log(n - k - n_cur + y + 1.0)
    log_p = np.concatenate(([0.0], np.cumsum(steps)))
    return log_p - float(special.logsumexp(log_p))


def fisher_two_sided(k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> tuple[float, float]:
    """Two-sided Fisher exact p-value of ``k_ref / n_ref`` against ``k_cur / n_cur``, and the smallest attainable one.

    The p-value is the probability, given both margins, of every table no more
    likely than the observed one (scipy's ``fisher_exact`` definition, ties
    within a relative 1e-7). Only tables within ``50 sd + 50`` counts of the
    mean are summed: beyond, a Bernstein bound on the binomial (which dominates
    the hypergeometric, Hoeffding 1963) leaves less than 1e-32 of mass on each
    side, and that bound is added to the p-value whenever tables were left out,
    so the result is never smaller than the exact value.

    Parameters
    ----------
    k_ref, n_ref : int
        Events and size of the reference side, ``0 <= k_ref <= n_ref``.
    k_cur, n_cur : int
        Events and size of the current side, ``0 <= k_cur <= n_cur``.

    Returns
    -------
    p_value : float
        The two-sided p-value, in [0, 1].
    min_p_value : float
        The smallest p-value any table with these margins could give (1.0 when
        the margins allow only one table).

    Examples
    --------
    >>> p, floor = fisher_two_sided(50, 10_000, 3, 100)
    >>> round(p, 4), floor < 1e-10
    (0.0154, True)
    """
    n = n_ref + n_cur
    k = k_ref + k_cur
    lo, hi = max(0, k - n_ref), min(k, n_cur)
    if lo == hi:
        return 1.0, 1.0
    mean = n_cur * k / n
    half = _WINDOW_SD * math.sqrt(n_cur * (k / n) * (1.0 - k / n)) + _WINDOW_SD
    first, last = max(lo, math.floor(mean - half)), min(hi, math.ceil(mean + half))
    log_pmf = _log_pmf(k, n, n_cur, first, last)
    pmf = np.exp(log_pmf)
    left_out = _TAIL_BOUND * ((first > lo) + (last < hi))

    def p_at(x: int) -> float:
        if not first <= x <= last:
            return min(1.0, left_out)
        return float(min(1.0, pmf[log_pmf <= log_pmf[x - first] + _LOG_TIES].sum() + left_out))

    # the least likely tables sit at the ends of the support (the hypergeometric is unimodal)
    return p_at(k_cur), min(p_at(lo), p_at(hi))


def homogeneity_statistic(current: np.ndarray, totals: np.ndarray, n_cur: int, test: CategoricalTest) -> np.ndarray:
    """The power divergence of 2xK tables given their current rows and column totals.

    ``test`` picks the exponent: ``"cressie_read"`` (2/3), ``"chi2"`` (Pearson,
    1) or ``"g_test"`` (the log-likelihood ratio, 0); scipy's
    ``power_divergence`` on both rows. ``current`` has shape (..., K); the
    reference row is ``totals - current``. Every column total must be positive.
    """
    n = float(totals.sum())
    expected_cur = totals * (n_cur / n)
    expected_ref = totals - expected_cur
    if test == "chi2":
        return np.sum((current - expected_cur) ** 2 * (1.0 / expected_cur + 1.0 / expected_ref), axis=-1)
    reference = totals - current
    if test == "cressie_read":
        return np.maximum(_power_terms(current, expected_cur) + _power_terms(reference, expected_ref), 0.0)
    return 2.0 * np.sum(
        special.xlogy(current, current / expected_cur) + special.xlogy(reference, reference / expected_ref), axis=-1
    )


def _power_terms(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Cressie and Read's sum over the last axis, ``2 / (lam (lam + 1)) * sum(O ((O / E)**lam - 1))``.

    ``(O / E)**lam - 1`` as ``expm1(lam * log1p((O - E) / E))``, exact to rounding where O and E are
    large and close (the reference row at millions of rows); an empty cell adds 0.
    """
    lam = CRESSIE_READ_LAMBDA
    with np.errstate(divide="ignore"):
        ratio = np.expm1(lam * np.log1p((observed - expected) / expected))
    return np.sum(observed * ratio, axis=-1) * (2.0 / (lam * (lam + 1.0)))


def monte_carlo_homogeneity(
    table: np.ndarray,
    *,
    test: CategoricalTest = "cressie_read",
    exceedances: int = MC_EXCEEDANCES,
    max_draws: int = MC_MAX_DRAWS,
) -> tuple[float, float, int]:
    """Sequential Monte-Carlo p-value of the test of homogeneity of a 2xK table.

    Tables are drawn with both margins fixed, so the p-value is exact up to
    Monte-Carlo error and valid at any count: with ``g`` draws at or above the
    observed statistic it is ``exceedances / L`` when the ``exceedances``-th
    such draw is the ``L``-th, else ``(g + 1) / (max_draws + 1)`` (Besag and
    Clifford 1991); beyond 1e9 items, where numpy has no exact sampler,
    tables are drawn with replacement. A drift-free table stops after about
    ``exceedances * (1 + ln(max_draws / exceedances))`` draws on average; the
    cost is at most ``max_draws`` tables.

    Parameters
    ----------
    table : ndarray of shape (2, K)
        Counts: reference row then current row; every column total positive, K >= 2.
    test : {"cressie_read", "chi2", "g_test"}, default="cressie_read"
        The statistic (see :func:`homogeneity_statistic`).
    exceedances, max_draws : int
        The stopping rule above.

    Returns
    -------
    statistic : float
    p_value : float
    draws : int
        Tables drawn.
    """
    counts = np.asarray(table, dtype=np.int64)
    totals = counts.sum(axis=0)
    # the statistic is symmetric in the two rows: draw the smaller one
    row = counts[int(np.argmin(counts.sum(axis=1)))]
    m = int(row.sum())
    float_totals = totals.astype(float)
    observed = float(homogeneity_statistic(row.astype(float), float_totals, m, test))
    rng = np.random.default_rng(np.random.SeedSequence([int(v) for v in counts.ravel()] + [_SEED_TAGS[test]]))
    width = m if m * m <= 0.05 * totals.sum() else totals.size  # values held per drawn table
    largest = max(16, _BATCH_VALUES // max(width, 1))

    def drawn_statistics() -> Iterator[np.ndarray]:
        drawn, batch = 0, 256
        while drawn < max_draws:
            size = min(batch, largest, max_draws - drawn)
            yield homogeneity_statistic(_draw_rows(rng, totals, m, size), float_totals, m, test)
            drawn, batch = drawn + size, min(batch * 2, 8192)

    threshold = observed - 1e-9 * max(1.0, abs(observed))
    p_value, _, drawn = sequential_p_value(drawn_statistics(), threshold, exceedances)
    return observed, p_value, drawn


def sequential_p_value(
    statistics: Iterable[np.ndarray], threshold: float, exceedances: float
) -> tuple[float, int, int]:
    """Besag and Clifford's (1991) sequential Monte-Carlo p-value from batches of statistics drawn under the null.

    Batches are read until ``exceedances`` statistics reach ``threshold`` (the observed statistic less its
    rounding slack): the p-value is then ``exceedances / L``, the ``L``-th draw being the one that did. When
    the batches run out first, ``g`` of ``B`` drawn reached it and the p-value is ``(g + 1) / (B + 1)``. Both
    are valid, never 0. ``exceedances=math.inf`` reads every batch.

    Returns
    -------
    p_value : float
    count : int
        Statistics at or above ``threshold`` among those drawn (``exceedances`` when it stopped).
    drawn : int
    """
    count = drawn = 0
    for batch in statistics:
        hits = np.flatnonzero(batch >= threshold)
        if count + hits.size >= exceedances:
            stop = drawn + int(hits[int(exceedances) - count - 1]) + 1
            return exceedances / stop, int(exceedances), stop
        count, drawn = count + hits.size, drawn + batch.size
    return (count + 1) / (drawn + 1), count, drawn


def _draw_rows(rng: np.random.Generator, totals: np.ndarray, m: int, size: int) -> np.ndarray:
    """``size`` rows of ``m`` items drawn without replacement from items counted by ``totals`` (as floats).

    Few items from many: ``m`` distinct positions among the items, drawn with
    replacement and redrawn when a row repeats one (rare by the bound on
    ``m**2``), so the cost is O(m log m) a row. Otherwise numpy's multivariate
    hypergeometric sampler ("count" below ``_COUNT_METHOD_MAX_TOTAL`` items, else "marginals"); beyond
    its limit of 1e9 items, the multinomial of the pooled frequencies (with replacement, an approximation
    that only such tables need).
    """
    n, k = int(totals.sum()), totals.size
    if m * m > 0.05 * n and n >= _EXACT_SAMPLER_MAX_TOTAL:  # numpy's exact samplers stop there: with replacement
        return rng.multinomial(m, totals / n, size=size).astype(float)
    if m * m > 0.05 * n:
        method: Literal["count", "marginals"] = "count" if n <= _COUNT_METHOD_MAX_TOTAL else "marginals"
        return rng.multivariate_hypergeometric(totals, m, size=size, method=method).astype(float)
    positions = np.sort(rng.integers(0, n, size=(size, m)), axis=1)
    repeats = np.flatnonzero((np.diff(positions, axis=1) == 0).any(axis=1))
    while repeats.size:
        positions[repeats] = np.sort(rng.integers(0, n, size=(repeats.size, m)), axis=1)
        repeats = repeats[(np.diff(positions[repeats], axis=1) == 0).any(axis=1)]
    category = np.searchsorted(np.cumsum(totals), positions, side="right")
    flat = (np.arange(size)[:, None] * k + category).ravel()
    return np.bincount(flat, minlength=size * k).reshape(size, k).astype(float)
