"""Tests for alignment_drift.core.drift.trend."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.core.drift.trend import TrendDetector, TrendMethod, TrendResult

WARMUP = 7
_raw = np.random.default_rng(0).standard_normal(WARMUP)
#: A flat, noisy warm-up with mean 0 and sample std 1 exactly, so "0.1 std" below is exact.
FLAT = (_raw - _raw.mean()) / _raw.std(ddof=1)
NIGHTS = np.arange(1, 41)  # monitored nights, numbered from 1

TEXTBOOK = {"threshold": 5.0, "slack": 0.5}  # Page's h=5, k=0.5: fast, but ~0.5 false alarms at warm-up 7
DETECTION_CASES = [
    # (method, overrides, latest night for the trend, latest night for the step)
    pytest.param("cusum", {}, 23, 13, id="cusum-defaults"),
    pytest.param("page_hinkley", {}, 23, 17, id="page_hinkley-defaults"),
    pytest.param("cusum", TEXTBOOK, 15, 5, id="cusum-textbook-h5-k0.5"),
]


def _night(result: TrendResult) -> int | None:
    """Monitored night (1 = first after the warm-up) of the first alarm."""
    return None if result.first_alarm_index is None else result.first_alarm_index - WARMUP + 1


@pytest.mark.parametrize(("method", "overrides", "trend_nights", "step_nights"), DETECTION_CASES)
def test_gradual_trend_is_caught_though_no_single_night_is_extreme(
    method: TrendMethod, overrides: dict[str, Any], trend_nights: int, step_nights: int
) -> None:
    series = np.r_[FLAT, -0.1 * NIGHTS]
    result = TrendDetector(method=method, direction="decrease", **overrides).run(series)
    night = _night(result)
    assert night is not None and night <= trend_nights
    assert result.alarm and "decrease side" in result.detail
    # A per-night rule at 3 baseline std would have stayed silent over the same nights.
    window = series[WARMUP : WARMUP + night]
    assert np.all(np.abs(window - result.baseline_mean) / result.baseline_std < 3.0)


@pytest.mark.parametrize(("method", "overrides", "trend_nights", "step_nights"), DETECTION_CASES)
def test_step_of_two_std_is_caught(
    method: TrendMethod, overrides: dict[str, Any], trend_nights: int, step_nights: int
) -> None:
    result = TrendDetector(method=method, **overrides).run(np.r_[FLAT, np.full(40, 2.0)])
    night = _night(result)
    assert night is not None and night <= step_nights
    assert "increase side (the larger)" in result.detail


@pytest.mark.parametrize("method", ["cusum", "page_hinkley"])
def test_direction_matters(method: TrendMethod) -> None:
    rising = np.r_[FLAT, 0.1 * NIGHTS]
    down = TrendDetector(method=method, direction="decrease").run(rising)
    up = TrendDetector(method=method, direction="increase").run(rising)
    assert (down.alarm, down.first_alarm_index, down.statistic) == (False, None, 0.0)
    assert up.alarm and up.first_alarm_index is not None


@pytest.mark.parametrize("method", ["cusum", "page_hinkley"])
def test_false_alarm_rate_without_drift_is_within_the_documented_bound(method: TrendMethod) -> None:
    # 500 drift-free series of 7 warm-up + 23 monitored nights at the default parameters.
    series = np.random.default_rng(2024).standard_normal((500, 30))
    detector = TrendDetector(method=method)
    rate = np.mean([detector.run(row).first_alarm_index is not None for row in series])
    assert rate <= 0.05  # the bound documented in TrendDetector's docstring


HAND_CASES = [
    # Warm-up [-1, 0, 1]: mean 0, std 1, so z = the values. Slack 0.5.
    # CUSUM  S+: 1.5, 3.0, 1.5, 4.0.  S-: 0, 0, 0.5, 0.
    pytest.param("cusum", 4.0, id="cusum"),
    # Running means of z (warm-up included): 2/4, 4/5, 3/6, 6/7, so d = 1.5, 1.2, -1.5, 15/7.
    # Page-Hinkley  S+: 1.0, 1.7, 0, 15/7 - 0.5.  S-: 0, 0, 1.0, 0.
    pytest.param("page_hinkley", 15 / 7 - 0.5, id="page_hinkley"),
]


@pytest.mark.parametrize(("method", "expected"), HAND_CASES)
def test_hand_computed_statistic(method: TrendMethod, expected: float) -> None:
    detector = TrendDetector(method=method, warmup=3, slack=0.5, threshold=1.6)
    result = detector.run([-1.0, 0.0, 1.0, 2.0, 2.0, -1.0, 3.0])
    assert (result.baseline_mean, result.baseline_std) == (0.0, 1.0)
    assert result.statistic == pytest.approx(expected)
    assert result.alarm and result.first_alarm_index == 4  # S+ first passes 1.6 on the second monitored value


def test_missing_nights_are_skipped_but_indexes_refer_to_the_input() -> None:
    clean = list(np.r_[FLAT, np.full(20, 2.0)])
    holey: list[Any] = [*clean[:3], None, *clean[3:9], math.nan, pd.NA, *clean[9:], math.inf]
    a, b = TrendDetector().run(clean), TrendDetector().run(holey)
    assert (b.n, b.statistic, b.baseline_mean) == (a.n, a.statistic, a.baseline_mean)
    assert a.first_alarm_index is not None
    assert b.first_alarm_index == a.first_alarm_index + 3  # 1 gap in the warm-up, 2 after it, all before the alarm
    assert "4 missing nights skipped" in b.detail


def test_constant_warmup_uses_min_std_instead_of_dividing_by_zero() -> None:
    flat = [0.9] * WARMUP
    steady = TrendDetector().run([*flat, 0.9, 0.9])
    moved = TrendDetector(min_std=1e-6).run([*flat, 0.9, 0.9, 0.899])
    assert steady.baseline_std == 1e-6 and (steady.statistic, steady.alarm) == (0.0, False)
    assert moved.alarm and moved.first_alarm_index == WARMUP + 2 and math.isfinite(moved.statistic)


@pytest.mark.parametrize(
    ("values", "more"),
    [
        pytest.param([], 8, id="empty"),
        pytest.param([0.5] * 3, 5, id="three-values"),
        pytest.param([0.5] * WARMUP, 1, id="warmup-complete-nothing-monitored"),
        pytest.param([0.5] * WARMUP + [None], 1, id="missing-night-does-not-count"),
    ],
)
def test_warming_up_reports_how_many_nights_are_missing(values: list[float | None], more: int) -> None:
    result = TrendDetector().run(values)
    assert (result.alarm, result.baseline_mean, result.baseline_std, result.statistic) == (False, None, None, 0.0)
    assert result.first_alarm_index is None
    assert f"Warming up: {more} more night" in result.detail


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"method": "ewma"},
            "The 'method' parameter must be one of {'cusum', 'page_hinkley'}. Got 'ewma' instead.",
            id="method",
        ),
        pytest.param(
            {"direction": "up"},
            "The 'direction' parameter must be one of {'increase', 'decrease', 'both'}. Got 'up' instead.",
            id="direction",
        ),
        pytest.param({"warmup": 1}, "The 'warmup' parameter must be >= 2. Got 1 instead.", id="warmup-too-small"),
        pytest.param(
            {"warmup": 7.0}, "The 'warmup' parameter must be an int >= 2. Got 7.0 instead.", id="warmup-float"
        ),
        pytest.param({"threshold": -1}, "The 'threshold' parameter must be > 0. Got -1 instead.", id="threshold"),
        pytest.param({"threshold": 0.0}, "The 'threshold' parameter must be > 0. Got 0.0 instead.", id="threshold-0"),
        pytest.param(
            {"threshold": math.nan},
            "The 'threshold' parameter must be a finite real number > 0. Got nan instead.",
            id="threshold-nan",
        ),
        pytest.param({"slack": -0.5}, "The 'slack' parameter must be >= 0. Got -0.5 instead.", id="slack"),
        pytest.param(
            {"slack": True},
            "The 'slack' parameter must be a finite real number >= 0. Got True instead.",
            id="slack-bool",
        ),
        pytest.param({"min_std": 0}, "The 'min_std' parameter must be > 0. Got 0 instead.", id="min_std"),
    ],
)
def test_invalid_parameters_are_rejected_up_front(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        TrendDetector(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("values", "error"),
    [
        pytest.param("0.9,0.8", TypeError, id="string"),
        pytest.param([0.9, "0.8"], TypeError, id="string-element"),
        pytest.param(np.zeros((3, 10)), ValueError, id="two-dimensional"),
    ],
)
def test_invalid_values_are_rejected(values: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="The 'values' parameter must be"):
        TrendDetector().run(values)


@pytest.mark.parametrize(
    "series",
    [
        pytest.param([0.9, 0.91], id="warming-up"),
        pytest.param(np.r_[FLAT, -0.1 * NIGHTS], id="alarmed-trend"),
        pytest.param([0.9] * WARMUP + [1e300, None], id="huge-jump-after-constant-warmup"),
    ],
)
def test_to_dict_is_json_and_reruns_are_identical(series: Any) -> None:
    detector = TrendDetector(method="page_hinkley")
    first = detector.run(series)
    payload = json.dumps(first.to_dict(), allow_nan=False)
    assert json.loads(payload) == first.to_dict()
    again = detector.run(list(series))
    assert again == first and again.to_dict() == first.to_dict()
    assert detector.run(pd.Series(list(series), dtype="Float64")) == first  # nullable dtype, pandas.NA


def test_long_history_is_linear_and_fast() -> None:
    history = np.random.default_rng(1).standard_normal(200_000).tolist()
    start = time.perf_counter()
    result = TrendDetector().run(history)
    assert result.n == 200_000
    assert time.perf_counter() - start < 2.0
