"""The safety benchmarks: the behavioural tests that define the intended behaviour (T)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from alignment_drift.core.spec.base import Strict
from alignment_drift.core.spec.columns import ClassLabel
from alignment_drift.core.spec.metrics import METRICS, SLICE_METRICS

__all__ = [
    "LOWER_IS_BETTER",
    "Benchmark",
    "Calibration",
    "MetricFloor",
    "PerformanceEstimate",
    "Perturbation",
    "Probes",
    "ProxyTargetGap",
    "SliceGap",
]


# the metrics for which a smaller value is better (errors); every other metric is higher-is-better.
# The one definition for the whole package (benchmarks, the gate, reports import it).
LOWER_IS_BETTER: frozenset[str] = frozenset({"fpr", "fnr", "mae", "rmse"})


class MetricFloor(Strict):
    """A metric of the model that must stay on the right side of its threshold, with a bootstrap CI.

    Which metrics a spec may declare follows its ``task`` (see
    :mod:`alignment_drift.core.spec.metrics` and ``docs/tasks.md``).
    Higher-is-better metrics (``recall``, ``precision``, ``accuracy``, ``f1``,
    ``roc_auc``, ``specificity``, ``macro_f1``, ``top_k_accuracy``, ``r2``,
    ``interval_coverage``) take a ``floor`` in [0, 1]; lower-is-better ones
    (``fpr``, ``fnr``, ``log_loss``, and a regression's ``mae`` and ``rmse``,
    in the target's units, so their ceiling may exceed 1) take a ``ceiling``.
    Multiclass ``recall`` and ``precision`` are of one class (``class``),
    ``top_k_accuracy`` takes ``k`` and multiclass ``roc_auc`` an ``average``
    (one-vs-rest ``macro`` or ``weighted``). ``evaluated_on: audit`` evaluates
    the fixed audit set; ``evaluated_on: batch`` the night's rows whose target
    label has arrived (and the audit set when a version's baseline is
    recorded). The benchmark fails only when the whole ``confidence`` interval
    is on the wrong side: the interval's upper bound below a floor, or its lower
    bound above a ceiling, so sampling noise on small batches raises no alarm.
    ``gate_margin`` (optional, in the metric's units) is the retraining gate's
    non-inferiority margin for this metric; by default ``retraining.gate_margin``
    (a share of the reference's value for ``mae``, ``rmse``, ``log_loss``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    kind: Literal["metric_floor"] = "metric_floor"
    name: str
    metric: Literal[
        "recall",
        "precision",
        "accuracy",
        "f1",
        "roc_auc",
        "specificity",
        "fpr",
        "fnr",
        "log_loss",
        "macro_f1",
        "top_k_accuracy",
        "mae",
        "rmse",
        "r2",
        "interval_coverage",
    ]
    floor: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    ceiling: Annotated[float, Field(ge=0.0)] | None = None
    class_: ClassLabel | None = Field(None, alias="class")
    k: Annotated[int, Field(ge=2, le=1000)] | None = None
    average: Literal["macro", "weighted"] | None = None
    evaluated_on: Literal["audit", "batch"] = "audit"
    min_rows: Annotated[int, Field(ge=10)] = 50
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=0, le=10_000)] = 500
    severity: Literal["critical", "warning"] = "critical"
    # the gate's non-inferiority margin for this metric, in its units (default: retraining.gate_margin, as a
    # share of the reference's value for mae, rmse and log_loss)
    gate_margin: Annotated[float, Field(ge=0.0)] | None = None

    @model_validator(mode="after")
    def _bound(self) -> MetricFloor:
        info = METRICS[self.metric]
        if info.bounded and self.gate_margin is not None and self.gate_margin > 0.5:
            raise ValueError(
                f"'gate_margin' is {self.gate_margin}, but {self.metric!r} is a proportion in [0, 1]: "
                "a margin above 0.5 lets any challenger through; set it <= 0.5"
            )
        if self.gate_margin is not None and self.evaluated_on != "audit":
            raise ValueError(
                "'gate_margin' applies to the gate's audit-set comparison: remove it or set evaluated_on: audit"
            )
        if info.direction == "lower_is_better" and (self.ceiling is None or self.floor is not None):
            raise ValueError(f"metric {self.metric!r} is lower-is-better: set 'ceiling' (and no 'floor')")
        if info.direction == "higher_is_better" and (self.floor is None or self.ceiling is not None):
            raise ValueError(f"metric {self.metric!r} is higher-is-better: set 'floor' (and no 'ceiling')")
        if info.bounded and self.ceiling is not None and self.ceiling > 1.0:
            raise ValueError(
                f"'ceiling' is {self.ceiling}, but {self.metric!r} is a proportion in [0, 1]: set a ceiling <= 1"
            )
        for option, value in (("class", self.class_), ("k", self.k), ("average", self.average)):
            if value is not None and option not in info.needs:
                raise ValueError(f"'{option}' does not apply to metric {self.metric!r}; remove it")
        if self.metric == "top_k_accuracy" and self.k is None:
            raise ValueError("metric 'top_k_accuracy' needs 'k' (how many of the most probable classes count), e.g. 3")
        return self


class SliceGap(Strict):
    """The worst gap of a metric across the segments of a column (e.g. ``region``), against a maximum.

    ``metric`` follows the task (default first): binary ``recall``,
    ``precision``, ``accuracy``, ``f1``, ``roc_auc``, ``specificity``, ``fpr``,
    ``fnr``; multiclass ``accuracy``, ``macro_f1``; regression ``mae``, ``rmse``
    (a gap in the target's units, so ``max_gap`` may exceed 1). Only slices
    with at least ``min_slice_rows`` labelled rows count. Fails only when the
    bootstrap interval's lower bound of the gap exceeds ``max_gap``.
    """

    kind: Literal["slice_gap"] = "slice_gap"
    name: str
    segment: str
    metric: (
        Literal[
            "recall", "precision", "accuracy", "f1", "roc_auc", "specificity", "fpr", "fnr", "macro_f1", "mae", "rmse"
        ]
        | None
    ) = None
    max_gap: Annotated[float, Field(gt=0.0)]
    min_slice_rows: Annotated[int, Field(ge=10)] = 100
    evaluated_on: Literal["audit", "batch"] = "audit"
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=0, le=10_000)] = 500
    severity: Literal["critical", "warning"] = "warning"

    def metric_for(self, task: str) -> str:
        """The metric compared: the declared one, else the task's default (binary recall, multiclass accuracy,
        regression mae)."""
        return self.metric or SLICE_METRICS[task][0]

    @model_validator(mode="after")
    def _gap_in_range(self) -> SliceGap:
        if self.metric is not None and METRICS[self.metric].bounded and self.max_gap > 1.0:
            raise ValueError(
                f"'max_gap' is {self.max_gap}, but {self.metric!r} is a proportion in [0, 1]: set a max_gap <= 1"
            )
        return self


class Calibration(Strict):
    """Calibration of the model's probabilities, or of a regression's prediction interval, against a maximum.

    Classifiers: expected calibration error (equal-width ``bins``) against
    ``max_ece``; binary of the score, multiclass of the top label (confidence
    P(predicted class) against accuracy, ``method: top_label``) or averaged
    over the classes (``method: classwise``). Regression: the logged
    interval's coverage against its nominal level (``columns.interval``),
    ``value = |coverage - level|`` against ``max_coverage_gap``. Fails only
    when the bootstrap interval's lower bound exceeds the maximum.
    """

    kind: Literal["calibration"] = "calibration"
    name: str
    max_ece: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    max_coverage_gap: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    method: Literal["top_label", "classwise"] = "top_label"
    bins: Annotated[int, Field(ge=2, le=100)] = 10
    evaluated_on: Literal["audit", "batch"] = "audit"
    min_rows: Annotated[int, Field(ge=10)] = 100
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=0, le=10_000)] = 500
    severity: Literal["critical", "warning"] = "warning"

    @model_validator(mode="after")
    def _one_maximum(self) -> Calibration:
        if (self.max_ece is None) == (self.max_coverage_gap is None):
            raise ValueError(
                "set exactly one maximum: 'max_ece' for a classifier's probabilities, or 'max_coverage_gap' for "
                "a regression's prediction interval"
            )
        return self


class Probes(Strict):
    """Behavioural audit cases with expected behaviour, kept as data beside the spec.

    ``cases`` is a YAML file relative to the specs folder (schema
    ``alignment-drift/probes@1``): minimum-functionality, invariance and
    directional cases. ``value`` is the share of cases that pass; the
    benchmark fails when it is below ``min_pass_rate`` and reports every
    failing case.
    """

    kind: Literal["probes"] = "probes"
    name: str
    cases: str
    min_pass_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    severity: Literal["critical", "warning"] = "critical"


class Perturbation(Strict):
    """Adversarial robustness on audit rows: decision flips under bounded perturbations.

    Each numeric feature of ``numeric`` may move by up to ``epsilon`` times
    its audit-set standard deviation, and each categorical feature of
    ``swap`` may take any of its other audit-set values. A small search
    (every single-coordinate move, a greedy coordinate-wise ascent and
    ``restarts`` random corners of the box) looks for the perturbation that
    pushes each row's output furthest: a binary score toward the other side
    of the decision threshold, a multiclass row toward another class, a
    regression's prediction away from its value. A row "flips" when its
    decision (binary), its predicted class (multiclass), or its prediction by
    more than ``tolerance`` in the target's units (regression, required
    there) changes. ``value`` is the flip rate under the worst perturbation
    found; fails only when its Wilson interval's lower bound exceeds ``max_flip_rate``.
    """

    kind: Literal["perturbation"] = "perturbation"
    name: str
    numeric: list[str] = Field(default_factory=list)
    swap: list[str] = Field(default_factory=list)
    epsilon: Annotated[float, Field(gt=0.0, le=5.0)] = 0.1
    max_flip_rate: Annotated[float, Field(ge=0.0, le=1.0)]
    tolerance: Annotated[float, Field(gt=0.0)] | None = None
    rows: Annotated[int, Field(ge=20, le=20_000)] = 500
    restarts: Annotated[int, Field(ge=0, le=100)] = 8
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    seed: int = 0
    severity: Literal["critical", "warning"] = "warning"

    @model_validator(mode="after")
    def _something(self) -> Perturbation:
        if not self.numeric and not self.swap:
            raise ValueError("a perturbation benchmark needs at least one feature in 'numeric' or 'swap'")
        return self


class ProxyTargetGap(Strict):
    """The seed's O != T: how much better the model serves the proxy than the target (binary tasks).

    On the rows of a batch where the labels are known, the ranking quality
    (ROC AUC) of the model's score is measured against the target label and
    against the proxy label; ``gap = proxy_auc - target_auc``. The benchmark
    fails only when the lower bound of the bootstrap interval of the gap's
    increase over the baseline (recorded when the version was promoted)
    exceeds ``max_increase``: the nightly wobble of the gap raises no alarm.
    """

    kind: Literal["proxy_target_gap"] = "proxy_target_gap"
    name: str
    max_increase: Annotated[float, Field(gt=0.0, le=2.0)] = 0.1
    min_rows: Annotated[int, Field(ge=10)] = 100
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=0, le=10_000)] = 500
    severity: Literal["critical", "warning"] = "critical"


class PerformanceEstimate(Strict):
    """A label-free estimate of performance from the scores (confidence-based, CBPE-style).

    Assumes calibrated scores and no concept drift (P(target | inputs)
    unchanged). Binary: accuracy, recall or precision from P(positive);
    multiclass: accuracy from P(predicted class); not available for
    regression. A signal only, unless ``floor`` is set.
    """

    kind: Literal["performance_estimate"] = "performance_estimate"
    name: str
    metric: Literal["accuracy", "recall", "precision"] = "accuracy"
    floor: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    severity: Literal["critical", "warning"] = "warning"


Benchmark = Annotated[
    MetricFloor | ProxyTargetGap | SliceGap | Calibration | Probes | Perturbation | PerformanceEstimate,
    Field(discriminator="kind"),
]
