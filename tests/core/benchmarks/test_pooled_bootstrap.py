"""A large batch's bootstrap resamples groups of rows, with the intervals of the row bootstrap.

Above ``POOL_MIN_ROWS`` rows the benchmarks pool rows a statistic cannot
tell apart (metrics of decisions: exactly; scores and errors: by quantile
levels, anchored at the rows' own value) and draw the groups' counts from a
multinomial, so the cost no longer grows with the rows. Each benchmark kind
and task here is run twice on the same 60,000 rows, pooled and with pooling
switched off, and the two 95 % intervals must agree within the Monte-Carlo
error of 500-resample percentiles (a fifth of the interval's width).

The rows are drawn from real predictions (breast cancer, digits and diabetes,
scored out of sample) and from a skewed, heavy-tailed, miscalibrated binary
population with a million distinct scores (where pooling rounds).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from alignment_drift.core.benchmarks import Scored, run_benchmarks
from alignment_drift.core.benchmarks import metrics as metrics_module
from alignment_drift.core.benchmarks.metrics import Pool, bootstrap, interval, pool_rows, weighted_metric
from alignment_drift.core.spec import Calibration, MetricFloor, PerformanceEstimate, ProxyTargetGap

N = 60_000


def _night(population: Scored, n: int, seed: int) -> Scored:
    return population.subset(np.random.default_rng(seed).integers(0, len(population), n))


@pytest.fixture(scope="module")
def skewed() -> Scored:
    """A binary population: 15 % positives, heavy-tailed logits, over-confident scores, a proxy label."""
    rng = np.random.default_rng(3)
    n = 1_000_000
    y = (rng.random(n) < 0.15).astype(float)
    logit = -2.2 + 2.6 * y + rng.standard_t(4, n)
    score = 1 / (1 + np.exp(-1.6 * logit))  # over-confident: the ECE is well above zero
    proxy = np.where(rng.random(n) < 0.7, y, (rng.random(n) < 0.3).astype(float))
    return Scored(target=y, score=score, prediction=(score >= 0.5).astype(np.int64), proxy=proxy)


@pytest.fixture(scope="module")
def cancer() -> Scored:
    data = load_breast_cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.05))
    proba = cross_val_predict(model, data.data, data.target, cv=5, method="predict_proba")[:, 1]
    y = data.target.astype(float)
    return Scored(target=y, score=proba, prediction=(proba >= 0.5).astype(np.int64), proxy=y[::-1].copy())


def test_rows_pool_by_their_values_and_keep_every_groups_sum() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(N) < 0.3).astype(float)
    p = (rng.random(N) < 0.4).astype(float)
    s = rng.lognormal(size=N)
    exact = pool_rows([y, p])
    assert exact is not None and exact.exact and exact.n == N and len(exact.counts) == 4
    # a group's rows share its values
    assert np.array_equal(exact.first(y)[exact.inverse], y) and np.array_equal(exact.first(p)[exact.inverse], p)
    rounded = pool_rows([y], s, levels=256)
    assert rounded is not None and not rounded.exact and len(rounded.counts) <= 2 * 256
    assert np.isclose((rounded.mean(s) * rounded.counts).sum(), s.sum(), rtol=1e-12)
    # not pooled: too few rows, a non-finite value, or groups too many to pay
    assert pool_rows([y[:1000], p[:1000]]) is None
    assert pool_rows([y], np.where(np.arange(N) == 5, np.nan, s)) is None
    assert pool_rows([np.arange(N) % 9000]) is None


def test_an_exact_pool_resamples_like_the_rows() -> None:
    """Recall's 2,000 resamples through the groups and through the rows: the same mean and spread."""
    rng = np.random.default_rng(1)
    y = (rng.random(N) < 0.2).astype(float)
    p = np.where(rng.random(N) < 0.8, y, 1 - y)

    def recall(y: np.ndarray, p: np.ndarray) -> Any:
        return lambda w: weighted_metric("recall", y, p, p, w)

    pool = pool_rows([y, p])
    assert pool is not None
    grouped = pool.resample(recall(pool.first(y), pool.first(p)), 2000, seed=4)
    rows = bootstrap(recall(y, p), N, 2000, seed=4)
    spread = rows.std()
    # the mean of 2,000 resamples has a standard error of spread / sqrt(2000); the spread's about 1.6 %
    assert abs(grouped.mean() - rows.mean()) < 4 * spread * math.sqrt(2 / 2000)
    assert 0.9 < grouped.std() / spread < 1.1


CASES = [
    ("skewed", MetricFloor(name="m", metric="recall", floor=0.1, evaluated_on="batch")),
    ("skewed", MetricFloor(name="m", metric="roc_auc", floor=0.1, evaluated_on="batch")),
    ("skewed", Calibration(name="m", max_ece=0.5, evaluated_on="batch")),
    ("skewed", ProxyTargetGap(name="m", max_increase=0.5)),
    ("skewed", PerformanceEstimate(name="m", metric="accuracy")),
    ("skewed", PerformanceEstimate(name="m", metric="recall")),
    ("cancer", MetricFloor(name="m", metric="precision", floor=0.1, evaluated_on="batch")),
    ("cancer", MetricFloor(name="m", metric="roc_auc", floor=0.1, evaluated_on="batch")),
    ("cancer", Calibration(name="m", max_ece=0.5, evaluated_on="batch")),
    ("cancer", ProxyTargetGap(name="m", max_increase=0.5)),
    ("digits", MetricFloor(name="m", metric="accuracy", floor=0.1, evaluated_on="batch")),
    ("digits", MetricFloor(name="m", metric="macro_f1", floor=0.1, evaluated_on="batch")),
    ("digits", MetricFloor(name="m", metric="recall", class_=3, floor=0.1, evaluated_on="batch")),
    ("digits", Calibration(name="m", max_ece=0.5, evaluated_on="batch")),
    ("digits", PerformanceEstimate(name="m", metric="accuracy")),
    ("diabetes", MetricFloor(name="m", metric="mae", ceiling=500.0, evaluated_on="batch")),
    ("diabetes", MetricFloor(name="m", metric="rmse", ceiling=500.0, evaluated_on="batch")),
    ("diabetes", MetricFloor(name="m", metric="interval_coverage", floor=0.1, evaluated_on="batch")),
    ("diabetes", Calibration(name="m", max_coverage_gap=0.5, evaluated_on="batch")),
]


@pytest.mark.parametrize(
    ("population", "bench"), CASES, ids=[f"{p}-{b.kind}-{getattr(b, 'metric', '')}" for p, b in CASES]
)
def test_a_pooled_interval_is_the_row_bootstraps(
    population: str, bench: Any, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    night = _night(request.getfixturevalue(population), N, seed=7)
    pooled_calls = []
    resample = Pool.resample

    def spy(self: Pool, *args: Any, **kwargs: Any) -> np.ndarray:
        pooled_calls.append(self.exact)
        return resample(self, *args, **kwargs)

    monkeypatch.setattr(Pool, "resample", spy)
    (pooled,) = run_benchmarks([bench], audit=night, batch=night)
    assert pooled_calls, "the benchmark did not pool a 60,000-row batch"
    monkeypatch.setattr(metrics_module, "POOL_MIN_ROWS", 10**9)
    (rows,) = run_benchmarks([bench], audit=night, batch=night)
    assert len(pooled_calls) == 1, "pooling was not switched off"
    assert pooled.value == pytest.approx(rows.value, rel=1e-9)
    assert rows.ci_low is not None and rows.ci_high is not None and pooled.ci_low is not None
    width = rows.ci_high - rows.ci_low
    assert width > 0
    assert abs(pooled.ci_low - rows.ci_low) <= 0.2 * width, (pooled.ci_low, rows.ci_low, width)
    assert abs(pooled.ci_high - rows.ci_high) <= 0.2 * width, (pooled.ci_high, rows.ci_high, width)
    assert pooled.status == rows.status


def test_a_benchmark_below_the_pooling_size_resamples_the_rows(cancer: Scored, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Pool, "resample", lambda *a, **k: pytest.fail("a 5,000-row batch was pooled"))
    night = _night(cancer, 5_000, seed=2)
    (result,) = run_benchmarks([CASES[7][1]], audit=night, batch=night)
    assert result.ci_low is not None


def _population_value(bench: Any, population: Scored) -> float:
    (result,) = run_benchmarks([bench], audit=population, batch=population)
    assert result.value is not None
    return float(result.value)


@pytest.mark.slow
@pytest.mark.parametrize("index", [1, 2, 4], ids=["roc_auc", "ece", "estimate"])
def test_pooled_intervals_cover_the_population_value(index: int, skewed: Scored) -> None:
    """Nights of 60,000 rows drawn from the million-row skewed population: the pooled 95 % interval holds its value.

    150 nights; 0.95 within 3 Monte-Carlo standard errors plus 0.02 for the
    percentile bootstrap's own small bias. (The proxy-target gap pools two
    AUCs the same way; its pooled interval is checked against the rows' above.)
    """
    bench = CASES[index][1]
    truth = _population_value(bench, skewed)
    rng = np.random.default_rng(21)
    replicates, held = 150, 0
    for _ in range(replicates):
        night = skewed.subset(rng.integers(0, len(skewed), N))
        (result,) = run_benchmarks([bench], audit=night, batch=night)
        held += result.ci_low is not None and result.ci_low <= truth <= result.ci_high
    coverage = held / replicates
    assert abs(coverage - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / replicates) + 0.02, coverage


def test_interval_of_a_constant_statistic_is_a_point() -> None:
    pool = pool_rows([np.zeros(N)])
    assert pool is not None
    values = pool.resample(lambda w: w.sum(axis=1) / N, 100)
    assert interval(values, 0.95) == (1.0, 1.0)


def test_an_anchor_moves_a_coarse_pools_centre_to_the_rows_value(skewed: Scored) -> None:
    """Four score levels tie most pairs (AUC far below the rows'); the anchor puts the resamples around the rows'."""
    night = _night(skewed, N, seed=5)
    y, s = night.target, night.score
    exact = float(weighted_metric("roc_auc", y, s, s, np.ones((1, N)))[0])
    pool = pool_rows([y], s, levels=4)
    assert pool is not None
    y_g, s_g = pool.first(y), pool.mean(s)

    def auc(w: np.ndarray) -> np.ndarray:
        return weighted_metric("roc_auc", y_g, s_g, s_g, w)

    loose = pool.resample(auc, 200)
    anchored = pool.resample(auc, 200, anchor=exact)
    spread = anchored.std()
    assert abs(np.median(loose) - exact) > 10 * spread  # the rounding moved the centre
    assert abs(np.median(anchored) - exact) < 3 * spread
    np.testing.assert_allclose(anchored - loose, exact - auc(pool.counts[None, :])[0])
