"""Tests for alignment_drift.core.drift.univariate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from alignment_drift.core.drift.univariate import (
    MAX_UNSEEN_LISTED,
    MIN_EXPECTED,
    categorical_counts_drift,
    categorical_drift,
    missing_rate_drift,
    numeric_drift,
)

RNG = np.random.default_rng(20240601)
NORMAL_A = RNG.normal(size=400)
NORMAL_B = RNG.normal(size=400)

NUMERIC_CASES = [
    # (reference, current, p_is_small, expected_effect or None, note substring)
    pytest.param(
        np.full(50, 3.0),
        np.full(60, 3.0),
        False,
        0.0,
        "IQR and std are 0",
        id="constant-identical",
    ),
    pytest.param(
        np.full(50, 3.0),
        np.full(60, 5.0),
        True,
        2.0,
        "scaled by 1.0",
        id="constant-different-unit-scale",
    ),
    pytest.param(
        np.r_[np.zeros(90), np.ones(10)],
        np.r_[np.zeros(90), np.ones(10)],
        False,
        0.0,
        "scaled by reference std",
        id="zero-iqr-std-fallback",
    ),
    pytest.param(
        np.array([1.0]),
        NORMAL_B,
        False,
        0.0,
        "insufficient data",
        id="reference-single-value",
    ),
    pytest.param(
        NORMAL_A,
        np.array([np.nan, np.inf, 2.0]),
        False,
        0.0,
        "insufficient data",
        id="current-one-finite-value",
    ),
    pytest.param(NORMAL_A, NORMAL_B + 1.0, True, None, "", id="one-std-shift"),
]


@pytest.mark.parametrize(("ref", "cur", "p_small", "effect", "note"), NUMERIC_CASES)
def test_numeric_drift_cases(ref: np.ndarray, cur: np.ndarray, p_small: bool, effect: float | None, note: str) -> None:
    out = numeric_drift(ref, cur)
    assert out.test == "ks"
    assert out.effect_metric == "wasserstein_iqr"
    assert math.isfinite(out.p_value) and 0.0 <= out.p_value <= 1.0
    assert (out.p_value < 1e-3) is p_small
    if effect is not None:
        assert out.effect == pytest.approx(effect)
    assert note in out.note
    if note == "insufficient data":
        assert (out.ran, out.p_value, out.statistic, out.effect) == (
            False,
            1.0,
            0.0,
            0.0,
        )


def test_numeric_effect_is_wasserstein_over_reference_iqr() -> None:
    out = numeric_drift(NORMAL_A, NORMAL_B + 1.0)
    iqr = np.subtract(*np.percentile(NORMAL_A, [75, 25]))
    expected = stats.wasserstein_distance(NORMAL_A, NORMAL_B + 1.0) / iqr
    assert out.effect == pytest.approx(expected)
    assert out.p_value == pytest.approx(stats.ks_2samp(NORMAL_A, NORMAL_B + 1.0).pvalue)


def test_numeric_drift_ignores_non_finite_values() -> None:
    noisy = np.r_[NORMAL_B, [np.nan, np.inf, -np.inf]]
    assert numeric_drift(NORMAL_A, noisy) == numeric_drift(NORMAL_A, NORMAL_B)


def _draw(probs: dict[str, float], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(list(probs), size=n, p=list(probs.values())).astype(object)


BASE = {"a": 0.6, "b": 0.3, "c": 0.1}
SWAPPED = {"a": 0.3, "b": 0.6, "c": 0.1}

CATEGORICAL_CASES = [
    pytest.param(_draw(BASE, 1000, 1), _draw(SWAPPED, 1000, 2), True, (), "", id="frequency-swap"),
    pytest.param(_draw(BASE, 1000, 3), _draw(BASE, 1000, 4), False, (), "", id="same-frequencies"),
    pytest.param(
        np.array(["x"] * 30, dtype=object),
        np.array(["x"] * 40, dtype=object),
        False,
        (),
        "",
        id="single-category-identical",
    ),
    pytest.param(
        _draw(BASE, 500, 5),
        np.r_[_draw(BASE, 500, 6), ["zeta", "eta", "eta"]],
        False,
        ("eta", "zeta"),
        "",
        id="unseen-listed-sorted",
    ),
    pytest.param(
        np.array(["a", None, np.nan], dtype=object),
        _draw(BASE, 50, 7),
        False,
        (),
        "insufficient data",
        id="reference-one-present-value",
    ),
]


@pytest.mark.parametrize(("ref", "cur", "p_small", "unseen", "note"), CATEGORICAL_CASES)
def test_categorical_drift_cases(
    ref: np.ndarray, cur: np.ndarray, p_small: bool, unseen: tuple[str, ...], note: str
) -> None:
    out = categorical_drift(ref, cur)
    assert out.test == "cressie_read"
    assert out.effect_metric == "jensen_shannon"
    assert math.isfinite(out.p_value) and 0.0 <= out.p_value <= 1.0
    assert 0.0 <= out.effect <= 1.0
    assert (out.p_value < 1e-3) is p_small
    assert out.unseen_categories == unseen
    assert note in out.note


def test_categorical_frequency_swap_has_large_effect() -> None:
    out = categorical_drift(_draw(BASE, 2000, 8), _draw(SWAPPED, 2000, 9))
    assert out.effect > 0.2


def test_categorical_values_compared_as_strings_and_missing_dropped() -> None:
    ref = np.array([1] * 10 + [2] * 20 + [None, np.nan], dtype=object)
    cur = np.array(["1"] * 10 + ["2"] * 20 + ["3"] * 14, dtype=object)
    out = categorical_drift(ref, cur)
    assert out.unseen_categories == ("3",)
    expected = stats.chi2_contingency([[10, 20, 0], [10, 20, 14]], correction=False, lambda_="cressie-read")
    assert out.statistic == pytest.approx(expected.statistic)
    pearson = stats.chi2_contingency([[10, 20, 0], [10, 20, 14]], correction=False)
    assert categorical_drift(ref, cur, test="chi2").statistic == pytest.approx(pearson.statistic)


def test_sparse_categories_get_a_monte_carlo_p_value_so_small_batches_do_not_false_alarm() -> None:
    """50 equally likely levels, batches of 10: raw chi-square would flag ~8 % at p < 0.001."""
    rng = np.random.default_rng(0)
    levels = np.array([f"l{i}" for i in range(50)], dtype=object)
    ref = rng.choice(levels, 10_000)
    p_values = [categorical_drift(ref, rng.choice(levels, 10)).p_value for _ in range(400)]
    assert np.mean(np.array(p_values) <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 400)
    out = categorical_drift(ref, rng.choice(levels, 10))
    assert "Monte-Carlo p-value" in out.note


def test_unseen_categories_truncated_with_note() -> None:
    ref = np.array(["a", "b"] * 10, dtype=object)
    cur = np.array([f"new{i:02d}" for i in range(30)], dtype=object)
    out = categorical_drift(ref, cur)
    assert len(out.unseen_categories) == MAX_UNSEEN_LISTED
    assert out.unseen_categories == tuple(sorted(cur))[:MAX_UNSEEN_LISTED]
    assert "30 unseen categories" in out.note


MISSING_CASES = [
    pytest.param((0, 100, 0, 80), 1.0, 0.0, id="both-rates-zero"),
    pytest.param((100, 100, 80, 80), 1.0, 0.0, id="both-rates-one"),
    pytest.param((0, 1000, 300, 1000), None, 0.3, id="thirty-percent-injected"),
    pytest.param((0, 0, 3, 10), 1.0, 0.0, id="empty-reference-skipped"),
]


@pytest.mark.parametrize(("counts", "p_value", "effect"), MISSING_CASES)
def test_missing_rate_drift_cases(counts: tuple[int, int, int, int], p_value: float | None, effect: float) -> None:
    out = missing_rate_drift(*counts)
    assert out.effect_metric == "missing_rate_diff"
    assert out.effect == pytest.approx(effect)
    if p_value is None:
        assert out.p_value < 1e-10
    else:
        assert out.p_value == p_value


def test_missing_rate_p_is_fishers_exact_and_statistic_the_pooled_z() -> None:
    out = missing_rate_drift(12, 400, 31, 500)
    table = [[12, 388], [31, 469]]
    chi2 = stats.chi2_contingency(table, correction=False)
    assert out.test == "fisher_exact"
    assert out.statistic**2 == pytest.approx(chi2.statistic)
    assert out.p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-9)


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        pytest.param(
            (-1, 10, 0, 10),
            r"The 'n_missing_reference' parameter must be "
            r"an int in \[0, inf\)\. Got -1 instead\.",
            id="negative-count",
        ),
        pytest.param(
            (0, 10, 0.5, 10),
            r"The 'n_missing_current' parameter must be "
            r"an int in \[0, inf\)\. Got 0\.5 instead\.",
            id="float-count",
        ),
        pytest.param(
            (11, 10, 0, 10),
            r"The 'n_missing_reference' parameter must be "
            r"in \[0, n_reference\]\. Got 11 instead\.",
            id="more-missing-than-n",
        ),
    ],
)
def test_missing_rate_validation(counts: tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        missing_rate_drift(*counts)  # type: ignore[arg-type]


def test_two_dimensional_input_rejected() -> None:
    with pytest.raises(ValueError, match=r"The 'reference' parameter must be 1-D\."):
        numeric_drift(np.zeros((3, 2)), np.zeros(3))


@pytest.mark.parametrize("test", ["cressie_read", "chi2", "g_test"])
def test_the_homogeneity_test_is_scipys_chi2_contingency(test) -> None:
    """The statistic and p-value computed without ``scipy.stats`` equal ``chi2_contingency`` on many tables."""
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(7)
    lambda_ = {"cressie_read": "cressie-read", "chi2": None, "g_test": "log-likelihood"}[test]
    for _ in range(200):
        k = int(rng.integers(2, 30))
        probs = rng.dirichlet(np.ones(k))
        ref = rng.multinomial(int(rng.integers(2_000, 50_000)), probs)
        cur = rng.multinomial(int(rng.integers(2_000, 50_000)), rng.dirichlet(probs * 200 + 0.1))
        keep = (ref + cur) > 0
        table = np.array([ref[keep], cur[keep]], dtype=float)
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        if expected.min() < MIN_EXPECTED or table.shape[1] < 2:
            continue
        out = categorical_counts_drift(
            {str(i): int(v) for i, v in enumerate(table[0])},
            {str(i): int(v) for i, v in enumerate(table[1])},
            test=test,
        )
        want = stats.chi2_contingency(table, correction=False, lambda_=lambda_)
        assert out.statistic == pytest.approx(want.statistic, rel=1e-9)
        assert out.p_value == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)
        freqs = table / table.sum(axis=1, keepdims=True)
        assert out.effect == pytest.approx(float(jensenshannon(freqs[0], freqs[1], base=2.0)), rel=1e-9, abs=1e-12)
