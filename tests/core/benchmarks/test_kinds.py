"""Every benchmark kind: passes for a good model, fails for a bad one, skips rather than guess; one contract for all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignment_drift.core.benchmarks import Scored, run_benchmarks
from alignment_drift.core.benchmarks.metrics import bootstrap_weights, classification_metric, weighted_metric
from alignment_drift.core.spec import (
    Calibration,
    MetricFloor,
    PerformanceEstimate,
    Perturbation,
    Probes,
    ProxyTargetGap,
    SliceGap,
)


class Threshold:
    """A model whose unsafe score rises with toxicity (``sign=1``) or falls with it (a broken model)."""

    def __init__(self, sign: float = 1.0, region_bias: float = 0.0) -> None:
        self.sign, self.region_bias = sign, region_bias

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        z = self.sign * 8 * (x["toxicity"].to_numpy(float) - 0.5)
        if self.region_bias and "region" in x:
            z = z + self.region_bias * (x["region"].to_numpy() == "eu")
        p = 1 / (1 + np.exp(-z))
        return np.column_stack([1 - p, p])


def _audit(model: Threshold, n: int = 1200, seed: int = 0, calibrated: bool = True) -> Scored:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "toxicity": rng.random(n),
            "text_length": rng.integers(100, 1000, n),
            "region": rng.choice(["na", "eu", "apac"], n),
        }
    )
    truth = Threshold().predict_proba(frame)[:, 1]
    frame["unsafe"] = (rng.random(n) < (truth if calibrated else truth**3)).astype(float)
    frame["engaged"] = np.nan
    score = model.predict_proba(frame)[:, 1]
    return Scored(
        target=frame["unsafe"].to_numpy(),
        score=score,
        prediction=(score >= 0.5).astype(np.int64),
        frame=frame,
        feature_names=("toxicity", "text_length", "region"),
    )


PROBES = {
    "schema": "alignment-drift/probes@1",
    "base": {"toxicity": 0.2, "text_length": 300, "region": "na"},
    "cases": [
        {"id": "toxic_blocked", "type": "minimum_functionality", "inputs": [{"toxicity": 0.95}], "expect": "blocked"},
        {
            "id": "region",
            "type": "invariance",
            "sample": 50,
            "vary": {"region": ["na", "eu"]},
            "max_score_change": 0.01,
        },
        {
            "id": "toxicity_up",
            "type": "directional",
            "sample": 50,
            "vary": {"toxicity": {"low": 0, "high": 1}},
            "expect": "non_decreasing",
        },
    ],
}


@pytest.fixture
def probe_dir(tmp_path: Path) -> Path:
    (tmp_path / "probes.yaml").write_text(json.dumps(PROBES))  # JSON is YAML
    return tmp_path


KINDS = {
    "metric_floor": MetricFloor(name="b", metric="recall", floor=0.7),
    "metric_ceiling": MetricFloor(name="b", metric="fnr", ceiling=0.3),
    "slice_gap": SliceGap(name="b", segment="region", metric="recall", max_gap=0.15),
    "calibration": Calibration(name="b", max_ece=0.08),
    "probes": Probes(name="b", cases="probes.yaml"),
    "perturbation": Perturbation(name="b", numeric=["toxicity"], epsilon=0.05, max_flip_rate=0.2, rows=200),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_passes_for_the_good_model_and_is_json(kind: str, probe_dir: Path) -> None:
    good = Threshold()
    (result,) = run_benchmarks(
        [KINDS[kind]], audit=_audit(good), batch=None, model=good, probes_dir=probe_dir, baselines={"b": 0.5}
    )
    assert result.status == "pass", result.detail
    payload = result.to_dict()
    json.dumps(payload, allow_nan=False)
    assert {"value", "threshold", "baseline", "delta", "status", "ci_low", "ci_high"} <= set(payload)
    assert result.delta == pytest.approx(result.value - 0.5)


@pytest.mark.parametrize(
    ("kind", "model", "calibrated"),
    [
        pytest.param("metric_floor", Threshold(sign=-1), True, id="metric_floor-inverted-model"),
        pytest.param("metric_ceiling", Threshold(sign=-1), True, id="metric_ceiling-inverted-model"),
        pytest.param("slice_gap", Threshold(region_bias=-6), True, id="slice_gap-region-biased-model"),
        pytest.param("calibration", Threshold(), False, id="calibration-overconfident-scores"),
        pytest.param("probes", Threshold(sign=-1), True, id="probes-inverted-model"),
        pytest.param("perturbation", Threshold(), True, id="perturbation-large-epsilon"),
    ],
)
def test_every_kind_fails_when_it_should(kind: str, model: Threshold, calibrated: bool, probe_dir: Path) -> None:
    bench = KINDS[kind]
    if kind == "perturbation":
        bench = bench.model_copy(update={"epsilon": 1.0, "max_flip_rate": 0.05})
    (result,) = run_benchmarks(
        [bench], audit=_audit(model, calibrated=calibrated), batch=None, model=model, probes_dir=probe_dir
    )
    assert result.status == "fail", result.detail


def test_probes_report_every_failing_case(probe_dir: Path) -> None:
    (result,) = run_benchmarks(
        [KINDS["probes"]], audit=_audit(Threshold(sign=-1)), batch=None, model=Threshold(sign=-1), probes_dir=probe_dir
    )
    assert {f["case"] for f in result.evidence["failures"]} == {"toxic_blocked", "toxicity_up"}
    assert result.value == pytest.approx(1 / 3)


def test_model_dependent_kinds_skip_without_a_model(probe_dir: Path) -> None:
    results = run_benchmarks([KINDS["probes"], KINDS["perturbation"]], audit=_audit(Threshold()), batch=None)
    assert [r.status for r in results] == ["skipped", "skipped"]


def test_batch_benchmarks_skip_without_a_batch() -> None:
    bench = MetricFloor(name="b", metric="recall", floor=0.5, evaluated_on="batch")
    (result,) = run_benchmarks([bench], audit=_audit(Threshold()), batch=None)
    assert result.status == "skipped"


def test_floor_fails_only_when_the_whole_interval_is_below() -> None:
    small = _audit(Threshold(), n=60, seed=3)
    value = classification_metric("recall", small.target, small.score, small.prediction)
    bench = MetricFloor(name="b", metric="recall", floor=value + 0.02, min_rows=20)
    (result,) = run_benchmarks([bench], audit=small, batch=None)
    assert result.value < result.threshold <= result.ci_high
    assert result.status == "pass"  # below the floor, but within sampling noise


def test_weighted_metrics_match_scikit_learn_and_bootstrap_is_seeded() -> None:
    a = _audit(Threshold(), n=500)
    for metric in ("recall", "precision", "accuracy", "f1", "roc_auc", "specificity"):
        ones = weighted_metric(metric, a.target, a.score, a.prediction, np.ones((1, 500)))[0]
        assert ones == pytest.approx(classification_metric(metric, a.target, a.score, a.prediction))
    assert np.array_equal(bootstrap_weights(100, 50, seed=1), bootstrap_weights(100, 50, seed=1))


def test_proxy_gap_does_not_alarm_on_noise_but_does_on_a_real_increase() -> None:
    rng = np.random.default_rng(0)
    n = 500
    y = (rng.random(n) < 0.3).astype(float)
    score = 1 / (1 + np.exp(-(3 * (y - 0.5) + rng.normal(0, 1, n))))
    noisy_proxy = (rng.random(n) < 0.5).astype(float)
    batch = Scored(target=y, score=score, prediction=(score >= 0.5).astype(np.int64), proxy=noisy_proxy)
    bench = ProxyTargetGap(name="g", max_increase=0.15)
    (result,) = run_benchmarks([bench], audit=batch, batch=batch, baselines={"g": -0.42})
    assert result.status == "pass" and result.ci_low is not None
    (result,) = run_benchmarks([bench], audit=batch, batch=batch, baselines={"g": -0.9})
    assert result.status == "fail"


def test_performance_estimate_is_a_signal_unless_a_floor_is_set() -> None:
    a = _audit(Threshold())
    (signal,) = run_benchmarks([PerformanceEstimate(name="e")], audit=a, batch=a)
    assert signal.status == "info" and 0.5 < signal.value <= 1
    (floored,) = run_benchmarks([PerformanceEstimate(name="e", floor=0.99)], audit=a, batch=a)
    assert floored.status == "fail"


def test_spec_rejects_a_floor_on_a_lower_is_better_metric() -> None:
    with pytest.raises(ValueError, match="ceiling"):
        MetricFloor(name="b", metric="fpr", floor=0.1)
