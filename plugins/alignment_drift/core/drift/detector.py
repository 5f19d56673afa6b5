"""Batch drift detection against a fixed reference table.

:class:`DriftDetector` runs one distribution test and one missing-rate test
per declared column, adjusts all of their p-values as one multiple-testing
family, and flags a column only when the adjusted p-value is significant
*and* the effect size reaches a practical floor, so that very large batches
do not turn negligible shifts into alarms. The family holds only the tests
that can reject: a discrete test whose smallest attainable p-value cannot
reach the level is left out (Tarone's rule, :func:`tarone_family`), and its
column says so in ``note`` / ``missing_note``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from .columns import numeric_values
from .exact import CATEGORICAL_TESTS, CategoricalTest
from .multiple_testing import CORRECTION_METHODS, CorrectionMethod, adjust_p_values, tarone_family
from .profile import ColumnProfile, ReferenceProfile, column_workers
from .profile_tests import categorical_profile_drift, numeric_profile_drift, numeric_summary_drift
from .result import ColumnDrift, ColumnKind, DriftResult
from .univariate import UnivariateOutcome, missing_rate_drift

if TYPE_CHECKING:
    import pandas as pd


def _check_real(name: str, value: object, low: float, high: float, interval: str) -> None:
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = is_real and math.isfinite(float(value))  # type: ignore[arg-type]
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v >= low if interval[0] == "[" else v > low) and (v <= high if interval[-1] == "]" else v < high)
    if not ok:
        raise ValueError(f"The '{name}' parameter must be in {interval}. Got {value!r} instead.")


def _check_columns(name: str, value: object) -> tuple[str, ...]:
    items: tuple[object, ...] | None = None
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = tuple(value)
    if items is None or not all(isinstance(c, str) for c in items):
        raise TypeError(
            f"The '{name}' parameter must be a sequence of str column names, e.g. ['a', 'b']. Got {value!r} instead."
        )
    columns = tuple(str(c) for c in items)
    if len(set(columns)) != len(columns):
        raise ValueError(f"The '{name}' parameter must not repeat a column. Got {value!r} instead.")
    return columns


def _check_frame(name: str, value: object) -> pd.DataFrame:
    import pandas as pd  # here, not at import: testing a profile against a profile needs no pandas

    if not isinstance(value, pd.DataFrame):
        raise TypeError(
            f"The '{name}' parameter must be an instance of 'pandas.DataFrame'. Got {type(value).__name__!r} instead."
        )
    if len(value) == 0:
        raise ValueError(f"The '{name}' parameter must have at least 1 row. Got 0 rows instead.")
    return value


class DriftDetector:
    """Detect distribution and missing-rate drift of a batch against a reference profile.

    Parameters
    ----------
    reference : pandas.DataFrame or ReferenceProfile
        Reference data (profiled once, here) or a profile fitted earlier and
        loaded from disk — the nightly path, which never touches reference rows.
    numeric : sequence of str, default=()
        Columns tested with two-sample KS; effect is the Wasserstein distance
        over the reference IQR. bool is cast to 0/1, datetimes to seconds.
        NaN and +/-inf count as missing.
    categorical : sequence of str, default=()
        Columns tested with a test of homogeneity (``categorical_test``); effect is
        the base-2 Jensen-Shannon distance. Values are compared as strings.
    alpha : float, default=0.05
        Level applied to adjusted p-values, in (0, 1).
    correction : {"bh", "holm", "bonferroni"}, default="bh"
        Multiple-testing correction over all distribution and missing-rate
        p-values of one :meth:`test` call.
    numeric_effect_floor, categorical_effect_floor : float, default=0.1
        Smallest effect that counts as drift, in [0, inf).
    missing_effect_floor : float, default=0.02
        Smallest absolute change in missing rate that counts as drift.
    categorical_test : {"cressie_read", "chi2", "g_test"}, default="cressie_read"
        The categorical columns' statistic: Cressie and Read's power divergence
        (lambda = 2/3), Pearson's chi-square or the log-likelihood ratio G
        (see :func:`~alignment_drift.core.drift.univariate.categorical_counts_drift`).
    bins : int, default=4096
        Summary size of numeric columns when ``reference`` is a DataFrame.
    max_categories : int, default=200
        Categories kept per column when profiling; the rarest fold into ``__other__``.
    """

    def __init__(
        self,
        reference: pd.DataFrame | ReferenceProfile,
        *,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        alpha: float = 0.05,
        correction: CorrectionMethod = "bh",
        numeric_effect_floor: float = 0.1,
        categorical_effect_floor: float = 0.1,
        missing_effect_floor: float = 0.02,
        categorical_test: CategoricalTest = "cressie_read",
        bins: int = 4096,
        max_categories: int = 200,
    ) -> None:
        num_cols = _check_columns("numeric", numeric)
        cat_cols = _check_columns("categorical", categorical)
        if not num_cols and not cat_cols:
            raise ValueError(
                "The 'numeric' and 'categorical' parameters must name at least one "
                f"column. Got {numeric!r} and {categorical!r} instead."
            )
        both = sorted(set(num_cols) & set(cat_cols))
        if both:
            raise ValueError(
                f"The 'numeric' and 'categorical' parameters must not share columns. Got {both} in both instead."
            )
        _check_real("alpha", alpha, 0.0, 1.0, "(0, 1)")
        if correction not in CORRECTION_METHODS:
            raise ValueError(
                f"The 'correction' parameter must be one of {set(CORRECTION_METHODS)}. Got {correction!r} instead."
            )
        if categorical_test not in CATEGORICAL_TESTS:
            raise ValueError(
                f"The 'categorical_test' parameter must be one of {list(CATEGORICAL_TESTS)}. "
                f"Got {categorical_test!r} instead."
            )
        for name, floor in (
            ("numeric_effect_floor", numeric_effect_floor),
            ("categorical_effect_floor", categorical_effect_floor),
            ("missing_effect_floor", missing_effect_floor),
        ):
            _check_real(name, floor, 0.0, math.inf, "[0, inf)")
        for name, value in (("bins", bins), ("max_categories", max_categories)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise ValueError(f"The '{name}' parameter must be an int >= 2. Got {value!r} instead.")

        self.reference = reference
        self.numeric = numeric
        self.categorical = categorical
        self.alpha = alpha
        self.correction = correction
        self.numeric_effect_floor = numeric_effect_floor
        self.categorical_effect_floor = categorical_effect_floor
        self.missing_effect_floor = missing_effect_floor
        self.categorical_test = categorical_test
        self.bins = bins
        self.max_categories = max_categories

        self._columns: tuple[tuple[str, ColumnKind], ...] = tuple(
            [(c, "numeric") for c in num_cols] + [(c, "categorical") for c in cat_cols]
        )
        self._profile = self._fit_or_check(reference, num_cols, cat_cols)

    def _fit_or_check(
        self, reference: pd.DataFrame | ReferenceProfile, num_cols: tuple[str, ...], cat_cols: tuple[str, ...]
    ) -> ReferenceProfile:
        if isinstance(reference, ReferenceProfile):
            for name, kind in self._columns:
                col = reference.columns.get(name)
                if col is None or col.kind != kind:
                    found = "absent" if col is None else f"profiled as {col.kind}"
                    raise ValueError(
                        f"The reference profile cannot test column {name!r} as {kind}: it is {found}. "
                        "Refit the profile with this column, or declare it with the kind it was profiled as."
                    )
            if reference.n_rows < 1:
                raise ValueError("The 'reference' parameter must hold at least 1 row. Got an empty profile instead.")
            return reference
        frame = _check_frame("reference", reference)
        for name, cols in (("numeric", num_cols), ("categorical", cat_cols)):
            absent = [c for c in cols if c not in frame.columns]
            if absent:
                raise ValueError(
                    f"The '{name}' parameter must name columns of 'reference'. "
                    f"Got {absent}, which are not in reference, instead."
                )
        return ReferenceProfile.fit(
            frame, numeric=num_cols, categorical=cat_cols, bins=self.bins, max_categories=self.max_categories
        )

    @property
    def profile(self) -> ReferenceProfile:
        """The reference profile the batches are tested against."""
        return self._profile

    def _column(
        self, col: ColumnProfile, series: pd.Series, n_cur: int
    ) -> tuple[UnivariateOutcome, UnivariateOutcome, float]:
        if col.kind == "numeric":
            values, k_cur = numeric_values(series)
            dist = numeric_profile_drift(col, values)
        else:
            k_cur = int(series.isna().sum())
            counts = series.value_counts(sort=False, dropna=True)
            cur_counts: dict[str, int] = {}
            for key, value in counts.items():  # distinct raw values may map to one string ("1" and 1)
                if value:
                    cur_counts[str(key)] = cur_counts.get(str(key), 0) + int(value)
            dist = categorical_profile_drift(col, cur_counts, test=self.categorical_test)
        return dist, missing_rate_drift(col.missing, col.n, k_cur, n_cur), k_cur / n_cur

    def test(self, batch: pd.DataFrame) -> DriftResult:
        """Test one batch against the reference.

        Parameters
        ----------
        batch : pandas.DataFrame
            Current data; must contain every declared column and at least 1 row.

        Returns
        -------
        DriftResult
            Per-column verdicts and the overall ``drift`` flag.

        Raises
        ------
        ValueError
            If the batch is empty or lacks declared columns.
        """
        frame = _check_frame("batch", batch)
        absent = [name for name, _ in self._columns if name not in frame.columns]
        if absent:
            raise ValueError(
                f"The batch is missing column(s) {absent} that this DriftDetector "
                "was built with. Add them to the batch, or build a DriftDetector "
                "whose 'numeric'/'categorical' lists only name columns the batch has."
            )
        n_cur = len(frame)
        profiles = [self._profile.columns[name] for name, _ in self._columns]
        with ThreadPoolExecutor(max_workers=column_workers()) as pool:
            outcomes = list(pool.map(lambda col: self._column(col, frame[col.name], n_cur), profiles))
        return self._result(profiles, outcomes, n_cur)

    def test_profile(self, batch: ReferenceProfile) -> DriftResult:
        """Test one batch given as its mergeable profile (e.g. merged from per-partition profiles).

        The batch profile must cover every declared column with the same kind.
        Categorical counts and missing counts are exact; numeric columns are
        tested by :func:`~alignment_drift.core.drift.profile_tests.numeric_summary_drift`:
        identical to :meth:`test` on the rows while the batch summary is exact,
        otherwise within the summaries' stated error bounds.
        """
        if not isinstance(batch, ReferenceProfile):
            raise TypeError(
                "The 'batch' parameter must be an instance of 'ReferenceProfile'. "
                f"Got {type(batch).__name__!r} instead."
            )
        if batch.n_rows < 1:
            raise ValueError("The 'batch' parameter must have at least 1 row. Got 0 rows instead.")
        wrong = [n for n, kind in self._columns if n not in batch.columns or batch.columns[n].kind != kind]
        if wrong:
            raise ValueError(
                f"The batch profile lacks column(s) {wrong} (or profiles them with another kind) that this "
                "DriftDetector was built with. Profile the batch with the detector's 'numeric'/'categorical' lists."
            )
        n_cur = batch.n_rows
        profiles = [self._profile.columns[name] for name, _ in self._columns]
        outcomes = []
        for col in profiles:
            cur = batch.columns[col.name]
            if col.kind == "numeric":
                assert cur.summary is not None
                dist = numeric_summary_drift(col, cur.summary)
            else:
                dist = categorical_profile_drift(col, cur.counts, test=self.categorical_test)
            outcomes.append((dist, missing_rate_drift(col.missing, col.n, cur.missing, n_cur), cur.missing / n_cur))
        return self._result(profiles, outcomes, n_cur)

    def _result(
        self,
        profiles: list[ColumnProfile],
        outcomes: list[tuple[UnivariateOutcome, UnivariateOutcome, float]],
        n_cur: int,
    ) -> DriftResult:
        dist = [d for d, _, _ in outcomes]
        miss = [m for _, m, _ in outcomes]

        # One family of the tests that can reject: tests that were not run, and discrete tests
        # whose smallest attainable p-value is above Tarone's bar, are NaN and do not count.
        tests = dist + miss
        in_family, k = tarone_family([o.min_p_value if o.ran else math.nan for o in tests], self.alpha)
        family = [o.p_value if keep else math.nan for o, keep in zip(tests, in_family, strict=True)]
        adjusted = np.nan_to_num(adjust_p_values(family, method=self.correction), nan=1.0)
        notes = [_left_out(o, keep, self.alpha / k) for o, keep in zip(tests, in_family, strict=True)]
        columns: list[ColumnDrift] = []
        for i, (name, kind) in enumerate(self._columns):
            d, m, col = dist[i], miss[i], profiles[i]
            p_adj, mp_adj = float(adjusted[i]), float(adjusted[len(dist) + i])
            note = "; ".join(n for n in (d.note, notes[i]) if n)
            floor = float(self.numeric_effect_floor if kind == "numeric" else self.categorical_effect_floor)
            columns.append(
                ColumnDrift(
                    name=name,
                    kind=kind,
                    test=d.test,
                    statistic=d.statistic,
                    p_value=d.p_value,
                    p_adjusted=p_adj,
                    effect=d.effect,
                    effect_metric=d.effect_metric,
                    effect_floor=floor,
                    drift=bool(in_family[i] and p_adj <= self.alpha and d.effect >= floor),
                    missing_rate_reference=col.missing_rate,
                    missing_rate_current=outcomes[i][2],
                    missing_p_value=m.p_value,
                    missing_p_adjusted=mp_adj,
                    missing_drift=bool(
                        in_family[len(dist) + i] and mp_adj <= self.alpha and m.effect >= self.missing_effect_floor
                    ),
                    unseen_categories=d.unseen_categories,
                    note=note,
                    in_family=bool(in_family[i]),
                    missing_test=m.test,
                    missing_in_family=bool(in_family[len(dist) + i]),
                    missing_note="; ".join(n for n in (m.note, notes[len(dist) + i]) if n),
                )
            )
        n_drifted = sum(c.drift or c.missing_drift for c in columns)
        return DriftResult(
            drift=n_drifted > 0,
            n_reference=self._profile.n_rows,
            n_current=n_cur,
            alpha=float(self.alpha),
            correction=str(self.correction),
            columns=tuple(columns),
            drift_share=n_drifted / len(columns),
            family_size=int(np.count_nonzero(in_family)),
        )


def _left_out(outcome: UnivariateOutcome, in_family: bool, bar: float) -> str:
    """Why a test that ran is not in the correction family ('' when it is, or did not run)."""
    if in_family or not outcome.ran:
        return ""
    return (
        f"{outcome.test} left out of the correction family: its smallest attainable p-value given the counts, "
        f"{outcome.min_p_value:.2g}, cannot reach {bar:.2g} (alpha / K, Tarone)"
    )
