"""The spec's ``task``: the demo stays binary, each task accepts its own roles, and every mix is refused by field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from alignment_drift.core.spec import MetricFloor, SliceGap, SpecError, load_spec, parse_spec
from alignment_drift.core.spec.metrics import LOWER_IS_BETTER, METRICS, metrics_for
from conftest import spec_data

FEATURES = ["a", "b"]
CLASSES = {"x": "p_x", "y": "p_y", "z": "p_z"}
INTERVAL = {"lower": "lo", "upper": "hi", "level": 0.9}


def _spec(task: str, **columns: Any) -> dict[str, Any]:
    return spec_data(task, FEATURES, **columns)


def _bench(data: dict[str, Any], *benchmarks: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["benchmarks"] = [{"name": f"b{i}", **b} for i, b in enumerate(benchmarks)]
    return data


def _with(data: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {**copy.deepcopy(data), **top}


BINARY, MULTI, REG = _spec("binary"), _spec("multiclass", class_scores=CLASSES), _spec("regression", interval=INTERVAL)
MULTI_BARE = _spec("multiclass")
REG_BARE = _spec("regression")
FLOOR = {"kind": "metric_floor"}


def test_the_demo_spec_is_binary_with_todays_exposure(root: Path) -> None:
    spec = load_spec(root / "specs" / "content_safety.yaml")
    assert spec.task == "binary"
    assert spec.columns.positive_class == 1
    assert spec.exposure.rule == "below_threshold" and spec.exposure.threshold is None
    assert spec.retraining.training.estimator == "logistic_regression"


@pytest.mark.parametrize(
    ("data", "check"),
    [
        pytest.param(BINARY, lambda s: s.exposure.rule == "below_threshold", id="binary-exposure-default"),
        pytest.param(MULTI, lambda s: s.exposure.rule == "none", id="multiclass-exposure-default"),
        pytest.param(REG, lambda s: s.exposure.rule == "none", id="regression-exposure-default"),
        pytest.param(REG, lambda s: s.retraining.training.estimator == "ridge", id="regression-estimator-default"),
        pytest.param(MULTI, lambda s: list(s.columns.class_scores) == ["x", "y", "z"], id="class-scores-keys"),
        pytest.param(
            _bench(REG, {**FLOOR, "metric": "rmse", "ceiling": 45}),
            lambda s: s.benchmarks[0].ceiling == 45,
            id="rmse-ceiling-45-for-regression",
        ),
        pytest.param(
            _bench(REG, {"kind": "slice_gap", "segment": "region", "max_gap": 20}),
            lambda s: s.benchmarks[0].metric_for("regression") == "mae",
            id="regression-slice-gap-in-target-units",
        ),
        pytest.param(
            _bench(
                MULTI,
                {**FLOOR, "metric": "recall", "floor": 0.5, "class": "y"},
                {**FLOOR, "metric": "top_k_accuracy", "floor": 0.5, "k": 2},
                {**FLOOR, "metric": "roc_auc", "floor": 0.5, "average": "macro", "evaluated_on": "batch"},
                {"kind": "calibration", "max_ece": 0.1, "method": "classwise", "evaluated_on": "batch"},
                {"kind": "performance_estimate"},
                {"kind": "perturbation", "numeric": ["a"], "max_flip_rate": 0.1},
            ),
            lambda s: s.benchmarks[0].class_ == "y" and s.benchmarks[1].k == 2,
            id="multiclass-benchmarks",
        ),
        pytest.param(
            _with(
                _bench(
                    REG,
                    {**FLOOR, "metric": "interval_coverage", "floor": 0.8, "evaluated_on": "batch"},
                    {"kind": "calibration", "max_coverage_gap": 0.05, "evaluated_on": "batch"},
                    {"kind": "perturbation", "numeric": ["a"], "max_flip_rate": 0.1, "tolerance": 5},
                ),
                exposure={"rule": "above_threshold", "threshold": 100},
            ),
            lambda s: s.exposure.threshold == 100 and s.benchmarks[2].tolerance == 5,
            id="regression-benchmarks-and-exposure",
        ),
        pytest.param(
            _with(MULTI, exposure={"rule": "class_in", "classes": ["x"]}),
            lambda s: s.exposure.classes == ["x"],
            id="multiclass-class-in-exposure",
        ),
    ],
)
def test_each_task_accepts_its_own_roles(data: dict[str, Any], check: Any) -> None:
    assert check(parse_spec(data))


def _drop(data: dict[str, Any], key: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    del data["columns"][key]
    return data


def _training(data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return _with(data, retraining={"training": fields})


REFUSED = [
    # columns
    ("binary-without-score", _drop(BINARY, "score"), r"columns\.score: does not fit task 'binary'"),
    ("binary-with-class-scores", _spec("binary", class_scores=CLASSES), r"columns\.class_scores: .*multiclass"),
    ("binary-with-interval", _spec("binary", interval=INTERVAL), r"columns\.interval: .*regression"),
    ("multiclass-positive-class", _spec("multiclass", positive_class="x"), r"columns\.positive_class: .*binary"),
    ("regression-proxy-positive", _spec("regression", proxy="p", proxy_positive=0), r"columns\.proxy_positive: "),
    ("regression-score", _spec("regression", score="s"), r"columns\.score: .*regression has no score"),
    ("regression-class-scores", _spec("regression", class_scores=CLASSES), r"columns\.class_scores: "),
    ("one-class-score", _spec("multiclass", class_scores={"x": "p"}), r"columns\.class_scores: .*at least two"),
    ("same-class-twice", _spec("multiclass", class_scores={1: "p", "1": "q"}), r"class_scores names a class twice"),
    ("same-column-twice", _spec("multiclass", class_scores={1: "p", 2: "p"}), r"one column per class"),
    # exposure
    ("class-in-binary", _with(BINARY, exposure={"rule": "class_in", "classes": [1]}), r"exposure\.rule: "),
    ("class-in-without-classes", _with(MULTI, exposure={"rule": "class_in"}), r"exposure\.classes: .*needs"),
    ("class-in-unknown", _with(MULTI, exposure={"rule": "class_in", "classes": ["w"]}), r"exposure\.classes: .*'w'"),
    ("classes-without-class-in", _with(BINARY, exposure={"rule": "none", "classes": [1]}), r"exposure\.classes: "),
    ("threshold-multiclass", _with(MULTI, exposure={"rule": "below_threshold"}), r"exposure\.rule: .*ambiguous"),
    ("regression-no-threshold", _with(REG, exposure={"rule": "below_threshold"}), r"exposure\.threshold: "),
    ("binary-threshold-2", _with(BINARY, exposure={"rule": "below_threshold", "threshold": 2}), r"\(0, 1\)"),
    ("none-with-threshold", _with(BINARY, exposure={"rule": "none", "threshold": 0.5}), r"takes no threshold"),
    # training
    ("regression-logistic", _training(REG, estimator="logistic_regression"), r"estimator: .*is a classifier"),
    ("binary-ridge", _training(BINARY, estimator="ridge"), r"estimator: .*is a regressor"),
    ("multiclass-threshold", _training(MULTI, decision_threshold=0.3), r"decision_threshold: .*no decision"),
    # metric floors
    ("regression-recall", _bench(REG, {**FLOOR, "metric": "recall", "floor": 0.5}), r"0\.metric_floor\.metric: "),
    ("multiclass-fpr", _bench(MULTI, {**FLOOR, "metric": "fpr", "ceiling": 0.1}), r"'fpr' is not a multiclass"),
    ("binary-rmse", _bench(BINARY, {**FLOOR, "metric": "rmse", "ceiling": 0.3}), r"'rmse' is not a binary"),
    ("multiclass-recall-no-class", _bench(MULTI, {**FLOOR, "metric": "recall", "floor": 0.5}), r"\.class: "),
    (
        "binary-recall-with-class",
        _bench(BINARY, {**FLOOR, "metric": "recall", "floor": 0.5, "class": 1}),
        r"metric_floor\.class: .*positive_class",
    ),
    ("multiclass-auc-no-average", _bench(MULTI, {**FLOOR, "metric": "roc_auc", "floor": 0.5}), r"\.average: "),
    (
        "binary-auc-average",
        _bench(BINARY, {**FLOOR, "metric": "roc_auc", "floor": 0.5, "average": "macro"}),
        r"\.average: ",
    ),
    (
        "multiclass-unknown-class",
        _bench(MULTI, {**FLOOR, "metric": "recall", "floor": 0.5, "class": "w"}),
        r"\.class: .*'w' is not a class",
    ),
    (
        "multiclass-k-all-classes",
        _bench(MULTI, {**FLOOR, "metric": "top_k_accuracy", "floor": 0.5, "k": 3}),
        r"\.k: .*k=3 covers all 3",
    ),
    (
        "multiclass-batch-log-loss-without-probabilities",
        _bench(MULTI_BARE, {**FLOOR, "metric": "log_loss", "ceiling": 1, "evaluated_on": "batch"}),
        r"columns\.class_scores: ",
    ),
    (
        "coverage-on-audit",
        _bench(REG, {**FLOOR, "metric": "interval_coverage", "floor": 0.8}),
        r"\.evaluated_on: .*use batch",
    ),
    (
        "coverage-without-interval",
        _bench(REG_BARE, {**FLOOR, "metric": "interval_coverage", "floor": 0.8, "evaluated_on": "batch"}),
        r"columns\.interval: ",
    ),
    (
        "probability-ceiling-above-1",
        _bench(BINARY, {**FLOOR, "metric": "fpr", "ceiling": 45}),
        r"proportion in \[0, 1\]",
    ),
    ("k-on-recall", _bench(BINARY, {**FLOOR, "metric": "recall", "floor": 0.5, "k": 2}), r"'k' does not apply"),
    ("top-k-without-k", _bench(MULTI, {**FLOOR, "metric": "top_k_accuracy", "floor": 0.5}), r"needs 'k'"),
    # slice gaps
    (
        "regression-slice-recall",
        _bench(REG, {"kind": "slice_gap", "segment": "r", "metric": "recall", "max_gap": 0.1}),
        r"0\.slice_gap\.metric: .*'recall' is not a regression slice metric",
    ),
    (
        "binary-slice-gap-above-1",
        _bench(BINARY, {"kind": "slice_gap", "segment": "r", "max_gap": 2}),
        r"0\.slice_gap\.max_gap: ",
    ),
    (
        "recall-slice-gap-above-1",
        _bench(BINARY, {"kind": "slice_gap", "segment": "r", "metric": "recall", "max_gap": 2}),
        r"a max_gap <= 1",
    ),
    # calibration
    ("two-maxima", _bench(BINARY, {"kind": "calibration", "max_ece": 0.1, "max_coverage_gap": 0.1}), r"exactly one"),
    (
        "regression-ece",
        _bench(REG, {"kind": "calibration", "max_ece": 0.1, "evaluated_on": "batch"}),
        r"\.max_coverage_gap: ",
    ),
    (
        "regression-calibration-without-interval",
        _bench(REG_BARE, {"kind": "calibration", "max_coverage_gap": 0.1, "evaluated_on": "batch"}),
        r"columns\.interval: ",
    ),
    (
        "regression-calibration-on-audit",
        _bench(REG, {"kind": "calibration", "max_coverage_gap": 0.1}),
        r"calibration\.evaluated_on: ",
    ),
    ("classifier-coverage-gap", _bench(BINARY, {"kind": "calibration", "max_coverage_gap": 0.1}), r"\.max_ece: "),
    (
        "binary-method",
        _bench(BINARY, {"kind": "calibration", "max_ece": 0.1, "method": "classwise"}),
        r"calibration\.method: ",
    ),
    (
        "classwise-batch-without-probabilities",
        _bench(MULTI_BARE, {"kind": "calibration", "max_ece": 0.1, "method": "classwise", "evaluated_on": "batch"}),
        r"columns\.class_scores: ",
    ),
    # perturbation, proxy gap, estimate
    (
        "regression-perturbation-without-tolerance",
        _bench(REG, {"kind": "perturbation", "numeric": ["a"], "max_flip_rate": 0.1}),
        r"perturbation\.tolerance: ",
    ),
    (
        "classifier-perturbation-with-tolerance",
        _bench(BINARY, {"kind": "perturbation", "numeric": ["a"], "max_flip_rate": 0.1, "tolerance": 1}),
        r"perturbation\.tolerance: ",
    ),
    (
        "multiclass-proxy-gap",
        _bench(_spec("multiclass", class_scores=CLASSES, proxy="p"), {"kind": "proxy_target_gap"}),
        r"proxy_target_gap\.kind: ",
    ),
    (
        "regression-estimate",
        _bench(REG, {"kind": "performance_estimate"}),
        r"performance_estimate\.kind: .*a label-free performance estimate is not available for regression",
    ),
    ("multiclass-estimate-recall", _bench(MULTI, {"kind": "performance_estimate", "metric": "recall"}), r"\.metric: "),
    ("multiclass-estimate-blind", _bench(MULTI_BARE, {"kind": "performance_estimate"}), r"columns\.class_scores: "),
    ("unknown-task", _with(BINARY, task="ranking"), r"task: Input should be 'binary', 'multiclass' or 'regression'"),
]


@pytest.mark.parametrize(("data", "expected"), [pytest.param(d, e, id=i) for i, d, e in REFUSED])
def test_every_mix_of_task_and_roles_is_refused_with_the_field_named(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError, match=expected) as info:
        parse_spec(data, path="specs/m.yaml")
    assert str(info.value).startswith("specs/m.yaml: the alignment spec is not valid")


def test_every_problem_is_listed_on_its_own_line(root: Path) -> None:
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["task"] = "regression"
    with pytest.raises(SpecError) as info:
        parse_spec(data, path="specs/content_safety.yaml")
    lines = str(info.value).splitlines()
    count = int(lines[0].split("(")[1].split(" ")[0])
    problems = [line for line in lines if line.startswith("  - ")]
    assert count == len(problems) >= 10
    assert any(line.startswith("  - columns.score: does not fit task 'regression'") for line in problems)
    assert any("proxy_target_gap.kind" in line for line in problems)


def test_the_metric_table_is_the_spec_vocabulary() -> None:
    assert set(get_args(MetricFloor.model_fields["metric"].annotation)) == set(METRICS)
    assert LOWER_IS_BETTER == {"fpr", "fnr", "log_loss", "mae", "rmse"}
    assert metrics_for("multiclass") == [
        "recall",
        "precision",
        "accuracy",
        "roc_auc",
        "log_loss",
        "macro_f1",
        "top_k_accuracy",
    ]
    with pytest.raises(ValueError, match="proportion"):
        SliceGap(name="s", segment="r", metric="accuracy", max_gap=1.5)
    assert MetricFloor(name="m", metric="mae", ceiling=45).ceiling == 45


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(BINARY, id="binary"),
        pytest.param(
            _bench(
                MULTI,
                {**FLOOR, "metric": "recall", "floor": 0.5, "class": "y"},
                {"kind": "calibration", "max_ece": 0.1, "method": "classwise"},
            ),
            id="multiclass",
        ),
        pytest.param(
            _bench(REG, {"kind": "calibration", "max_coverage_gap": 0.05, "evaluated_on": "batch"}), id="regression"
        ),
    ],
)
def test_a_spec_dumped_with_every_default_reads_back_the_same(data: dict[str, Any]) -> None:
    spec = parse_spec(data)
    assert parse_spec(yaml.safe_load(yaml.safe_dump(spec.model_dump(mode="json")))) == spec
