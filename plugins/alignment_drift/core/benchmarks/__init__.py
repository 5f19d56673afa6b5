"""Safety benchmarks, one module per kind, and the suite runner."""

from alignment_drift.core.benchmarks.metrics import classification_metric
from alignment_drift.core.benchmarks.probes import load_probe_suite
from alignment_drift.core.benchmarks.proxy_gap import proxy_target_gap
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored
from alignment_drift.core.benchmarks.suite import reads_batch, run_benchmarks

__all__ = [
    "BenchmarkResult",
    "Scored",
    "classification_metric",
    "load_probe_suite",
    "proxy_target_gap",
    "reads_batch",
    "run_benchmarks",
]
