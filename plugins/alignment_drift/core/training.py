"""Training a model of a spec: the scikit-learn Pipeline and the label it learns.

The same code trains every challenger of the retrain DAG and (in the
simulator) the platform's own naive updates; only the data and the label
differ. The estimator is one of the built-in Pipelines, or the owner's own
(``retraining.training.entrypoint``: a function returning an unfitted
estimator or Pipeline).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from alignment_drift.core.spec import ColumnRoles, Training

__all__ = [
    "EntrypointError",
    "build_estimator",
    "build_pipeline",
    "fit_pipeline",
    "label_values",
    "labelled_rows",
    "resolve_entrypoint",
]

_FIELD = "retraining.training.entrypoint"


class EntrypointError(ValueError):
    """The spec's training entrypoint cannot be used: the message names the field, the value and the fix."""


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


def resolve_entrypoint(entrypoint: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function.

    Raises
    ------
    EntrypointError
        When the module cannot be imported or has no such callable.
    """
    module_name, _, attribute = entrypoint.partition(":")
    if not module_name or not attribute:
        raise EntrypointError(f"{_FIELD} must be 'package.module:function'; got {entrypoint!r}.")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an ImportError, or the module failing while it is imported
        raise EntrypointError(
            f"{_FIELD} {entrypoint!r}: module {module_name!r} cannot be imported ({type(error).__name__}: {error}). "
            "Fix: install the package where the DAGs run (workers and scheduler), or correct the name."
        ) from None
    function = getattr(module, attribute, None)
    if function is None or not callable(function):
        raise EntrypointError(
            f"{_FIELD} {entrypoint!r}: module {module_name!r} has no callable {attribute!r}. "
            "Fix: name a function that returns an unfitted scikit-learn estimator or Pipeline."
        )
    return cast(Callable[..., Any], function)


def _from_entrypoint(training: Training) -> Any:
    """The owner's unfitted estimator: the entrypoint called with ``params``, checked before it is fitted."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    entrypoint = str(training.entrypoint)
    function = resolve_entrypoint(entrypoint)
    try:
        inspect.signature(function).bind(**training.params)
    except TypeError as error:
        raise EntrypointError(
            f"{_FIELD} {entrypoint!r} cannot be called with retraining.training.params "
            f"{sorted(training.params)} ({error}). Fix: make the function accept these keyword arguments, or "
            "change params."
        ) from None
    except ValueError:  # no signature (a builtin): let the call decide
        pass
    estimator = function(**training.params)
    if not callable(getattr(estimator, "fit", None)):
        raise EntrypointError(
            f"{_FIELD} {entrypoint!r} returned a {type(estimator).__name__}, which has no fit method. "
            "Fix: return an unfitted scikit-learn estimator or Pipeline."
        )
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return estimator
    except TypeError as error:
        raise EntrypointError(
            f"{_FIELD} {entrypoint!r} returned a {type(estimator).__name__}, which is not a scikit-learn "
            f"estimator ({error}). Fix: return an unfitted scikit-learn estimator or Pipeline."
        ) from None
    raise EntrypointError(
        f"{_FIELD} {entrypoint!r} returned a fitted {type(estimator).__name__}. The retrain fits it on the "
        "window's data itself. Fix: return a new, unfitted estimator (e.g. sklearn.base.clone(model))."
    )


def build_estimator(training: Training, *, numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    """The unfitted estimator of a challenger: the owner's entrypoint when set, else the built-in Pipeline."""
    if training.entrypoint is not None:
        return _from_entrypoint(training)
    return build_pipeline(training, numeric=numeric, categorical=categorical)


def _weight_key(estimator: Any) -> str:
    """The ``fit`` keyword that carries sample weights to the final estimator."""
    if isinstance(estimator, Pipeline):
        return f"{estimator.steps[-1][0]}__sample_weight"
    return "sample_weight"


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
) -> Any:
    """Fit the spec's estimator (:func:`build_estimator`) on the rows of ``frame`` whose ``label`` is known.

    Raises
    ------
    ValueError
        When fewer than 10 labelled rows, or only one class, are available.
    EntrypointError
        When the spec's training entrypoint cannot be imported, called or returns no unfitted estimator.
    """
    known = label_values(frame, roles, label=label).notna().to_numpy()
    x, y = labelled_rows(frame, roles, label=label)
    if len(y) < 10 or len(np.unique(y)) < 2:
        raise ValueError(
            f"Training needs at least 10 rows with a known {label} label and both classes. "
            f"Got {len(y)} row(s) with classes {sorted(set(y.tolist()))}; widen the training window."
        )
    estimator = build_estimator(training, numeric=roles.numeric, categorical=roles.categorical)
    fit_params = {} if sample_weight is None else {_weight_key(estimator): sample_weight[known]}
    estimator.fit(x, y, **fit_params)
    return estimator
