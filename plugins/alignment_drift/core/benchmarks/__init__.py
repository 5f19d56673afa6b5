"""Safety benchmarks, one module per kind, and the suite runner."""

from alignment_drift.core.benchmarks.measure import labelled, measure, unavailable
from alignment_drift.core.benchmarks.metrics import LOWER_IS_BETTER, classification_metric, direction_of
from alignment_drift.core.benchmarks.probes import load_probe_suite
from alignment_drift.core.benchmarks.proxy_gap import proxy_target_gap
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored
from alignment_drift.core.benchmarks.suite import reads_batch, run_benchmarks

__all__ = [
    "LOWER_IS_BETTER",
    "BenchmarkResult",
    "Scored",
    "classification_metric",
    "direction_of",
    "labelled",
    "load_probe_suite",
    "measure",
    "proxy_target_gap",
    "reads_batch",
    "run_benchmarks",
    "unavailable",
]
