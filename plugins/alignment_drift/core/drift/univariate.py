"""Per-column two-sample tests: distribution shift and missing-rate shift.

Each function compares one reference column with one current column and
returns a :class:`UnivariateOutcome` holding the test statistic, the raw
p-value and an effect size on a scale that does not grow with the sample
size. Degenerate inputs never produce a NaN p-value: when a test cannot be
run, ``ran`` is False, ``p_value`` is 1.0 and ``note`` says why.

Counts are tested exactly where approximations fail: the missing rate by
Fisher's exact test, sparse category tables by a Monte-Carlo p-value with
both margins fixed (:mod:`~alignment_drift.core.drift.exact`). Every outcome
states the smallest p-value it could have given (``min_p_value``), so a
discrete test that cannot reach the level is left out of its correction family.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import special

from .exact import MC_MAX_DRAWS, CategoricalTest, fisher_two_sided, homogeneity_statistic, monte_carlo_homogeneity

if TYPE_CHECKING:
    import pandas as pd

#: Above this many values per side, ks_2samp uses the asymptotic distribution.
EXACT_KS_MAX_N = 10_000
#: Largest number of unseen category names reported.
MAX_UNSEEN_LISTED = 20
INSUFFICIENT_DATA = "insufficient data"


@dataclass(frozen=True)
class UnivariateOutcome:
    """Result of one two-sample test on one column.

    Attributes
    ----------
    test : str
        ``"ks"``, ``"cressie_read"``, ``"chi2"``, ``"g_test"`` or ``"fisher_exact"``.
    statistic : float
        Test statistic (0.0 when the test was not run); for ``"fisher_exact"``
        the pooled z-score of the rate difference, shown for reading only.
    p_value : float
        Raw p-value in ``[0, 1]`` (1.0 when the test was not run).
    effect : float
        Effect size, see ``effect_metric``.
    effect_metric : str
        ``"wasserstein_iqr"``, ``"jensen_shannon"`` or ``"missing_rate_diff"``.
    ran : bool
        False when the data were insufficient and the test was skipped.
    unseen_categories : tuple of str
        Categories present in current but absent in reference (sorted, at
        most ``MAX_UNSEEN_LISTED``); empty for other tests.
    note : str
        Human-readable remark about a fallback or a skipped test.
    min_p_value : float
        Smallest p-value the test could have returned given its margins
        (Tarone 1990): exact for ``"fisher_exact"``, ``1 / (draws + 1)`` for a
        Monte-Carlo p-value, 0.0 for tests treated as continuous, 1.0 when not run.
    """

    test: str
    statistic: float
    p_value: float
    effect: float
    effect_metric: str
    ran: bool = True
    unseen_categories: tuple[str, ...] = ()
    note: str = ""
    min_p_value: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict of the outcome."""
        out = asdict(self)
        out["unseen_categories"] = list(self.unseen_categories)
        return out


def _skipped(test: str, effect_metric: str) -> UnivariateOutcome:
    return UnivariateOutcome(test, 0.0, 1.0, 0.0, effect_metric, ran=False, note=INSUFFICIENT_DATA, min_p_value=1.0)


def _clip_p(p: float) -> float:
    return float(min(max(float(p), 0.0), 1.0))


def _as_1d(values: Sequence[Any] | np.ndarray | pd.Series, name: str, dtype: type) -> np.ndarray:
    try:
        arr: np.ndarray = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The '{name}' parameter must be an array of {dtype.__name__} values. "
            f"Got {type(values).__name__} that cannot be converted instead."
        ) from exc
    if arr.ndim != 1:
        raise ValueError(f"The '{name}' parameter must be 1-D. Got an array of shape {arr.shape} instead.")
    return arr


def numeric_drift(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
) -> UnivariateOutcome:
    """Two-sample Kolmogorov-Smirnov test with a scaled Wasserstein effect.

    Parameters
    ----------
    reference, current : array-like of float, shape (n,)
        Values of the column. NaN and +/-inf are dropped before testing
        (report them through :func:`missing_rate_drift`).

    Returns
    -------
    UnivariateOutcome
        ``test="ks"``; ``effect`` is the Wasserstein distance divided by the
        reference interquartile range (``"wasserstein_iqr"``). If the IQR is
        0 the reference standard deviation is used, and if that is 0 too the
        scale is 1.0; ``note`` records either fallback. With fewer than two
        finite values on either side the test is skipped.
    """
    ref = _as_1d(reference, "reference", float)
    cur = _as_1d(current, "current", float)
    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    if ref.size < 2 or cur.size < 2:
        return _skipped("ks", "wasserstein_iqr")

    from scipy import stats  # here, not at import: a profile's column tests do not need it

    method: Literal["auto", "asymp"] = "auto" if max(ref.size, cur.size) <= EXACT_KS_MAX_N else "asymp"
    with warnings.catch_warnings():
        # "auto" may fall back from exact to asymp with a RuntimeWarning.
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = stats.ks_2samp(ref, cur, method=method)

    q25, q75 = np.percentile(ref, [25.0, 75.0])
    scale = float(q75 - q25)
    note = ""
    if scale <= 0.0:
        scale = float(np.std(ref))
        note = "reference IQR is 0; effect scaled by reference std"
        if scale <= 0.0:
            scale = 1.0
            note = "reference IQR and std are 0; effect scaled by 1.0"
    effect = float(stats.wasserstein_distance(ref, cur)) / scale
    return UnivariateOutcome(
        test="ks",
        statistic=float(ks.statistic),
        p_value=_clip_p(ks.pvalue),
        effect=effect,
        effect_metric="wasserstein_iqr",
        note=note,
    )


def _category_counts(values: np.ndarray) -> dict[str, int]:
    import pandas as pd

    present = values[~pd.isna(values)].astype(str)
    categories, counts = np.unique(present, return_counts=True)
    return dict(zip(categories.tolist(), counts.tolist(), strict=True))


def categorical_drift(
    reference: Sequence[Any] | np.ndarray | pd.Series,
    current: Sequence[Any] | np.ndarray | pd.Series,
    *,
    test: CategoricalTest = "cressie_read",
) -> UnivariateOutcome:
    """Test of homogeneity (Monte-Carlo p-value when counts are sparse) with a Jensen-Shannon effect.

    Parameters
    ----------
    reference, current : array-like, shape (n,)
        Values of the column; compared as strings. Missing values (None,
        NaN, NaT, pd.NA) are dropped (report them through
        :func:`missing_rate_drift`).
    test : {"cressie_read", "chi2", "g_test"}, default="cressie_read"
        The statistic: Cressie and Read's power divergence with lambda = 2/3,
        Pearson's chi-square or the log-likelihood ratio G (see
        :func:`categorical_counts_drift`).

    Returns
    -------
    UnivariateOutcome
        The test of the 2 x K table of counts over the union of
        observed categories (no continuity correction); the p-value is the
        asymptotic one when every expected count is at least
        ``MIN_EXPECTED``, else a Monte-Carlo one (see
        :func:`categorical_counts_drift`); ``effect`` is the
        base-2 Jensen-Shannon distance in ``[0, 1]`` between the two
        frequency vectors (``"jensen_shannon"``). Categories present in
        current but not in reference are listed in ``unseen_categories``.
        With fewer than two present values on either side the test is
        skipped.
    """
    ref_counts = _category_counts(_as_1d(reference, "reference", object))
    cur_counts = _category_counts(_as_1d(current, "current", object))
    return categorical_counts_drift(ref_counts, cur_counts, test=test)


#: The chi-square distribution is used only when every expected count reaches this (Cochran's rule).
MIN_EXPECTED = 5.0


def categorical_counts_drift(
    ref_counts: dict[str, int],
    cur_counts: dict[str, int],
    *,
    test: CategoricalTest = "cressie_read",
    other: str | None = None,
) -> UnivariateOutcome:
    """:func:`categorical_drift` on category counts (what a reference profile keeps).

    ``other`` names the reference's bucket of folded rare categories: current
    categories missing from ``ref_counts`` are then counted in that bucket
    (they may have been among the folded ones) instead of being reported as
    unseen.

    ``test`` picks the statistic, a power divergence (Cressie and Read 1984):
    ``"cressie_read"`` (lambda = 2/3, the default), ``"chi2"`` (Pearson's,
    lambda = 1) or ``"g_test"`` (the log-likelihood ratio, lambda = 0). Their
    p-values are equally valid; they differ in power. Pearson's weighs a
    cell's deviation by its expected count, so on a sparse table the noise of
    a rare level swamps a shift between common ones; G is the reverse. At
    n = 100 against 10,000 reference rows, at level 0.0036, a swap of a 55 %
    and a 36 % level is found in 0.67 of batches with lambda = 2/3, 0.62
    with Pearson's and 0.71 with G, and 4 % more rows in a 1.5 % level in
    0.27, 0.29 and 0.16 (``bench/categorical_power.py``).

    When an expected count is below ``MIN_EXPECTED`` the chi-square
    distribution overstates significance, and pooling the sparse categories
    would hide a shift into them; the p-value is then a sequential Monte-Carlo
    one over tables with both margins fixed
    (:func:`~alignment_drift.core.drift.exact.monte_carlo_homogeneity`: seeded
    by the counts, at most ``MC_MAX_DRAWS`` tables), stated in ``note``.
    """
    if sum(ref_counts.values()) < 2 or sum(cur_counts.values()) < 2:
        return _skipped(test, "jensen_shannon")
    note = ""
    if other is not None and other in ref_counts:
        folded = {k: v for k, v in cur_counts.items() if k not in ref_counts}
        if folded:
            cur_counts = {k: v for k, v in cur_counts.items() if k in ref_counts}
            cur_counts[other] = cur_counts.get(other, 0) + sum(folded.values())
            note = f"{len(folded)} current categories outside the profile's top categories counted in {other}"
    unseen_all = sorted(set(cur_counts) - set(ref_counts))
    unseen = tuple(unseen_all[:MAX_UNSEEN_LISTED])
    if len(unseen_all) > MAX_UNSEEN_LISTED:
        note = f"{len(unseen_all)} unseen categories; first {MAX_UNSEEN_LISTED} listed"

    categories = sorted(set(ref_counts) | set(cur_counts))
    table = np.array(
        [[counts.get(c, 0) for c in categories] for counts in (ref_counts, cur_counts)],
        dtype=float,
    )
    table = table[:, table.sum(axis=0) > 0]
    statistic, p_value, effect, min_p = 0.0, 1.0, 0.0, 1.0
    if table.shape[1] >= 2:  # one shared category only: nothing can differ
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        if expected.min() >= MIN_EXPECTED:
            statistic, p_value = _homogeneity(table, expected, test)
            min_p = 0.0
        else:
            statistic, p_value, draws = monte_carlo_homogeneity(table, test=test)
            min_p = 1.0 / (MC_MAX_DRAWS + 1)
            mc_note = (
                f"Monte-Carlo p-value over {draws} tables with the margins fixed "
                f"(an expected count is below {MIN_EXPECTED:g})"
            )
            note = f"{note}; {mc_note}" if note else mc_note
        freqs = table / table.sum(axis=1, keepdims=True)
        distance = _jensen_shannon(freqs[0], freqs[1])
        effect = min(max(distance, 0.0), 1.0) if math.isfinite(distance) else 0.0
    return UnivariateOutcome(
        test=test,
        statistic=statistic,
        p_value=p_value,
        effect=effect,
        effect_metric="jensen_shannon",
        unseen_categories=unseen,
        note=note,
        min_p_value=min_p,
    )


def _homogeneity(table: np.ndarray, expected: np.ndarray, test: CategoricalTest) -> tuple[float, float]:
    """The power divergence of a 2 x K table (see :func:`~alignment_drift.core.drift.exact.homogeneity_statistic`)
    and its chi-square p-value on K - 1 degrees of freedom (``scipy.stats.chi2_contingency`` without correction,
    ``lambda_`` = 2/3, 1 or "log-likelihood")."""
    statistic = float(homogeneity_statistic(table[1], table.sum(axis=0), int(table[1].sum()), test))
    return statistic, _clip_p(special.chdtrc(table.shape[1] - 1, statistic))


def _jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """The base-2 Jensen-Shannon distance between two frequency vectors (``scipy.spatial.distance.jensenshannon``)."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0
    divergence = (special.rel_entr(p, m).sum() + special.rel_entr(q, m).sum()) / 2.0
    return float(np.sqrt(divergence / np.log(2.0)))


def missing_rate_drift(
    n_missing_reference: int,
    n_reference: int,
    n_missing_current: int,
    n_current: int,
) -> UnivariateOutcome:
    """Fisher's exact test of the missing rate.

    Parameters
    ----------
    n_missing_reference, n_reference : int
        Missing and total counts in the reference column.
    n_missing_current, n_current : int
        Missing and total counts in the current column.

    Returns
    -------
    UnivariateOutcome
        ``test="fisher_exact"``: the two-sided p-value given both margins,
        exact at any count (the pooled z-test it replaces gave p = 5.8e-4
        for 50/10,000 against 3/100, where the exact value is 0.015);
        ``statistic`` is the pooled z-score, for reading; ``min_p_value`` is
        the smallest p-value attainable with these margins. ``effect`` is
        ``|rate_current - rate_reference|`` (``"missing_rate_diff"``). When
        both rates are 0 or both are 1 the p-value is 1.0. With an empty side
        the test is skipped.

    Examples
    --------
    >>> out = missing_rate_drift(50, 10_000, 3, 100)
    >>> out.test, round(out.p_value, 3)
    ('fisher_exact', 0.015)
    """
    counts = (n_missing_reference, n_reference, n_missing_current, n_current)
    names = ("n_missing_reference", "n_reference", "n_missing_current", "n_current")
    for name, value in zip(names, counts, strict=True):
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not is_int or value < 0:
            raise ValueError(f"The '{name}' parameter must be an int in [0, inf). Got {value!r} instead.")
    for k, n, side in (
        (n_missing_reference, n_reference, "reference"),
        (n_missing_current, n_current, "current"),
    ):
        if k > n:
            raise ValueError(f"The 'n_missing_{side}' parameter must be in [0, n_{side}]. Got {k!r} instead.")
    if n_reference == 0 or n_current == 0:
        return _skipped("fisher_exact", "missing_rate_diff")

    rate_ref = n_missing_reference / n_reference
    rate_cur = n_missing_current / n_current
    effect = abs(rate_cur - rate_ref)
    pooled = (n_missing_reference + n_missing_current) / (n_reference + n_current)
    z = 0.0
    if pooled not in (0.0, 1.0):
        z = (rate_cur - rate_ref) / math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_reference + 1.0 / n_current))
    p, min_p = fisher_two_sided(int(n_missing_reference), int(n_reference), int(n_missing_current), int(n_current))
    return UnivariateOutcome(
        test="fisher_exact",
        statistic=float(z),
        p_value=_clip_p(p),
        effect=float(effect),
        effect_metric="missing_rate_diff",
        min_p_value=float(min_p),
    )
