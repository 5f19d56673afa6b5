"""The suite runner: every benchmark of a spec, in the spec's order.

Each benchmark kind lives in its own module; this one only dispatches.
Benchmarks ``on: batch`` evaluate the night's labelled rows; without a
batch (the retraining gate) they are skipped. Probes and perturbations
re-score inputs, so they need the ``model``; without it they are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alignment_drift.core.benchmarks.calibration import evaluate_calibration
from alignment_drift.core.benchmarks.estimate import evaluate_performance_estimate
from alignment_drift.core.benchmarks.metric_floor import evaluate_metric_floor
from alignment_drift.core.benchmarks.perturbation import evaluate_perturbation
from alignment_drift.core.benchmarks.probes import evaluate_probes
from alignment_drift.core.benchmarks.proxy_gap import evaluate_proxy_target_gap
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, finite
from alignment_drift.core.benchmarks.slice_gap import evaluate_slice_gap
from alignment_drift.core.spec import (
    Benchmark,
    Calibration,
    MetricFloor,
    PerformanceEstimate,
    Perturbation,
    Probes,
    ProxyTargetGap,
    SliceGap,
)

__all__ = ["reads_batch", "run_benchmarks"]


def reads_batch(bench: Benchmark) -> bool:
    """Whether a benchmark reads the night's rows (and so their labels): it changes when late labels arrive."""
    if isinstance(bench, MetricFloor | SliceGap | Calibration):
        return bench.evaluated_on == "batch"
    return isinstance(bench, ProxyTargetGap | PerformanceEstimate)


def run_benchmarks(
    benchmarks: Sequence[Benchmark],
    *,
    audit: Scored,
    batch: Scored | None,
    baselines: Mapping[str, float | None] | None = None,
    model: Any | None = None,
    probes_dir: Path | str | None = None,
) -> list[BenchmarkResult]:
    """Evaluate every benchmark of a spec.

    Parameters
    ----------
    benchmarks : sequence of Benchmark
        The spec's benchmarks.
    audit : Scored
        The fixed audit set scored by the model under test (its ``task`` says
        how every benchmark reads it; see ``Scored.from_output``).
    batch : Scored or None
        The night's batch (for label-dependent benchmarks), or None when judging
        a model without a batch (the retraining gate).
    baselines : mapping, optional
        Benchmark name -> value recorded when the model version was promoted.
    model : scikit-learn estimator, optional
        The model under test, for probes and perturbations (scored through
        :func:`alignment_drift.core.scoring.score_model` for the audit rows' task).
    probes_dir : path, optional
        The folder probe files are relative to (the specs folder).

    Returns
    -------
    list of BenchmarkResult
        In the spec's order.
    """
    baselines = baselines or {}
    folder = None if probes_dir is None else Path(probes_dir)
    results = []
    for bench in benchmarks:
        baseline = finite(baselines.get(bench.name))
        if isinstance(bench, MetricFloor | SliceGap | Calibration):
            rows = audit if bench.evaluated_on == "audit" else batch
            evaluate = {
                MetricFloor: evaluate_metric_floor,
                SliceGap: evaluate_slice_gap,
                Calibration: evaluate_calibration,
            }
            results.append(evaluate[type(bench)](bench, rows, baseline))  # type: ignore[operator]
        elif isinstance(bench, ProxyTargetGap):
            results.append(evaluate_proxy_target_gap(bench, batch, baseline))
        elif isinstance(bench, PerformanceEstimate):
            results.append(evaluate_performance_estimate(bench, batch, baseline))
        elif isinstance(bench, Probes):
            results.append(evaluate_probes(bench, audit, baseline, model=model, probes_dir=folder))
        elif isinstance(bench, Perturbation):
            results.append(evaluate_perturbation(bench, audit, baseline, model=model))
        else:  # pragma: no cover - the spec's union is exhaustive
            raise TypeError(f"Unknown benchmark kind {type(bench).__name__}")
    return results
