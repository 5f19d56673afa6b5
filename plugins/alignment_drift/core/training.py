"""Training a model of a spec: the scikit-learn Pipeline and the label it learns.

The same code trains the first champion, every challenger of the retrain
DAG, and (in the simulator) the platform's own naive updates; only the data
and the label differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from alignment_drift.core.spec import ColumnRoles, Training

__all__ = ["build_pipeline", "fit_pipeline", "label_values", "labelled_rows"]


def build_pipeline(training: Training, *, numeric: Sequence[str], categorical: Sequence[str]) -> Pipeline:
    """Build the unfitted Pipeline: impute and scale numbers, one-hot categories, then the estimator.

    Unseen categories at prediction time are ignored (all-zero one-hot), never an error.
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
    if training.estimator == "logistic_regression":
        params = {"C": 1.0, "max_iter": 1000, **training.params}
        estimator = LogisticRegression(random_state=training.random_state, **params)
    else:
        params = {"max_iter": 200, **training.params}
        estimator = HistGradientBoostingClassifier(random_state=training.random_state, **params)
    return Pipeline([("features", pre), ("classifier", estimator)])


def label_values(frame: pd.DataFrame, roles: ColumnRoles, *, label: Literal["target", "proxy"]) -> pd.Series:
    """The 0/1 label of the model's positive class, from the target or the proxy column.

    A proxy is mapped so that its ``proxy_positive`` value becomes 1. Rows
    where the label is unknown are NaN.
    """
    if label == "target":
        return frame[roles.target].astype("float64")
    if roles.proxy is None:
        raise ValueError(
            "The 'label' parameter is 'proxy' but the spec declares no columns.proxy. Declare it or use 'target'."
        )
    proxy = frame[roles.proxy].astype("float64")
    return proxy if roles.proxy_positive == 1 else 1.0 - proxy


def labelled_rows(
    frame: pd.DataFrame, roles: ColumnRoles, *, label: Literal["target", "proxy"]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature rows whose label is known, and that label as int 0/1."""
    y = label_values(frame, roles, label=label)
    known = y.notna().to_numpy()
    return frame.loc[known, roles.feature_names].reset_index(drop=True), y[known].to_numpy().astype(np.int64)


def fit_pipeline(
    frame: pd.DataFrame,
    roles: ColumnRoles,
    training: Training,
    *,
    label: Literal["target", "proxy"] = "target",
    sample_weight: np.ndarray | None = None,
) -> Pipeline:
    """Fit the spec's Pipeline on the rows of ``frame`` whose ``label`` is known.

    Raises
    ------
    ValueError
        When fewer than 10 labelled rows, or only one class, are available.
    """
    known = label_values(frame, roles, label=label).notna().to_numpy()
    x, y = labelled_rows(frame, roles, label=label)
    if len(y) < 10 or len(np.unique(y)) < 2:
        raise ValueError(
            f"Training needs at least 10 rows with a known {label} label and both classes. "
            f"Got {len(y)} row(s) with classes {sorted(set(y.tolist()))}; widen the training window."
        )
    pipeline = build_pipeline(training, numeric=roles.numeric, categorical=roles.categorical)
    fit_params = {} if sample_weight is None else {"classifier__sample_weight": sample_weight[known]}
    pipeline.fit(x, y, **fit_params)
    return pipeline
