"""Multivariate drift detectors: a domain classifier and a kernel MMD test.

Per-column tests miss changes in the joint distribution, e.g. two columns that
become correlated while each keeps its marginal. These detectors test the joint
distribution of the declared columns; like alibi-detect's, they take the
reference in the constructor and a batch in ``test``. Each side is subsampled
to at most ``max_rows`` rows (seeded, without replacement), so time and memory
are bounded for any batch size.

``test(batch)`` uses one reference draw made at construction;
``test(batch, seed=s)`` redraws it, and every other random choice, from all the
reference rows (raw data or a profile's ``reservoir.rows``). Nights against one
reference pass a per-night seed (:func:`~alignment_drift.core.drift.reservoir.seed_from`):
with one draw, an unlucky draw false-alarms night after night.

Encoding: numeric columns become ``(x - median) / IQR`` with the reference's
median and IQR (std if the IQR is 0, then 1). Categorical values are compared
as strings against the reference's ``MAX_CATEGORIES`` most frequent
categories, plus "unseen" (new or rarer) and "missing". The MMD test's kernel
needs vectors: a missing numeric value (NaN, +/-inf) becomes the median plus a
0/1 indicator column (for each numeric column with a missing value in either
subsample), and each categorical column is one-hot encoded. The domain
classifier takes the columns as they are: a missing value stays NaN (the
gradient-boosted trees route it themselves) and a categorical column is one
column of category codes, split natively. One-hot, a test took about 2.7
times as long (118 columns against 25 for 20 numeric and 5 categorical
columns of 3-50 levels, 5,000 rows a side) with no more power, and missed a
relationship between a many-level column and a number that reverses
(``bench/README.md``, section 15).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import pdist, squareform
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from .columns import as_float
from .detector import _check_columns, _check_frame, _check_real
from .joint_kernels import mmd_permutation_test, out_of_fold_scores

MultivariateMethod = Literal["domain_classifier", "mmd"]
#: Most frequent reference categories per column that get their own one-hot column.
MAX_CATEGORIES = 100
#: The MMD test stops permuting once this many permuted statistics reach the observed one (Besag-Clifford).
MMD_EXCEEDANCES = 50


@dataclass(frozen=True)
class MultivariateDrift:
    """Outcome of one multivariate drift test.

    Attributes
    ----------
    method : {"domain_classifier", "mmd"}
    statistic : float
        Out-of-fold ROC AUC of the domain classifier, or the unbiased MMD^2.
    p_value : float
        In ``[0, 1]``; 1.0 when the test could not run (see ``detail``).
    alpha : float
    drift : bool
        ``p_value <= alpha``.
    n_reference, n_current : int
        Rows actually used, after subsampling.
    detail : str
        One sentence: what was computed on how many rows.
    """

    method: MultivariateMethod
    statistic: float
    p_value: float
    alpha: float
    drift: bool
    n_reference: int
    n_current: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (plain Python str, float, int and bool only)."""
        cast: dict[str, Any] = {"method": str, "detail": str, "drift": bool, "n_reference": int, "n_current": int}
        return {f.name: cast.get(f.name, float)(getattr(self, f.name)) for f in fields(self)}


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    number = int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None
    if number is None or number < low or (high is not None and number > high):
        interval = f"[{low}, inf)" if high is None else f"[{low}, {high}]"
        raise ValueError(f"The '{name}' parameter must be an int in {interval}. Got {value!r} instead.")


def _subsample(frame: pd.DataFrame, max_rows: int, seed: list[int]) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame
    rows = np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False)
    return frame.iloc[np.sort(rows)]


class _Encoder:
    """Reference-fitted numeric scaling and categorical vocabularies (see the module docstring)."""

    def __init__(self, reference: pd.DataFrame, numeric: tuple[str, ...], categorical: tuple[str, ...]) -> None:
        self.numeric, self.categorical = numeric, categorical
        self.center, self.scale = np.zeros(len(numeric)), np.ones(len(numeric))
        for j, col in enumerate(numeric):
            values = as_float(reference[col])
            values = values[np.isfinite(values)]
            if values.size:
                q25, q50, q75 = np.percentile(values, [25, 50, 75])
                spread = q75 - q25 if q75 > q25 else float(np.std(values))
                self.center[j], self.scale[j] = q50, spread if spread > 0 else 1.0
        self.categories: list[pd.Index] = []
        for col in categorical:
            counts = reference[col].dropna().astype(str).value_counts(sort=True)
            self.categories.append(pd.Index(sorted(counts.index[:MAX_CATEGORIES])))

    def encode(self, frame: pd.DataFrame, *, onehot: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Return the features and the numeric missing mask.

        ``onehot``: scaled numeric columns (missing at 0, the median) then one-hot blocks, and the mask. Otherwise
        scaled numeric columns (missing as NaN) then one column of codes per categorical column (``len(categories)``
        for unseen, NaN for missing), and an empty mask.
        """
        n = len(frame)
        missing = np.zeros((n, len(self.numeric)), dtype=bool)
        blocks = [np.full((n, len(self.numeric)), 0.0 if onehot else np.nan)]
        for j, col in enumerate(self.numeric):
            values = as_float(frame[col])
            missing[:, j] = ~np.isfinite(values)
            blocks[0][~missing[:, j], j] = (values[~missing[:, j]] - self.center[j]) / self.scale[j]
        for col, cats in zip(self.categorical, self.categories, strict=True):
            raw = frame[col].astype(object)
            codes = cats.get_indexer(pd.Index(raw.astype(str)))
            codes[codes < 0] = len(cats)  # unseen
            absent = raw.isna().to_numpy()
            if not onehot:
                column = codes.astype(np.float64)
                column[absent] = np.nan
                blocks.append(column[:, None])
                continue
            codes[absent] = len(cats) + 1  # missing
            block = np.zeros((n, len(cats) + 2))
            block[np.arange(n), codes] = 1.0
            blocks.append(block)
        return np.hstack(blocks), (missing if onehot else missing[:, :0])


class _SubsampledDetector:
    """Validation, reference subsample and encoding shared by both detectors."""

    max_rows: int
    random_state: int
    #: One-hot vectors (MMD's kernel) or columns as they are (the classifier's trees); see the module docstring.
    _onehot: bool = True

    def _fit_reference(
        self, reference: object, numeric: object, categorical: object, alpha: object, min_rows: int
    ) -> None:
        frame = _check_frame("reference", reference)
        num_cols, cat_cols = _check_columns("numeric", numeric), _check_columns("categorical", categorical)
        if not num_cols and not cat_cols:
            raise ValueError(
                "The 'numeric' and 'categorical' parameters must name at least one column. "
                f"Got {numeric!r} and {categorical!r} instead."
            )
        both = sorted(set(num_cols) & set(cat_cols))
        if both:
            raise ValueError(f"The 'numeric' and 'categorical' parameters must not share columns. Got {both} instead.")
        for name, cols in (("numeric", num_cols), ("categorical", cat_cols)):
            absent = [c for c in cols if c not in frame.columns]
            if absent:
                raise ValueError(
                    f"The '{name}' parameter must name columns of 'reference'. Got {absent}, which are not in "
                    f"reference, instead. Add them to reference or remove them from '{name}'."
                )
        _check_real("alpha", alpha, 0.0, 1.0, "(0, 1)")
        _check_int("max_rows", self.max_rows, min_rows)
        _check_int("random_state", self.random_state, 0, 2**32 - 1)
        self._columns = num_cols + cat_cols
        self._rows = frame[list(self._columns)]  # copy-on-write: later edits of 'reference' do not leak in
        self._encoder = _Encoder(frame, num_cols, cat_cols)
        sample = _subsample(frame, self.max_rows, [self.random_state, 0])
        self._reference_features, self._reference_missing = self._encoder.encode(sample, onehot=self._onehot)

    def _stream(self, seed: int | None, tag: int) -> list[int]:
        """Entropy of random stream ``tag`` (0 reference, 1 batch, 3 permutations, 4 model; 2 unused) of a test."""
        return [self.random_state, tag] if seed is None else [self.random_state, seed, tag, 1]

    def _model_seed(self, seed: int | None) -> int:
        state = np.random.SeedSequence(self._stream(seed, 4)).generate_state(1)
        return self.random_state if seed is None else int(state[0])

    def _encode_batch(self, batch: object, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Encoded (reference, batch) subsamples, with the missing indicators either side needs."""
        if seed is not None:
            _check_int("seed", seed, 0, 2**32 - 1)
        frame = _check_frame("batch", batch)
        absent = [c for c in self._columns if c not in frame.columns]
        if absent:
            raise ValueError(
                f"The batch is missing column(s) {absent} that this {type(self).__name__} was built with. "
                "Add them to the batch, or build the detector with 'numeric'/'categorical' naming only batch columns."
            )
        features, missing = self._encoder.encode(
            _subsample(frame, self.max_rows, self._stream(seed, 1)), onehot=self._onehot
        )
        ref_features, ref_missing = (
            (self._reference_features, self._reference_missing)
            if seed is None
            else self._encoder.encode(_subsample(self._rows, self.max_rows, self._stream(seed, 0)), onehot=self._onehot)
        )
        keep = ref_missing.any(axis=0) | missing.any(axis=0)
        return np.hstack([ref_features, ref_missing[:, keep]]), np.hstack([features, missing[:, keep]])


def _result(
    method: MultivariateMethod, statistic: float, p_value: float, alpha: float, n_ref: int, n_cur: int, detail: str
) -> MultivariateDrift:
    p = min(max(p_value, 0.0), 1.0) if math.isfinite(p_value) else 1.0
    return MultivariateDrift(method, float(statistic), float(p), float(alpha), bool(p <= alpha), n_ref, n_cur, detail)


class DomainClassifierDrift(_SubsampledDetector):
    """Detect drift by training a classifier to tell batch rows from reference rows.

    Reference rows are labelled 0, batch rows 1, and every row of both samples (each at most ``max_rows``) is used,
    unequal sides included: the AUC does not depend on the classes' proportions, and the variance of the rank
    statistic falls with both sides (``1/n_ref + 1/n_cur``), so a 1,000-row batch against a 10,000-row reference
    sample is tested with ten times the reference rows a balanced subsample would keep.
    ``HistGradientBoostingClassifier(max_iter=50, max_depth=3)`` (no early stopping; categorical columns split
    natively, missing values left as NaN) is fitted with stratified K-fold. The statistic is the ROC AUC of the
    out-of-fold probabilities; the p-value is a one-sided Mann-Whitney U test of batch-row scores greater than
    reference-row scores (AUC = U / (n_ref * n_cur)), a calibrated test rather than a fixed AUC cut-off.

    The textbook Mann-Whitney p-value assumes independent scores, but each fold's model learnt the other folds'
    labels, so a pair of rows in different folds enters U from both sides. With no drift this makes the variance of U
    up to about twice the textbook value (twice for scores linear in the training labels, 1.8-1.9 times measured
    here), and the textbook p-value gave 8-13% false alarms at alpha = 0.05 in no-drift simulations (60 to 2000 rows
    per side). The z-score is therefore divided by sqrt(2), which gave 2.5-5.0% in the same simulations. With unequal
    sides (10,000 reference rows against 20, 100 or 1,000 batch rows, and 300 against 10,000; real and skewed data)
    the corrected p-value gave 1.7-4.0% false alarms at 0.05 (the textbook variance was 1.6-1.9 times too small).

    Parameters
    ----------
    reference : pandas.DataFrame
        Reference sample (e.g. the training data), at least 1 row.
    numeric, categorical : sequence of str, default=()
        Columns to encode (see the module docstring); together at least one, not shared.
    alpha : float, default=0.05
        Significance level, in (0, 1).
    n_folds : int, default=5
        Stratified folds, in [2, inf). With fewer than ``2 * n_folds`` rows on a side the test is not run.
    max_rows : int, default=10000
        Rows kept per side, in [2 * n_folds, inf).
    random_state : int, default=0
        Seed for the subsamples, folds and classifier, in [0, 2**32 - 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    >>> cur = pd.DataFrame({"x": rng.normal(1.0, size=400), "y": rng.normal(size=400)})
    >>> result = DomainClassifierDrift(ref, numeric=["x", "y"]).test(cur)
    >>> result.drift, result.statistic > 0.6
    (True, True)
    """

    _onehot = False

    def __init__(
        self,
        reference: pd.DataFrame,
        *,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        alpha: float = 0.05,
        n_folds: int = 5,
        max_rows: int = 10_000,
        random_state: int = 0,
    ) -> None:
        self.reference, self.numeric, self.categorical, self.alpha = reference, numeric, categorical, alpha
        self.n_folds, self.max_rows, self.random_state = n_folds, max_rows, random_state
        _check_int("n_folds", n_folds, 2)
        self._fit_reference(reference, numeric, categorical, alpha, min_rows=2 * n_folds)

    def test(self, batch: pd.DataFrame, *, seed: int | None = None) -> MultivariateDrift:
        """Test a batch (every declared column, at least 1 row); ``seed`` in [0, 2**32 - 1] redraws (module doc)."""
        x_ref, x_cur = self._encode_batch(batch, seed)
        n_ref, n_cur = len(x_ref), len(x_cur)
        if min(n_ref, n_cur) < 2 * self.n_folds:
            why = (
                f"Domain classifier not run: {n_ref} reference and {n_cur} batch rows, but each side "
                f"needs at least 2 * n_folds = {2 * self.n_folds}."
            )
            return _result("domain_classifier", 0.5, 1.0, self.alpha, n_ref, n_cur, why)
        model_seed = self._model_seed(seed)
        labels = np.repeat([0, 1], [n_ref, n_cur])
        # the columns after the numeric ones are category codes, split natively (one-hot blocks are not)
        codes = [] if self._onehot else list(range(len(self._encoder.numeric), x_ref.shape[1]))
        model = HistGradientBoostingClassifier(
            max_iter=50, max_depth=3, early_stopping=False, categorical_features=codes or None, random_state=model_seed
        )
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=model_seed)
        scores = out_of_fold_scores(model, np.vstack([x_ref, x_cur]), labels, folds)
        auc = float(roc_auc_score(labels, scores))
        plain = stats.mannwhitneyu(scores[n_ref:], scores[:n_ref], alternative="greater", method="asymptotic").pvalue
        p = float(stats.norm.sf(stats.norm.isf(plain) / math.sqrt(2.0)))  # K-fold dependence, see the docstring
        detail = (
            f"{self.n_folds}-fold out-of-fold AUC {auc:.3f} of a gradient-boosted domain classifier on {n_ref} "
            f"reference vs {n_cur} batch rows (every sampled row of both sides); one-sided Mann-Whitney U p-value "
            f"{p:.3g} (null variance doubled for the cross-fitting)."
        )
        return _result("domain_classifier", auc, p, self.alpha, n_ref, n_cur, detail)


class MMDDrift(_SubsampledDetector):
    """Detect drift with a kernel maximum mean discrepancy (MMD) permutation test.

    The kernel is Gaussian, ``exp(-d^2 / (2 * bandwidth^2))`` on the encoded rows, with the bandwidth set to the
    median pairwise distance of the pooled subsample (1.0 if that is 0). The statistic is the unbiased MMD^2. Pooled
    rows are reassigned (one kernel matrix, reused) until ``MMD_EXCEEDANCES`` permuted statistics reach the observed
    one (p = that count / permutations drawn; Besag-Clifford) or ``permutations`` were drawn (p = ``(k + 1) / (B +
    1)``): exact, never 0 (alibi-detect, issue 960, computes ``k / B``), about 200 permutations on a drift-free batch.
    Memory is O(max_rows^2) whatever the batch size.

    Parameters
    ----------
    reference : pandas.DataFrame
        Reference sample (e.g. the training data), at least 1 row.
    numeric, categorical : sequence of str, default=()
        Columns to encode (see the module docstring); together at least one, not shared.
    alpha : float, default=0.05
        Significance level, in (0, 1). The smallest attainable p-value is ``1 / (permutations + 1)``.
    max_rows : int, default=1500
        Rows kept per side, in [2, inf).
    permutations : int, default=999
        Most permutations ``B`` drawn, in [1, inf).
    random_state : int, default=0
        Seed for the subsamples and permutations, in [0, 2**32 - 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    >>> cur = pd.DataFrame({"x": rng.normal(1.0, size=300), "y": rng.normal(size=300)})
    >>> result = MMDDrift(ref, numeric=["x", "y"], permutations=99).test(cur)
    >>> result.drift, result.p_value
    (True, 0.01)
    """

    def __init__(
        self,
        reference: pd.DataFrame,
        *,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        alpha: float = 0.05,
        max_rows: int = 1500,
        permutations: int = 999,
        random_state: int = 0,
    ) -> None:
        self.reference, self.numeric, self.categorical, self.alpha = reference, numeric, categorical, alpha
        self.max_rows, self.permutations, self.random_state = max_rows, permutations, random_state
        _check_int("permutations", permutations, 1)
        self._fit_reference(reference, numeric, categorical, alpha, min_rows=2)

    def test(self, batch: pd.DataFrame, *, seed: int | None = None) -> MultivariateDrift:
        """Test a batch (every declared column, at least 1 row); ``seed`` in [0, 2**32 - 1] redraws (module doc)."""
        x_ref, x_cur = self._encode_batch(batch, seed)
        m, n = len(x_ref), len(x_cur)
        if m < 2 or n < 2:
            why = f"MMD not run: {m} reference and {n} batch rows, but each side needs at least 2."
            return _result("mmd", 0.0, 1.0, self.alpha, m, n, why)
        distances = pdist(np.vstack([x_ref, x_cur]))  # condensed: O(max_rows^2)
        median = float(np.median(distances))
        bandwidth = median if median > 0 else 1.0
        np.square(distances, out=distances)
        distances *= -0.5 / bandwidth**2
        kernel = squareform(np.exp(distances, out=distances))  # zero diagonal
        mmd2, p, k, drawn = mmd_permutation_test(
            kernel, m, self.permutations, self._stream(seed, 3), exceedances=MMD_EXCEEDANCES
        )
        how_p = f"{k} / {drawn}" if k >= MMD_EXCEEDANCES else f"({k} + 1) / ({drawn} + 1)"
        how = f"median-heuristic bandwidth {bandwidth:.3g}" if median > 0 else "bandwidth 1.0 (median distance is 0)"
        detail = (
            f"Unbiased MMD^2 {mmd2:.3g} with a Gaussian kernel ({how}) on {m} reference vs {n} batch rows; "
            f"permutation p-value {how_p} = {p:.3g}."
        )
        return _result("mmd", mmd2, p, self.alpha, m, n, detail)
