"""``trend``: sequential detectors over the nights since the reference was promoted.

Signals: every benchmark's value (alarm on its bad direction), the share of
drifted features and the output-drift effect (alarm on a rise). Tonight's
values join the history read back from the check runs in MLflow, so a rerun of
a night gives the same answer and nothing is kept anywhere else.
"""

from __future__ import annotations

from alignment_drift.core.drift.output import output_columns
from alignment_drift.core.drift.trend import TrendDetector
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.mlflow.checks import list_checks, safe_key
from alignment_drift.pipeline.night import BenchmarkResults, DriftResult, Pulled, TrendResult
from alignment_drift.settings import Settings

__all__ = ["signals_of", "trend"]


def signals_of(
    spec: AlignmentSpec, drift: DriftResult, bench: BenchmarkResults
) -> dict[str, tuple[str, str, float | None]]:
    """Tonight's trend signals: metric name -> (kind, direction, value)."""
    signals: dict[str, tuple[str, str, float | None]] = {}
    for result in bench.results:
        # alarm on the bad direction: a fall for higher-is-better benchmarks, a rise for the others
        higher_is_better = result.get("direction", "higher_is_better") == "higher_is_better"
        direction = "decrease" if higher_is_better else "increase"
        # named as the check's metric (safe_key), so the history read back from MLflow matches
        signals[f"benchmark.{safe_key(result['name'])}.value"] = ("benchmark", direction, result["value"])
    if drift.drift:
        signals["drift.share"] = ("drift", "increase", drift.drift["drift_share"])
    if drift.output_drift:
        by_name = {c["name"]: c for c in drift.output_drift["columns"]}
        for name in output_columns(spec)[0]:  # the numeric outputs: a score, class probabilities, a prediction
            if name in by_name:
                signals[f"output_drift.{name}.effect"] = ("drift", "increase", by_name[name]["effect"])
    return signals


def trend(
    spec: AlignmentSpec, settings: Settings, pulled: Pulled, drift: DriftResult, bench: BenchmarkResults
) -> TrendResult:
    """Run the spec's trend detector over each signal's nightly history, tonight included."""
    policy = spec.drift.trend
    if not policy.enabled:
        return TrendResult(skipped="trend detection is disabled in the spec")
    if bench.skipped or drift.skipped:
        return TrendResult(skipped="the batch was not evaluated")
    start = pulled.interval.start
    reference = bench.reference_version
    history = [
        run
        for run in list_checks(settings, spec.model, until=start)
        if run.data.tags.get("reference_version") == reference and run.data.tags.get("verdict") != "quarantined"
    ]
    results = []
    for name, (kind, direction, value) in signals_of(spec, drift, bench).items():
        series = [run.data.metrics.get(name) for run in history] + [value]
        detector = TrendDetector(
            method=policy.method,
            direction=direction,  # type: ignore[arg-type]
            warmup=policy.warmup_nights,
            threshold=policy.threshold,
            slack=policy.slack,
        )
        results.append({"signal": name, "kind": kind, **detector.run(series).to_dict()})
    return TrendResult(
        since_reference=reference,
        nights=len(history) + 1,
        as_of=pulled.interval.bounds()[0].date().isoformat(),
        results=results,
    )
