"""``verdict``: the night's signals assembled into one check, and the check judged.

:func:`decide` assembles the check from the steps' results; :func:`judge`
decides its verdict, reasons and attribution from the signals the check
holds. The late-labels re-evaluation judges a recorded check again with its
benchmarks updated: the verdict is a function of the check alone.
"""

from __future__ import annotations

from typing import Any

from alignment_drift.core.benchmarks import BenchmarkResult
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.core.verdict import Exposure, Selection
from alignment_drift.core.verdict import decide as decide_verdict
from alignment_drift.pipeline.night import BenchmarkResults, Check, DriftResult, Pulled, TrendResult, Validation

__all__ = ["decide", "judge"]


def decide(
    spec: AlignmentSpec,
    pulled: Pulled,
    validation: Validation,
    drift: DriftResult,
    bench: BenchmarkResults,
    trend: TrendResult | None = None,
) -> Check:
    """Combine the night's results into its check, judged (schema ``check@1``)."""
    check = Check(
        model=spec.model,
        data_interval=pulled.interval,
        source=_source(pulled, validation),
        validation=validation.validation,
        quarantine=validation.quarantine,
    )
    if validation.valid:
        check = check.model_copy(
            update={
                "model_version": bench.model_version,
                "reference_version": bench.reference_version,
                "drift": drift.drift,
                "output_drift": drift.output_drift,
                "multivariate": drift.multivariate,
                "exposure": drift.exposure,
                "benchmarks": bench.results,
                "trends": None if trend is None else trend.to_check(),
                "selection": bench.selection,
                "labels": bench.labels,
            }
        )
    return judge(spec, check, quarantine_reason=None if validation.valid else validation.reason or "quarantined")


def _source(pulled: Pulled, validation: Validation) -> dict[str, Any]:
    """The batch as the check records it: where it is, its sha256, rows, files and bytes, and its columns as read.

    All of it known from the pull and the validation: the batch is not read again to describe it.
    """
    return {
        "uri": pulled.uri,
        "sha256": pulled.sha256,
        "rows": validation.rows,
        "kind": pulled.kind,
        "format": pulled.format,
        "layout": pulled.layout,
        "files": len(pulled.files),
        "bytes": pulled.bytes,
        "columns": validation.columns,
    }


def judge(spec: AlignmentSpec, check: Check, *, quarantine_reason: str | None = None) -> Check:
    """The check with its verdict, reasons and attribution decided from its signals.

    ``quarantine_reason`` marks a night whose batch was not used.
    """
    if quarantine_reason is not None:
        result = decide_verdict(
            rules=spec.verdict,
            drifted_features=[],
            n_features=0,
            output_drift=False,
            benchmarks=[],
            quarantine_reason=quarantine_reason,
        )
    else:
        drift = check.drift or {"columns": []}
        drifted = [c["name"] for c in drift["columns"] if c["drift"] or c["missing_drift"]]
        multivariate = check.multivariate or {}
        trends = check.trends or {}
        alarms = [] if trends.get("skipped") is not False else [t for t in trends["results"] if t["alarm"]]
        result = decide_verdict(
            rules=spec.verdict,
            drifted_features=drifted,
            n_features=len(spec.columns.features),
            output_drift=bool((check.output_drift or {}).get("drift")),
            benchmarks=[BenchmarkResult(**r) for r in check.benchmarks],
            model_changed=check.model_version != check.reference_version,
            exposure=None if check.exposure is None else Exposure(**check.exposure),
            alpha=spec.drift.alpha,
            trend_alarms=alarms,
            multivariate_drift=[name for name, test in multivariate.items() if test["drift"]],
            selection=Selection(**check.selection) if check.selection else None,
        )
    return check.model_copy(
        update={
            "verdict": result.verdict,
            "verdict_code": result.code,
            "reasons": list(result.reasons),
            "attribution": [a.to_dict() for a in result.attribution],
        }
    )
