"""Tests for alignment_drift.core.drift.multiple_testing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from alignment_drift.core.drift import adjust_p_values
from alignment_drift.core.drift.multiple_testing import tarone_family

RNG_VECTOR = np.random.default_rng(7).uniform(size=25) ** 3

BH_CASES = [
    pytest.param([0.01, 0.04, 0.03, 0.005], id="four-values"),
    pytest.param([0.2], id="single"),
    pytest.param([0.0, 1.0, 0.5, 0.5, 0.02], id="ties-and-bounds"),
    pytest.param([0.001] * 6 + [0.9] * 4, id="block-ties"),
    pytest.param(RNG_VECTOR, id="seeded-random-25"),
]


@pytest.mark.parametrize("p_values", BH_CASES)
def test_bh_matches_scipy_false_discovery_control(p_values: list[float]) -> None:
    expected = stats.false_discovery_control(np.asarray(p_values), method="bh")
    np.testing.assert_allclose(adjust_p_values(p_values, method="bh"), expected)


HAND_CASES = [
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> cummax 0.06
    pytest.param(
        "holm",
        [0.01, 0.04, 0.03, 0.005],
        [0.03, 0.06, 0.06, 0.02],
        id="holm-step-down-monotone",
    ),
    pytest.param("holm", [0.3, 0.6], [0.6, 0.6], id="holm-monotone-two"),
    pytest.param("holm", [0.5, 0.9], [1.0, 1.0], id="holm-capped"),
    pytest.param(
        "bonferroni",
        [0.01, 0.04, 0.03, 0.005],
        [0.04, 0.16, 0.12, 0.02],
        id="bonferroni-times-m",
    ),
    pytest.param("bonferroni", [0.3, 0.5], [0.6, 1.0], id="bonferroni-capped"),
    # sorted: 0.005*4/1, 0.01*4/2, 0.03*4/3, 0.04*4/4 -> all step-up minima
    pytest.param(
        "bh",
        [0.01, 0.04, 0.03, 0.005],
        [0.02, 0.04, 0.04, 0.02],
        id="bh-step-up-monotone",
    ),
]


@pytest.mark.parametrize(("method", "p_values", "expected"), HAND_CASES)
def test_hand_computed_vectors(method: str, p_values: list[float], expected: list[float]) -> None:
    np.testing.assert_allclose(adjust_p_values(p_values, method=method), expected)


@pytest.mark.parametrize("method", ["bh", "holm", "bonferroni"])
def test_nan_stays_nan_and_does_not_count(method: str) -> None:
    p = [0.01, np.nan, 0.04, np.nan, 0.03]
    out = adjust_p_values(p, method=method)
    assert np.isnan(out[[1, 3]]).all()
    np.testing.assert_allclose(out[[0, 2, 4]], adjust_p_values([0.01, 0.04, 0.03], method=method))


@pytest.mark.parametrize("method", ["bh", "holm", "bonferroni"])
def test_adjusted_is_monotone_bounded_and_not_below_raw(method: str) -> None:
    out = adjust_p_values(RNG_VECTOR, method=method)
    order = np.argsort(RNG_VECTOR)
    assert np.all(np.diff(out[order]) >= -1e-15)
    assert np.all(out >= RNG_VECTOR - 1e-15)
    assert np.all(out <= 1.0)


@pytest.mark.parametrize(
    "p_values",
    [pytest.param([], id="empty"), pytest.param([np.nan, np.nan], id="all-nan")],
)
def test_no_observed_tests(p_values: list[float]) -> None:
    out = adjust_p_values(p_values)
    assert out.shape == (len(p_values),)
    assert np.isnan(out).all()


INVALID = [
    pytest.param(
        {"p_values": [0.1], "method": "fdr"},
        r"The 'method' parameter must be one of .*Got 'fdr' instead\.",
        id="unknown-method",
    ),
    pytest.param(
        {"p_values": [0.1, 1.5]},
        r"The 'p_values' parameter must contain values in \[0, 1\] or NaN\. "
        r"Got 1\.5 instead\.",
        id="above-one",
    ),
    pytest.param(
        {"p_values": [-0.1]},
        r"must contain values in \[0, 1\] or NaN\. Got -0\.1 instead\.",
        id="negative",
    ),
    pytest.param(
        {"p_values": [[0.1, 0.2]]},
        r"The 'p_values' parameter must be 1-D\. Got an array of shape "
        r"\(1, 2\) instead\.",
        id="two-dimensional",
    ),
    pytest.param(
        {"p_values": ["a"]},
        r"The 'p_values' parameter must be a sequence of floats\.",
        id="not-numeric",
    ),
]


@pytest.mark.parametrize(("kwargs", "match"), INVALID)
def test_validation_messages(kwargs: dict[str, object], match: str) -> None:
    kwargs = dict(kwargs)
    p_values = kwargs.pop("p_values")
    with pytest.raises(ValueError, match=match):
        adjust_p_values(p_values, **kwargs)  # type: ignore[arg-type]


TARONE_CASES = [
    # (smallest attainable p-values, alpha, expected family, expected K)
    pytest.param([0.0, 0.0, 0.6, 0.004, math.nan], 0.05, [True, True, False, True, False], 3, id="mixed"),
    pytest.param([0.0] * 4, 0.05, [True] * 4, 4, id="all-continuous"),
    pytest.param([1.0, 1.0, 0.0], 0.05, [False, False, True], 1, id="only-one-can-reject"),
    pytest.param([0.02, 0.02, 0.02, 0.02], 0.05, [False] * 4, 3, id="none-reaches-alpha-over-k"),
    pytest.param([], 0.05, [], 1, id="empty"),
]


@pytest.mark.parametrize(("floors", "alpha", "expected", "k"), TARONE_CASES)
def test_tarone_family_keeps_only_the_tests_that_can_reject(
    floors: list[float], alpha: float, expected: list[bool], k: int
) -> None:
    in_family, got_k = tarone_family(floors, alpha)
    assert in_family.tolist() == expected and got_k == k
    # K is the smallest with #{min_p <= alpha / K} <= K, and the family is exactly those tests
    assert int(in_family.sum()) <= got_k
    finite = np.nan_to_num(np.asarray(floors, dtype=float), nan=np.inf)
    assert np.array_equal(in_family, finite <= alpha / got_k)
