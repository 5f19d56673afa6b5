"""A first alignment spec for a model a team already has: ``alignment-drift init``.

From the registered model and the data it was validated on, :func:`plan_spec`
guesses everything a spec needs and says what it guessed:

- the features: the model's MLflow signature inputs, else its
  ``feature_names_in_``; numeric or categorical from the reference data's dtypes;
- the task: a classifier with two classes is ``binary``, with more
  ``multiclass``; a regressor is ``regression`` (``task`` overrides);
- the data: the reference rows are split (seeded, stratified by class for
  classifiers) into ``reference.training_data`` and a fixed ``audit_set``
  of ``audit_fraction`` of the rows, unless an audit set is given;
- the safety benchmarks of the task (:data:`DEFAULT_BENCHMARKS`), all on the
  audit set, with thresholds set a margin below (errors: a factor above) what
  the model achieves on it today. An unchanged model therefore never fails
  them (the audit set is fixed, so its value does not move); a model that
  loses more than the margin does;
- a daily ``files`` source template, the default drift policy, built-in
  retraining, and the prediction-log column names (``prediction_id``,
  ``timestamp``, ``prediction``, ``score``) to rename to the log's own.

The expectation suite comes from
:func:`alignment_drift.integrations.expectations.generate_suite` on the
reference rows scored by the model. Writing files is the command's job
(``alignment_drift.cli.init``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.core.scoring import ModelOutput, Task, infer_task, label_key, score_model

__all__ = ["DEFAULT_BENCHMARKS", "ScaffoldError", "SpecPlan", "model_name", "plan_spec", "render_spec"]

#: Per task: (name, kind, metric, margin, severity). A floor is ``observed - margin`` (0..1 metrics); a ceiling
#: is ``observed * (1 + margin)`` (errors in the target's unit) or ``observed + margin`` (calibration error).
DEFAULT_BENCHMARKS: dict[str, tuple[tuple[str, str, str, float, str], ...]] = {
    "binary": (
        ("audit_roc_auc", "metric_floor", "roc_auc", 0.05, "critical"),
        ("audit_recall", "metric_floor", "recall", 0.10, "critical"),
        ("audit_precision", "metric_floor", "precision", 0.10, "warning"),
        ("audit_calibration", "calibration", "ece", 0.05, "warning"),
    ),
    "multiclass": (("audit_accuracy", "metric_floor", "accuracy", 0.05, "critical"),),
    "regression": (
        ("audit_mae", "metric_floor", "mae", 0.25, "critical"),
        ("audit_rmse", "metric_floor", "rmse", 0.25, "warning"),
    ),
}
MIN_AUDIT_ROWS = 50
_NAME = re.compile(r"[^a-z0-9_]+")


class ScaffoldError(ValueError):
    """What ``init`` cannot guess or build: the message names the input and the fix."""


@dataclass(frozen=True)
class SpecPlan:
    """A spec for the model, the data split behind it, and what a person should review."""

    model: str
    task: Task
    spec: dict[str, Any]
    training: pd.DataFrame
    audit: pd.DataFrame
    scored_reference: pd.DataFrame
    review: tuple[str, ...] = ()
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "training_rows": len(self.training),
            "audit_rows": len(self.audit),
            "thresholds": self.thresholds,
            "review": list(self.review),
        }


def model_name(registered: str) -> str:
    """A spec model name (lower-case letters, digits, ``_``; starts with a letter) from a registered model's name.

    Examples
    --------
    >>> model_name("Fraud-Detector v2")
    'fraud_detector_v2'
    """
    name = _NAME.sub("_", registered.lower()).strip("_")[:63]
    return name if name[:1].isalpha() else f"m_{name}"[:63]


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    return bool(
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _split(frame: pd.DataFrame, target: str, fraction: float, seed: int, stratify: bool) -> np.ndarray:
    """A seeded audit mask with ``fraction`` of the rows, of every class when ``stratify``."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(frame), dtype=bool)
    groups = frame.groupby(target, dropna=False).indices.values() if stratify else [np.arange(len(frame))]
    for rows in groups:
        take = round(len(rows) * fraction)
        mask[rng.permutation(rows)[:take]] = True
    return mask


def _observed(task: Task, metric: str, y: np.ndarray, out: ModelOutput) -> float | None:
    from alignment_drift.core.benchmarks.calibration import expected_calibration_error
    from alignment_drift.core.benchmarks.metrics import classification_metric

    if task == "regression":
        error = np.asarray(out.prediction, float) - y.astype(float)
        return float(np.mean(np.abs(error))) if metric == "mae" else float(np.sqrt(np.mean(error**2)))
    if task == "multiclass":
        return float(np.mean(out.prediction == y))
    score = np.asarray(out.score, float)
    if metric == "ece":
        return float(expected_calibration_error(y.astype(float), score, np.ones((1, len(y))), bins=10)[0])
    return classification_metric(metric, y.astype(np.int64), score, np.asarray(out.prediction))


def _benchmarks(
    task: Task, y: np.ndarray, out: ModelOutput
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    benchmarks: list[dict[str, Any]] = []
    chosen: dict[str, dict[str, float]] = {}
    for name, kind, metric, margin, severity in DEFAULT_BENCHMARKS[task]:
        value = _observed(task, metric, y, out)
        if value is None or not math.isfinite(value):
            continue
        if kind == "calibration":
            bound = min(1.0, math.ceil((value + margin) * 100) / 100)
            benchmarks.append({"kind": kind, "name": name, "max_ece": bound, "severity": severity})
            chosen[name] = {"observed": round(value, 4), "max_ece": bound}
        elif metric in ("mae", "rmse"):
            bound = float(f"{value * (1 + margin):.4g}")
            benchmarks.append({"kind": kind, "name": name, "metric": metric, "ceiling": bound, "severity": severity})
            chosen[name] = {"observed": round(value, 4), "ceiling": bound}
        else:
            bound = max(0.0, math.floor((value - margin) * 100) / 100)
            benchmarks.append({"kind": kind, "name": name, "metric": metric, "floor": bound, "severity": severity})
            chosen[name] = {"observed": round(value, 4), "floor": bound}
    return benchmarks, chosen


def plan_spec(
    model: Any,
    inputs: tuple[str, ...] | None,
    reference: pd.DataFrame,
    *,
    name: str,
    target: str,
    task: Task | None = None,
    audit: pd.DataFrame | None = None,
    audit_fraction: float = 0.3,
    seed: int = 0,
    id_column: str = "prediction_id",
    timestamp_column: str = "timestamp",
    start_date: dt.date | None = None,
    trusted_types: tuple[str, ...] = (),
    inputs_from: str = "the model",
) -> SpecPlan:
    """Plan the spec of ``model`` from its ``reference`` data (see the module docstring for every guess).

    Raises
    ------
    ScaffoldError
        When the target or the model's inputs are not in the data, the model
        performs no task, the task cannot be expressed by the spec format, or
        there are too few rows.
    """
    if not 0.05 <= audit_fraction <= 0.5:
        raise ScaffoldError(f"The 'audit_fraction' must be between 0.05 and 0.5. Got {audit_fraction} instead.")
    if target not in reference.columns:
        raise ScaffoldError(
            f"--target {target!r} is not a column of the reference data; its columns: {list(reference.columns)[:30]}."
        )
    found, classes = infer_task(model)
    if found is None:
        raise ScaffoldError("the model is neither a classifier (predict_proba, classes_) nor a regressor.")
    review: list[str] = []
    if task is None:
        task = found
        shown = f"classes {list(classes or ())}" if classes else "a regressor"
        review.append(f"task: {task} (inferred from the model: {shown}; --task overrides)")
    elif task != found:
        raise ScaffoldError(f"--task {task} does not fit the model, which is {found} ({list(classes or ())}).")
    positive: Any = 1
    if task == "binary" and 1 not in (classes or ()):
        # scikit-learn's convention: predict_proba(x)[:, 1] is the probability of classes_[1]
        positive = (classes or (None, None))[1]
        review.append(
            f"columns.positive_class: {positive!r} (the model's classes are {list(classes or ())}; the score is "
            f"P({positive!r})): set it to the class that matters, the one a missed case of is costly"
        )
    features = list(inputs) if inputs is not None else []
    if not features:
        raise ScaffoldError(
            "the model has neither an MLflow signature with named inputs nor feature_names_in_: its input columns "
            "are unknown. Fix: log it with an input_example (mlflow.sklearn.log_model(..., input_example=X[:5]))."
        )
    missing = [c for c in [*features, target] if c not in reference.columns]
    if missing:
        raise ScaffoldError(f"the reference data lacks the model's input columns {missing}.")
    if target in features:
        raise ScaffoldError(f"--target {target!r} is one of the model's inputs; name the label column.")
    labelled = reference[reference[target].notna()].reset_index(drop=True)
    categorical = [c for c in features if _is_categorical(labelled[c])]
    numeric = [c for c in features if c not in categorical]
    review.append(
        f"features: {len(numeric)} numeric {numeric}, {len(categorical)} categorical {categorical} "
        f"(from {inputs_from}; kinds from the reference dtypes)"
    )
    codes = [c for c in numeric if pd.api.types.is_integer_dtype(labelled[c]) and labelled[c].nunique() <= 10]
    if codes:
        review.append(f"integer columns with at most 10 values, kept numeric: {codes} (make them categorical if codes)")
    unused = [c for c in reference.columns if c not in (*features, target)]
    if unused:
        review.append(f"columns not used by the model, left out: {unused} (declare proxy/exposure/segments by hand)")

    if audit is None:
        mask = _split(labelled, target, audit_fraction, seed, stratify=task != "regression")
        training, audit_rows = labelled[~mask].reset_index(drop=True), labelled[mask].reset_index(drop=True)
        review.append(
            f"audit set: {len(audit_rows)} of {len(labelled)} labelled rows split off (seed {seed}"
            + (", stratified by class" if task != "regression" else "")
            + f"); the other {len(training)} are reference.training_data. Keep the audit set fixed from now on."
        )
    else:
        absent = [c for c in [*features, target] if c not in audit.columns]
        if absent:
            raise ScaffoldError(f"the audit set lacks columns {absent}.")
        training, audit_rows = labelled, audit[audit[target].notna()].reset_index(drop=True)
    if len(audit_rows) < MIN_AUDIT_ROWS:
        raise ScaffoldError(
            f"the audit set has {len(audit_rows)} labelled rows; benchmarks need at least {MIN_AUDIT_ROWS}. "
            "Fix: pass more reference rows or a larger --audit-fraction."
        )
    out = score_model(model, audit_rows, task=task, features=features, positive=positive)
    truth = audit_rows[target].to_numpy()
    if task == "binary":  # the benchmarks of a binary model are of its positive class
        truth = np.asarray([label_key(v) == label_key(positive) for v in truth], dtype=np.int64)
    benchmarks, thresholds = _benchmarks(task, truth, out)
    if not benchmarks:
        raise ScaffoldError("no benchmark could be evaluated on the audit set (a single class?).")
    review.append(
        "thresholds (on the audit set; an unchanged model never fails them): "
        + ", ".join(f"{n} {', '.join(f'{k} {v}' for k, v in t.items())}" for n, t in thresholds.items())
    )
    review.append(
        f"prediction-log columns assumed: id {id_column!r}, timestamp {timestamp_column!r}, 'prediction'"
        + (", 'score'" if task != "regression" else "")
        + f", label {target!r}; rename them in columns: to your log's names"
    )
    scored = training.copy()
    ref_out = score_model(model, scored, task=task, features=features, positive=positive)
    scored["prediction"] = ref_out.prediction
    if ref_out.score is not None:
        scored["score"] = ref_out.score
    start = start_date or dt.datetime.now(dt.UTC).date()
    columns: dict[str, Any] = {
        "id": id_column,
        "timestamp": timestamp_column,
        "features": [{"name": c, "kind": "categorical" if c in categorical else "numeric"} for c in features],
        "prediction": "prediction",
        **({"score": "score"} if task != "regression" else {}),
        "target": target,
        **({"positive_class": positive} if positive != 1 else {}),
    }
    spec: dict[str, Any] = {
        "model": name,
        "description": "Adopted with alignment-drift init; review every field.",
        "schedule": "@daily",
        "start_date": start.isoformat(),
        "task": task,
        "source": {"kind": "files", "path": f"{name}/predictions/{{date}}.parquet", "format": "parquet"},
        "expectations": f"{name}_predictions",
        "columns": columns,
        "reference": {"training_data": f"{name}/reference.parquet", "audit_set": f"{name}/audit.parquet"},
        "drift": {"alpha": 0.05, "correction": "bh"},
        "benchmarks": benchmarks,
        "retraining": {"mode": "builtin", "trigger_verdicts": ["drifting", "misaligned"], "label": "target"},
        "governance": {"approval": "required"},
    }
    if trusted_types:
        spec["registry"] = {"trusted_types": list(trusted_types)}
    review.append(
        f"source: files below the data root at {name}/predictions/{{date}}.parquet, one per day from {start} "
        "(the monitor catches up from start_date)"
    )
    review.append(
        "retraining: the built-in logistic_regression Pipeline; set retraining.training.entrypoint to your own "
        "training function, or retraining.mode: external for your own training DAG; governance.approval is "
        "'required' (a person approves every promotion)"
    )
    return SpecPlan(name, task, spec, training, audit_rows, scored, tuple(review), thresholds)


def render_spec(plan: SpecPlan, *, model_uri: str) -> str:
    """The spec as YAML, with a header saying where it came from and that it is to be reviewed."""
    import yaml

    header = (
        f"# Alignment spec of {plan.model}, written by `alignment-drift init` from {model_uri}\n"
        f"# on {dt.datetime.now(dt.UTC):%Y-%m-%d}. Everything below is a guess to review: see the notes init "
        'printed,\n# and the README, "Alignment spec", for every field. Then: alignment-drift adopt '
        f"specs/{plan.model}.yaml --model-uri {model_uri}\n"
    )
    return header + yaml.safe_dump(plan.spec, sort_keys=False, allow_unicode=True, width=110)
