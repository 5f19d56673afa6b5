"""Whether a spec's column roles, benchmarks, exposure rule and estimator fit its ``task``.

Each field is valid alone; this module checks them together against the
task and returns every problem with the field it concerns, so a spec that
mixes roles (a regression with a ``score``, a multiclass ``fpr``, a binary
spec without its score column) is refused with each field named.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from alignment_drift.core.spec.benchmarks import (
    Calibration,
    MetricFloor,
    PerformanceEstimate,
    Perturbation,
    ProxyTargetGap,
    SliceGap,
)
from alignment_drift.core.spec.columns import ColumnRoles, label_key
from alignment_drift.core.spec.exposure import Exposure
from alignment_drift.core.spec.metrics import METRICS, SLICE_METRICS, metrics_for
from alignment_drift.core.spec.policies import CLASSIFIER_ESTIMATORS, REGRESSOR_ESTIMATORS, RetrainingPolicy


class AlignmentSpec(Protocol):
    """The parts of a spec these checks read (the spec model imports this module, not the other way round)."""

    @property
    def task(self) -> str: ...
    @property
    def columns(self) -> ColumnRoles: ...
    @property
    def exposure(self) -> Exposure: ...
    @property
    def retraining(self) -> RetrainingPolicy: ...
    @property
    def benchmarks(self) -> Sequence[Any]: ...


__all__ = ["TaskMismatch", "task_defaults", "task_problems"]


class TaskMismatch(ValueError):
    """The spec's fields that do not fit its task, each ``(field path, problem)``: one line each in the error."""

    def __init__(self, task: str, problems: list[tuple[str, str]]) -> None:
        self.task, self.problems = task, problems
        super().__init__("; ".join(f"{where}: {what}" for where, what in problems))


def task_defaults(data: Any) -> Any:
    """Fill the defaults that depend on the task into a raw spec mapping (before validation).

    ``exposure``: ``below_threshold`` for a binary spec (exposed when the
    score is below the decision threshold: today's behaviour), ``none``
    otherwise; ``retraining.training.estimator``: ``ridge`` for a regression.
    """
    if not isinstance(data, dict):
        return data
    task = data.get("task", "binary")
    out = dict(data)
    if "exposure" not in out:
        out["exposure"] = {"rule": "below_threshold" if task == "binary" else "none"}
    retraining = out.get("retraining")
    if task == "regression" and (retraining is None or isinstance(retraining, dict)):
        retraining = dict(retraining or {})
        training = retraining.get("training")
        if training is None or isinstance(training, dict):
            retraining["training"] = {"estimator": "ridge", **(training or {})}
            out["retraining"] = retraining
    return out


def _changed(section: Any, field: str) -> bool:
    """Whether ``field`` differs from its default: a field of another task is refused only when it says something
    (a spec dumped with every default, then read back, stays valid)."""
    return bool(getattr(section, field) != type(section).model_fields[field].default)


class _Problems(list[tuple[str, str]]):
    def add(self, field: str, problem: str) -> None:
        self.append((field, problem))


def _columns(spec: AlignmentSpec, out: _Problems) -> None:
    task, roles = spec.task, spec.columns
    if task == "binary":
        if roles.score is None:
            out.add("columns.score", "a binary classifier's log needs its score, P(columns.positive_class)")
        if roles.class_scores is not None:
            out.add("columns.class_scores", "is for task: multiclass; a binary classifier's probability is score")
    else:
        for field in ("positive_class", "proxy_positive"):
            if _changed(roles, field):
                out.add(f"columns.{field}", f"is for task: binary; a {task} model has no positive class")
    if task == "regression":
        if roles.score is not None:
            out.add("columns.score", "a regression has no score, its output is columns.prediction; remove score")
        if roles.class_scores is not None:
            out.add("columns.class_scores", "is for task: multiclass; a regression has no class probabilities")
    elif roles.interval is not None:
        out.add("columns.interval", f"is for task: regression; a {task} model logs no prediction interval")


def _exposure(spec: AlignmentSpec, out: _Problems) -> None:
    task, rule = spec.task, spec.exposure
    if rule.rule == "class_in":
        if task != "multiclass":
            out.add("exposure.rule", "class_in is for multiclass; use below_threshold, above_threshold or none")
        elif not rule.classes:
            out.add("exposure.classes", "rule class_in needs the predicted classes that expose an item")
        elif spec.columns.class_scores is not None:
            known = {label_key(c) for c in spec.columns.class_scores}
            unknown = [c for c in rule.classes if label_key(c) not in known]
            if unknown:
                out.add("exposure.classes", f"{unknown} are not classes of columns.class_scores")
    elif rule.classes:
        out.add("exposure.classes", f"only rule class_in takes classes; the rule is {rule.rule}")
    if rule.rule in ("below_threshold", "above_threshold"):
        if task == "multiclass":
            out.add("exposure.rule", f"{rule.rule} is ambiguous for a multiclass model: use class_in, or none")
        elif task == "regression" and rule.threshold is None:
            out.add("exposure.threshold", f"{rule.rule} of a regression needs the threshold on the predicted value")
        elif task == "binary" and rule.threshold is not None and not 0.0 < rule.threshold < 1.0:
            out.add("exposure.threshold", f"a binary threshold is a probability in (0, 1); got {rule.threshold}")
    elif rule.threshold is not None:
        out.add("exposure.threshold", f"rule {rule.rule} takes no threshold")


def _training(spec: AlignmentSpec, out: _Problems) -> None:
    task, training = spec.task, spec.retraining.training
    regressors = " or ".join((*REGRESSOR_ESTIMATORS, "hist_gradient_boosting"))
    classifiers = " or ".join((*CLASSIFIER_ESTIMATORS, "hist_gradient_boosting"))
    if task == "regression" and training.estimator in CLASSIFIER_ESTIMATORS:
        out.add("retraining.training.estimator", f"{training.estimator} is a classifier; use {regressors}")
    if task != "regression" and training.estimator in REGRESSOR_ESTIMATORS:
        out.add("retraining.training.estimator", f"{training.estimator} is a regressor; use {classifiers}")
    if task != "binary" and _changed(training, "decision_threshold"):
        out.add("retraining.training.decision_threshold", f"a {task} model has no decision threshold; remove it")


def _metric_floor(spec: AlignmentSpec, where: str, bench: MetricFloor, out: _Problems) -> None:
    task, roles = spec.task, spec.columns
    info = METRICS[bench.metric]
    if task not in info.tasks:
        out.add(f"{where}.metric", f"{bench.metric!r} is not a {task} metric; use {', '.join(metrics_for(task))}")
        return
    if task == "binary":
        for option, value in (("class", bench.class_), ("average", bench.average)):
            if value is not None:
                out.add(f"{where}.{option}", f"a binary {bench.metric} is of columns.positive_class; remove it")
    if task == "multiclass":
        classes = roles.class_scores
        if "class" in info.needs and bench.class_ is None:
            out.add(f"{where}.class", f"a multiclass {bench.metric} is of one class: set class: <label>")
        if "average" in info.needs and bench.average is None:
            out.add(f"{where}.average", "a multiclass roc_auc is one-vs-rest: set average: macro or weighted")
        if classes is not None and bench.class_ is not None:
            if label_key(bench.class_) not in {label_key(c) for c in classes}:
                out.add(f"{where}.class", f"{bench.class_!r} is not a class of columns.class_scores {list(classes)}")
        if classes is not None and bench.k is not None and bench.k >= len(classes):
            out.add(f"{where}.k", f"k={bench.k} covers all {len(classes)} classes: top-k accuracy would be 1")
        if "proba" in info.needs and bench.evaluated_on == "batch" and classes is None:
            out.add("columns.class_scores", f"{bench.name!r} ({bench.metric} on the batch) needs class probabilities")
    if bench.metric == "interval_coverage":
        if bench.evaluated_on != "batch":
            out.add(f"{where}.evaluated_on", "intervals come from the prediction log, not the model: use batch")
        if roles.interval is None:
            out.add("columns.interval", f"{bench.name!r} (interval_coverage) needs the logged interval")


def _calibration(spec: AlignmentSpec, where: str, bench: Calibration, out: _Problems) -> None:
    task, roles = spec.task, spec.columns
    if task == "regression":
        if bench.max_coverage_gap is None:
            out.add(f"{where}.max_coverage_gap", "a regression's calibration is interval coverage: set it, not max_ece")
        if roles.interval is None:
            out.add("columns.interval", f"{bench.name!r} (a regression's calibration) needs the logged interval")
        if bench.evaluated_on != "batch":
            out.add(f"{where}.evaluated_on", "intervals come from the prediction log, not the model: use batch")
    elif bench.max_ece is None:
        out.add(f"{where}.max_ece", f"a {task} classifier's calibration is its ECE: set max_ece")
    if _changed(bench, "method") and task != "multiclass":
        out.add(f"{where}.method", "top_label and classwise are multiclass methods; remove method")
    if task == "multiclass" and bench.evaluated_on == "batch" and roles.class_scores is None:
        if bench.method == "classwise" or roles.score is None:
            out.add("columns.class_scores", f"{bench.name!r} ({bench.method} ECE on the batch) needs probabilities")


def _benchmark(spec: AlignmentSpec, index: int, bench: Any, out: _Problems) -> None:
    task, roles = spec.task, spec.columns
    where = f"benchmarks.{index}.{bench.kind}"
    if isinstance(bench, MetricFloor):
        _metric_floor(spec, where, bench, out)
    elif isinstance(bench, Calibration):
        _calibration(spec, where, bench, out)
    elif isinstance(bench, SliceGap):
        metric = bench.metric_for(task)
        if metric not in SLICE_METRICS[task]:
            out.add(f"{where}.metric", f"{metric!r} is not a {task} slice metric; use {', '.join(SLICE_METRICS[task])}")
        elif METRICS[metric].bounded and bench.max_gap > 1.0:
            out.add(f"{where}.max_gap", f"{bench.max_gap} is above 1, but a {metric} gap is at most 1")
    elif isinstance(bench, Perturbation):
        if task == "regression" and bench.tolerance is None:
            out.add(f"{where}.tolerance", "a regression flips when its prediction moves by more than tolerance: set it")
        if task != "regression" and bench.tolerance is not None:
            out.add(f"{where}.tolerance", f"a {task} row flips when its decision changes; tolerance is for regression")
    elif isinstance(bench, ProxyTargetGap) and task != "binary":
        out.add(f"{where}.kind", f"proxy_target_gap compares a binary score's AUCs; no {task} analogue: remove it")
    elif isinstance(bench, PerformanceEstimate):
        if task == "regression":
            out.add(f"{where}.kind", "a label-free performance estimate is not available for regression: remove it")
        elif task == "multiclass":
            if bench.metric != "accuracy":
                out.add(f"{where}.metric", "a multiclass estimate is of accuracy, from P(predicted class)")
            if roles.class_scores is None and roles.score is None:
                out.add("columns.class_scores", f"{bench.name!r} needs P(predicted class): declare class_scores")


def task_problems(spec: AlignmentSpec) -> list[tuple[str, str]]:
    """Every way the spec's fields do not fit its task: ``(field path, what is wrong and the fix)``."""
    out = _Problems()
    _columns(spec, out)
    _exposure(spec, out)
    _training(spec, out)
    for index, bench in enumerate(spec.benchmarks):
        _benchmark(spec, index, bench, out)
    return list(out)
