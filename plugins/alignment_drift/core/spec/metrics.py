"""The metric vocabulary: which task each metric applies to, which way is better, what it needs.

One table, read by the spec's validation (which metric a task may declare, a
``floor`` or a ``ceiling``, whether a threshold above 1 makes sense) and by
the benchmarks (re-exported as ``alignment_drift.core.benchmarks.metrics.LOWER_IS_BETTER``).
It lives beside the spec, not in the benchmarks package, because the spec is
validated before any benchmark module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "LOWER_IS_BETTER",
    "METRICS",
    "SLICE_METRICS",
    "MetricInfo",
    "direction_of",
    "metrics_for",
]


@dataclass(frozen=True)
class MetricInfo:
    """One metric: the tasks it applies to, its direction, and its range.

    ``bounded``: values lie in [0, 1] (a threshold above 1 is a mistake);
    ``unbounded`` metrics (errors in the target's units, log loss) take any
    non-negative threshold. ``needs`` names what a multiclass use requires
    beyond labels: ``class`` (a per-class metric), ``k``, ``average``, or
    ``proba`` (per-class probabilities).
    """

    direction: Literal["higher_is_better", "lower_is_better"]
    tasks: tuple[str, ...]
    bounded: bool = True
    needs: tuple[str, ...] = ()


_CLASSIFIERS = ("binary", "multiclass")

METRICS: dict[str, MetricInfo] = {
    "recall": MetricInfo("higher_is_better", _CLASSIFIERS, needs=("class",)),
    "precision": MetricInfo("higher_is_better", _CLASSIFIERS, needs=("class",)),
    "accuracy": MetricInfo("higher_is_better", _CLASSIFIERS),
    "f1": MetricInfo("higher_is_better", ("binary",)),
    "roc_auc": MetricInfo("higher_is_better", _CLASSIFIERS, needs=("average", "proba")),
    "specificity": MetricInfo("higher_is_better", ("binary",)),
    "fpr": MetricInfo("lower_is_better", ("binary",)),
    "fnr": MetricInfo("lower_is_better", ("binary",)),
    "log_loss": MetricInfo("lower_is_better", _CLASSIFIERS, bounded=False, needs=("proba",)),
    "macro_f1": MetricInfo("higher_is_better", ("multiclass",)),
    "top_k_accuracy": MetricInfo("higher_is_better", ("multiclass",), needs=("k", "proba")),
    "mae": MetricInfo("lower_is_better", ("regression",), bounded=False),
    "rmse": MetricInfo("lower_is_better", ("regression",), bounded=False),
    "r2": MetricInfo("higher_is_better", ("regression",)),
    "interval_coverage": MetricInfo("higher_is_better", ("regression",)),
}

# The direction of every metric a metric floor (and the gate) compares, from the one table above.
LOWER_IS_BETTER = frozenset(name for name, info in METRICS.items() if info.direction == "lower_is_better")

# What a slice gap may compare per task (a gap of a per-slice metric; its default first).
SLICE_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("recall", "precision", "accuracy", "f1", "roc_auc", "specificity", "fpr", "fnr"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse"),
}


def metrics_for(task: str) -> list[str]:
    """The metric-floor metrics a task may declare, in table order.

    Examples
    --------
    >>> metrics_for("regression")
    ['mae', 'rmse', 'r2', 'interval_coverage']
    """
    return [name for name, info in METRICS.items() if task in info.tasks]


def direction_of(metric: str) -> Literal["higher_is_better", "lower_is_better"]:
    """Which way ``metric`` is better; unknown names raise with the allowed ones listed."""
    if metric not in METRICS:
        raise ValueError(f"The 'metric' parameter must be one of {list(METRICS)}. Got {metric!r} instead.")
    return METRICS[metric].direction
