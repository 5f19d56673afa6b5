"""Sketch-aware KS: the summaries' one-sided CDF bound holds under any merges, and KS p-values through
compressed summaries stay valid (no-shift rejection rate <= alpha) at 1M and 10M rows a side.

Validity rests on a deterministic fact, checked on every simulated run: the reported p-value is at least the
p-value of the exact two-sample statistic of the rows themselves (module docstring of ``profile_tests``).
The rejection rates are then checked against alpha plus three Monte-Carlo standard errors.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from alignment_drift.core.drift import profile_tests
from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.drift.profile_tests import (
    ks_lower_bound,
    ks_p_value,
    numeric_profile_drift,
    numeric_summary_drift,
)
from alignment_drift.core.drift.sketch import QuantileSummary
from alignment_drift.pipeline.night import Partial
from alignment_drift.pipeline.steps.profile import DRIFT_BINS, merge_partials

ALPHA = 0.05


def _lag(summary: QuantileSummary, data: np.ndarray) -> tuple[float, float]:
    """``(min, max)`` of ``F_data - F_summary`` over every data and summary point, right values and left limits."""
    data = np.sort(data)
    points = np.concatenate((data, summary.values))
    cum = np.concatenate(([0], np.cumsum(summary.weights))) / summary.n
    gaps = []
    for side in ("right", "left"):
        f_data = np.searchsorted(data, points, side=side) / data.size
        f_sum = cum[np.searchsorted(summary.values, points, side=side)]
        gaps.append(f_data - f_sum)
    gap = np.concatenate(gaps)
    return float(gap.min()), float(gap.max())


# --- the bound: adversarial inputs, any merge order -------------------------------------------------------------

_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-3, 3).map(float),  # heavy ties
    st.just(0.0),
    st.just(-0.0),
    st.just(1e308),
    st.just(-1e308),
    st.just(5e-324),
)


@st.composite
def _plans(draw: st.DrawFn) -> tuple[np.ndarray, list[np.ndarray], list[tuple[int, int, int]], list[int]]:
    pool = draw(st.lists(_values, min_size=1, max_size=40))
    data = np.array(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=300)), dtype=np.float64)
    if draw(st.booleans()):
        data = np.sort(data)  # partitions that are ranges of values: the merges interleave nothing
    cuts = sorted(draw(st.lists(st.integers(0, data.size), max_size=7)))
    parts = [p for p in np.split(data, cuts) if p.size]
    capacities = draw(st.lists(st.integers(2, 12), min_size=len(parts), max_size=len(parts)))
    # (i, j, capacity): merge summaries i and j (taken modulo the ones left) until one is left
    merges = draw(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10), st.integers(2, 12)), min_size=8))
    return data, parts, merges, capacities


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_plans(), st.integers(2, 8))
def test_the_summary_cdf_lags_by_at_most_its_error_bound_under_any_fits_merges_and_compressions(
    plan: tuple[np.ndarray, list[np.ndarray], list[tuple[int, int, int]], list[int]], recompress: int
) -> None:
    data, parts, merges, capacities = plan
    level = [QuantileSummary.fit(p, capacity=c) for p, c in zip(parts, capacities, strict=True)]
    step = 0
    while len(level) > 1:
        i, j, capacity = merges[step % len(merges)]
        step += 1
        i, j = i % len(level), j % len(level)
        if i == j:
            j = (i + 1) % len(level)
        merged = level[i].merge(level[j], capacity=capacity)
        level = [s for k, s in enumerate(level) if k not in (i, j)] + [merged]
    summary = level[0].compress(recompress)
    assert summary.n == data.size
    low, high = _lag(summary, data)
    assert low >= -1e-12, "the summary's CDF must never lead the data's"
    assert high <= summary.error_bound + 1e-12
    assert summary.exact == (summary.rank_error == 0)
    # a summary reloaded from its parts is the same summary
    again = QuantileSummary(summary.values.copy(), summary.weights.copy(), summary.rank_error)
    assert _lag(again, data) == (low, high)


def _fit_by_compress(values: np.ndarray, capacity: int) -> QuantileSummary:
    """The general construction: every distinct value with its count, then :meth:`QuantileSummary.compress`."""
    data = np.sort(values)
    starts = np.flatnonzero(np.concatenate(([True], data[1:] != data[:-1])))
    exact = QuantileSummary(data[starts], np.diff(np.append(starts, data.size)).astype(np.int64), 0)
    return exact.compress(capacity)


@settings(max_examples=200, deadline=None)
@given(st.integers(3, 3000), st.integers(2, 400), st.booleans(), st.integers(0, 2**32 - 1))
def test_fitting_distinct_values_cuts_the_buckets_compress_would_build(
    n: int, capacity: int, tied: bool, seed: int
) -> None:
    """``fit`` of a column of distinct values takes a shortcut; it must be the same summary, bound included
    (and a column with ties, which takes the general path, too)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n)
    if tied:
        values = np.round(values, 1)
    fitted = QuantileSummary.fit(values, capacity=capacity)
    expected = _fit_by_compress(values, capacity)
    assert np.array_equal(fitted.values, expected.values)
    assert np.array_equal(fitted.weights, expected.weights)
    assert fitted.rank_error == expected.rank_error
    low, high = _lag(fitted, values)
    assert low >= -1e-12 and high <= fitted.error_bound + 1e-12


@pytest.mark.parametrize("parts", [1, 3, 16])
def test_the_bound_holds_for_product_sized_summaries_of_tied_and_heavy_tailed_data(parts: int) -> None:
    rng = np.random.default_rng(parts)
    data = np.concatenate(
        [np.zeros(20_000), np.floor(rng.lognormal(4, 1.5, 60_000)), np.round(rng.lognormal(3, 1, 40_000), 2)]
    )
    rng.shuffle(data)
    summary = QuantileSummary.merge_all(
        [QuantileSummary.fit(c, capacity=512) for c in np.array_split(data, parts)], capacity=512
    )
    low, high = _lag(summary, data)
    assert low >= -1e-12 and high <= summary.error_bound + 1e-12
    assert summary.error_bound <= 2 * (math.ceil(math.log2(parts)) + 1) / 512


# --- the lower bound and the p-value: never more significant than the exact test ---------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(-30, 30), min_size=40, max_size=400),
    st.lists(st.integers(-30, 30), min_size=40, max_size=400),
    st.integers(2, 16),
    st.integers(2, 16),
    st.integers(1, 5),
    st.floats(0.0, 3.0),
)
def test_the_reported_p_value_is_never_below_the_exact_tests(
    ref: list[int], cur: list[int], bins: int, cur_bins: int, parts: int, scale: float
) -> None:
    reference = np.array(ref, dtype=float) * scale
    current = np.array(cur, dtype=float) * (scale + 0.1)  # other atoms than the reference's, some shared
    col = ReferenceProfile.fit(pd.DataFrame({"x": reference}), numeric=["x"], bins=bins).columns["x"]
    assert col.summary is not None
    exact = stats.ks_2samp(reference, current).statistic
    en = reference.size * current.size / (reference.size + current.size)
    batch = QuantileSummary.merge_all(
        [QuantileSummary.fit(c, capacity=cur_bins) for c in np.array_split(current, parts) if c.size],
        capacity=cur_bins,
    )
    for outcome, bound in (
        (numeric_profile_drift(col, current), col.summary.error_bound),
        (numeric_summary_drift(col, batch), col.summary.error_bound + batch.error_bound),
    ):
        assert abs(outcome.statistic - exact) <= bound + 1e-12
        if "proven lower bound" in outcome.note:  # the sketch's path (otherwise scipy's exact test ran)
            assert outcome.p_value >= ks_p_value(exact, en) - 1e-12
        else:
            assert col.summary.exact


def test_the_lower_bound_corrects_only_the_side_a_lag_can_inflate() -> None:
    # S_ref lags F_ref, so S_ref - S_cur can only be too small by the batch's lag, S_cur - S_ref by the reference's
    assert ks_lower_bound(0.02, 0.01, 0.005, 0.001) == pytest.approx(0.019)
    assert ks_lower_bound(0.01, 0.02, 0.005, 0.001) == pytest.approx(0.015)
    assert ks_lower_bound(0.001, 0.002, 0.005, 0.005) == 0.0
    assert ks_lower_bound(0.02, 0.01, 0.0, 0.0) == 0.02


# --- exact summaries: nothing changes ------------------------------------------------------------------------------


def test_exact_summaries_give_the_exact_statistic_and_its_unadjusted_p_value(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    reference, current = rng.integers(0, 2000, 300_000).astype(float), rng.integers(0, 2000, 200_000).astype(float)
    col = ReferenceProfile.fit(pd.DataFrame({"x": reference}), numeric=["x"]).columns["x"]
    assert col.summary is not None and col.summary.exact
    rows = numeric_profile_drift(col, current)
    exact = stats.ks_2samp(reference, current, method="asymp")
    assert rows.statistic == pytest.approx(exact.statistic, abs=1e-15)
    assert rows.p_value == ks_p_value(rows.statistic, 300_000 * 200_000 / 500_000)
    assert "bound" not in rows.note
    monkeypatch.setattr(profile_tests, "EXPAND_MAX_N", 1000)  # an exact batch too large to expand
    summary = numeric_summary_drift(col, QuantileSummary.fit(current))
    assert (summary.statistic, summary.p_value) == (rows.statistic, rows.p_value)
    assert summary.note == "KS within 0 of the exact statistic (summary bounds)"


# --- no shift at scale: the product's paths, effect floor 0 ----------------------------------------------------------


def _draw(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0.0, 1.0, n)
    if kind == "lognormal":  # heavy tail
        return rng.lognormal(0.0, 1.5, n)
    if kind == "counts":  # integer counts with ties and a long tail: ~10k distinct values, more than 4,096 bins
        return np.floor(rng.lognormal(4.0, 1.5, n))
    # 20 % exact zeros, a normal bulk and a log-normal tail rounded to cents
    u = rng.random(n)
    return np.where(u < 0.2, 0.0, np.where(u < 0.7, rng.normal(10, 2, n), np.round(rng.lognormal(3, 1, n), 2)))


def _batch_summary(current: np.ndarray, folder: Path, groups: int, chunks: int) -> QuantileSummary:
    """The batch's summary the monitor's way: groups fitted chunk by chunk, saved, merged by ``merge_partials``."""
    partials = []
    for g, rows in enumerate(np.array_split(current, groups)):
        frames = [pd.DataFrame({"x": c}) for c in np.array_split(rows, chunks)]
        profile = ReferenceProfile.fit_chunks(frames, numeric=["x"], bins=DRIFT_BINS)
        path = profile.save(folder / f"group-{g:05d}.parquet")
        partials.append(Partial(index=g, uri=str(path), rows=rows.size, files=1))
    merged = merge_partials(partials)
    assert merged is not None and merged.columns["x"].summary is not None
    return merged.columns["x"].summary


def _no_shift_runs(
    n: int, runs: int, folder: Path, *, bins: int = 4096, groups: int = 4, check_exact: bool = True
) -> dict[str, list[float]]:
    """p-values of ``runs`` no-shift runs at ``n`` rows a side, distributions in turn; asserts the exact bound."""
    out: dict[str, list[float]] = {"rows": [], "summary": [], "old": []}
    kinds = ("lognormal", "counts", "mixture")
    for run in range(runs):
        rng = np.random.default_rng([n, bins, run])
        kind = kinds[run % 3]
        reference, current = _draw(kind, rng, n), _draw(kind, rng, n)
        col = ReferenceProfile.fit(pd.DataFrame({"x": reference}), numeric=["x"], bins=bins).columns["x"]
        assert col.summary is not None
        rows = numeric_profile_drift(col, current)
        summary = numeric_summary_drift(col, _batch_summary(current, folder, groups, 2))
        out["rows"].append(rows.p_value)
        out["summary"].append(summary.p_value)
        out["old"].append(ks_p_value(rows.statistic, n / 2))  # the p-value of the summary's statistic itself
        if check_exact:
            exact = ks_p_value(stats.ks_2samp(reference, current).statistic, n / 2)
            assert rows.p_value >= exact - 1e-12 and summary.p_value >= exact - 1e-12, (kind, run)
    return out


def _bound(runs: int) -> float:
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / runs)  # alpha + 3 Monte-Carlo standard errors


def _rate(p_values: list[float]) -> float:
    return float(np.mean(np.asarray(p_values) <= ALPHA))


def test_no_shift_rejection_rate_at_1m_rows_a_side_stays_within_alpha(tmp_path: Path) -> None:
    runs = 12  # 4 per distribution; every run also checks p >= the exact test's p (the validity argument)
    out = _no_shift_runs(1_000_000, runs, tmp_path)
    assert _rate(out["rows"]) <= _bound(runs)
    assert _rate(out["summary"]) <= _bound(runs)


def test_with_coarse_bins_the_old_p_value_always_rejects_and_the_new_one_holds(tmp_path: Path) -> None:
    # profile_bins 256 (the spec allows 64 to 65,536): the lag (<= 1/256) exceeds the 5 % critical value at 1M
    runs = 12
    out = _no_shift_runs(1_000_000, runs, tmp_path, bins=256, check_exact=False)
    assert _rate(out["old"]) >= 0.9
    assert _rate(out["rows"]) <= _bound(runs) and _rate(out["summary"]) <= _bound(runs)


@pytest.mark.slow
def test_no_shift_rejection_rate_at_1m_rows_a_side_many_runs(tmp_path: Path) -> None:
    runs = 150  # bound 0.103; bench/sketch_ks.py runs 600 for the README's table
    out = _no_shift_runs(1_000_000, runs, tmp_path, check_exact=False)
    assert _rate(out["rows"]) <= _bound(runs)
    assert _rate(out["summary"]) <= _bound(runs)


@pytest.mark.slow
def test_no_shift_at_10m_rows_a_side_never_beats_the_exact_test(tmp_path: Path) -> None:
    runs = 9  # each run checks p >= the exact test's p, the property the rate follows from
    out = _no_shift_runs(10_000_000, runs, tmp_path, groups=2)
    assert _rate(out["rows"]) <= _bound(runs) and _rate(out["summary"]) <= _bound(runs)


# --- power is kept -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["normal", "mixture"])
def test_a_005_sd_shift_at_1m_rows_is_still_detected(kind: str, tmp_path: Path) -> None:
    for run in range(3):
        rng = np.random.default_rng([7, run])
        reference = _draw(kind, rng, 1_000_000)
        current = _draw(kind, rng, 1_000_000) - 0.05 * reference.std()  # down: the side the reference's lag hides
        col = ReferenceProfile.fit(pd.DataFrame({"x": reference}), numeric=["x"]).columns["x"]
        assert col.summary is not None and not col.summary.exact
        rows = numeric_profile_drift(col, current)
        summary = numeric_summary_drift(col, _batch_summary(current, tmp_path, 4, 2))
        assert rows.p_value < 1e-12 and summary.p_value < 1e-12
        assert "proven lower bound" in rows.note and "summary bounds: reference" in summary.note
