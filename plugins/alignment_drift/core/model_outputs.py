"""What a model says about rows, for each task, and what task a fitted model performs.

:func:`score_outputs` is the one place the adopt and retrain paths score a
model for a task other than ``binary``. It has the arguments and the fields
of ``alignment_drift.core.scoring.score_model`` (the shared scoring
interface, arriving with the spec's ``task`` field): when that lands, this
function becomes a call to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

__all__ = ["TASKS", "Outputs", "Task", "infer_task", "score_outputs", "task_of"]

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Outputs:
    """A model's outputs on rows (the fields of the shared interface's ``ModelOutput``).

    ``prediction``: binary 0/1 at the threshold, multiclass class labels,
    regression values. ``score``: binary P(positive class), multiclass
    P(predicted class), regression None. ``proba`` (n, k) in ``classes`` order
    for classifiers.
    """

    prediction: np.ndarray
    score: np.ndarray | None
    proba: np.ndarray | None
    classes: tuple[Any, ...] | None


def task_of(spec: Any) -> Task:
    """The spec's task: its ``task`` field when the spec has one, else ``binary`` (the only task before it)."""
    task = getattr(spec, "task", "binary")
    if task not in TASKS:
        raise ValueError(f"The spec's 'task' must be one of {list(TASKS)}. Got {task!r} instead.")
    return cast(Task, task)


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


def score_outputs(
    model: Any,
    frame: pd.DataFrame,
    *,
    task: Task,
    features: Sequence[str],
    threshold: float = 0.5,
    positive: Any = 1,
) -> Outputs:
    """Score ``frame[features]`` with ``model`` for ``task`` (switch to ``core.scoring.score_model`` when it lands).

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.linear_model import LogisticRegression
    >>> x, y = load_wine(return_X_y=True, as_frame=True)
    >>> model = LogisticRegression(max_iter=5000).fit(x, y)
    >>> out = score_outputs(model, x.head(3), task="multiclass", features=list(x.columns))
    >>> out.classes, out.prediction.tolist(), bool((out.score > 0.5).all())
    ((0, 1, 2), [0, 0, 0], True)
    """
    if task not in TASKS:
        raise ValueError(f"The 'task' parameter must be one of {list(TASKS)}. Got {task!r} instead.")
    x = frame[list(features)]
    if task == "regression":
        return Outputs(np.asarray(model.predict(x), dtype=float), None, None, None)
    proba = np.asarray(model.predict_proba(x), dtype=float)
    classes = tuple(c.item() if hasattr(c, "item") else c for c in np.asarray(model.classes_).tolist())
    if task == "binary":
        if positive not in classes:
            raise ValueError(
                f"The 'positive' parameter must be one of the model's classes {list(classes)}. Got {positive!r}."
            )
        score = proba[:, classes.index(positive)]
        return Outputs((score >= threshold).astype(np.int64), score, proba, classes)
    best = proba.argmax(axis=1)
    return Outputs(np.asarray(model.classes_)[best], proba.max(axis=1), proba, classes)
