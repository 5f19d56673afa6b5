"""The owner's own training code: ``retraining.training.entrypoint`` (``"package.module:function"``).

The function is imported where the DAGs run, called with the spec's
``retraining.training.params`` as keyword arguments, and must return an
**unfitted** scikit-learn estimator or Pipeline; the retrain fits it on the
window's labelled rows (the spec's features, the spec's label). Everything is
checked before fitting, and every failure names the field.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pandas as pd

from alignment_drift.core.spec import Training

__all__ = ["EntrypointError", "build_from_entrypoint", "fit_entrypoint", "resolve_entrypoint"]

FIELD = "retraining.training.entrypoint"


class EntrypointError(ValueError):
    """The spec's training entrypoint cannot be used: the message names the field, the value and the fix."""


def resolve_entrypoint(entrypoint: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function.

    Raises
    ------
    EntrypointError
        When the module cannot be imported or has no such callable.
    """
    module_name, _, attribute = entrypoint.partition(":")
    if not module_name or not attribute:
        raise EntrypointError(f"{FIELD} must be 'package.module:function'; got {entrypoint!r}.")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an ImportError, or the module failing while it is imported
        raise EntrypointError(
            f"{FIELD} {entrypoint!r}: module {module_name!r} cannot be imported ({type(error).__name__}: {error}). "
            "Fix: install the package where the DAGs run (workers and scheduler), or correct the name."
        ) from None
    function = getattr(module, attribute, None)
    if function is None or not callable(function):
        raise EntrypointError(
            f"{FIELD} {entrypoint!r}: module {module_name!r} has no callable {attribute!r}. "
            "Fix: name a function that returns an unfitted scikit-learn estimator or Pipeline."
        )
    return cast(Callable[..., Any], function)


def build_from_entrypoint(training: Training) -> Any:
    """The owner's unfitted estimator: the entrypoint called with ``params``, checked before it is fitted.

    Raises
    ------
    EntrypointError
        When the entrypoint is not set or cannot be imported, does not accept
        ``params``, or returns something without ``fit`` or already fitted.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if training.entrypoint is None:
        raise EntrypointError(f"{FIELD} is not set. Fix: set it, or train with retraining.training.estimator.")
    entrypoint = training.entrypoint
    function = resolve_entrypoint(entrypoint)
    try:
        inspect.signature(function).bind(**training.params)
    except TypeError as error:
        raise EntrypointError(
            f"{FIELD} {entrypoint!r} cannot be called with retraining.training.params "
            f"{sorted(training.params)} ({error}). Fix: make the function accept these keyword arguments, or "
            "change params."
        ) from None
    except ValueError:  # no signature (a builtin): let the call decide
        pass
    estimator = function(**training.params)
    if not callable(getattr(estimator, "fit", None)):
        raise EntrypointError(
            f"{FIELD} {entrypoint!r} returned a {type(estimator).__name__}, which has no fit method. "
            "Fix: return an unfitted scikit-learn estimator or Pipeline."
        )
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return estimator
    except TypeError as error:
        raise EntrypointError(
            f"{FIELD} {entrypoint!r} returned a {type(estimator).__name__}, which is not a scikit-learn "
            f"estimator ({error}). Fix: return an unfitted scikit-learn estimator or Pipeline."
        ) from None
    raise EntrypointError(
        f"{FIELD} {entrypoint!r} returned a fitted {type(estimator).__name__}. The retrain fits it on the "
        "window's data itself. Fix: return a new, unfitted estimator (e.g. sklearn.base.clone(model))."
    )


def fit_entrypoint(x: pd.DataFrame, y: np.ndarray, training: Training) -> Any:
    """Build the owner's estimator (:func:`build_from_entrypoint`) and fit it on the labelled rows ``x``, ``y``."""
    if len(y) < 10 or len(np.unique(y)) < 2:
        raise ValueError(
            f"Training needs at least 10 labelled rows and two distinct labels. Got {len(y)} row(s) with "
            f"{len(np.unique(y))} distinct label(s); widen the training window."
        )
    estimator = build_from_entrypoint(training)
    estimator.fit(x, y)
    return estimator
