"""Column tests of a batch against a reference profile (no reference rows needed).

Numeric columns: the two-sample Kolmogorov–Smirnov statistic between the
reference summary's CDF and the batch's exact empirical CDF. The batch
column is sorted once and the summary's points are located in it, so the cost
is one sort of the batch column plus ``O(bins log n)``. The statistic is exact
against the summary, hence within the summary's ``error_bound`` of the exact
two-sample statistic (and equal to it when the summary is exact). The p-value
is the two-sided distribution at ``n_ref·n/(n_ref+n)`` as scipy's
``ks_2samp(method="asymp")`` (its Kolmogorov limit beyond 10,000). The effect is the Wasserstein-1
distance between the two quantile functions on a 2,048-point probability
grid, divided by the reference IQR.

A batch given as its own mergeable summary (the partition-mapped path of a
large batch, :func:`numeric_summary_drift`) is tested the same way: an exact
summary is expanded to its values; a compressed one is compared as a step
CDF, so the statistic is within the sum of both summaries' error bounds of
the exact two-sample statistic.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from alignment_drift.core.drift.profile import OTHER, ColumnProfile
from alignment_drift.core.drift.sketch import QuantileSummary
from alignment_drift.core.drift.univariate import (
    EXACT_KS_MAX_N,
    UnivariateOutcome,
    categorical_counts_drift,
    numeric_drift,
)

__all__ = [
    "EXPAND_MAX_N",
    "categorical_profile_drift",
    "ks_statistic",
    "numeric_profile_drift",
    "numeric_summary_drift",
]

#: An exact batch summary with at most this many points is expanded and tested as rows (bit-identical results).
EXPAND_MAX_N = 5_000_000

_GRID = (np.arange(2048) + 0.5) / 2048


def ks_statistic(profile: ColumnProfile, current_sorted: np.ndarray) -> float:
    """``sup_x |F_ref(x) - F_cur(x)|`` with ``F_ref`` the profile's summary, evaluated exactly."""
    summary = profile.summary
    assert summary is not None
    v = summary.values
    cum = np.cumsum(summary.weights) / summary.n
    before = np.concatenate(([0.0], cum[:-1]))
    n = current_sorted.size
    le = np.searchsorted(current_sorted, v, side="right") / n  # F_cur(v_i)
    lt = np.searchsorted(current_sorted, v, side="left") / n  # F_cur(v_i^-)
    # F_ref is constant on [v_i, v_{i+1}); F_cur climbs from F_cur(v_i) to F_cur(v_{i+1}^-)
    return float(max(np.max(np.abs(cum - le)), np.max(np.abs(before - lt))))


def numeric_profile_drift(profile: ColumnProfile, current: np.ndarray) -> UnivariateOutcome:
    """KS test and Wasserstein/IQR effect of finite ``current`` values against a numeric column profile."""
    summary = profile.summary
    assert summary is not None
    if summary.n < 2 or current.size < 2:
        return UnivariateOutcome(
            test="ks",
            statistic=0.0,
            p_value=1.0,
            effect=0.0,
            effect_metric="wasserstein_iqr",
            note="insufficient data",
            ran=False,
        )
    if summary.exact and max(summary.n, current.size) <= EXACT_KS_MAX_N:
        # small data: the reference is recoverable exactly, so use the exact two-sample test
        return numeric_drift(summary.expand(), current)
    current_sorted = np.sort(current)
    d = ks_statistic(profile, current_sorted)
    en = summary.n * current.size / (summary.n + current.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # kstwo is exact for the one-sample statistic at size en but costs ~1 s at en = 500k;
        # beyond 10k its limit, Kolmogorov's distribution, agrees to 1e-6 (checked in the tests)
        dist = stats.kstwobign.sf(d * np.sqrt(en)) if en > 10_000 else stats.kstwo.sf(d, np.round(en))
        p = float(np.clip(dist, 0.0, 1.0))
    scale, note = profile.scale()
    q_ref = summary.quantiles(_GRID)
    q_cur = current_sorted[np.minimum((_GRID * current.size).astype(np.int64), current.size - 1)]
    effect = float(np.mean(np.abs(q_ref - q_cur))) / scale
    if not summary.exact:
        bound = f"KS within {summary.error_bound:.2g} of the exact statistic (summary bound)"
        note = f"{note}; {bound}" if note else bound
    return UnivariateOutcome(
        test="ks", statistic=d, p_value=p, effect=effect, effect_metric="wasserstein_iqr", note=note
    )


def numeric_summary_drift(profile: ColumnProfile, current: QuantileSummary) -> UnivariateOutcome:
    """KS test and Wasserstein/IQR effect of a batch column given as a mergeable summary.

    An exact summary of at most :data:`EXPAND_MAX_N` points is expanded and
    tested exactly as :func:`numeric_profile_drift` tests rows. Otherwise both
    CDFs are step functions, so ``sup |F_ref - F_cur|`` is attained on the
    union of their points and is computed exactly there; it is within
    ``profile.summary.error_bound + current.error_bound`` of the exact
    two-sample statistic (stated in the note).
    """
    summary = profile.summary
    assert summary is not None
    if current.exact and current.n <= EXPAND_MAX_N:
        return numeric_profile_drift(profile, current.expand())
    if summary.n < 2 or current.n < 2:
        return numeric_profile_drift(profile, np.empty(0))
    points = np.union1d(summary.values, current.values)
    d = float(np.max(np.abs(summary.cdf(points) - current.cdf(points))))
    en = summary.n * current.n / (summary.n + current.n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dist = stats.kstwobign.sf(d * np.sqrt(en)) if en > 10_000 else stats.kstwo.sf(d, np.round(en))
        p = float(np.clip(dist, 0.0, 1.0))
    scale, note = profile.scale()
    effect = float(np.mean(np.abs(summary.quantiles(_GRID) - current.quantiles(_GRID)))) / scale
    bound = f"KS within {summary.error_bound + current.error_bound:.2g} of the exact statistic (summary bounds)"
    note = f"{note}; {bound}" if note else bound
    return UnivariateOutcome(
        test="ks", statistic=d, p_value=p, effect=effect, effect_metric="wasserstein_iqr", note=note
    )


def categorical_profile_drift(
    profile: ColumnProfile, current_counts: dict[str, int], *, test: str = "chi2"
) -> UnivariateOutcome:
    """Chi-square (or G) test and Jensen–Shannon effect of current category counts against the profile's."""
    return categorical_counts_drift(profile.counts, current_counts, test=test, other=OTHER)  # type: ignore[arg-type]
