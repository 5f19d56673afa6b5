"""Column tests of a batch against a reference profile (no reference rows needed).

Numeric columns: the two-sample Kolmogorov–Smirnov statistic between the
reference summary's CDF and the batch's exact empirical CDF. The batch
column is sorted once and the summary's points are located in it, so the cost
is one sort of the batch column plus ``O(bins log n)``. The statistic is exact
against the summary (and equal to the exact two-sample statistic when the
summary is exact). The p-value is the two-sided distribution at
``n_ref·n/(n_ref+n)`` as scipy's ``ks_2samp(method="asymp")`` (its Kolmogorov
limit beyond 10,000). The effect is the Wasserstein-1 distance between the two
quantile functions on a 2,048-point probability grid, divided by the reference
IQR.

A batch given as its own mergeable summary (the partition-mapped path of a
large batch, :func:`numeric_summary_drift`) is tested the same way: an exact
summary is expanded to its values; a compressed one is compared as a step
CDF.

**Sketch-aware p-values.** A compressed summary's CDF lags the data's by a
proven amount (:mod:`~alignment_drift.core.drift.sketch`): ``F_ref(x) -
e_ref <= S_ref(x) <= F_ref(x)`` and likewise for the batch with ``e_cur``
(``0`` for rows). With ``g = S_ref - S_cur`` and ``h = F_ref - F_cur`` this
gives ``g(x) - e_cur <= h(x) <= g(x) + e_ref`` at every ``x`` (and left
limit), so the exact statistic ``D = sup |h|`` satisfies

    D >= D_low = max(0, sup g - e_cur, sup(-g) - e_ref) >= sup |g| - (e_ref + e_cur).

``D_low`` is a deterministic lower bound on ``D``, and a KS p-value is
non-increasing in its statistic, so ``p(D_low) >= p(D)`` on every sample:
the p-value of ``D_low`` rejects (at any ``α``) only when the same test on
the rows themselves does, so it is at least as conservative as that test
(whose Kolmogorov p-value is itself conservative with ties), whatever the
error bounds. This is
the p-value reported; the reported ``statistic`` stays the summary's ``sup
|g|`` and the note gives both, and the bounds used. (The p-value of ``sup
|g|`` itself was not valid: the lag adds up to ``e_ref``, which at 1M rows
a side already inflated the no-shift rejection rate above ``α``; see
``bench/sketch_ks.py``.) With exact summaries ``e_ref = e_cur = 0`` and
``D_low = D``: nothing changes.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special

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
    "ks_lower_bound",
    "ks_p_value",
    "ks_statistic",
    "numeric_profile_drift",
    "numeric_summary_drift",
]

#: An exact batch summary with at most this many points is expanded and tested as rows (bit-identical results).
EXPAND_MAX_N = 5_000_000

_GRID = (np.arange(2048) + 0.5) / 2048


def _ks_sides(profile: ColumnProfile, current_sorted: np.ndarray) -> tuple[float, float]:
    """``(sup (S_ref - F_cur), sup (F_cur - S_ref))`` with ``S_ref`` the profile's summary, evaluated exactly."""
    summary = profile.summary
    assert summary is not None
    v = summary.values
    cum = np.cumsum(summary.weights) / summary.n
    before = np.concatenate(([0.0], cum[:-1]))
    n = current_sorted.size
    le = np.searchsorted(current_sorted, v, side="right") / n  # F_cur(v_i)
    lt = np.searchsorted(current_sorted, v, side="left") / n  # F_cur(v_i^-)
    # S_ref is constant on [v_i, v_{i+1}); F_cur climbs from F_cur(v_i) to F_cur(v_{i+1}^-)
    upper = max(np.max(cum - le), np.max(before - lt))
    lower = max(np.max(le - cum), np.max(lt - before))
    return float(upper), float(lower)


def ks_statistic(profile: ColumnProfile, current_sorted: np.ndarray) -> float:
    """``sup_x |F_ref(x) - F_cur(x)|`` with ``F_ref`` the profile's summary, evaluated exactly."""
    return max(_ks_sides(profile, current_sorted))


def ks_lower_bound(upper: float, lower: float, lag_ref: float, lag_cur: float) -> float:
    """The proven lower bound on the exact two-sample KS statistic from the summaries' one-sided sides.

    Parameters
    ----------
    upper, lower : float
        ``sup (S_ref - S_cur)`` and ``sup (S_cur - S_ref)`` of the summaries' CDFs.
    lag_ref, lag_cur : float
        The summaries' ``error_bound`` (each CDF lags its data's by at most that, never leads it;
        0 for exact data).

    Returns
    -------
    float
        ``max(0, upper - lag_cur, lower - lag_ref)`` <= the exact statistic (module docstring);
        ``max(upper, lower)`` itself when both lags are 0.

    Examples
    --------
    >>> ks_lower_bound(0.010, 0.004, 0.001, 0.0)  # the summary's lag cannot have raised S_ref - F_cur
    0.01
    >>> round(ks_lower_bound(0.004, 0.010, 0.001, 0.0), 6)  # but may have raised F_cur - S_ref by 0.001
    0.009
    """
    return max(0.0, upper - lag_cur, lower - lag_ref)


def ks_p_value(d: float, en: float) -> float:
    """The two-sided KS p-value of statistic ``d`` at effective size ``en`` (non-increasing in ``d``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # kstwo is exact for the one-sample statistic at size en but costs ~1 s at en = 500k;
        # beyond 10k its limit, Kolmogorov's distribution, agrees to 1e-6 (checked in the tests)
        # (Kolmogorov's survival function is scipy.special.kolmogorov, what stats.kstwobign.sf computes)
        if en > 10_000:
            dist = special.kolmogorov(d * np.sqrt(en))
        else:
            from scipy import stats

            dist = stats.kstwo.sf(d, np.round(en))
        return float(np.clip(dist, 0.0, 1.0))


def _bound_note(d: float, d_low: float, lag_ref: float, lag_cur: float, *, batch_summary: bool) -> str:
    if batch_summary:
        bounds = f"summary bounds: reference {lag_ref:.2g}, batch {lag_cur:.2g}"
        what = "between the summaries"
    else:
        bounds = f"summary bound {lag_ref:.2g}"
        what = "against the summary"
    return (
        f"KS {d:.4g} {what} is within {lag_ref + lag_cur:.2g} of the exact statistic ({bounds}; one-sided CDF "
        f"lags); p-value of its proven lower bound {d_low:.4g}"
    )


def numeric_profile_drift(profile: ColumnProfile, current: np.ndarray) -> UnivariateOutcome:
    """KS test and Wasserstein/IQR effect of finite ``current`` values against a numeric column profile.

    With a compressed profile the p-value is that of the proven lower bound on
    the exact statistic (module docstring), so it stays valid at any size.
    """
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
    upper, lower = _ks_sides(profile, current_sorted)
    d = max(upper, lower)
    d_low = ks_lower_bound(upper, lower, summary.error_bound, 0.0)
    p = ks_p_value(d_low, summary.n * current.size / (summary.n + current.size))
    scale, note = profile.scale()
    q_ref = summary.quantiles(_GRID)
    q_cur = current_sorted[np.minimum((_GRID * current.size).astype(np.int64), current.size - 1)]
    effect = float(np.mean(np.abs(q_ref - q_cur))) / scale
    if not summary.exact:
        bound = _bound_note(d, d_low, summary.error_bound, 0.0, batch_summary=False)
        note = f"{note}; {bound}" if note else bound
    return UnivariateOutcome(
        test="ks", statistic=d, p_value=p, effect=effect, effect_metric="wasserstein_iqr", note=note
    )


def numeric_summary_drift(profile: ColumnProfile, current: QuantileSummary) -> UnivariateOutcome:
    """KS test and Wasserstein/IQR effect of a batch column given as a mergeable summary.

    An exact summary of at most :data:`EXPAND_MAX_N` points is expanded and
    tested exactly as :func:`numeric_profile_drift` tests rows. Otherwise both
    CDFs are step functions, so ``sup |S_ref - S_cur|`` is attained on the
    union of their points and is computed exactly there; it is within
    ``profile.summary.error_bound + current.error_bound`` of the exact
    two-sample statistic, and the p-value is that of the proven lower bound on
    the exact statistic (module docstring; both bounds stated in the note).
    """
    summary = profile.summary
    assert summary is not None
    if current.exact and current.n <= EXPAND_MAX_N:
        return numeric_profile_drift(profile, current.expand())
    if summary.n < 2 or current.n < 2:
        return numeric_profile_drift(profile, np.empty(0))
    points = np.union1d(summary.values, current.values)
    gap = summary.cdf(points) - current.cdf(points)
    upper, lower = float(np.max(gap)), float(np.max(-gap))
    d = max(upper, lower)
    lag_ref, lag_cur = summary.error_bound, current.error_bound
    d_low = ks_lower_bound(upper, lower, lag_ref, lag_cur)
    p = ks_p_value(d_low, summary.n * current.n / (summary.n + current.n))
    scale, note = profile.scale()
    effect = float(np.mean(np.abs(summary.quantiles(_GRID) - current.quantiles(_GRID)))) / scale
    if lag_ref + lag_cur > 0:
        bound = _bound_note(d, d_low, lag_ref, lag_cur, batch_summary=True)
    else:  # both exact (a batch too large to expand): the statistic is exact
        bound = f"KS within {0.0:.2g} of the exact statistic (summary bounds)"
    note = f"{note}; {bound}" if note else bound
    return UnivariateOutcome(
        test="ks", statistic=d, p_value=p, effect=effect, effect_metric="wasserstein_iqr", note=note
    )


def categorical_profile_drift(
    profile: ColumnProfile, current_counts: dict[str, int], *, test: str = "cressie_read"
) -> UnivariateOutcome:
    """Test of homogeneity and Jensen–Shannon effect of current category counts against the profile's."""
    return categorical_counts_drift(profile.counts, current_counts, test=test, other=OTHER)  # type: ignore[arg-type]
