"""Safety benchmarks: each kind passes when it should, fails when it should, and skips rather than guess."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alignment_drift.core.benchmarks import Scored, classification_metric, proxy_target_gap, run_benchmarks
from alignment_drift.core.spec import MetricFloor, ProxyTargetGap


def _scored(n: int = 2000, *, quality: float = 2.0, seed: int = 0, proxy_quality: float | None = None) -> Scored:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    score = 1 / (1 + np.exp(-(quality * (y - 0.5) + rng.normal(0, 1, n))))
    proxy = None
    if proxy_quality is not None:
        # a proxy label that agrees with the score as much as proxy_quality says
        proxy = (score + rng.normal(0, 1 / proxy_quality, n) > np.median(score)).astype(float)
    return Scored(target=y, score=score, prediction=(score >= 0.5).astype(np.int64), proxy=proxy)


@pytest.mark.parametrize(
    ("quality", "floor", "status"),
    [
        pytest.param(4.0, 0.7, "pass", id="good-model-clears-floor"),
        pytest.param(0.2, 0.7, "fail", id="weak-model-fails-floor"),
    ],
)
def test_metric_floor(quality: float, floor: float, status: str) -> None:
    (result,) = run_benchmarks(
        [MetricFloor(name="auc", metric="roc_auc", floor=floor)],
        audit=_scored(quality=quality),
        batch=None,
        baselines={"auc": 0.9},
    )
    assert result.status == status
    assert result.threshold == floor
    assert result.baseline == 0.9
    assert result.delta == pytest.approx(result.value - 0.9)
    json.dumps(result.to_dict())


def test_metric_floor_skips_when_undefined() -> None:
    audit = Scored(target=np.zeros(50), score=np.linspace(0, 1, 50), prediction=np.zeros(50, dtype=np.int64))
    (result,) = run_benchmarks([MetricFloor(name="recall", metric="recall", floor=0.5)], audit=audit, batch=None)
    assert result.status == "skipped" and result.value is None and not result.failed


@pytest.mark.parametrize("metric", ["recall", "precision", "accuracy", "f1", "roc_auc", "specificity"])
def test_every_metric_is_a_probability_on_a_real_model(metric: str) -> None:
    s = _scored(quality=3.0)
    value = classification_metric(metric, s.target.astype(int), s.score, s.prediction)
    assert value is not None and 0.5 < value <= 1.0


def test_proxy_target_gap_fails_when_the_model_serves_the_proxy() -> None:
    bench = ProxyTargetGap(name="gap", max_increase=0.1)
    aligned = _scored(quality=3.0, proxy_quality=0.3, seed=1)
    gaming = _scored(quality=0.3, proxy_quality=5.0, seed=1)
    baseline, _, _ = proxy_target_gap(aligned, min_rows=100)
    (ok,) = run_benchmarks([bench], audit=aligned, batch=aligned, baselines={"gap": baseline})
    (bad,) = run_benchmarks([bench], audit=aligned, batch=gaming, baselines={"gap": baseline})
    assert ok.status == "pass"
    assert bad.status == "fail"
    assert bad.value > baseline + 0.1
    assert "proxy AUC" in bad.detail


def test_proxy_target_gap_skips_with_too_few_labelled_rows() -> None:
    small = _scored(n=60, proxy_quality=1.0)
    (result,) = run_benchmarks([ProxyTargetGap(name="gap", min_rows=100)], audit=small, batch=small)
    assert result.status == "skipped"
    assert "only 60 rows" in result.detail


def test_exposed_keeps_only_rows_the_model_would_show() -> None:
    s = _scored(proxy_quality=1.0)
    exposed = s.exposed()
    assert (exposed.prediction == 0).all()
    assert len(exposed.target) == int((s.prediction == 0).sum())
