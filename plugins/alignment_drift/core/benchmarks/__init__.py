"""Safety benchmarks and the suite runner."""

from alignment_drift.core.benchmarks.suite import (
    BenchmarkResult,
    Scored,
    classification_metric,
    proxy_target_gap,
    run_benchmarks,
)

__all__ = ["BenchmarkResult", "Scored", "classification_metric", "proxy_target_gap", "run_benchmarks"]
