"""Tests for alignment_drift.core.drift.budget: one alpha budget for every entry point."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alignment_drift.core.drift.budget import alpha_budget

BUDGETS = [
    # (families, joint_tests, expected families, expected joint tests), alpha = 0.06
    pytest.param(["inputs"], (), {"inputs": 0.06}, {}, id="cli-saved-profile"),
    pytest.param(
        ["inputs", "joint"],
        ("domain_classifier", "mmd"),
        {"inputs": 0.03, "joint": 0.03},
        {"domain_classifier": 0.015, "mmd": 0.015},
        id="cli-raw-data",
    ),
    pytest.param(["inputs", "outputs"], (), {"inputs": 0.03, "outputs": 0.03}, {}, id="monitor-no-joint"),
    pytest.param(
        ["joint", "outputs", "inputs"],
        ("mmd",),
        {"inputs": 0.02, "outputs": 0.02, "joint": 0.02},
        {"mmd": 0.02},
        id="monitor-mmd-only-any-order",
    ),
]


@pytest.mark.parametrize(("families", "joint_tests", "expected", "expected_joint"), BUDGETS)
def test_alpha_is_split_by_bonferroni_over_families_then_joint_tests(
    families: list[str], joint_tests: tuple[str, ...], expected: dict[str, float], expected_joint: dict[str, float]
) -> None:
    budget = alpha_budget(0.06, families, joint_tests=joint_tests or ("domain_classifier", "mmd"))
    assert budget.families == pytest.approx(expected)
    assert list(budget.families) == [f for f in ("inputs", "outputs", "joint") if f in expected]  # reported in order
    assert budget.joint_tests == pytest.approx(expected_joint)
    # the whole check never spends more than alpha
    assert sum(budget.families.values()) == pytest.approx(0.06)
    assert sum(budget.joint_tests.values()) == pytest.approx(budget.families.get("joint", 0.0))
    as_dict = budget.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict and as_dict["method"] == "bonferroni"


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        pytest.param((1.5, ["inputs"]), {}, r"The .alpha. parameter must be in \(0, 1\)\. Got 1\.5", id="alpha"),
        pytest.param((True, ["inputs"]), {}, r"'alpha' parameter must be in \(0, 1\)\. Got True", id="alpha-bool"),
        pytest.param((0.05, []), {}, r"'families' parameter must list at least one of", id="no-family"),
        pytest.param((0.05, ["inputs", "inputs"]), {}, r"none repeated\. Got \['inputs', 'inputs'\]", id="repeat"),
        pytest.param((0.05, ["columns"]), {}, r"one of \['inputs', 'outputs', 'joint'\]", id="unknown-family"),
        pytest.param((0.05, "inputs"), {}, r"'families' parameter must list .* Got 'inputs' instead", id="bare-str"),
        pytest.param((0.05, ["joint"]), {"joint_tests": ()}, r"'joint_tests' parameter must list", id="no-joint-test"),
        pytest.param((0.05, ["joint"]), {"joint_tests": ["ks"]}, r"\['domain_classifier', 'mmd'\]", id="unknown-test"),
    ],
)
def test_invalid_budgets_name_the_parameter_and_the_allowed_values(
    args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        alpha_budget(*args, **kwargs)


def test_joint_tests_are_ignored_when_the_joint_family_does_not_run() -> None:
    assert alpha_budget(0.05, ["inputs"], joint_tests=()).joint_tests == {}
