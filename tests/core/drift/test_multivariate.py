"""Tests for alignment_drift.core.drift.multivariate."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tracemalloc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from alignment_drift.core.drift.joint_kernels import mmd_permutation_test
from alignment_drift.core.drift.multivariate import (
    MMD_EXCEEDANCES,
    DomainClassifierDrift,
    MMDDrift,
    MultivariateDrift,
)

DETECTORS = [
    pytest.param(DomainClassifierDrift, id="domain_classifier"),
    pytest.param(MMDDrift, id="mmd"),
]


@pytest.fixture(autouse=True, scope="module")
def _one_openmp_thread() -> Iterator[None]:
    """Fit HistGradientBoosting on one OpenMP thread.

    On these small fits thread start-up dominates (about 15x slower on a busy 2-core machine); the models are the
    same either way.
    """
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def _normal_frame(rng: np.random.Generator, n: int, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rng.normal(size=(n, len(columns))), columns=columns)


@pytest.mark.parametrize("detector", DETECTORS)
def test_correlation_only_shift_is_flagged_while_univariate_ks_misses_it(detector: type) -> None:
    rng = np.random.default_rng(7)
    n, rho = 2000, 0.9
    reference = _normal_frame(rng, n, ["x", "y"])
    z = rng.normal(size=(n, 2))
    batch = pd.DataFrame({"x": z[:, 0], "y": rho * z[:, 0] + math.sqrt(1 - rho**2) * z[:, 1]})

    # Same N(0, 1) marginals: a per-column test has nothing to see.
    ks_p = [stats.ks_2samp(reference[c], batch[c]).pvalue for c in ("x", "y")]
    assert min(ks_p) > 0.05, ks_p

    result = detector(reference, numeric=["x", "y"]).test(batch)
    assert result.drift and result.p_value <= 0.05, result


@pytest.mark.parametrize("detector", DETECTORS)
def test_half_std_mean_shift_in_one_of_five_columns_is_flagged(detector: type) -> None:
    rng = np.random.default_rng(12)
    columns = ["a", "b", "c", "d", "e"]
    reference, batch = _normal_frame(rng, 1000, columns), _normal_frame(rng, 1000, columns)
    batch["c"] += 0.5
    result = detector(reference, numeric=columns).test(batch)
    assert result.drift and result.p_value <= 0.05, result


def _mixed_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = _normal_frame(rng, n, ["a", "b", "c", "d"])
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    return frame


@pytest.mark.parametrize(
    ("detector", "options", "sizes"),
    [
        pytest.param(DomainClassifierDrift, {}, (500, 500), id="domain_classifier"),
        pytest.param(DomainClassifierDrift, {}, (3000, 40), id="domain_classifier-small-batch"),
        pytest.param(DomainClassifierDrift, {}, (60, 3000), id="domain_classifier-small-reference"),
        pytest.param(MMDDrift, {"permutations": 99}, (500, 500), id="mmd-99-permutations"),
    ],
)
def test_false_alarm_rate_without_shift_is_at_most_alpha(
    detector: type, options: dict[str, Any], sizes: tuple[int, int]
) -> None:
    """40 seeded no-shift repetitions (reference and batch rows as given, 4 numeric + 1 categorical column).

    The alarm rate must stay within 0.05 + 3 binomial standard errors. To keep the test fast MMD uses 99
    permutations (the smallest p-value is then 0.01); max_rows is left at its default (every row is used).
    """
    repetitions, alpha = 40, 0.05
    alarms = 0
    for seed in range(repetitions):
        rng = np.random.default_rng(1000 + seed)
        reference, batch = _mixed_frame(rng, sizes[0]), _mixed_frame(rng, sizes[1])
        test = detector(
            reference, numeric=["a", "b", "c", "d"], categorical=["colour"], random_state=seed, **options
        ).test
        alarms += test(batch).drift
    limit = alpha + 3 * math.sqrt(alpha * (1 - alpha) / repetitions)
    assert alarms / repetitions <= limit, f"{alarms} false alarms in {repetitions} repetitions"


def _permutation_count(result: MultivariateDrift) -> tuple[int, int]:
    """(k, B) as reported in the MMD detail sentence when every permutation was drawn."""
    found = re.search(r"\((\d+) \+ 1\) / \((\d+) \+ 1\)", result.detail)
    assert found, result.detail
    return int(found[1]), int(found[2])


@pytest.mark.parametrize(
    ("case", "expected_k"),
    [
        # With equal sizes the unbiased MMD^2 is increasing in the within-sample kernel sum, which is smallest when
        # every row's duplicate sits in the other sample: no permutation beats it, so k = B.
        pytest.param("batch-identical-to-reference", "B", id="identical-data-k-equals-B"),
        pytest.param("far-apart", 0, id="far-apart-k-is-0"),
    ],
)
def test_mmd_permutation_p_value_is_k_plus_one_over_b_plus_one(case: str, expected_k: int | str) -> None:
    rng = np.random.default_rng(13)
    reference = _normal_frame(rng, 60, ["x", "y"])
    batch = reference.copy() if case == "batch-identical-to-reference" else reference + 10.0
    result = MMDDrift(reference, numeric=["x", "y"], permutations=19).test(batch)
    k, b = _permutation_count(result)
    assert b == 19
    assert k == (b if expected_k == "B" else expected_k)
    assert result.p_value == (k + 1) / (b + 1)
    if k == 0:
        # The smallest attainable p-value with B = 19 is 1/20, never 0, and it counts as drift at alpha = 0.05.
        assert result.p_value == 0.05 and result.drift


def _unbiased_mmd2(kernel: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """Textbook unbiased MMD^2 from explicit index sets (kernel has a zero diagonal)."""
    m, n = len(first), len(second)
    within_x = kernel[np.ix_(first, first)].sum() / (m * (m - 1))
    within_y = kernel[np.ix_(second, second)].sum() / (n * (n - 1))
    return float(within_x + within_y - 2 * kernel[np.ix_(first, second)].mean())


@pytest.mark.parametrize(("m", "n", "permutations"), [(12, 9, 19), (30, 30, 150), (5, 40, 99)])
def test_mmd_permutation_count_matches_a_brute_force_recount(m: int, n: int, permutations: int) -> None:
    """Recount k permutation by permutation (same seeded draws, one index split each, kernel never recomputed)."""
    rng = np.random.default_rng(m + n)
    points = np.vstack([rng.normal(size=(m, 2)), rng.normal(0.3, size=(n, 2))])
    squared = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    kernel = np.exp(-squared / 2)
    np.fill_diagonal(kernel, 0.0)
    observed, _, k, drawn = mmd_permutation_test(kernel, m, permutations, [0, 3])

    assert observed == pytest.approx(_unbiased_mmd2(kernel, np.arange(m), np.arange(m, m + n)), rel=1e-12)
    draws = np.random.default_rng([0, 3])
    permuted = [_unbiased_mmd2(kernel, p[:m], p[m:]) for p in (draws.permutation(m + n) for _ in range(permutations))]
    assert k == sum(s >= observed - 1e-12 for s in permuted) and drawn == permutations

    # sequential: drawing stops at the permutation that brings the count to ``exceedances``
    reached = np.flatnonzero(np.array(permuted) >= observed - 1e-12)
    for exceedances in (1, 3):
        got = mmd_permutation_test(kernel, m, permutations, [0, 3], exceedances=exceedances)[1:]
        if reached.size >= exceedances:
            assert got[1:] == (exceedances, int(reached[exceedances - 1]) + 1)
        else:
            assert got[1:] == (k, permutations)


def test_mmd_sequential_p_value_stays_calibrated_and_stops_early_without_drift() -> None:
    """No shift, 300 draws: P(p <= a) <= a within 3 standard errors at a = 0.05 and 0.2; a drift-free batch stops
    after a few hundred permutations of the 999 allowed, a shifted one draws them all."""
    rng = np.random.default_rng(21)
    p_values, drawn = [], []
    for _ in range(300):
        reference, batch = _normal_frame(rng, 60, ["x", "y"]), _normal_frame(rng, 30, ["x", "y"])
        result = MMDDrift(reference, numeric=["x", "y"]).test(batch)
        p_values.append(result.p_value)
        found = re.search(r"permutation p-value (\d+) / (\d+)", result.detail)
        drawn.append(int(found[2]) if found else 999)
    for a in (0.05, 0.2):
        assert np.mean(np.array(p_values) <= a) <= a + 3 * np.sqrt(a * (1 - a) / 300)
    assert np.mean(drawn) < 300
    shifted = MMDDrift(reference, numeric=["x", "y"]).test(batch + 3.0)
    assert _permutation_count(shifted) == (0, 999) and shifted.p_value == 1 / 1000


@pytest.mark.parametrize("permutations", [1, 19, 99])
@pytest.mark.parametrize("shift", [0.0, 0.3, 0.6])
def test_mmd_p_value_is_a_positive_multiple_of_one_over_b_plus_one(permutations: int, shift: float) -> None:
    rng = np.random.default_rng(14)
    reference, batch = _normal_frame(rng, 80, ["x", "y"]), _normal_frame(rng, 70, ["x", "y"]) + shift
    result = MMDDrift(reference, numeric=["x", "y"], permutations=permutations).test(batch)
    found = re.search(r"permutation p-value (\d+) / (\d+) =", result.detail)
    if found:  # stopped at MMD_EXCEEDANCES permutations at or above the statistic
        assert int(found[1]) == MMD_EXCEEDANCES and int(found[2]) <= permutations
        assert result.p_value == int(found[1]) / int(found[2])
    else:
        k, _ = _permutation_count(result)
        assert 0 <= k < MMD_EXCEEDANCES and k <= permutations
        assert result.p_value == (k + 1) / (permutations + 1)
    assert result.p_value >= 1 / (permutations + 1) > 0


def test_mmd_constant_data_uses_unit_bandwidth_and_p_one() -> None:
    reference = pd.DataFrame({"x": np.full(30, 2.0)})
    result = MMDDrift(reference, numeric=["x"], permutations=19).test(reference.iloc[:20])
    assert result.statistic == 0.0 and result.p_value == 1.0 and not result.drift
    assert "bandwidth 1.0" in result.detail


@pytest.mark.parametrize(("detector", "max_rows"), [(DomainClassifierDrift, 10_000), (MMDDrift, 1500)])
def test_large_batch_is_subsampled_to_max_rows_with_bounded_memory(detector: type, max_rows: int) -> None:
    rng = np.random.default_rng(15)
    reference = _mixed_frame(rng, 10_000)
    batch = _mixed_frame(rng, 300_000)
    tracemalloc.start()
    try:
        result = detector(reference, numeric=["a", "b", "c", "d"], categorical=["colour"]).test(batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.n_current == max_rows and result.n_reference == max_rows
    # An n x n kernel on the full batch would need 720 GB; the subsample keeps the peak far below 1 GB.
    assert peak < 600e6, f"peak traced memory {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("detector", DETECTORS)
def test_reference_encoding_is_fitted_once_and_results_are_reproducible(detector: type) -> None:
    rng = np.random.default_rng(16)
    reference, batch = _mixed_frame(rng, 300), _mixed_frame(rng, 200)
    model = detector(reference, numeric=["a", "b", "c", "d"], categorical=["colour"])
    first = model.test(batch)
    reference["a"] += 100.0  # the fitted reference sample is a copy; later edits do not leak in
    assert model.test(batch) == first


def test_domain_classifier_keeps_every_row_of_unequal_sides_and_says_so() -> None:
    rng = np.random.default_rng(17)
    reference, batch = _normal_frame(rng, 900, ["x", "y"]), _normal_frame(rng, 300, ["x", "y"])
    result = DomainClassifierDrift(reference, numeric=["x", "y"]).test(batch)
    assert (result.n_reference, result.n_current) == (900, 300)
    assert "on 900 reference vs 300 batch rows" in result.detail and "5-fold out-of-fold AUC" in result.detail


def test_domain_classifier_gains_power_from_a_reference_larger_than_the_batch() -> None:
    """A 0.25 sd shift of one of five columns, 400 batch rows: 4,000 reference rows against 400 of them.

    30 seeded repetitions; measured 18 detections with the whole reference and 8 with the 400-row subsample (a
    classifier that balanced the classes by subsampling, as this one did before, found it 11 times).
    """
    whole = subsample = 0
    for seed in range(30):
        rng = np.random.default_rng([2024, seed])
        reference, batch = _mixed_frame(rng, 4000), _mixed_frame(rng, 400)
        batch["a"] += 0.25
        options = {"numeric": ["a", "b", "c", "d"], "categorical": ["colour"], "random_state": seed}
        whole += DomainClassifierDrift(reference, **options).test(batch).drift
        subsample += DomainClassifierDrift(reference.sample(400, random_state=seed), **options).test(batch).drift
    assert whole >= subsample + 6, (whole, subsample)


class _OneHotDomainClassifier(DomainClassifierDrift):
    """The domain classifier on one-hot categories, as it was before categorical columns were split natively."""

    _onehot = True


def _level_interaction(rng: np.random.Generator, n: int, levels: list[str], reversed_: bool) -> pd.DataFrame:
    """``x`` is about +1 on every other level of a 40-level column and -1 on the rest (reversed: the other way)."""
    kind = rng.choice(levels, n)
    sign = np.where(np.isin(kind, levels[::2]), 1.0, -1.0) * (-1.0 if reversed_ else 1.0)
    return pd.DataFrame({"x": sign + rng.normal(0.0, 0.5, n), "y": rng.normal(size=n), "kind": kind})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_domain_classifier_splits_a_many_level_column_natively(seed: int) -> None:
    """A relationship between a 40-level column and a number reverses; no column's own distribution moves.

    One split on the category codes (levels grouped by the trees) separates the two halves of the levels; one-hot
    columns need one split a level and found it at p 0.04-0.7 on 500 rows (code-order splits: 0.05-0.4).
    """
    rng = np.random.default_rng([23, seed])
    levels = [f"L{i:02d}" for i in range(40)]
    reference = _level_interaction(rng, 4000, levels, reversed_=False)
    batch = _level_interaction(rng, 500, levels, reversed_=True)
    assert stats.ks_2samp(reference["x"], batch["x"]).pvalue > 1e-3  # x's own distribution: about the same
    native = DomainClassifierDrift(reference, numeric=["x", "y"], categorical=["kind"]).test(batch, seed=seed)
    onehot = _OneHotDomainClassifier(reference, numeric=["x", "y"], categorical=["kind"]).test(batch, seed=seed)
    assert native.drift and native.p_value < 1e-20, native
    assert onehot.p_value > 1e6 * native.p_value, onehot


def test_domain_classifier_takes_categories_as_codes_and_missing_values_as_nan() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "c": ["a", "b", "a", "b", "a", "c"]})
    batch = pd.DataFrame({"x": [np.nan, np.inf, 2.0, 3.0, 4.0, 5.0], "c": ["b", "new", None, "a", "c", "a"]})
    model = DomainClassifierDrift(reference, numeric=["x"], categorical=["c"], n_folds=2, max_rows=6)
    x_ref, x_cur = model._encode_batch(batch, seed=None)
    assert x_ref.shape == x_cur.shape == (6, 2)  # one column a column, no missing indicators
    np.testing.assert_array_equal(x_cur[:, 1], [1.0, 3.0, np.nan, 0.0, 2.0, 0.0])  # "new" is unseen: code 3
    assert np.isnan(x_cur[:2, 0]).all() and np.isfinite(x_cur[2:, 0]).all()  # NaN and inf are missing
    assert model.test(batch).n_current == 6


def test_domain_classifier_with_too_few_rows_does_not_run() -> None:
    rng = np.random.default_rng(18)
    reference, batch = _normal_frame(rng, 100, ["x"]), _normal_frame(rng, 9, ["x"])
    result = DomainClassifierDrift(reference, numeric=["x"], n_folds=5).test(batch)
    assert (result.p_value, result.drift, result.n_current) == (1.0, False, 9)
    assert "at least 2 * n_folds = 10" in result.detail


@pytest.mark.parametrize("detector", DETECTORS)
def test_unseen_categories_and_missing_values_in_the_batch_are_encoded_not_raised(detector: type) -> None:
    rng = np.random.default_rng(19)
    reference, batch = _mixed_frame(rng, 400), _mixed_frame(rng, 400)
    batch.loc[:199, "colour"] = "ultraviolet"  # half the batch has a category the reference never had
    batch.loc[200:219, "colour"] = None
    batch.loc[::7, "a"] = np.nan
    batch.loc[1, "b"] = np.inf
    result = detector(reference, numeric=["a", "b", "c", "d"], categorical=["colour"]).test(batch)
    assert result.drift, result  # the new category and the new missing values are visible to the detector


@pytest.mark.parametrize("detector", DETECTORS)
def test_declared_columns_missing_from_reference_or_batch_raise_with_names(detector: type) -> None:
    reference = pd.DataFrame({"x": np.arange(20.0), "kind": ["p", "q"] * 10})
    with pytest.raises(ValueError, match=r"Got \['nope', 'gone'\], which are not in reference.*Add them"):
        detector(reference, numeric=["x", "nope", "gone"])
    model = detector(reference, numeric=["x"], categorical=["kind"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['kind'\].*Add them to the batch"):
        model.test(reference[["x"]])


FRAME = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40.0) % 3})


D, M = DomainClassifierDrift, MMDDrift
INT_FROM_2 = "The 'n_folds' parameter must be an int in [2, inf)."
SEED_RANGE = "The 'random_state' parameter must be an int in [0, 4294967295]."
VALIDATION_CASES = [
    pytest.param(D, {"alpha": 0}, ValueError, "The 'alpha' parameter must be in (0, 1). Got 0 instead.", id="alpha-0"),
    pytest.param(
        M, {"alpha": 1.5}, ValueError, "The 'alpha' parameter must be in (0, 1). Got 1.5 instead.", id="alpha-1.5"
    ),
    pytest.param(M, {"alpha": "0.05"}, ValueError, "must be in (0, 1). Got '0.05' instead.", id="alpha-str"),
    pytest.param(M, {"alpha": math.nan}, ValueError, "must be in (0, 1). Got nan instead.", id="alpha-nan"),
    pytest.param(D, {"n_folds": 1}, ValueError, INT_FROM_2 + " Got 1 instead.", id="n_folds-1"),
    pytest.param(D, {"n_folds": 2.5}, ValueError, INT_FROM_2 + " Got 2.5 instead.", id="n_folds-float"),
    pytest.param(D, {"n_folds": True}, ValueError, INT_FROM_2 + " Got True instead.", id="n_folds-bool"),
    pytest.param(
        D,
        {"max_rows": 9},
        ValueError,
        "The 'max_rows' parameter must be an int in [10, inf). Got 9 instead.",
        id="classifier-max_rows-below-2-n_folds",
    ),
    pytest.param(
        M,
        {"max_rows": 1},
        ValueError,
        "The 'max_rows' parameter must be an int in [2, inf). Got 1 instead.",
        id="mmd-max_rows-1",
    ),
    pytest.param(
        M,
        {"permutations": 0},
        ValueError,
        "The 'permutations' parameter must be an int in [1, inf). Got 0",
        id="permutations-0",
    ),
    pytest.param(M, {"random_state": -1}, ValueError, SEED_RANGE + " Got -1 instead.", id="random_state-negative"),
    pytest.param(D, {"random_state": None}, ValueError, SEED_RANGE + " Got None instead.", id="random_state-None"),
    pytest.param(
        M,
        {"numeric": "x"},
        TypeError,
        "The 'numeric' parameter must be a sequence of str column names",
        id="numeric-str",
    ),
    pytest.param(
        M,
        {"categorical": [1]},
        TypeError,
        "The 'categorical' parameter must be a sequence of str",
        id="categorical-not-str",
    ),
    pytest.param(
        M,
        {"numeric": ["x", "x"]},
        ValueError,
        "The 'numeric' parameter must not repeat a column.",
        id="numeric-repeated",
    ),
    pytest.param(
        M,
        {"numeric": []},
        ValueError,
        "parameters must name at least one column. Got [] and () instead.",
        id="no-columns",
    ),
    pytest.param(
        M, {"categorical": ["x"]}, ValueError, "must not share columns. Got ['x'] instead.", id="column-in-both"
    ),
    pytest.param(
        M,
        {"reference": FRAME.to_numpy()},
        TypeError,
        "The 'reference' parameter must be an instance of 'pandas.DataFrame'. Got 'ndarray' instead.",
        id="reference-ndarray",
    ),
    pytest.param(
        D,
        {"reference": FRAME.iloc[:0]},
        ValueError,
        "The 'reference' parameter must have at least 1 row. Got 0 rows instead.",
        id="reference-empty",
    ),
]


@pytest.mark.parametrize(("detector", "options", "error", "message"), VALIDATION_CASES)
def test_parameter_validation_uses_the_sklearn_message(
    detector: type, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"reference": FRAME, "numeric": ["x"], **options}
    with pytest.raises(error, match=re.escape(message)):
        detector(arguments.pop("reference"), **arguments)


@pytest.mark.parametrize("detector", DETECTORS)
def test_batch_must_be_a_non_empty_dataframe(detector: type) -> None:
    model = detector(FRAME, numeric=["x"])
    with pytest.raises(TypeError, match=re.escape("The 'batch' parameter must be an instance of 'pandas.DataFrame'")):
        model.test(FRAME.to_numpy())
    with pytest.raises(ValueError, match=re.escape("The 'batch' parameter must have at least 1 row.")):
        model.test(FRAME.iloc[:0])


@pytest.mark.parametrize("detector", DETECTORS)
def test_result_to_dict_is_json_and_the_result_is_frozen(detector: type) -> None:
    rng = np.random.default_rng(20)
    reference, batch = _mixed_frame(rng, 120), _mixed_frame(rng, 100)
    result = detector(reference, numeric=["a", "b", "c", "d"], categorical=["colour"]).test(batch)
    as_dict = result.to_dict()
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert {type(v) for v in as_dict.values()} <= {str, float, int, bool}
    assert as_dict["drift"] is (as_dict["p_value"] <= as_dict["alpha"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.drift = True  # type: ignore[misc]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_folds_fitted_side_by_side_give_cross_val_predicts_scores(monkeypatch, threads) -> None:
    """The domain classifier's out-of-fold scores equal scikit-learn's ``cross_val_predict``, whatever the threads."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    from alignment_drift.core.drift import joint_kernels

    monkeypatch.setattr(joint_kernels, "FOLD_THREADS", threads)
    rng = np.random.default_rng(threads)
    n = 600
    x = np.vstack([rng.normal(size=(n, 6)), rng.normal(0.2, 1.3, size=(n, 6))])
    labels = np.repeat([0, 1], n)
    model = HistGradientBoostingClassifier(max_iter=20, max_depth=3, early_stopping=False, random_state=11)
    folds = StratifiedKFold(5, shuffle=True, random_state=11)
    with threadpool_limits(limits=1, user_api="openmp"):
        expected = cross_val_predict(model, x, labels, cv=folds, method="predict_proba")[:, 1]
    got = joint_kernels.out_of_fold_scores(model, x, labels, folds)
    np.testing.assert_array_equal(got, expected)
