"""``trend``: sequential detectors over the nights since the last re-baselining.

Signals: every benchmark's value (alarm on its bad direction), the share of
drifted features and the output-drift effect (alarm on a rise). Tonight's
values join the history read back from the check runs in MLflow, so a rerun of
a night gives the same answer and nothing is kept anywhere else.

The history starts again when the problem it shows has been handled:

* at the promotion of a new reference (only check runs of tonight's
  ``reference_version`` are read);
* after an incident of kind ``alignment`` is resolved (:func:`history_restart`):
  only nights whose data interval starts at or after the end of the incident's
  last night are read and, when a person resolved it, at or after the time they
  did. A resolution counts for the nights that start after that point, so
  nights before it keep their answer.

Within the history, the detector itself starts a new warm-up after every alarm
night (:class:`~alignment_drift.core.drift.trend.TrendDetector`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from alignment_drift.core.drift.output import output_columns
from alignment_drift.core.drift.trend import TrendDetector
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.incident_store import SYSTEM_ACTOR, Incident, list_incidents, night_key
from alignment_drift.integrations.mlflow.checks import list_checks, safe_key
from alignment_drift.pipeline.night import BenchmarkResults, DriftResult, Pulled, TrendResult
from alignment_drift.settings import Settings

__all__ = ["history_restart", "signals_of", "trend"]


def history_restart(incidents: Iterable[Incident], night_start: dt.datetime) -> tuple[dt.datetime, str] | None:
    """Where the trend history of the night starting at ``night_start`` restarts: ``(since, incident id)``.

    Of the resolved ``alignment`` incidents with at least one night, the one whose
    restart point is the latest at or before ``night_start``. Its restart point is
    the end of its last night's data interval or, when a person resolved it
    (anyone but the monitor's own automatic resolution), the later of that and
    ``resolved_at``. None when no resolved incident applies.
    """
    best: tuple[dt.datetime, str] | None = None
    for incident in incidents:
        if incident.kind != "alignment" or incident.state != "resolved" or not incident.occurrences:
            continue
        since = night_key(incident.occurrences[-1].interval_end)
        by = next((t.by for t in reversed(incident.history) if t.action == "resolved"), SYSTEM_ACTOR)
        if by != SYSTEM_ACTOR and incident.resolved_at is not None:
            since = max(since, night_key(incident.resolved_at))
        if since <= night_start and (best is None or since > best[0]):
            best = (since, incident.id)
    return best


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
    restart = history_restart(list_incidents(settings, spec.model), night_key(start))
    since = None if restart is None else restart[0].isoformat()
    history = [
        run
        for run in list_checks(settings, spec.model, since=since, until=start)
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
        result = detector.run(series).to_dict()
        # where the history starts besides the reference's promotion: a resolved incident (None: none)
        result |= {"history_since": since, "since_incident": None if restart is None else restart[1]}
        results.append({"signal": name, "kind": kind, **result})
    return TrendResult(
        since_reference=reference,
        nights=len(history) + 1,
        as_of=pulled.interval.bounds()[0].date().isoformat(),
        results=results,
    )
