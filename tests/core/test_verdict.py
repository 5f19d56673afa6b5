"""Signals to verdict and attribution: every verdict and every source is reachable, and only with its evidence."""

from __future__ import annotations

import pytest

from alignment_drift.core.benchmarks import BenchmarkResult
from alignment_drift.core.spec import VerdictRules
from alignment_drift.core.verdict import Exposure, decide, verdict_code


def _bench(
    name: str,
    kind: str = "metric_floor",
    *,
    status: str = "pass",
    severity: str = "critical",
    delta: float | None = 0.0,
) -> BenchmarkResult:
    return BenchmarkResult(
        name=name,
        kind=kind,
        metric="recall",
        value=0.7,
        threshold=0.6,
        baseline=0.7,
        delta=delta,
        status=status,
        severity=severity,
        n=100,
        detail=f"{name} detail",
    )


RULES = VerdictRules(drifting_share=0.3)


@pytest.mark.parametrize(
    ("kwargs", "verdict"),
    [
        pytest.param({}, "aligned", id="nothing-moved"),
        pytest.param({"drifted_features": ["a"]}, "watch", id="one-feature"),
        pytest.param({"output_drift": True}, "watch", id="output-only"),
        pytest.param({"drifted_features": ["a", "b", "c"]}, "drifting", id="share-reached"),
        pytest.param(
            {"benchmarks": [_bench("p", status="fail", severity="warning")]}, "drifting", id="warning-benchmark"
        ),
        pytest.param({"benchmarks": [_bench("r", status="fail")]}, "misaligned", id="critical-benchmark"),
        pytest.param({"benchmarks": [_bench("r", status="skipped")]}, "aligned", id="skipped-is-not-failed"),
        pytest.param({"quarantine_reason": "bad"}, "quarantined", id="quarantined"),
    ],
)
def test_verdicts(kwargs: dict, verdict: str) -> None:
    args = {"rules": RULES, "drifted_features": [], "n_features": 7, "output_drift": False, "benchmarks": []} | kwargs
    result = decide(**args)
    assert result.verdict == verdict
    assert result.code == verdict_code(verdict)
    if verdict != "aligned":
        assert result.reasons


def test_output_drift_can_be_declared_drifting() -> None:
    result = decide(
        rules=VerdictRules(output_drift_is_drifting=True),
        drifted_features=[],
        n_features=7,
        output_drift=True,
        benchmarks=[],
    )
    assert result.verdict == "drifting"


def test_attribution_names_each_source_with_evidence() -> None:
    result = decide(
        rules=RULES,
        drifted_features=["sensationalism"],
        n_features=7,
        output_drift=True,
        benchmarks=[
            _bench("audit_recall", status="fail", delta=-0.2),
            _bench("gap", kind="proxy_target_gap", status="fail", severity="warning"),
        ],
        model_changed=True,
        exposure=Exposure(reference_rate=0.85, current_rate=0.65, p_value=1e-9),
    )
    sources = {a.source: a for a in result.attribution}
    assert set(sources) == {"distribution_shift", "feedback_loop", "reward_misspecification", "model_update"}
    assert "sensationalism" in sources["distribution_shift"].evidence
    assert "0.85" in sources["feedback_loop"].evidence
    assert "audit_recall -0.200" in sources["model_update"].evidence
    assert all(0 < a.confidence <= 1 for a in result.attribution)


@pytest.mark.parametrize(
    ("kwargs", "absent"),
    [
        pytest.param(
            {"model_changed": False, "benchmarks": [_bench("r", status="fail", delta=-0.3)]},
            "model_update",
            id="same-version-no-update",
        ),
        pytest.param(
            {"model_changed": True, "benchmarks": [_bench("r", delta=0.001)]},
            "model_update",
            id="new-version-same-behaviour",
        ),
        pytest.param({"exposure": Exposure(0.85, 0.6, 1e-9)}, "feedback_loop", id="exposure-without-input-drift"),
        pytest.param(
            {"drifted_features": ["a"], "exposure": Exposure(0.85, 0.84, 0.5)},
            "feedback_loop",
            id="input-drift-stable-exposure",
        ),
        pytest.param(
            {"drifted_features": ["a", "b"], "output_drift": True, "exposure": None, "selection": None},
            "feedback_loop",
            id="model-without-exposure-effect",
        ),
    ],
)
def test_no_attribution_without_its_evidence(kwargs: dict, absent: str) -> None:
    args = {"rules": RULES, "drifted_features": [], "n_features": 7, "output_drift": False, "benchmarks": []} | kwargs
    assert absent not in {a.source for a in decide(**args).attribution}


def _on(result: BenchmarkResult, on: str) -> BenchmarkResult:
    from dataclasses import replace

    return replace(result, on=on)


def test_a_batch_metric_failing_while_the_audit_set_holds_is_a_concept_shift() -> None:
    args = {"rules": RULES, "n_features": 7, "output_drift": False}
    batch_fail = _on(_bench("batch_recall", status="fail"), "batch")
    holds = _on(_bench("audit_recall"), "audit")
    result = decide(drifted_features=[], benchmarks=[holds, batch_fail], **args)
    (only,) = result.attribution
    assert only.source == "distribution_shift" and only.evidence.startswith("concept or label shift")
    assert "batch_recall 0.700" in only.evidence
    # with input drift too, one distribution_shift carries both pieces of evidence
    both = decide(drifted_features=["a", "b", "c"], benchmarks=[holds, batch_fail], **args)
    (shift,) = [a for a in both.attribution if a.source == "distribution_shift"]
    assert "input drift in a, b, c" in shift.evidence and "concept or label shift" in shift.evidence
    # not when the audit set fails too (the model is worse, not the labels), nor after a model change
    audit_fail = _on(_bench("audit_recall", status="fail"), "audit")
    assert not decide(drifted_features=[], benchmarks=[audit_fail, batch_fail], **args).attribution
    changed = decide(drifted_features=[], benchmarks=[holds, batch_fail], model_changed=True, **args)
    assert not any(a.source == "distribution_shift" for a in changed.attribution)
