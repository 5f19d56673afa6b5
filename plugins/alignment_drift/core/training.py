"""Training a model of a spec: the scikit-learn Pipeline and the label it learns, per task.

The same code trains the first champion, every challenger of the retrain
DAG, and (in the simulator) the platform's own naive updates; only the data
and the label differ. Classifiers (``binary``, ``multiclass``) learn the
target's own labels, so their ``classes_`` are the values the prediction
log and the spec use (a 0/1 float column gives classes ``[0, 1]``);
regressors learn the target's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from alignment_drift.core.spec import TASKS, ColumnRoles, Task, Training, label_key
from alignment_drift.core.spec.policies import CLASSIFIER_ESTIMATORS, REGRESSOR_ESTIMATORS

__all__ = ["build_pipeline", "fit_pipeline", "label_values", "labelled_rows"]


def _estimator(training: Training, task: Task) -> tuple[str, Any]:
    """The final step's name and the estimator of ``training`` for ``task`` (a classifier for a regression: refused)."""
    if task not in TASKS:
        raise ValueError(f"The 'task' parameter must be one of {list(TASKS)}. Got {task!r} instead.")
    name = training.estimator
    if task == "regression" and name in CLASSIFIER_ESTIMATORS:
        raise ValueError(
            f"The estimator {name!r} is a classifier and the task is 'regression'. "
            f"Set retraining.training.estimator to one of {[*REGRESSOR_ESTIMATORS, 'hist_gradient_boosting']}."
        )
    if task != "regression" and name in REGRESSOR_ESTIMATORS:
        raise ValueError(
            f"The estimator {name!r} is a regressor and the task is {task!r}. "
            f"Set retraining.training.estimator to one of {[*CLASSIFIER_ESTIMATORS, 'hist_gradient_boosting']}."
        )
    seed = training.random_state
    if name == "logistic_regression":
        return "classifier", LogisticRegression(random_state=seed, **{"C": 1.0, "max_iter": 1000, **training.params})
    if name == "ridge":
        return "regressor", Ridge(**{"alpha": 1.0, **training.params})
    params = {"max_iter": 200, **training.params}
    if task == "regression":
        return "regressor", HistGradientBoostingRegressor(random_state=seed, **params)
    return "classifier", HistGradientBoostingClassifier(random_state=seed, **params)


def build_pipeline(
    training: Training, *, numeric: Sequence[str], categorical: Sequence[str], task: Task = "binary"
) -> Pipeline:
    """Build the unfitted Pipeline: impute and scale numbers, one-hot categories, then the task's estimator.

    Classifiers are ``logistic_regression`` or ``hist_gradient_boosting``
    (final step ``classifier``); regressors ``ridge`` or
    ``hist_gradient_boosting`` (final step ``regressor``). Unseen categories
    at prediction time are ignored (all-zero one-hot), never an error.
    """
    transformers = []
    if numeric:
        transformers.append(
            (
                "numeric",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                list(numeric),
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                list(categorical),
            )
        )
    if not transformers:
        raise ValueError("The model needs at least one feature. Got none; declare columns.features in the spec.")
    pre = ColumnTransformer(transformers, remainder="drop")
    step, estimator = _estimator(training, task)
    return Pipeline([("features", pre), (step, estimator)])


def _negative(frame: pd.DataFrame, roles: ColumnRoles) -> Any:
    """The binary target's other class than ``positive_class``: from the data, else 0 or 1 by convention."""
    positive = label_key(roles.positive_class)
    seen: dict[str, Any] = {}
    if roles.target in frame:
        seen = {k: v for v in frame[roles.target].dropna().unique() if (k := label_key(v)) is not None}
    others = [v for k, v in seen.items() if k != positive]
    if len(others) == 1:
        return others[0]
    if positive in ("0", "1") and not others:
        return 1 - int(positive)
    raise ValueError(
        f"Cannot tell the negative class of a proxy label: the target column {roles.target!r} has values "
        f"{sorted(seen)[:10]} besides the positive class {roles.positive_class!r}. Train on the target, or make "
        "the target binary."
    )


def label_values(
    frame: pd.DataFrame, roles: ColumnRoles, *, label: Literal["target", "proxy"], task: Task = "binary"
) -> pd.Series:
    """The label the model learns, from the target or the proxy column; unknown labels are missing (NaN/None).

    The target is used as it is (numeric columns as float64). For a binary
    model a proxy is mapped so that its ``proxy_positive`` value becomes the
    target's positive class (1 by default) and any other value the other class.
    """
    if label == "target":
        values = frame[roles.target]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        return values.astype("float64") if numeric or task == "regression" else values
    if roles.proxy is None:
        raise ValueError(
            "The 'label' parameter is 'proxy' but the spec declares no columns.proxy. Declare it or use 'target'."
        )
    if task != "binary":
        values = frame[roles.proxy]
        return values.astype("float64") if pd.api.types.is_numeric_dtype(values) or task == "regression" else values
    proxy = frame[roles.proxy].astype("float64")
    mapped = proxy if roles.proxy_positive == 1 else 1.0 - proxy
    positive = label_key(roles.positive_class)
    if positive == "1":
        return mapped
    negative = _negative(frame, roles)
    out = pd.Series(np.where(mapped == 1, roles.positive_class, negative), index=frame.index, dtype=object)
    return out.where(mapped.notna(), None)


def _as_labels(values: pd.Series) -> np.ndarray:
    """Class labels to learn: integral floats as int (0.0/1.0 become the classes 0/1), anything else as it is."""
    raw = values.to_numpy()
    if raw.dtype.kind == "f" and np.all(np.mod(raw, 1) == 0):
        return raw.astype(np.int64)
    return raw


def labelled_rows(
    frame: pd.DataFrame, roles: ColumnRoles, *, label: Literal["target", "proxy"], task: Task = "binary"
) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature rows whose label is known, and that label: class labels for classifiers, floats for a regression."""
    y = label_values(frame, roles, label=label, task=task)
    known = y.notna().to_numpy()
    labels = y[known]
    values = labels.to_numpy(dtype=float) if task == "regression" else _as_labels(labels)
    return frame.loc[known, roles.feature_names].reset_index(drop=True), values


def fit_pipeline(
    frame: pd.DataFrame,
    roles: ColumnRoles,
    training: Training,
    *,
    label: Literal["target", "proxy"] = "target",
    sample_weight: np.ndarray | None = None,
    task: Task = "binary",
) -> Pipeline:
    """Fit the spec's Pipeline for ``task`` on the rows of ``frame`` whose ``label`` is known.

    Raises
    ------
    ValueError
        When fewer than 10 labelled rows are available; for a classifier,
        when they hold one class only, or (binary) more than two; for a
        regression, when the estimator is a classifier.
    """
    known = label_values(frame, roles, label=label, task=task).notna().to_numpy()
    x, y = labelled_rows(frame, roles, label=label, task=task)
    distinct = () if task == "regression" else pd.unique(np.asarray(y, dtype=object))  # each label keyed once
    classes = sorted({str(label_key(v)) for v in distinct})
    if len(y) < 10 or (task != "regression" and len(classes) < 2):
        wanted = "values" if task == "regression" else "at least two classes"
        raise ValueError(
            f"Training needs at least 10 rows with a known {label} label and {wanted}. "
            f"Got {len(y)} row(s) with classes {classes[:20]}; widen the training window."
        )
    if task == "binary" and len(classes) > 2:
        raise ValueError(
            f"The task is 'binary' but the {label} label has {len(classes)} classes {classes[:20]}. "
            "Set the spec's task to 'multiclass' (or 'regression' for a numeric target), or map the label to two "
            "classes."
        )
    pipeline = build_pipeline(training, numeric=roles.numeric, categorical=roles.categorical, task=task)
    step = pipeline.steps[-1][0]
    fit_params = {} if sample_weight is None else {f"{step}__sample_weight": sample_weight[known]}
    pipeline.fit(x, y, **fit_params)
    return pipeline
