"""The trend step: sequential detectors over the nights since the reference was promoted.

Signals: every metric-floor benchmark's value (alarm on a fall), the
proxy–target gap (alarm on a rise), the share of drifted features and the
output-drift effect (alarm on a rise). Tonight's values join the history read
back from the check runs in MLflow, so a rerun of a night gives the same
answer and nothing is kept anywhere else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["signals_of", "trends"]


def signals_of(
    spec: AlignmentSpec, drift_out: dict[str, Any], bench_out: dict[str, Any]
) -> dict[str, tuple[str, str, float | None]]:
    """Tonight's trend signals: metric name -> (kind, direction, value)."""
    from alignment_drift.integrations.mlflow.checks import safe_key

    signals: dict[str, tuple[str, str, float | None]] = {}
    for bench in bench_out.get("results", []):
        # alarm on the bad direction: a fall for higher-is-better benchmarks, a rise for the others
        higher_is_better = bench.get("direction", "higher_is_better") == "higher_is_better"
        direction = "decrease" if higher_is_better else "increase"
        # named as the check's metric (safe_key), so the history read back from MLflow matches
        signals[f"benchmark.{safe_key(bench['name'])}.value"] = ("benchmark", direction, bench["value"])
    if drift_out.get("drift"):
        signals["drift.share"] = ("drift", "increase", drift_out["drift"]["drift_share"])
    output = drift_out.get("output_drift")
    if output:
        score = next((c for c in output["columns"] if c["name"] == spec.columns.score), None)
        if score is not None:
            signals[f"output_drift.{spec.columns.score}.effect"] = ("drift", "increase", score["effect"])
    return signals


def trends(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: dict[str, Any],
    drift_out: dict[str, Any],
    bench_out: dict[str, Any],
) -> dict[str, Any]:
    """Run the spec's trend detector over each signal's nightly history, tonight included.

    Returns
    -------
    dict
        ``skipped`` and why, or ``results``: one entry per signal with its
        kind (``benchmark`` or ``drift``) and the detector's result.
    """
    from alignment_drift.core.drift.trend import TrendDetector
    from alignment_drift.integrations.mlflow.checks import list_checks

    policy = spec.drift.trend
    if not policy.enabled:
        return {"skipped": "trend detection is disabled in the spec"}
    if bench_out.get("skipped") or drift_out.get("skipped"):
        return {"skipped": "the batch was not evaluated"}
    start = pulled["interval"]["start"]
    reference = bench_out["reference_version"]
    history = [
        run
        for run in list_checks(settings, spec.model, until=start)
        if run.data.tags.get("reference_version") == reference and run.data.tags.get("verdict") != "quarantined"
    ]
    results = []
    for name, (kind, direction, value) in signals_of(spec, drift_out, bench_out).items():
        series = [run.data.metrics.get(name) for run in history] + [value]
        detector = TrendDetector(
            method=policy.method,
            direction=direction,  # type: ignore[arg-type]
            warmup=policy.warmup_nights,
            threshold=policy.threshold,
            slack=policy.slack,
        )
        results.append({"signal": name, "kind": kind, **detector.run(series).to_dict()})
    return {
        "skipped": False,
        "since_reference": reference,
        "nights": len(history) + 1,
        "as_of": dt.datetime.fromisoformat(start).date().isoformat(),
        "results": results,
    }
