"""Probe files per task: a case whose fields do not fit the model's task is refused with the case and field named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from alignment_drift.core.benchmarks.probes import ProbeSuite, load_probe_suite, suite_problems


def _suite(*cases: dict) -> ProbeSuite:
    return ProbeSuite.model_validate({"cases": [{"id": f"c{i}", **c} for i, c in enumerate(cases)]})


MINIMUM = {"type": "minimum_functionality", "inputs": [{}]}
VARY = {"vary": {"x": [0, 1]}, "sample": 5}


@pytest.mark.parametrize(
    ("task", "case", "expected"),
    [
        ("binary", {**MINIMUM}, r"cases\[0\] \(c0\): a binary minimum-functionality case needs expect: blocked"),
        ("multiclass", {**MINIMUM, "expect": "blocked"}, r"cases\[0\] \(c0\)\.expect: blocked and shown are binary"),
        ("regression", {**MINIMUM, "expected_class": 2}, r"\.expected_class: is for multiclass"),
        ("binary", {**MINIMUM, "expected_range": [0, 1]}, r"\.expected_range: is for regression"),
        ("multiclass", {"type": "directional", **VARY}, r"\.class: a multiclass directional case follows"),
        ("regression", {"type": "invariance", **VARY}, r"\.max_change: a regression invariance case bounds"),
        ("regression", {"type": "invariance", **VARY, "max_change": 3, "max_score_change": 0.1}, r"no score"),
        ("binary", {"type": "invariance", **VARY, "max_change": 3}, r"\.max_change: is for regression"),
        ("binary", {"type": "directional", **VARY, "tolerance": 3}, r"\.tolerance: a probability tolerance"),
        ("regression", {**MINIMUM, "expected_range": [5, 1]}, r"low 5.0 is above high 1.0"),
        ("binary", {"type": "invariance", "vary": {"x": [0], "y": [1]}}, r"varies exactly one feature"),
        ("binary", {"type": "directional", **VARY, "class": 1}, r"\.class: is for multiclass"),
    ],
)
def test_a_case_that_does_not_fit_the_task_is_named(task: str, case: dict, expected: str) -> None:
    problems = suite_problems(_suite(case), task)
    assert any(re.search(expected, p) for p in problems), problems


@pytest.mark.parametrize(
    ("task", "case"),
    [
        ("binary", {**MINIMUM, "expect": "shown"}),
        ("multiclass", {**MINIMUM, "expected_class": "cat"}),
        ("regression", {**MINIMUM, "expected_range": [0, 400]}),
        ("multiclass", {"type": "directional", **VARY, "class": 3, "expect": "non_decreasing"}),
        ("regression", {"type": "invariance", **VARY, "max_change": 2.5}),
        ("regression", {"type": "directional", **VARY, "tolerance": 2.0}),
    ],
)
def test_a_case_that_fits_has_no_problem(task: str, case: dict) -> None:
    assert suite_problems(_suite(case), task) == []


def test_loading_for_a_task_refuses_the_file_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "probes.yaml"
    path.write_text(yaml.safe_dump({"cases": [{"id": "safe", **MINIMUM, "expect": "shown"}]}))
    assert load_probe_suite(path, task="binary").cases[0].id == "safe"
    with pytest.raises(ValueError, match=r"probes\.yaml: the probe cases do not fit a regression model: cases\[0\]"):
        load_probe_suite(path, task="regression")
