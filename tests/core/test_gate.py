"""The gate's rule, case by case: floors on the protective side, non-inferiority, severity, the decision."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored
from alignment_drift.core.gate import GateReference, audit_rows_needed, judge_challenger
from alignment_drift.core.spec import MetricFloor, Probes, ProxyTargetGap, SliceGap

RECALL = MetricFloor(name="audit_recall", metric="recall", floor=0.5)
GAP = SliceGap(name="region_gap", segment="region", max_gap=0.1, severity="critical")


def _scored(n: int = 2000, seed: int = 0, noise: float = 0.0, shift: float = 0.0) -> Scored:
    """A labelled audit set scored by a decent model; ``noise``/``shift`` make another model of the same rows."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    base = np.clip(0.25 + 0.45 * y + np.random.default_rng(1).normal(0, 0.2, n), 0, 1)
    score = np.clip(base + rng.normal(0, noise, n) - shift, 0, 1) if noise or shift else base
    return Scored(y, score, (score >= 0.5).astype(np.int64))


def _result(bench: Any, value: float | None, low: float | None, high: float | None, **kw: Any) -> BenchmarkResult:
    lower = isinstance(bench, SliceGap) or getattr(bench, "metric", "") in ("fpr", "fnr")
    threshold = getattr(bench, "max_gap", None) or getattr(bench, "floor", None) or getattr(bench, "ceiling", None)
    return BenchmarkResult.of(
        bench,
        metric=getattr(bench, "metric", "value"),
        value=value,
        threshold=kw.pop("threshold", threshold),
        baseline=None,
        status=kw.pop("status", "pass" if value is not None else "skipped"),
        n=kw.pop("n", 1000),
        ci_low=low,
        ci_high=high,
        direction="lower_is_better" if lower else "higher_is_better",
        detail=kw.pop("detail", ""),
    )


FLOOR_CASES = [
    pytest.param(RECALL, 0.60, 0.55, 0.65, "pass", id="floor-lower-bound-above"),
    pytest.param(RECALL, 0.52, 0.47, 0.57, "unresolved", id="floor-straddles"),
    pytest.param(RECALL, 0.45, 0.41, 0.49, "fail", id="floor-upper-bound-below"),
    pytest.param(RECALL, 0.50, 0.50, 0.55, "pass", id="floor-lower-bound-equal"),
    pytest.param(GAP, 0.05, 0.02, 0.08, "pass", id="ceiling-upper-bound-below"),
    pytest.param(GAP, 0.09, 0.05, 0.13, "unresolved", id="ceiling-straddles"),
    pytest.param(GAP, 0.15, 0.12, 0.18, "fail", id="ceiling-lower-bound-above"),
]


@pytest.mark.parametrize(("bench", "value", "low", "high", "outcome"), FLOOR_CASES)
def test_floors_are_judged_on_the_side_that_protects_users(
    bench: Any, value: float, low: float, high: float, outcome: str
) -> None:
    audit = _scored()
    decision = judge_challenger([bench], challenger=audit, results=[_result(bench, value, low, high)], references=[])
    (judged,) = decision.benchmarks
    assert judged.floor is not None and judged.floor.outcome == outcome
    assert judged.outcome == outcome
    expected = {"pass": "promote", "unresolved": "insufficient_evidence", "fail": "reject"}[outcome]
    assert decision.decision == expected
    if outcome == "unresolved":
        assert judged.floor.n_needed is not None and judged.floor.n_needed > 1000
        assert decision.n_needed == judged.floor.n_needed
        assert "not shown to meet" in decision.reasons[0]


def test_the_reported_bug_auc_under_its_floor_is_not_promoted() -> None:
    """AUC 0.8728 with a 0.88 floor: the old gate passed it on the interval's upper bound."""
    bench = MetricFloor(name="audit_auc", metric="roc_auc", floor=0.88)
    result = _result(bench, 0.8728, 0.862, 0.883)
    decision = judge_challenger([bench], challenger=_scored(), results=[result], references=[])
    assert decision.decision == "insufficient_evidence" and not decision.passed


def _judge(challenger: Scored, reference: Scored, *, margin: float = 0.02, bench: MetricFloor = RECALL) -> Any:
    from alignment_drift.core.benchmarks.metric_floor import evaluate_metric_floor

    return judge_challenger(
        [bench],
        challenger=challenger,
        results=[evaluate_metric_floor(bench, challenger, None)],
        references=[GateReference("champion", "4", reference)],
        margin=margin,
    )


def test_non_inferiority_against_a_reference() -> None:
    base = _scored(n=3000)
    same = _judge(base, base)
    comparison = same.benchmarks[0].comparisons[0]
    assert (comparison.advantage, comparison.ci_low, comparison.ci_high) == (0.0, 0.0, 0.0)
    assert comparison.outcome == "pass" and same.decision == "promote"

    much_worse = _scored(n=3000, shift=0.15)  # blocks far fewer positives
    worse = _judge(much_worse, base)
    comparison = worse.benchmarks[0].comparisons[0]
    assert comparison.ci_high < -0.02 and comparison.outcome == "fail"
    assert worse.decision == "reject" and "worse than the champion v4 by more than the margin" in worse.reasons[0]


def test_a_straddling_interval_is_insufficient_evidence_with_the_audit_size_that_would_resolve_it() -> None:
    base = _scored(n=400)
    other = _scored(n=400, noise=0.1)
    decision = _judge(other, base, bench=MetricFloor(name="audit_recall", metric="recall", floor=0.1))
    comparison = decision.benchmarks[0].comparisons[0]
    assert comparison.ci_low < -0.02 < comparison.ci_high
    assert comparison.outcome == "unresolved" and decision.decision == "insufficient_evidence"
    expected = audit_rows_needed(400, comparison.advantage, comparison.ci_low, comparison.ci_high, -0.02)
    assert comparison.n_needed == expected == decision.n_needed and expected > 400
    assert "straddles" in decision.reasons[0]


def test_both_references_must_hold() -> None:
    from alignment_drift.core.benchmarks.metric_floor import evaluate_metric_floor

    challenger = _scored(n=3000)
    references = [
        GateReference("last_gated", "3", challenger),
        GateReference("champion", "4", _scored(3000, shift=-0.2)),
    ]
    decision = judge_challenger(
        [RECALL],
        challenger=challenger,
        results=[evaluate_metric_floor(RECALL, challenger, None)],
        references=references,
    )
    outcomes = {c.reference: c.outcome for c in decision.benchmarks[0].comparisons}
    assert outcomes == {"last_gated": "pass", "champion": "fail"}
    assert decision.decision == "reject"
    assert decision.references == (("last_gated", "3"), ("champion", "4"))


def test_warning_benchmarks_are_reported_but_do_not_block() -> None:
    warning = MetricFloor(name="audit_precision", metric="precision", floor=0.9, severity="warning")
    results = [_result(RECALL, 0.7, 0.65, 0.75), _result(warning, 0.5, 0.45, 0.55)]
    decision = judge_challenger([RECALL, warning], challenger=_scored(), results=results, references=[])
    assert decision.decision == "promote"
    judged = {j.benchmark: j for j in decision.benchmarks}
    assert judged["audit_precision"].outcome == "fail" and not judged["audit_precision"].blocking
    assert decision.reasons == ()


def test_a_critical_audit_benchmark_that_cannot_be_evaluated_holds_the_challenger() -> None:
    probes = Probes(name="probes", cases="missing.yaml")
    batch = MetricFloor(name="batch_recall", metric="recall", floor=0.5, evaluated_on="batch")
    results = [
        _result(probes, None, None, None, detail="probe file not found", threshold=1.0),
        _result(batch, None, None, None, detail="no batch rows to evaluate"),
    ]
    decision = judge_challenger([probes, batch], challenger=_scored(), results=results, references=[])
    judged = {j.benchmark: j for j in decision.benchmarks}
    assert judged["probes"].outcome == "unresolved" and "probe file not found" in judged["probes"].reason
    assert judged["batch_recall"].outcome == "skipped" and "nightly on the batch" in judged["batch_recall"].reason
    assert decision.decision == "insufficient_evidence" and decision.n_needed is None


@pytest.mark.parametrize(
    ("mine", "theirs", "severity", "decision"),
    [
        pytest.param(0.30, 0.10, "critical", "reject", id="wider-gap-critical"),
        pytest.param(0.30, 0.10, "warning", "promote", id="wider-gap-warning"),
        pytest.param(0.12, 0.10, "critical", "promote", id="within-max-increase"),
        pytest.param(None, 0.10, "critical", "promote", id="no-gap-recorded"),
    ],
)
def test_proxy_target_gap_against_each_reference(
    mine: float | None, theirs: float, severity: str, decision: str
) -> None:
    bench = ProxyTargetGap(name="gap", max_increase=0.1, severity=severity)
    result = _result(bench, None, None, None, threshold=0.1)
    out = judge_challenger(
        [bench],
        challenger=_scored(),
        results=[result],
        references=[GateReference("champion", "2", None, {"gap": theirs})],
        challenger_baselines={"gap": mine},
    )
    assert out.decision == decision
    (comparison,) = out.benchmarks[0].comparisons
    if mine is not None:
        assert comparison.advantage == pytest.approx(theirs - mine)  # oriented: positive = smaller gap = better


def test_rows_and_dict_are_flat_and_json_able() -> None:
    import json

    base = _scored(n=1000)
    decision = _judge(base, base)
    document = decision.to_dict()
    json.dumps(document)
    assert document["decision"] == "promote" and document["method"]["rule"] == "non_inferiority"
    (row,) = decision.rows()
    assert row["reference"] == "champion" and row["reference_version"] == "4" and row["delta"] == 0.0
    assert row["decision"] == "pass" and row["bound"] == -0.02


def test_audit_rows_needed_formula() -> None:
    # half-width 0.04 on the side facing the boundary, distance 0.03: n * (0.04 / 0.03)^2
    assert audit_rows_needed(1000, 0.01, -0.03, 0.05, -0.02) == 1778
    assert audit_rows_needed(1000, -0.05, -0.09, -0.01, -0.02) == 1778  # below: the upper half-width
    assert audit_rows_needed(1000, -0.02, -0.05, 0.01, -0.02) is None  # on the boundary: no size resolves it


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"margin": -0.1}, "'margin'"), ({"results": []}, "'results'")],
    ids=["margin", "results"],
)
def test_parameters_are_validated(kwargs: dict[str, Any], match: str) -> None:
    call: dict[str, Any] = {"challenger": _scored(100), "results": [_result(RECALL, 0.6, 0.5, 0.7)], "references": []}
    with pytest.raises(ValueError, match=match):
        judge_challenger([RECALL], **{**call, **kwargs})


def _income_rows(scale: float, seed: int = 0, n: int = 2000) -> Scored:
    """Incomes in dollars (skewed) predicted with a relative error of ``scale``: another model of the same rows."""
    y = np.exp(np.random.default_rng(1).normal(10.5, 0.6, n))
    prediction = y * (1 + np.random.default_rng(seed).normal(0, scale, n))
    return Scored(y, prediction, prediction, task="regression")


def test_a_regression_error_is_judged_with_a_margin_relative_to_the_reference() -> None:
    from alignment_drift.core.benchmarks.metric_floor import evaluate_metric_floor

    mae = MetricFloor(name="audit_mae", metric="mae", ceiling=1e7)
    reference = _income_rows(0.10, seed=2)

    def judge(challenger: Scored, bench: MetricFloor = mae) -> Any:
        return judge_challenger(
            [bench],
            challenger=challenger,
            results=[evaluate_metric_floor(bench, challenger, None)],
            references=[GateReference("champion", "3", reference)],
            margin=0.02,
        )

    worse = judge(_income_rows(0.13, seed=3)).benchmarks[0]
    (comparison,) = worse.comparisons
    ref_mae = float(np.mean(np.abs(reference.prediction - reference.target)))
    assert comparison.outcome == "fail" and comparison.bound == pytest.approx(-0.02 * ref_mae)
    assert comparison.advantage < 0 and comparison.rows == 2000  # in dollars, oriented: positive is better
    # the same rows and models, judged with a benchmark margin of a million dollars: within it
    lenient = judge(_income_rows(0.13, seed=3), mae.model_copy(update={"gate_margin": 1e6})).benchmarks[0]
    assert lenient.comparisons[0].outcome == "pass" and lenient.comparisons[0].bound == -1e6


def test_a_benchmark_margin_must_make_sense_for_its_metric() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="proportion in \\[0, 1\\]"):
        MetricFloor(name="r", metric="recall", floor=0.5, gate_margin=0.7)
    with pytest.raises(ValidationError, match="evaluated_on: audit"):
        MetricFloor(name="r", metric="recall", floor=0.5, gate_margin=0.01, evaluated_on="batch")
    assert MetricFloor(name="m", metric="mae", ceiling=50, gate_margin=5).gate_margin == 5
