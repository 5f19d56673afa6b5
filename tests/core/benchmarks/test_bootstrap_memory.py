"""The bootstrap of a benchmark runs in bounded memory, with the same resamples as the one-matrix form."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from alignment_drift.core.benchmarks import metrics
from alignment_drift.core.benchmarks.metric_floor import evaluate_metric_floor
from alignment_drift.core.benchmarks.result import Scored
from alignment_drift.core.spec import MetricFloor

RECALL = MetricFloor(name="recall", metric="recall", floor=0.5)


def _rows(n: int, seed: int = 0) -> Scored:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(float)
    score = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1)
    return Scored(y, score, (score >= 0.5).astype(np.int64))


def test_blocks_of_resamples_give_the_same_values_as_one_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(1).lognormal(size=3000)

    def mean(w: np.ndarray) -> np.ndarray:
        return (w @ x) / w.sum(axis=1)

    whole = mean(metrics.bootstrap_weights(3000, 200, seed=5))
    monkeypatch.setattr(metrics, "BOOTSTRAP_CELLS", 3000 * 7)  # 7 resamples a block: 29 blocks
    np.testing.assert_allclose(metrics.bootstrap(mean, 3000, 200, seed=5), whole, rtol=1e-12)  # same resamples
    # and a benchmark's interval is the same either way
    rows = _rows(3000)
    blocked = evaluate_metric_floor(RECALL, rows, None)
    monkeypatch.setattr(metrics, "BOOTSTRAP_CELLS", 10**9)
    assert evaluate_metric_floor(RECALL, rows, None).ci_low == pytest.approx(blocked.ci_low, rel=1e-12)


@pytest.mark.parametrize(
    "bench",
    [RECALL, MetricFloor(name="log_loss", metric="log_loss", ceiling=5.0)],
    ids=["recall, pooled", "log_loss, rows in blocks"],
)
def test_a_300k_row_benchmark_bootstrap_allocates_tens_of_megabytes_not_gigabytes(bench: MetricFloor) -> None:
    rows = _rows(300_000)
    tracemalloc.start()
    try:
        result = evaluate_metric_floor(bench, rows, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ci_low is not None and result.ci_low < result.value < result.ci_high
    # one 500 x 300,000 matrix of counts alone is 1.2 GB (and its int64 draws another 1.2 GB)
    assert peak < 250 * 2**20, f"peak {peak / 2**20:.0f} MiB"
