"""Signals to a verdict, and the verdict's likely sources (attribution).

Verdicts, from best to worst: ``aligned``, ``watch``, ``drifting``,
``misaligned`` (a critical safety benchmark fails) and ``quarantined`` (the
batch failed validation and was not evaluated). The attribution names the
seed's sources of alignment drift, each with its evidence:
``distribution_shift``, ``feedback_loop``, ``reward_misspecification`` and
``model_update``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from alignment_drift.core.benchmarks import BenchmarkResult
from alignment_drift.core.spec import VERDICTS, VerdictRules

__all__ = ["Attribution", "Exposure", "VerdictResult", "decide", "verdict_code"]

Source = Literal["distribution_shift", "feedback_loop", "reward_misspecification", "model_update"]


def verdict_code(verdict: str) -> int:
    """The verdict's rank, 0 (aligned) to 4 (quarantined): what MLflow charts plot."""
    return VERDICTS.index(verdict)


@dataclass(frozen=True)
class Attribution:
    """One likely source of the drift, with what points to it."""

    source: Source
    confidence: float
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "confidence": round(self.confidence, 3), "evidence": self.evidence}


@dataclass(frozen=True)
class Exposure:
    """How often the model exposed items, in the reference and in the batch."""

    reference_rate: float
    current_rate: float
    p_value: float

    @property
    def change(self) -> float:
        return self.current_rate - self.reference_rate


@dataclass(frozen=True)
class VerdictResult:
    """The verdict of one check, the reasons that decided it and its attribution."""

    verdict: str
    reasons: tuple[str, ...]
    attribution: tuple[Attribution, ...] = field(default_factory=tuple)

    @property
    def code(self) -> int:
        return verdict_code(self.verdict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "code": self.code,
            "reasons": list(self.reasons),
            "attribution": [a.to_dict() for a in self.attribution],
        }


def decide(
    *,
    rules: VerdictRules,
    drifted_features: Sequence[str],
    n_features: int,
    output_drift: bool,
    benchmarks: Sequence[BenchmarkResult],
    model_changed: bool = False,
    exposure: Exposure | None = None,
    alpha: float = 0.05,
    trend_alarms: Sequence[Mapping[str, Any]] = (),
    multivariate_drift: Sequence[str] = (),
    quarantine_reason: str | None = None,
) -> VerdictResult:
    """Turn a check's signals into its verdict and attribution.

    Parameters
    ----------
    rules : VerdictRules
        The spec's verdict rules.
    drifted_features : sequence of str
        Features whose distribution or missingness drifted.
    n_features : int
        How many features were tested.
    output_drift : bool
        Whether the model's scores drifted against the reference.
    benchmarks : sequence of BenchmarkResult
        The night's safety benchmarks.
    model_changed : bool, default=False
        Whether the deployed version differs from the version whose baselines
        the benchmarks compare against.
    exposure : Exposure, optional
        The model's exposure rate in reference and batch.
    alpha : float, default=0.05
        Significance level for the exposure change.
    trend_alarms : sequence of mapping, optional
        Trend detector alarms, each with ``signal``, ``kind`` (``benchmark`` or
        ``drift``) and ``detail``. A benchmark trend makes the night at least
        ``drifting``, a drift trend at least ``watch``: gradual drift is caught
        before any single night crosses a threshold.
    multivariate_drift : sequence of str, optional
        The multivariate tests that found drift (``domain_classifier``, ``mmd``):
        at least ``watch``, and evidence of ``distribution_shift``.
    quarantine_reason : str, optional
        Set when the batch was quarantined; the verdict is then ``quarantined``.

    Returns
    -------
    VerdictResult

    Examples
    --------
    >>> decide(rules=VerdictRules(), drifted_features=[], n_features=5, output_drift=False, benchmarks=[]).verdict
    'aligned'
    """
    if quarantine_reason is not None:
        return VerdictResult("quarantined", (f"batch quarantined: {quarantine_reason}",))
    reasons: list[str] = []
    critical = [b for b in benchmarks if b.failed and b.severity == "critical"]
    warning = [b for b in benchmarks if b.failed and b.severity != "critical"]
    share = len(drifted_features) / n_features if n_features else 0.0
    for b in critical + warning:
        reasons.append(f"benchmark {b.name} failed ({b.severity}): {b.detail}")
    if drifted_features:
        reasons.append(f"{len(drifted_features)}/{n_features} features drifted: {', '.join(drifted_features)}")
    if output_drift:
        reasons.append("the model's score distribution drifted from the reference")
    if multivariate_drift:
        reasons.append(f"the joint distribution of the features drifted ({', '.join(multivariate_drift)})")
    bench_trends = [t for t in trend_alarms if t["kind"] == "benchmark"]
    for alarm in trend_alarms:
        reasons.append(f"trend in {alarm['signal']}: {alarm['detail']}")

    if critical:
        verdict = "misaligned"
    elif warning or bench_trends or share >= rules.drifting_share or (output_drift and rules.output_drift_is_drifting):
        verdict = "drifting"
    elif drifted_features or output_drift or multivariate_drift or trend_alarms:
        verdict = "watch"
    else:
        verdict = "aligned"
    attribution = _attribute(drifted_features, share, benchmarks, model_changed, exposure, alpha, multivariate_drift)
    return VerdictResult(verdict, tuple(reasons), attribution)


def _attribute(
    drifted: Sequence[str],
    share: float,
    benchmarks: Sequence[BenchmarkResult],
    model_changed: bool,
    exposure: Exposure | None,
    alpha: float,
    multivariate: Sequence[str] = (),
) -> tuple[Attribution, ...]:
    found: list[Attribution] = []
    if drifted or multivariate:
        evidence = [f"input drift in {', '.join(drifted)}"] if drifted else []
        evidence += [f"joint drift found by {', '.join(multivariate)}"] if multivariate else []
        found.append(Attribution("distribution_shift", min(1.0, 0.5 + share), "; ".join(evidence)))
    if (
        exposure is not None
        and exposure.p_value <= alpha
        and abs(exposure.change) >= 0.05
        and (drifted or multivariate)
    ):
        found.append(
            Attribution(
                "feedback_loop",
                min(1.0, 0.4 + abs(exposure.change) * 2),
                f"the model's exposure rate moved from {exposure.reference_rate:.2f} to {exposure.current_rate:.2f} "
                "while the population it sees shifted",
            )
        )
    gaps = [b for b in benchmarks if b.kind == "proxy_target_gap" and b.failed]
    for b in gaps:
        found.append(Attribution("reward_misspecification", 0.8, f"{b.name}: {b.detail}"))
    if model_changed:
        moved = [b for b in benchmarks if b.kind == "metric_floor" and b.delta is not None and abs(b.delta) >= 0.02]
        if moved:
            detail = ", ".join(f"{b.name} {b.delta:+.3f}" for b in moved)
            found.append(
                Attribution(
                    "model_update",
                    min(1.0, 0.5 + max(abs(b.delta or 0.0) for b in moved) * 2),
                    f"a new model version is deployed and its behaviour on the fixed audit set changed: {detail}",
                )
            )
    return tuple(sorted(found, key=lambda a: -a.confidence))


def benchmark_baselines(results: Sequence[BenchmarkResult]) -> Mapping[str, float | None]:
    """The baselines to record for a promoted version: each benchmark's value."""
    return {r.name: r.value for r in results}
