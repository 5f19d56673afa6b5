"""``governance.runtime``: defaults, the demo spec's section, and every mistake named by its field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignment_drift.core.spec import Runtime, SpecError, parse_spec


@pytest.fixture
def demo_spec(root: Path) -> dict:
    return yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())


def _with_runtime(spec: dict, runtime: dict[str, Any]) -> dict:
    spec = copy.deepcopy(spec)
    spec.setdefault("governance", {})["runtime"] = runtime
    return spec


def test_defaults_enforce_every_check() -> None:
    runtime = Runtime()
    assert runtime.enabled and runtime.probes.enabled
    assert runtime.abstain_band == 0.05 and runtime.min_margin == 0.1
    assert runtime.support.quantiles == (0.001, 0.999)
    assert (runtime.support.out_of_range, runtime.support.unseen_category, runtime.support.missing) == (
        "review",
        "review",
        "block",
    )
    assert runtime.rules == []


def test_the_demo_spec_declares_a_runtime_policy(demo_spec: dict) -> None:
    runtime = parse_spec(demo_spec).governance.runtime
    assert runtime.rules, "the demo spec shows the rule language"
    subjects = {c.subject for rule in runtime.rules for c in rule.conditions}
    assert "output:prediction" in subjects and "toxicity" in subjects


def test_a_rule_may_be_one_condition_or_a_list(demo_spec: dict) -> None:
    single = {"when": {"feature": "toxicity", "op": ">", "value": 0.9}, "action": "block", "reason": "r"}
    both = {
        "when": [{"feature": "category", "op": "in", "value": ["news"]}, {"output": "score", "op": ">=", "value": 0.9}],
        "action": "review",
        "reason": "r2",
    }
    spec = parse_spec(_with_runtime(demo_spec, {"rules": [single, both]}))
    first, second = spec.governance.runtime.rules
    assert [c.subject for c in first.conditions] == ["toxicity"]
    assert [c.subject for c in second.conditions] == ["category", "output:score"]


def _rule(when: Any, action: str = "block") -> dict[str, Any]:
    return {"rules": [{"when": when, "action": action, "reason": "because"}]}


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        pytest.param({"abstain_band": 0.7}, r"governance\.runtime\.abstain_band: .*less than 0\.5", id="band-too-wide"),
        pytest.param(
            {"abstain_band": -0.1}, r"governance\.runtime\.abstain_band: .*greater than or equal", id="band<0"
        ),
        pytest.param({"min_margin": 1.5}, r"governance\.runtime\.min_margin: .*less than 1", id="margin-too-big"),
        pytest.param(
            {"support": {"quantiles": [0.6, 0.9]}},
            r"governance\.runtime\.support\.quantiles: .*0 <= q_low < 0\.5 < q_high <= 1.*\[0\.6, 0\.9\]",
            id="quantiles-unordered",
        ),
        pytest.param(
            {"support": {"tolerance": -1}}, r"governance\.runtime\.support\.tolerance: ", id="negative-tolerance"
        ),
        pytest.param(
            {"support": {"out_of_range": "ignore"}},
            r"governance\.runtime\.support\.out_of_range: .*'allow', 'review' or 'block'",
            id="unknown-support-action",
        ),
        pytest.param({"probes": {"tolerance": 2}}, r"governance\.runtime\.probes\.tolerance: ", id="probe-tolerance>1"),
        pytest.param({"colour": "red"}, r"governance\.runtime\.colour: unknown field", id="unknown-field"),
        pytest.param(
            _rule({"feature": "toxicity", "op": "=~", "value": 1}),
            r"governance\.runtime\.rules\.0\.when\.0\.op: .*'<', '<=', '>', '>='",
            id="unknown-op",
        ),
        pytest.param(
            _rule({"feature": "toxicity", "op": ">", "value": 1}, action="delete"),
            r"governance\.runtime\.rules\.0\.action: .*'review' or 'block'",
            id="unknown-action",
        ),
        pytest.param(
            _rule({"feature": "toxicity", "output": "score", "op": ">", "value": 1}),
            r"exactly one of 'feature'.*or 'output'",
            id="feature-and-output",
        ),
        pytest.param(
            _rule({"op": ">", "value": 1}),
            r"exactly one of 'feature'",
            id="neither-feature-nor-output",
        ),
        pytest.param(
            _rule({"feature": "toxicity", "op": ">", "value": "high"}),
            r"governance\.runtime\.rules\.0\.when\.0: .*op '>' compares numbers; 'value' must be a number, got 'high'",
            id="ordering-against-text",
        ),
        pytest.param(
            _rule({"feature": "category", "op": "in", "value": "news"}),
            r"op 'in' needs 'value' to be a list of 1 to 1000 values",
            id="in-without-list",
        ),
        pytest.param(
            _rule({"feature": "toxicity", "op": "is_missing", "value": 1}),
            r"op 'is_missing' takes no 'value'",
            id="is-missing-with-value",
        ),
        pytest.param(
            _rule({"feature": "toxicity", "op": "=="}),
            r"op '==' needs one 'value'",
            id="equality-without-value",
        ),
        pytest.param(
            _rule({"output": "score", "op": "==", "value": 0.5}),
            r"the score is a probability: compare it with <, <=, > or >=",
            id="score-equality",
        ),
        pytest.param(
            {"rules": [{"when": [], "action": "block", "reason": "r"}]},
            r"governance\.runtime\.rules\.0\.when",
            id="empty-condition-list",
        ),
        pytest.param(
            {"rules": [{"when": {"feature": "toxicity", "op": ">", "value": 1}, "action": "block", "reason": ""}]},
            r"governance\.runtime\.rules\.0\.reason: .*at least 1 character",
            id="empty-reason",
        ),
        pytest.param(
            _rule({"feature": "virality", "op": ">", "value": 1}),
            r"governance\.runtime\.rules\[0\]: feature 'virality' is not a feature of the spec; use one of "
            r"\['author_reputation', 'category'",
            id="unknown-feature",
        ),
        pytest.param(
            _rule({"feature": "category", "op": ">", "value": 1}),
            r"governance\.runtime\.rules\[0\]: feature 'category' is categorical; compare it with ==, !=, in",
            id="ordering-on-categorical",
        ),
        pytest.param(
            _rule({"feature": "toxicity", "op": "in", "value": [0.1, "high"]}),
            r"feature 'toxicity' is numeric; its value\(s\) must be numbers",
            id="text-in-numeric-list",
        ),
    ],
)
def test_runtime_errors_name_the_field(demo_spec: dict, runtime: dict, expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        parse_spec(_with_runtime(demo_spec, runtime), path="specs/content_safety.yaml")
