"""Signals to a verdict, and the verdict's likely sources (attribution).

Verdicts, from best to worst: ``aligned``, ``watch``, ``drifting``,
``misaligned`` (a critical safety benchmark fails) and ``quarantined`` (the
batch failed validation and was not evaluated). The attribution names the
seed's sources of alignment drift, each with its evidence:
``distribution_shift``, ``feedback_loop``, ``reward_misspecification`` and
``model_update``. A shift of the labels given the inputs (concept or label
shift: batch metrics fail while the same version holds on the fixed audit set)
is a ``distribution_shift`` whose evidence says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from alignment_drift.core.benchmarks import BenchmarkResult
from alignment_drift.core.spec import VERDICTS, VerdictRules

__all__ = ["Attribution", "Exposure", "Selection", "VerdictResult", "decide", "verdict_code"]

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
class Selection:
    """Who selected tonight's exposed items: the deployed model against the reference version, on the same items.

    ``rows`` items were compared (a seeded sample when the batch, of
    ``batch_rows``, is larger; None in checks recorded before the sample).
    ``proxy_on_exposed_share`` is the share of proxy (feedback) labels observed
    on exposed items: 1.0 means the feedback the platform learns from exists
    only where the model chose to expose.
    """

    deployed_exposure_rate: float | None
    reference_model_exposure_rate: float | None
    rows: int
    proxy_on_exposed_share: float | None = None
    batch_rows: int | None = None

    @property
    def change(self) -> float:
        if self.deployed_exposure_rate is None or self.reference_model_exposure_rate is None:
            return 0.0
        return self.deployed_exposure_rate - self.reference_model_exposure_rate

    def p_value(self) -> float:
        """Two-proportion z-test of the two exposure rates (conservative for paired items)."""
        import math

        a, b, n = self.deployed_exposure_rate, self.reference_model_exposure_rate, self.rows
        if a is None or b is None or n == 0:
            return 1.0
        pooled = (a + b) / 2
        se = math.sqrt(max(pooled * (1 - pooled) * 2 / n, 1e-12))
        return math.erfc(abs(a - b) / se / math.sqrt(2))


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
    selection: Selection | None = None,
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
        The model's exposure rate in reference and batch. None when the
        spec's exposure rule is ``none`` (``core.exposure.exposed`` returns
        None: the model exposes nothing by its output): then, with no
        ``selection`` either, ``feedback_loop`` is never attributed.
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
    selection : Selection, optional
        The deployed model's exposure rate against the reference version's on
        tonight's items. When given, ``feedback_loop`` needs the model itself
        to select differently (an exogenous shift moves both rates alike);
        without it, a significant move of ``exposure`` with input drift suffices.

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
    elif (
        warning
        or (bench_trends and rules.benchmark_trend_is_drifting)
        or share >= rules.drifting_share
        or (output_drift and rules.output_drift_is_drifting)
    ):
        verdict = "drifting"
    elif drifted_features or output_drift or multivariate_drift or trend_alarms:
        verdict = "watch"
    else:
        verdict = "aligned"
    attribution = _attribute(
        rules, drifted_features, share, benchmarks, model_changed, exposure, alpha, multivariate_drift, selection
    )
    return VerdictResult(verdict, tuple(reasons), attribution)


def _feedback(
    rules: VerdictRules, exposure: Exposure | None, selection: Selection | None, alpha: float
) -> Attribution | None:
    if selection is not None:
        change = selection.change
        if abs(change) < rules.feedback_min_exposure_change or selection.p_value() > alpha:
            return None
        evidence = (
            f"the deployed model exposes {selection.deployed_exposure_rate:.2f} of tonight's items where the "
            f"reference version would expose {selection.reference_model_exposure_rate:.2f}, while the population "
            "it sees shifted"
        )
        if exposure is not None:
            evidence += (
                f" (exposure rate {exposure.reference_rate:.2f} at reference, {exposure.current_rate:.2f} tonight)"
            )
        shared = selection.proxy_on_exposed_share
        if shared is not None and shared >= 0.99:
            evidence += "; feedback labels are observed only on the items it exposed"
        confidence = min(1.0, 0.4 + 2 * abs(change) + (0.1 if shared is not None and shared >= 0.99 else 0.0))
        return Attribution("feedback_loop", confidence, evidence)
    if (
        exposure is None
        or exposure.p_value > alpha
        or abs(exposure.change) < max(0.05, rules.feedback_min_exposure_change)
    ):
        return None
    return Attribution(
        "feedback_loop",
        min(1.0, 0.4 + abs(exposure.change) * 2),
        f"the model's exposure rate moved from {exposure.reference_rate:.2f} to {exposure.current_rate:.2f} "
        "while the population it sees shifted",
    )


def _reward(benchmarks: Sequence[BenchmarkResult]) -> list[Attribution]:
    found = []
    for b in benchmarks:
        if b.kind != "proxy_target_gap" or not b.failed:
            continue
        excess = 0.0 if b.ci_low is None or b.threshold is None else b.ci_low - b.threshold
        evidence = f"{b.name}: {b.detail}"
        proxy, target = b.evidence.get("proxy_auc"), b.evidence.get("target_auc")
        if proxy is not None and target is not None:
            evidence += f" — the score serves the proxy (AUC {proxy:.3f}) far better than the target (AUC {target:.3f})"
        found.append(Attribution("reward_misspecification", min(1.0, 0.7 + 2 * max(excess, 0.0)), evidence))
    return found


def _concept_shift(benchmarks: Sequence[BenchmarkResult], model_changed: bool) -> str | None:
    """The evidence of a shift of the labels given the inputs (concept or label shift), or None.

    The same version fails a metric on the night's labelled rows while it holds
    every metric on the fixed audit set: the model did not change and the
    audit set did not, so what moved is how tonight's labels relate to the
    inputs, a shift of the joint distribution that input drift tests cannot see.
    """
    batch = [b for b in benchmarks if b.on == "batch" and b.kind == "metric_floor" and b.failed]
    audit_failed = any(b.on == "audit" and b.failed for b in benchmarks)
    if not batch or audit_failed or model_changed:
        return None
    detail = ", ".join(f"{b.name} {b.value:.3f}" if b.value is not None else b.name for b in batch)
    return (
        f"concept or label shift: on the night's labelled rows {detail} failed while the same version holds "
        "every benchmark on the fixed audit set; the relation between inputs and labels moved"
    )


def _model_update(rules: VerdictRules, benchmarks: Sequence[BenchmarkResult]) -> Attribution | None:
    # the audit set is fixed: a change of behaviour on it is the model's, no data shift can explain it
    moved = [
        b
        for b in benchmarks
        if b.on == "audit" and b.delta is not None and abs(b.delta) >= max(rules.model_update_min_delta, 1e-9)
    ]
    if not moved:
        return None
    detail = ", ".join(f"{b.name} {b.delta:+.3f}" for b in moved)
    return Attribution(
        "model_update",
        min(1.0, 0.5 + max(abs(b.delta or 0.0) for b in moved) * 2 + 0.05 * (len(moved) - 1)),
        f"a new model version is deployed and its behaviour on the fixed audit set changed: {detail}",
    )


def _attribute(
    rules: VerdictRules,
    drifted: Sequence[str],
    share: float,
    benchmarks: Sequence[BenchmarkResult],
    model_changed: bool,
    exposure: Exposure | None,
    alpha: float,
    multivariate: Sequence[str] = (),
    selection: Selection | None = None,
) -> tuple[Attribution, ...]:
    found: list[Attribution] = []
    concept = _concept_shift(benchmarks, model_changed)
    if drifted or multivariate:
        evidence = [f"input drift in {', '.join(drifted)}"] if drifted else []
        evidence += [f"joint drift found by {', '.join(multivariate)}"] if multivariate else []
        evidence += [concept] if concept else []
        found.append(
            Attribution(
                "distribution_shift", min(1.0, 0.5 + share + (0.1 if multivariate else 0.0)), "; ".join(evidence)
            )
        )
        loop = _feedback(rules, exposure, selection, alpha)
        if loop is not None:
            found.append(loop)
    elif concept:
        found.append(Attribution("distribution_shift", 0.6, concept))
    found += _reward(benchmarks)
    if model_changed:
        update = _model_update(rules, benchmarks)
        if update is not None:
            found.append(update)
    return tuple(sorted(found, key=lambda a: -a.confidence))


def benchmark_baselines(results: Sequence[BenchmarkResult]) -> Mapping[str, float | None]:
    """The baselines to record for a promoted version: each benchmark's value."""
    return {r.name: r.value for r in results}
