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
    detector = TrendDetector(method=method, direction="decrease", **overrides)
    night = _night(detector.run(series))
    assert night is not None and night <= trend_nights
    result = detector.run(series[: WARMUP + night])  # the history up to the first alarm night
    assert result.alarm and "decrease side" in result.detail
    # A per-night rule at 3 baseline std would have stayed silent over the same nights.
    window = series[WARMUP : WARMUP + night]
    assert np.all(np.abs(window - result.baseline_mean) / result.baseline_std < 3.0)


@pytest.mark.parametrize(("method", "overrides", "trend_nights", "step_nights"), DETECTION_CASES)
def test_step_of_two_std_is_caught(
    method: TrendMethod, overrides: dict[str, Any], trend_nights: int, step_nights: int
) -> None:
    series = np.r_[FLAT, np.full(40, 2.0)]
    detector = TrendDetector(method=method, **overrides)
    night = _night(detector.run(series))
    assert night is not None and night <= step_nights
    assert "increase side (the larger)" in detector.run(series[: WARMUP + night]).detail


def _noisy(seed: int, warm: int, after: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.standard_normal(warm), after + rng.standard_normal(after.size)]


def test_robust_scan_catches_a_noisy_trend_and_step() -> None:
    # 21 stable nights, then -0.2 sd a night; and 21 stable nights, then a step of +2 sd
    trend = TrendDetector(direction="decrease").run(_noisy(1, 21, -0.2 * NIGHTS))
    step = TrendDetector().run(_noisy(2, 21, np.full(40, 2.0)))
    assert trend.first_alarm_index is not None and 21 <= trend.first_alarm_index <= 21 + 12
    assert step.first_alarm_index is not None and 21 <= step.first_alarm_index <= 21 + 5


@pytest.mark.parametrize("method", ["robust_scan", "cusum", "page_hinkley"])
def test_direction_matters(method: TrendMethod) -> None:
    rising = np.r_[FLAT, 0.1 * NIGHTS]
    down = TrendDetector(method=method, direction="decrease").run(rising)
    up = TrendDetector(method=method, direction="increase").run(rising)
    assert (down.alarm_indices, down.first_alarm_index) == ((), None)
    assert up.first_alarm_index is not None


@pytest.mark.parametrize("method", ["cusum", "page_hinkley"])
def test_false_alarm_rate_without_drift_is_within_the_documented_bound(method: TrendMethod) -> None:
    # 500 drift-free series of 7 warm-up + 23 monitored nights at the default parameters.
    series = np.random.default_rng(2024).standard_normal((500, 30))
    detector = TrendDetector(method=method)
    rate = np.mean([detector.run(row).first_alarm_index is not None for row in series])
    assert rate <= 0.05  # the bound documented in TrendDetector's docstring


def test_an_alarm_restarts_the_warm_up_instead_of_staying_on() -> None:
    series = np.r_[FLAT, np.full(40, 2.0)]
    detector = TrendDetector(method="cusum", **TEXTBOOK)
    first = detector.run(series).first_alarm_index
    assert first is not None
    at_alarm = detector.run(series[: first + 1])
    assert at_alarm.alarm and at_alarm.alarm_indices == (first,) and at_alarm.segment_start == 0
    after = detector.run(series[: first + 2])
    assert not after.alarm and after.alarm_indices == (first,) and after.segment_start == first + 1
    assert after.detail == (
        f"Warming up after the alarm at index {first}: 7 more nights with a value needed (have 1, need 7 warm-up + 1)."
    )
    # the new level is the new baseline: no alarm on the following 30 constant nights
    assert detector.run(series).alarm_indices == (first,)


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
    values = [-1.0, 0.0, 1.0, 2.0, 2.0, -1.0, 3.0]
    quiet = TrendDetector(method=method, warmup=3, slack=0.5, threshold=100.0).run(values)
    assert (quiet.baseline_mean, quiet.baseline_std) == (0.0, 1.0)
    assert quiet.statistic == pytest.approx(expected) and not quiet.alarm_indices
    alarmed = TrendDetector(method=method, warmup=3, slack=0.5, threshold=1.6).run(values)
    assert alarmed.alarm_indices == (4,)  # S+ first passes 1.6 on the second monitored value
    assert (alarmed.alarm, alarmed.segment_start, alarmed.statistic) == (False, 5, 0.0)  # warming up again


@pytest.mark.parametrize("method", ["robust_scan", "cusum"])
def test_missing_nights_are_skipped_but_indexes_refer_to_the_input(method: TrendMethod) -> None:
    clean = list(np.r_[FLAT, np.full(20, 2.0), np.full(20, 6.0)])
    holey: list[Any] = [*clean[:3], None, *clean[3:9], math.nan, pd.NA, *clean[9:], math.inf]
    detector = TrendDetector(method=method, warmup=WARMUP)
    a, b = detector.run(clean), detector.run(holey)
    assert (b.n, b.statistic, b.baseline_mean) == (a.n, a.statistic, a.baseline_mean)
    assert len(a.alarm_indices) == 2 and a.first_alarm_index is not None
    # 1 gap in the warm-up, 2 after it, all before the first alarm
    assert b.alarm_indices == tuple(i + 3 for i in a.alarm_indices)
    assert b.segment_start == a.segment_start + 3
    assert "4 missing nights skipped" in b.detail


@pytest.mark.parametrize("method", ["robust_scan", "cusum", "page_hinkley"])
def test_constant_warmup_uses_min_std_instead_of_dividing_by_zero(method: TrendMethod) -> None:
    flat = [0.9] * WARMUP
    steady = TrendDetector(method=method, warmup=WARMUP).run([*flat, 0.9, 0.9])
    moved = TrendDetector(method=method, warmup=WARMUP, min_std=1e-6).run([*flat, 0.9, 0.9, 0.899])
    assert steady.baseline_std == 1e-6 and (steady.statistic, steady.alarm) == (0.0, False)
    assert moved.alarm and moved.first_alarm_index == WARMUP + 2 and math.isfinite(moved.statistic)


@pytest.mark.parametrize(
    ("method", "values", "more"),
    [
        pytest.param("cusum", [], 8, id="empty"),
        pytest.param("cusum", [0.5] * 3, 5, id="three-values"),
        pytest.param("cusum", [0.5] * WARMUP, 1, id="warmup-complete-nothing-monitored"),
        pytest.param("cusum", [0.5] * WARMUP + [None], 1, id="missing-night-does-not-count"),
        pytest.param("robust_scan", [0.5] * 3, 8, id="robust_scan-warms-up-10-nights"),
        pytest.param("robust_scan", [0.5] * 10, 1, id="robust_scan-warmup-complete"),
    ],
)
def test_warming_up_reports_how_many_nights_are_missing(
    method: TrendMethod, values: list[float | None], more: int
) -> None:
    result = TrendDetector(method=method).run(values)
    assert (result.alarm, result.baseline_mean, result.baseline_std, result.statistic) == (False, None, None, 0.0)
    assert result.first_alarm_index is None
    assert f"Warming up: {more} more night" in result.detail


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"method": "ewma"},
            "The 'method' parameter must be one of {'robust_scan', 'cusum', 'page_hinkley'}. Got 'ewma' instead.",
            id="method",
        ),
        pytest.param(
            {"direction": "up"},
            "The 'direction' parameter must be one of {'increase', 'decrease', 'both'}. Got 'up' instead.",
            id="direction",
        ),
        pytest.param({"warmup": 2}, "The 'warmup' parameter must be >= 3. Got 2 instead.", id="warmup-too-small"),
        pytest.param(
            {"method": "cusum", "warmup": 1},
            "The 'warmup' parameter must be >= 2. Got 1 instead.",
            id="warmup-too-small-cusum",
        ),
        pytest.param(
            {"warmup": 7.0}, "The 'warmup' parameter must be an int >= 3. Got 7.0 instead.", id="warmup-float"
        ),
        pytest.param({"max_window": 0}, "The 'max_window' parameter must be >= 1. Got 0 instead.", id="max_window"),
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
@pytest.mark.parametrize("method", ["robust_scan", "page_hinkley"])
def test_to_dict_is_json_and_reruns_are_identical(series: Any, method: TrendMethod) -> None:
    detector = TrendDetector(method=method)
    first = detector.run(series)
    payload = json.dumps(first.to_dict(), allow_nan=False)
    assert json.loads(payload) == first.to_dict()
    again = detector.run(list(series))
    assert again == first and again.to_dict() == first.to_dict()
    assert detector.run(pd.Series(list(series), dtype="Float64")) == first  # nullable dtype, pandas.NA


@pytest.mark.parametrize(("method", "nights"), [("robust_scan", 50_000), ("cusum", 200_000)])
def test_long_history_is_linear_and_fast(method: TrendMethod, nights: int) -> None:
    history = np.random.default_rng(1).standard_normal(nights).tolist()
    start = time.perf_counter()
    result = TrendDetector(method=method).run(history)
    assert result.n == nights
    assert time.perf_counter() - start < 2.0


def test_every_night_of_a_history_gets_the_answer_of_the_whole_run() -> None:
    # the monitor runs the detector on the history up to each night: the alarm nights must be the same
    rng = np.random.default_rng(6)
    history = np.r_[rng.standard_normal(30), 2.5 + rng.standard_normal(30), -0.1 * NIGHTS + rng.standard_normal(40)]
    detector = TrendDetector()
    nightly = [t for t in range(history.size) if detector.run(history[: t + 1]).alarm]
    assert nightly == list(detector.run(history).alarm_indices) and len(nightly) >= 2
