"""Scoring any scikit-learn estimator the same way, whatever it predicts: the shared scoring interface.

:func:`score_model` turns a model and rows into a :class:`ModelOutput`:

- ``binary``: ``predict_proba`` in the model's ``classes_`` order; ``score`` is
  P(positive class) and ``prediction`` the 0/1 decision ``score >= threshold``;
- ``multiclass``: ``predict_proba``; ``prediction`` holds class labels (the most
  probable class) and ``score`` P(predicted class);
- ``regression``: ``predict``; ``prediction`` holds the values, no score.

:func:`logged_output` reads the same from the columns of a prediction log, as
the spec names them. Class labels are matched by :func:`label_key`, so a class
logged as ``1``, ``1.0`` or ``"1"`` is the same class.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.core.spec.base import TASKS, Task
from alignment_drift.core.spec.columns import label_key

__all__ = [
    "TASKS",
    "ModelOutput",
    "Task",
    "class_index",
    "infer_task",
    "label_key",
    "label_matches",
    "logged_output",
    "score_model",
]


@dataclass(frozen=True)
class ModelOutput:
    """What a model says about rows, in one shape for every task.

    ``prediction``: binary, the 0/1 decision at the threshold; multiclass, class
    labels; regression, the predicted values. ``score``: binary, P(positive
    class); multiclass, P(predicted class); regression, None. ``proba``: for
    classifiers the (n, k) probabilities in ``classes`` order, else None.
    ``classes``: a classifier's ``classes_``, else None.
    """

    prediction: np.ndarray
    score: np.ndarray | None
    proba: np.ndarray | None
    classes: tuple[Any, ...] | None

    def __len__(self) -> int:
        return len(self.prediction)


def class_index(labels: Sequence[Any] | np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    """Each label's position in ``classes`` as float: NaN when missing, ``len(classes)`` when an unseen class.

    Examples
    --------
    >>> class_index(["b", None, "a", "z"], ["a", "b"]).tolist()
    [1.0, nan, 0.0, 2.0]
    """
    where = {label_key(c): i for i, c in enumerate(classes)}
    return _per_label(labels, lambda key: where.get(key, len(classes)))


def label_matches(labels: Sequence[Any] | np.ndarray | pd.Series, keys: Collection[str | None]) -> np.ndarray:
    """1.0 where a label's :func:`label_key` is in ``keys``, 0.0 where it is another label, NaN where missing.

    The same answer as keying every row, at the cost of keying each distinct label once.

    Examples
    --------
    >>> label_matches(["spam", 1, None, "1", 2.0], {"1", "spam"}).tolist()
    [1.0, 1.0, nan, 1.0, 0.0]
    """
    return _per_label(labels, lambda key: float(key in keys))


def _per_label(labels: Sequence[Any] | np.ndarray | pd.Series, value: Callable[[str], float]) -> np.ndarray:
    """``value(label_key(label))`` per label as float, NaN where the label is missing; one call per distinct label."""
    if isinstance(labels, pd.Series) or (isinstance(labels, np.ndarray) and labels.dtype.kind in "biuf"):
        codes, uniques = pd.factorize(labels, use_na_sentinel=True)  # no boxing of a typed column
    else:
        codes, uniques = pd.factorize(pd.Series(np.asarray(labels, dtype=object)), use_na_sentinel=True)
    per_unique = np.array([np.nan if (key := label_key(u)) is None else value(key) for u in uniques], dtype=float)
    # missing labels (factorize's -1) stay NaN
    return np.where(codes >= 0, per_unique[np.maximum(codes, 0)] if len(per_unique) else np.nan, np.nan)


def _final_estimator(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def infer_task(model: Any) -> tuple[Task | None, tuple[Any, ...] | None]:
    """The task a fitted model performs, and its classes (classifiers); ``(None, None)`` when it says neither.

    A classifier (scikit-learn's ``is_classifier``, or ``classes_`` with
    ``predict_proba``) with two classes is ``binary``, with more
    ``multiclass``; a regressor is ``regression``.
    """
    from sklearn.base import is_classifier, is_regressor

    classes = getattr(model, "classes_", None)
    if classes is None:
        classes = getattr(_final_estimator(model), "classes_", None)
    classifier = is_classifier(model) or (classes is not None and hasattr(model, "predict_proba"))
    if classifier and classes is not None:
        found = tuple(c.item() if hasattr(c, "item") else c for c in np.asarray(classes).tolist())
        return ("binary" if len(found) == 2 else "multiclass"), found
    if is_regressor(model) or is_regressor(_final_estimator(model)):
        return "regression", None
    return None, None


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"The 'task' parameter must be one of {list(TASKS)}. Got {task!r} instead.")


def _inputs(model: Any, frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame | np.ndarray:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"The 'frame' parameter must be a pandas DataFrame. Got {type(frame).__name__} instead.")
    features = list(features)
    if not features:
        raise ValueError("The 'features' parameter must name at least one column. Got none; pass the spec's features.")
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The 'features' parameter names column(s) {missing} that the frame does not have "
            f"(it has {list(frame.columns)[:20]}). Fix the spec's columns.features or the data."
        )
    if hasattr(model, "n_features_in_") and not hasattr(model, "feature_names_in_"):
        # fitted on an array: given one, in the features' order (a frame would make scikit-learn warn on every
        # call that the model was fitted without feature names)
        return frame[features].to_numpy()
    return frame[features]


def score_model(
    model: Any,
    frame: pd.DataFrame,
    *,
    task: Task,
    features: Sequence[str],
    threshold: float = 0.5,
    positive: Any = 1,
) -> ModelOutput:
    """Score ``frame[features]`` with ``model`` as its ``task`` needs.

    Parameters
    ----------
    model : scikit-learn estimator or Pipeline
        Classifiers need ``predict_proba`` and ``classes_`` (a binary model
        without ``classes_`` is read as classes ``(0, 1)``); regressors ``predict``.
    frame : DataFrame
        The rows; only ``features`` are passed to the model, in that order.
    task : {"binary", "multiclass", "regression"}
    features : sequence of str
        The model's input columns.
    threshold : float, default=0.5
        Binary only: the decision is ``P(positive) >= threshold``.
    positive : label, default=1
        Binary only: the positive class, one of the model's ``classes_``.

    Returns
    -------
    ModelOutput

    Raises
    ------
    ValueError
        An unknown task, missing features, a classifier without ``predict_proba``
        or ``classes_``, a binary model without exactly two classes or without
        the positive class, or a classifier scored as a regression.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}); model = LogisticRegression().fit(x, [0, 0, 1, 1])
    >>> out = score_model(model, x, task="binary", features=["a"])
    >>> out.prediction.tolist(), out.classes
    ([0, 0, 1, 1], (0, 1))
    """
    _check_task(task)
    x = _inputs(model, frame, features)
    name = type(model).__name__
    if task == "regression":
        from sklearn.base import is_classifier

        if is_classifier(model):
            raise ValueError(
                f"The model ({name}) is a classifier but the task is 'regression'. "
                "Set the spec's task to 'binary' or 'multiclass', or register a regressor."
            )
        if not hasattr(model, "predict"):
            raise ValueError(f"The model ({name}) has no predict(); a regression task needs one.")
        values = np.asarray(model.predict(x), dtype=float).reshape(len(x), -1)
        if values.shape[1] != 1:
            raise ValueError(
                f"The model ({name}) predicts {values.shape[1]} outputs per row; a regression task needs one."
            )
        return ModelOutput(prediction=values[:, 0], score=None, proba=None, classes=None)
    if not hasattr(model, "predict_proba"):
        raise ValueError(
            f"The model ({name}) has no predict_proba(); a {task} task needs class probabilities. "
            "Use a probabilistic classifier (or wrap it in sklearn's CalibratedClassifierCV), or set task: regression "
            "for a regressor."
        )
    classes = getattr(model, "classes_", None)
    proba = np.asarray(model.predict_proba(x), dtype=float)
    if classes is None and task == "binary" and proba.ndim == 2 and proba.shape[1] == 2:
        classes = (0, 1)  # a wrapper without classes_: the scikit-learn convention for 0/1 labels
    if classes is None:
        raise ValueError(f"The model ({name}) has no classes_; fit it before scoring, or wrap it so it exposes them.")
    labels = tuple(c.item() if isinstance(c, np.generic) else c for c in np.asarray(classes).tolist())
    if proba.ndim != 2 or proba.shape != (len(x), len(labels)):
        raise ValueError(
            f"The model ({name}) returned probabilities of shape {proba.shape}; expected ({len(x)}, {len(labels)}) "
            "for its classes_."
        )
    if task == "binary":
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"The 'threshold' parameter must be in (0, 1). Got {threshold!r} instead.")
        if len(labels) != 2:
            raise ValueError(
                f"The task is 'binary' but the model ({name}) has {len(labels)} classes {list(labels)[:10]}. "
                "Set the spec's task to 'multiclass'."
            )
        keys = [label_key(c) for c in labels]
        if label_key(positive) not in keys:
            raise ValueError(
                f"The positive class {positive!r} is not one of the model's classes {list(labels)}. "
                "Set columns.positive_class in the spec to the class the score is the probability of."
            )
        score = proba[:, keys.index(label_key(positive))]
        return ModelOutput(prediction=(score >= threshold).astype(np.int64), score=score, proba=proba, classes=labels)
    if len(labels) < 2:
        raise ValueError(f"The model ({name}) has {len(labels)} class; a multiclass task needs at least two.")
    best = proba.argmax(axis=1)
    prediction = np.asarray(labels, dtype=object)[best]
    return ModelOutput(prediction=prediction, score=proba[np.arange(len(x)), best], proba=proba, classes=labels)


def logged_output(spec: AlignmentSpec, frame: pd.DataFrame) -> ModelOutput:
    """The model's output as the prediction log recorded it, read from the spec's column roles.

    Binary: the decision is recomputed from ``columns.score`` at the decision
    threshold. Multiclass: ``columns.prediction`` holds the labels; with
    ``columns.class_scores`` the probabilities (their keys are the classes), and
    the score is P(predicted class) (else ``columns.score`` when declared, else
    NaN). Regression: ``columns.prediction`` as float.
    """
    roles = spec.columns
    if spec.task == "regression":
        values = pd.to_numeric(frame[roles.prediction], errors="coerce").to_numpy(dtype=float)
        return ModelOutput(prediction=values, score=None, proba=None, classes=None)
    if spec.task == "binary":
        assert roles.score is not None  # the spec refuses a binary task without a score column
        score = frame[roles.score].to_numpy(dtype=float)
        decision = (score >= spec.retraining.training.decision_threshold).astype(np.int64)
        return ModelOutput(prediction=decision, score=score, proba=None, classes=None)
    prediction = frame[roles.prediction].to_numpy(dtype=object)
    if roles.class_scores:
        classes = tuple(roles.class_scores)
        proba = np.column_stack([frame[c].to_numpy(dtype=float) for c in roles.class_scores.values()])
        index = class_index(prediction, classes)
        rows = np.flatnonzero(index < len(classes))
        score = np.full(len(frame), np.nan)
        score[rows] = proba[rows, index[rows].astype(int)]
        return ModelOutput(prediction=prediction, score=score, proba=proba, classes=classes)
    score = frame[roles.score].to_numpy(dtype=float) if roles.score else np.full(len(frame), np.nan)
    return ModelOutput(prediction=prediction, score=score, proba=None, classes=None)
