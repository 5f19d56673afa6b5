"""The retraining gate as a rule: shown non-inferior on the target, floors held on the side that protects users.

A challenger is judged on the fixed audit set against one or more reference
versions (the last version that passed the gate and the current champion
when it differs: both must hold). For every benchmark of the spec:

- **floors** (the benchmark's own interval ``[lo, hi]`` of the challenger's
  value): a floor holds when ``lo >= floor`` and is confidently failed when
  ``hi < floor``; a ceiling (``max_gap``, ``max_ece``, ``max_flip_rate``,
  lower-is-better metrics) holds when ``hi <= ceiling`` and fails when
  ``lo > ceiling``. In between it is unresolved. Without an interval
  (probes) the point value decides.
- **non-inferiority** (metric benchmarks on the audit set), per reference:
  ``A`` = challenger - reference, oriented so that positive means the
  challenger is better, with its paired-bootstrap interval
  ``[A_lo, A_hi]``: pass when ``A_lo > -margin``, fail (shown worse) when
  ``A_hi < -margin``, unresolved when the interval straddles ``-margin``.
  Every task's metrics are compared this way (binary, multiclass per class or
  averaged, regression errors); the margin is in the metric's units (see
  :func:`margin_of`: a share of the reference's error for ``mae``, ``rmse``,
  ``log_loss``, or the benchmark's own ``gate_margin``).
- **proxy-target gap**, per reference: ``reference gap - challenger gap``
  (each version's gap on its own held-out rows: point values, no pairing)
  fails below ``-max_increase``.

Decision: ``reject`` when any critical benchmark fails, else
``insufficient_evidence`` when any critical benchmark is unresolved (or a
critical audit benchmark could not be evaluated), else ``promote``.
Warning benchmarks are judged and reported the same way but never block.

For an unresolved item the audit size that would resolve it is estimated
from the observed interval, assuming the point estimate holds and the
half-width shrinks as ``1/sqrt(n)``: with point ``p``, boundary ``b`` and
the half-width ``h`` on the side facing ``b`` (``p - lo`` when ``p > b``,
``hi - p`` when ``p < b``), ``n_needed = ceil(n * (h / |p - b|)^2)``; none
when ``p == b`` (no audit size resolves a point on the boundary).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from alignment_drift.core.benchmarks.paired import METRICS, PairedDelta, paired_delta
from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored
from alignment_drift.core.gate_decision import (
    BenchmarkJudgement,
    Comparison,
    Decision,
    FloorCheck,
    GateDecision,
    GateReference,
    Outcome,
)
from alignment_drift.core.spec import Benchmark, MetricFloor, ProxyTargetGap
from alignment_drift.core.spec.metrics import METRICS as METRIC_TABLE

__all__ = [
    "BenchmarkJudgement",
    "Comparison",
    "Decision",
    "FloorCheck",
    "GateDecision",
    "GateReference",
    "Outcome",
    "audit_rows_needed",
    "judge_challenger",
    "margin_of",
]


def audit_rows_needed(n: int, point: float, low: float | None, high: float | None, boundary: float) -> int | None:
    """The audit size that would put the whole interval on one side of ``boundary`` (see the module doc).

    Examples
    --------
    >>> audit_rows_needed(1000, 0.01, -0.03, 0.05, -0.02)  # half-width 0.04, distance 0.03
    1778
    """
    if n <= 0 or low is None or high is None or point == boundary:
        return None
    half = point - low if point > boundary else high - point
    if half <= 0:
        return n
    return math.ceil(n * (half / abs(point - boundary)) ** 2)


def margin_of(bench: MetricFloor, margin: float, reference_value: float | None) -> float:
    """The non-inferiority margin of ``bench``, in its metric's units.

    The benchmark's own ``gate_margin`` when it declares one; else, for a
    metric in [0, 1] (recall, accuracy, r2, ...), the spec's margin as is; for
    an unbounded one (``mae``, ``rmse`` in the target's units, ``log_loss``), the
    spec's margin as a share of the reference's value (0.02: within 2 % of its
    error), since an absolute margin has no meaning across targets.

    Examples
    --------
    >>> mae = MetricFloor(name="mae", metric="mae", ceiling=60.0)
    >>> margin_of(mae, 0.02, 45.0), margin_of(mae.model_copy(update={"gate_margin": 3.0}), 0.02, 45.0)
    (0.9, 3.0)
    """
    if bench.gate_margin is not None:
        return float(bench.gate_margin)
    if METRIC_TABLE[bench.metric].bounded or reference_value is None:
        return margin
    return margin * abs(float(reference_value))


def _resolve(point: float, low: float | None, high: float | None, boundary: float, *, strict: bool) -> Outcome:
    """Oriented (higher is better): pass when the lower bound clears ``boundary``, fail when the upper is below."""
    low = point if low is None else low
    high = point if high is None else high
    if low > boundary or (not strict and low >= boundary):
        return "pass"
    if high < boundary:
        return "fail"
    return "unresolved"


def _floor(result: BenchmarkResult) -> FloorCheck | None:
    if result.value is None or result.threshold is None:
        return None
    sign = 1.0 if result.direction == "higher_is_better" else -1.0
    lo, hi = result.ci_low, result.ci_high
    # oriented: higher is better
    o_low, o_high = (lo, hi) if sign > 0 else (None if hi is None else -hi, None if lo is None else -lo)
    point, bound = sign * result.value, sign * result.threshold
    outcome = _resolve(point, o_low, o_high, bound, strict=False)
    needed = audit_rows_needed(result.n, point, o_low, o_high, bound) if outcome == "unresolved" else None
    return FloorCheck(result.threshold, result.direction, result.value, lo, hi, outcome, needed)


def _margin(paired: PairedDelta, reference: GateReference, margin: float) -> Comparison:
    adv, low, high = paired.advantage, paired.advantage_low, paired.advantage_high
    needed = None
    if adv is None:
        outcome: Outcome = "skipped"
    elif low is None or high is None:  # too few replicates where the metric is defined: nothing is shown
        outcome = "unresolved"
    else:
        outcome = _resolve(adv, low, high, -margin, strict=True)
        needed = audit_rows_needed(paired.n, adv, low, high, -margin) if outcome == "unresolved" else None
    return Comparison(
        kind="non_inferiority",
        reference=reference.role,
        reference_version=reference.version,
        challenger_value=paired.challenger,
        reference_value=paired.reference,
        advantage=adv,
        ci_low=low,
        ci_high=high,
        bound=-margin,
        outcome=outcome,
        n_needed=needed,
        rows=paired.n,
    )


def _gap(bench: ProxyTargetGap, mine: float | None, reference: GateReference) -> Comparison:
    theirs = reference.baselines.get(bench.name)
    if mine is None or theirs is None:
        outcome: Outcome = "skipped"
        adv = None
    else:
        adv = float(theirs) - float(mine)
        outcome = "fail" if adv < -bench.max_increase else "pass"
    return Comparison(
        kind="proxy_gap",
        reference=reference.role,
        reference_version=reference.version,
        challenger_value=mine,
        reference_value=theirs,
        advantage=adv,
        ci_low=None,
        ci_high=None,
        bound=-bench.max_increase,
        outcome=outcome,
        n_needed=None,
        rows=0,
    )


def _who(c: Comparison) -> str:
    return f"the {c.reference.replace('_', ' ')}" + (f" v{c.reference_version}" if c.reference_version else "")


def _floor_text(metric: str, floor: FloorCheck) -> str:
    word = "floor" if floor.direction == "higher_is_better" else "ceiling"
    shown = "" if floor.ci_low is None else f" (interval {floor.ci_low:.3f}..{floor.ci_high:.3f})"
    where = "is confidently on the wrong side of" if floor.outcome == "fail" else "is not shown to meet"
    return f"{metric} {floor.value:.3f}{shown} {where} its {word} {floor.threshold:.3f}"


def _comparison_text(c: Comparison) -> str:
    if c.kind == "proxy_gap":
        return (
            f"proxy-target gap {c.challenger_value:.3f} exceeds that of {_who(c)} ({c.reference_value:.3f}) "
            f"by more than {-c.bound:g}"
        )
    if c.ci_low is None or c.ci_high is None:
        why = "no interval: too few resamples where the metric is defined"
    else:
        interval = f"interval {c.ci_low:+.3f}..{c.ci_high:+.3f}"
        if c.outcome == "fail":
            return f"worse than {_who(c)} by more than the margin {-c.bound:g}: {c.advantage:+.3f} ({interval})"
        why = f"{interval} straddles {c.bound:+g}"
    return f"not shown within the margin {-c.bound:g} of {_who(c)}: {c.advantage:+.3f} ({why})"


def _why(result: BenchmarkResult, floor: FloorCheck | None, comparisons: Sequence[Comparison]) -> str:
    open_items = ("fail", "unresolved")
    parts = [_floor_text(result.metric, floor)] if floor is not None and floor.outcome in open_items else []
    parts += [_comparison_text(c) for c in comparisons if c.outcome in open_items and c.advantage is not None]
    return "; ".join(parts)


def _combine(outcomes: Sequence[Outcome]) -> Outcome:
    for worst in ("fail", "unresolved", "pass", "info"):
        if worst in outcomes:
            return worst
    return "skipped"


def judge_challenger(
    benchmarks: Sequence[Benchmark],
    *,
    challenger: Scored,
    results: Sequence[BenchmarkResult],
    references: Sequence[GateReference],
    challenger_baselines: Mapping[str, float | None] | None = None,
    margin: float = 0.02,
    replicates: int = 500,
    confidence: float = 0.95,
    seed: int = 0,
    challenger_label: str | None = None,
) -> GateDecision:
    """Judge a challenger: every benchmark's floor, non-inferiority against every reference, the decision.

    Parameters
    ----------
    benchmarks : sequence of Benchmark
        The spec's benchmarks.
    challenger : Scored
        The audit set scored by the challenger.
    results : sequence of BenchmarkResult
        The challenger's benchmark results on that audit set (``run_benchmarks``), same names.
    references : sequence of GateReference
        The versions to be at least as good as, each scored on the same audit rows.
    challenger_baselines : mapping, optional
        The challenger's own recorded values (its proxy-target gap on its held-out rows).
    margin : float
        The spec's non-inferiority margin, in [0, 1]: in the metric's units for
        bounded metrics, a share of the reference's value for unbounded ones
        (a benchmark's own ``gate_margin`` overrides it; see :func:`margin_of`).
    replicates, confidence, seed
        The paired bootstrap's replicates, two-sided level and seed.
    challenger_label : str, optional
        How the challenger is named in the decision (its version).

    Returns
    -------
    GateDecision
    """
    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"The 'margin' parameter must be in [0, 1]. Got {margin} instead.")
    by_name = {r.name: r for r in results}
    missing = [b.name for b in benchmarks if b.name not in by_name]
    if missing:
        raise ValueError(
            f"The 'results' parameter has no result for benchmark(s) {missing}. Pass run_benchmarks' output."
        )
    mine = challenger_baselines or {}
    judged: list[BenchmarkJudgement] = []
    for bench in benchmarks:
        result = by_name[bench.name]
        on = getattr(bench, "evaluated_on", "audit")
        comparisons: list[Comparison] = []
        floor = None
        if isinstance(bench, ProxyTargetGap):
            comparisons = [_gap(bench, mine.get(bench.name), ref) for ref in references]
            value = mine.get(bench.name)
        else:
            value = result.value
            floor = _floor(result)
            if isinstance(bench, MetricFloor) and on == "audit" and bench.metric in METRICS:
                for ref in references:
                    if ref.scored is None:
                        continue
                    paired = paired_delta(
                        bench.metric,
                        challenger,
                        ref.scored,
                        label=bench.class_,
                        k=bench.k,
                        average=bench.average,
                        replicates=replicates,
                        confidence=confidence,
                        seed=seed,
                    )
                    comparisons.append(_margin(paired, ref, margin_of(bench, margin, paired.reference)))
        outcomes: list[Outcome] = [c.outcome for c in comparisons]
        if floor is not None:
            outcomes.append(floor.outcome)
        outcome = _combine(outcomes) if outcomes else ("info" if result.status == "info" else "skipped")
        reason = _why(result, floor, comparisons)
        blocking = bench.severity == "critical"
        if outcome == "skipped" and on == "audit" and not isinstance(bench, ProxyTargetGap) and blocking:
            outcome, reason = "unresolved", f"could not be evaluated on the audit set: {result.detail}"
        elif outcome == "skipped":
            reason = reason or (result.detail if on == "audit" else "judged nightly on the batch, not by the gate")
        judged.append(
            BenchmarkJudgement(
                benchmark=bench.name,
                kind=bench.kind,
                metric=result.metric,
                severity=bench.severity,
                blocking=blocking,
                on=on,
                value=value,
                floor=floor,
                comparisons=tuple(comparisons),
                outcome=outcome,
                reason=reason,
            )
        )
    blocking_outcomes = [j.outcome for j in judged if j.blocking]
    decision: Decision = (
        "reject"
        if "fail" in blocking_outcomes
        else "insufficient_evidence"
        if "unresolved" in blocking_outcomes
        else "promote"
    )
    reasons = tuple(f"{j.benchmark}: {j.reason}" for j in judged if j.blocking and j.outcome in ("fail", "unresolved"))
    needed = [n for j in judged if j.blocking and j.outcome == "unresolved" for n in _needed(j) if n is not None]
    return GateDecision(
        decision=decision,
        challenger=challenger_label,
        references=tuple((r.role, r.version) for r in references),
        margin=margin,
        confidence=confidence,
        replicates=replicates,
        seed=seed,
        audit_rows=int((~np.isnan(challenger.target)).sum()),
        benchmarks=tuple(judged),
        reasons=reasons,
        n_needed=max(needed) if decision == "insufficient_evidence" and needed else None,
    )


def _needed(judgement: BenchmarkJudgement) -> list[int | None]:
    """The audit sizes that would resolve each unresolved item of a benchmark."""
    out = [c.n_needed for c in judgement.comparisons if c.outcome == "unresolved"]
    if judgement.floor is not None and judgement.floor.outcome == "unresolved":
        out.append(judgement.floor.n_needed)
    return out
