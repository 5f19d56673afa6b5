"""Tests for alignment_drift.core.drift.detector and output_drift."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.core.drift import (
    ColumnDrift,
    DriftDetector,
    DriftResult,
    output_drift,
)


def _frame(n: int, seed: int, *, shift: float = 0.0, missing: float = 0.0) -> pd.DataFrame:
    """Five numeric and two categorical columns, each with a ``missing`` NaN share."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {f"x{i}": rng.normal(size=n) + shift for i in range(5)}
    data["c0"] = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]).astype(object)
    data["c1"] = rng.choice(["u", "v"], size=n, p=[0.7, 0.3]).astype(object)
    if missing:
        for values in data.values():
            values[rng.random(n) < missing] = None
    return pd.DataFrame(data)


NUMERIC = [f"x{i}" for i in range(5)]
CATEGORICAL = ["c0", "c1"]


def _column(result: DriftResult, name: str) -> ColumnDrift:
    return next(c for c in result.columns if c.name == name)


EFFECT_FLOOR_CASES = [
    # (n per side, shift in std units, flagged). All raw shifts are significant.
    pytest.param(50_000, 0.05, False, id="n50k-shift0.05std-significant-not-flagged"),
    pytest.param(250_000, 0.02, False, id="n250k-shift0.02std-significant-not-flagged"),
    pytest.param(500, 0.5, True, id="n500-shift0.5std-flagged"),
]


@pytest.mark.parametrize(("n", "shift", "flagged"), EFFECT_FLOOR_CASES)
def test_effect_floor_separates_significance_from_drift(n: int, shift: float, flagged: bool) -> None:
    rng = np.random.default_rng(11)
    reference = pd.DataFrame({"x": rng.normal(size=n)})
    batch = pd.DataFrame({"x": rng.normal(size=n) + shift})
    col = DriftDetector(reference, numeric=["x"]).test(batch).columns[0]
    assert col.p_value < 0.01
    assert col.p_adjusted <= 0.05
    assert col.drift is flagged
    assert (col.effect >= col.effect_floor) is flagged


def test_categorical_frequency_swap_flagged_and_unseen_listed() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"c": rng.choice(["a", "b", "c"], 1000, p=[0.6, 0.3, 0.1])})
    current = rng.choice(["a", "b", "c"], 1000, p=[0.3, 0.6, 0.1]).astype(object)
    current[:5] = ["new", "zz", "new", "alpha", "zz"]
    result = DriftDetector(reference, categorical=["c"]).test(pd.DataFrame({"c": current}))
    col = result.columns[0]
    assert (col.kind, col.test, col.effect_metric) == (
        "categorical",
        "cressie_read",
        "jensen_shannon",
    )
    assert col.drift and result.drift
    assert col.unseen_categories == ("alpha", "new", "zz")


def test_constant_identical_column_no_drift() -> None:
    reference = pd.DataFrame({"k": np.full(300, 7.0), "s": ["z"] * 300})
    batch = pd.DataFrame({"k": np.full(200, 7.0), "s": ["z"] * 200})
    result = DriftDetector(reference, numeric=["k"], categorical=["s"]).test(batch)
    for col in result.columns:
        assert (col.p_value, col.effect, col.drift) == (1.0, 0.0, False)
    assert not result.drift


def test_constant_but_different_constants_flagged_with_unit_scale() -> None:
    reference = pd.DataFrame({"k": np.full(300, 7.0)})
    col = DriftDetector(reference, numeric=["k"]).test(pd.DataFrame({"k": np.full(200, 8.0)}))
    col = col.columns[0]
    assert col.p_value < 1e-10 and col.drift
    assert col.effect == pytest.approx(1.0)
    assert "scaled by 1.0" in col.note


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        pytest.param("numeric", [1.5, np.nan, np.nan, np.nan], id="numeric-one-value"),
        pytest.param("categorical", ["a", None, None, None], id="categorical-one-value"),
    ],
)
def test_insufficient_data_never_leaks_nan(kind: str, values: list[Any]) -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"v": rng.normal(size=100) if kind == "numeric" else rng.choice(["a", "b"], 100)})
    detector = DriftDetector(reference, **{kind: ["v"]})
    col = detector.test(pd.DataFrame({"v": values})).columns[0]
    assert col.note == "insufficient data"
    assert (col.p_value, col.p_adjusted, col.statistic, col.effect) == (
        1.0,
        1.0,
        0.0,
        0.0,
    )
    assert not col.drift
    assert col.missing_rate_current == 0.75 and col.missing_drift
    assert all(math.isfinite(v) for v in col.to_dict().values() if isinstance(v, float))


@pytest.mark.parametrize(
    ("kind", "column"),
    [
        pytest.param("numeric", "x0", id="numeric"),
        pytest.param("categorical", "c0", id="categorical"),
    ],
)
def test_missingness_injection_flagged_as_missing_drift_only(kind: str, column: str) -> None:
    reference, batch = _frame(2000, 1), _frame(2000, 2)
    batch.loc[np.random.default_rng(9).random(2000) < 0.3, column] = None
    col = _column(DriftDetector(reference, **{kind: [column]}).test(batch), column)
    assert col.missing_rate_reference == 0.0
    assert col.missing_rate_current == pytest.approx(0.3, abs=0.03)
    assert col.missing_drift and not col.drift
    assert col.unseen_categories == ()  # missing is not a category


def test_bool_and_datetime_columns_are_numeric() -> None:
    n = 400
    reference = pd.DataFrame(
        {
            "flag": np.arange(n) % 2 == 0,
            "when": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
        }
    )
    batch = pd.DataFrame(
        {
            "flag": np.ones(n, dtype=bool),
            "when": reference["when"] + pd.Timedelta(days=30),
        }
    )
    result = DriftDetector(reference, numeric=["flag", "when"]).test(batch)
    flag, when = result.columns
    assert flag.kind == when.kind == "numeric"
    assert flag.drift and when.drift
    assert flag.effect == pytest.approx(0.5)  # W = 0.5, IQR of 0/1 half-half = 1
    # Every stamp moves 30 days; the reference IQR is 0.5 * (n - 1) hours.
    assert when.effect == pytest.approx(30 * 24 / (0.5 * (n - 1)))


def test_nullable_dtypes_count_pd_na_and_nat_as_missing() -> None:
    reference = pd.DataFrame(
        {
            "i": pd.array([1, 2, 3, 4] * 25, dtype="Int64"),
            "b": pd.array([True, False] * 50, dtype="boolean"),
            "t": pd.date_range("2024-01-01", periods=100, freq="D"),
        }
    )
    batch = reference.copy()
    batch.loc[:49, ["i", "b", "t"]] = None
    result = DriftDetector(reference, numeric=["i", "b", "t"]).test(batch)
    for col in result.columns:
        assert col.missing_rate_current == 0.5 and col.missing_drift, col.name
    assert all(math.isfinite(c.p_value) for c in result.columns)


def test_result_to_dict_is_json_and_consistent() -> None:
    reference, batch = _frame(1000, 1), _frame(1000, 2, shift=0.6, missing=0.1)
    result = DriftDetector(reference, numeric=NUMERIC, categorical=CATEGORICAL).test(batch)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["drift"] is True
    assert payload["drifted_columns"] == result.drifted_columns()
    assert len(payload["columns"]) == 7
    assert set(payload["columns"][0]) == set(ColumnDrift.__dataclass_fields__)
    assert isinstance(payload["columns"][5]["unseen_categories"], list)
    assert result.drift_share == pytest.approx(len(result.drifted_columns()) / 7)
    assert set(NUMERIC) <= set(result.drifted_columns())


def test_one_family_for_distribution_and_missing_tests() -> None:
    reference, batch = _frame(500, 1, missing=0.1), _frame(500, 2, missing=0.1)
    result = DriftDetector(reference, numeric=NUMERIC, correction="bonferroni").test(batch)
    assert result.family_size == 10
    for col in result.columns:  # m = 5 distribution + 5 missing-rate tests
        assert col.p_adjusted == pytest.approx(min(col.p_value * 10, 1.0))
        assert col.missing_p_adjusted == pytest.approx(min(col.missing_p_value * 10, 1.0))


def test_missing_rate_tests_that_cannot_reject_leave_the_family() -> None:
    """No value missing on either side: the missing-rate tests cannot reject, so only the 5 KS tests count."""
    reference, batch = _frame(500, 1), _frame(500, 2)
    result = DriftDetector(reference, numeric=NUMERIC, correction="bonferroni").test(batch)
    assert result.family_size == 5
    for col in result.columns:
        assert col.p_adjusted == pytest.approx(min(col.p_value * 5, 1.0))
        assert col.in_family and not col.missing_in_family and col.missing_p_adjusted == 1.0
        assert "left out of the correction family" in col.missing_note
        assert col.to_dict()["missing_test"] == "fisher_exact"


def test_constructor_stores_parameters_unchanged() -> None:
    reference = _frame(50, 1)
    numeric = ["x0"]
    detector = DriftDetector(reference, numeric=numeric, alpha=0.01, correction="holm")
    assert detector.reference is reference and detector.numeric is numeric
    assert (detector.alpha, detector.correction, detector.categorical) == (
        0.01,
        "holm",
        (),
    )


REF = _frame(50, 1)
INVALID: list[Any] = [
    pytest.param(
        {"numeric": ["x0"], "alpha": 1.5},
        ValueError,
        r"The 'alpha' parameter must be in \(0, 1\)\. Got 1\.5 instead\.",
        id="alpha-above",
    ),
    pytest.param(
        {"numeric": ["x0"], "alpha": 0},
        ValueError,
        r"The 'alpha' parameter must be in \(0, 1\)\. Got 0 instead\.",
        id="alpha-zero",
    ),
    pytest.param(
        {"numeric": ["x0"], "alpha": float("nan")},
        ValueError,
        r"The 'alpha' parameter must be in \(0, 1\)\. Got nan instead\.",
        id="alpha-nan",
    ),
    pytest.param(
        {"numeric": ["x0"], "correction": "fdr"},
        ValueError,
        r"The 'correction' parameter must be one of \{.*\}\. Got 'fdr' instead\.",
        id="correction-unknown",
    ),
    pytest.param(
        {"numeric": ["x0"], "numeric_effect_floor": -0.1},
        ValueError,
        r"The 'numeric_effect_floor' parameter must be in \[0, inf\)\. Got -0\.1 "
        r"instead\.",
        id="numeric-floor-negative",
    ),
    pytest.param(
        {"numeric": ["x0"], "categorical_effect_floor": "0.1"},
        ValueError,
        r"The 'categorical_effect_floor' parameter must be in \[0, inf\)\. Got '0\.1' "
        r"instead\.",
        id="categorical-floor-string",
    ),
    pytest.param(
        {"numeric": ["x0"], "missing_effect_floor": math.inf},
        ValueError,
        r"The 'missing_effect_floor' parameter must be in \[0, inf\)\. Got inf "
        r"instead\.",
        id="missing-floor-inf",
    ),
    pytest.param(
        {},
        ValueError,
        r"The 'numeric' and 'categorical' parameters must name at least one column\.",
        id="no-columns",
    ),
    pytest.param(
        {"numeric": ["x0", "nope"]},
        ValueError,
        r"The 'numeric' parameter must name columns of 'reference'\. Got \['nope'\]",
        id="unknown-column",
    ),
    pytest.param(
        {"numeric": ["x0", "c0"], "categorical": ["c0"]},
        ValueError,
        r"must not share columns\. Got \['c0'\] in both instead\.",
        id="overlap",
    ),
    pytest.param(
        {"numeric": ["x0", "x0"]},
        ValueError,
        r"The 'numeric' parameter must not repeat a column\.",
        id="duplicate",
    ),
    pytest.param(
        {"numeric": "x0"},
        TypeError,
        r"The 'numeric' parameter must be a sequence of str column names, e\.g\. "
        r"\['a', 'b'\]\. Got 'x0' instead\.",
        id="bare-string",
    ),
    pytest.param(
        {"categorical": ["c0"], "reference": REF.to_numpy()},
        TypeError,
        r"The 'reference' parameter must be an instance of 'pandas\.DataFrame'\. "
        r"Got 'ndarray' instead\.",
        id="reference-not-frame",
    ),
    pytest.param(
        {"categorical": ["c0"], "reference": REF.iloc[:0]},
        ValueError,
        r"The 'reference' parameter must have at least 1 row\. Got 0 rows instead\.",
        id="reference-empty",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), INVALID)
def test_constructor_validation(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    kwargs = dict(kwargs)
    reference = kwargs.pop("reference", REF)
    with pytest.raises(error, match=match):
        DriftDetector(reference, **kwargs)


def test_batch_missing_columns_named_with_fix() -> None:
    detector = DriftDetector(REF, numeric=["x0", "x1"], categorical=["c0"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['x1', 'c0'\].*Add them"):
        detector.test(REF.drop(columns=["x1", "c0"]))


@pytest.mark.parametrize(
    ("batch", "error", "match"),
    [
        pytest.param(
            REF.to_dict(),
            TypeError,
            r"The 'batch' parameter must be an instance of 'pandas\.DataFrame'\. "
            r"Got 'dict' instead\.",
            id="batch-not-frame",
        ),
        pytest.param(
            REF.iloc[:0],
            ValueError,
            r"The 'batch' parameter must have at least 1 row\. Got 0 rows instead\.",
            id="batch-empty",
        ),
    ],
)
def test_batch_validation(batch: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        DriftDetector(REF, numeric=["x0"]).test(batch)


def test_numeric_column_with_text_values_explains_fix() -> None:
    detector = DriftDetector(REF, numeric=["x0"])
    with pytest.raises(ValueError, match=r"Column 'x0' is declared numeric.*'categorical'"):
        detector.test(pd.DataFrame({"x0": ["a", "b"]}))


def test_false_alarm_rate_under_no_shift() -> None:
    reps, n, alpha = 200, 2000, 0.05
    flagged = significant = 0
    for rep in range(reps):
        reference = _frame(n, 2 * rep, missing=0.05)
        batch = _frame(n, 2 * rep + 1, missing=0.05)
        detector = DriftDetector(reference, numeric=NUMERIC, categorical=CATEGORICAL, alpha=alpha)
        result = detector.test(batch)
        flagged += result.drift
        # Same family without effect floors: checks the p-value calibration itself.
        significant += any(min(c.p_adjusted, c.missing_p_adjusted) <= alpha for c in result.columns)
    bound = alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)
    assert flagged / reps <= bound
    assert significant / reps <= bound


OUTPUT_CASES = [
    pytest.param(0.0, False, id="same-score-distribution"),
    pytest.param(0.15, True, id="scores-shifted-up"),
]


@pytest.mark.parametrize(("shift", "flagged"), OUTPUT_CASES)
def test_output_drift_on_predicted_probabilities(shift: float, flagged: bool) -> None:
    rng = np.random.default_rng(21)
    reference = rng.beta(2, 5, size=3000)
    current = np.clip(rng.beta(2, 5, size=3000) + shift, 0, 1)
    col = output_drift(reference, current)
    assert (col.name, col.kind, col.test, col.effect_metric) == (
        "score",
        "numeric",
        "ks",
        "wasserstein_iqr",
    )
    assert col.drift is flagged
    json.dumps(col.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"reference_scores": np.full((10, 2), 0.5)},
            r"The 'reference_scores' parameter must be 1-D\. "
            r".*predict_proba\(X\)\[:, 1\]",
            id="2d-scores-hint",
        ),
        pytest.param(
            {"effect_floor": -1.0},
            r"The 'effect_floor' parameter must be in \[0, inf\)\. Got -1\.0 instead\.",
            id="negative-effect-floor",
        ),
        pytest.param(
            {"alpha": 2},
            r"The 'alpha' parameter must be in \(0, 1\)\. Got 2 instead\.",
            id="alpha-above",
        ),
    ],
)
def test_output_drift_validation(kwargs: dict[str, Any], match: str) -> None:
    kwargs = dict(kwargs)
    reference = kwargs.pop("reference_scores", np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match=match):
        output_drift(reference, np.linspace(0, 1, 10), **kwargs)
