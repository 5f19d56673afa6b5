"""What the gate returns: per-benchmark judgements, comparisons against references and the decision.

The rule that fills them is :mod:`alignment_drift.core.gate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from alignment_drift.core.benchmarks.result import Scored

__all__ = [
    "DECISIONS",
    "BenchmarkJudgement",
    "Comparison",
    "Decision",
    "FloorCheck",
    "GateDecision",
    "GateReference",
    "Outcome",
]

Decision = Literal["promote", "reject", "insufficient_evidence"]
Outcome = Literal["pass", "fail", "unresolved", "skipped", "info"]
DECISIONS: tuple[str, ...] = ("promote", "reject", "insufficient_evidence")


@dataclass(frozen=True)
class FloorCheck:
    """A benchmark's threshold judged on the side that protects users."""

    threshold: float
    direction: Literal["higher_is_better", "lower_is_better"]
    value: float
    ci_low: float | None
    ci_high: float | None
    outcome: Outcome
    n_needed: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """The challenger against one reference on one benchmark (``kind`` ``non_inferiority`` or ``proxy_gap``).

    ``advantage`` is challenger minus reference oriented so that positive is
    better, with its interval (``ci_low``/``ci_high``, None for the gap's
    point comparison); ``bound`` is the boundary it must clear
    (``-margin``, or ``-max_increase`` for the gap).
    """

    kind: Literal["non_inferiority", "proxy_gap"]
    reference: str
    reference_version: str | None
    challenger_value: float | None
    reference_value: float | None
    advantage: float | None
    ci_low: float | None
    ci_high: float | None
    bound: float
    outcome: Outcome
    n_needed: int | None
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BenchmarkJudgement:
    """One benchmark of the spec as the gate judged it; ``blocking`` is false for warning benchmarks."""

    benchmark: str
    kind: str
    metric: str
    severity: str
    blocking: bool
    on: str
    value: float | None
    floor: FloorCheck | None
    comparisons: tuple[Comparison, ...]
    outcome: Outcome
    reason: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["floor"] = None if self.floor is None else self.floor.to_dict()
        out["comparisons"] = [c.to_dict() for c in self.comparisons]
        return out


@dataclass(frozen=True)
class GateReference:
    """A version the challenger is judged against: its role, its scores on the same audit rows, its baselines."""

    role: str
    version: str | None
    scored: Scored | None
    baselines: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    """The gate's decision on a challenger, every benchmark's judgement and the method."""

    decision: Decision
    challenger: str | None
    references: tuple[tuple[str, str | None], ...]
    margin: float
    confidence: float
    replicates: int
    seed: int
    audit_rows: int
    benchmarks: tuple[BenchmarkJudgement, ...]
    reasons: tuple[str, ...]
    n_needed: int | None

    @property
    def passed(self) -> bool:
        return self.decision == "promote"

    def reference_version(self, role: str) -> str | None:
        return next((v for r, v in self.references if r == role), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "passed": self.passed,
            "challenger": self.challenger,
            "references": [{"role": r, "version": v} for r, v in self.references],
            "margin": self.margin,
            "audit_rows": self.audit_rows,
            "n_needed": self.n_needed,
            "reasons": list(self.reasons),
            "method": {
                "kind": "paired_bootstrap",
                "rule": "non_inferiority",
                "replicates": self.replicates,
                "confidence": self.confidence,
                "margin": self.margin,
                "seed": self.seed,
                "judged_on": "target",
            },
            "benchmarks": [b.to_dict() for b in self.benchmarks],
        }

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per benchmark and reference (one row when the benchmark has no comparison)."""
        out = []
        for b in self.benchmarks:
            floor = b.floor
            base = {
                "benchmark": b.benchmark,
                "metric": b.metric,
                "severity": b.severity,
                "challenger": b.value,
                "challenger_ci_low": None if floor is None else floor.ci_low,
                "challenger_ci_high": None if floor is None else floor.ci_high,
                "threshold": None if floor is None else floor.threshold,
                "floor_outcome": None if floor is None else floor.outcome,
            }
            keys = ("reference", "reference_version", "reference_value", "delta", "ci_low", "ci_high", "bound")
            empty: dict[str, Any] = {k: None for k in (*keys, "comparison_outcome")}
            comparisons: list[dict[str, Any]] = [
                {
                    "reference": c.reference,
                    "reference_version": c.reference_version,
                    "reference_value": c.reference_value,
                    "delta": c.advantage,
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    "bound": c.bound,
                    "comparison_outcome": c.outcome,
                }
                for c in b.comparisons
            ] or [empty]
            for comparison in comparisons:
                out.append({**base, **comparison, "decision": b.outcome, "blocking": b.blocking, "why": b.reason})
        return out
