"""The role of each column of the prediction log, and the model's reference data."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from alignment_drift.core.spec.base import Strict

__all__ = ["ColumnRoles", "Feature", "Interval", "Reference", "label_key"]

ClassLabel = int | str


def label_key(value: Any) -> str | None:
    """The key a class label is matched by: ``1``, ``1.0``, ``True`` and ``"1"`` are one class; None when missing.

    Class labels meet in many places (the spec's ``positive_class``,
    ``class_scores`` keys and ``exposure.classes``, a model's ``classes_``, the
    logged prediction and target columns, the reference profile's categories)
    and each stores them its own way; they are compared by this key. (No
    numpy or pandas import here: specs are read while Airflow parses DAGs.)

    Examples
    --------
    >>> import numpy as np
    >>> label_key(1.0), label_key("1"), label_key(np.int64(1)), label_key("spam"), label_key(float("nan"))
    ('1', '1', '1', 'spam', None)
    """
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if not isinstance(value, str | bytes) and callable(getattr(value, "item", None)):
        try:  # a numpy scalar: its Python value
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return label_key(number) if math.isfinite(number) else text


class Feature(Strict):
    """One model input and how drift treats it."""

    name: str
    kind: Literal["numeric", "categorical"]


class Interval(Strict):
    """A regression's logged prediction interval: its bound columns and nominal coverage ``level``."""

    lower: str
    upper: str
    level: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9


class ColumnRoles(Strict):
    """The role of each column of the prediction log; which roles apply follows the spec's ``task``.

    ``binary``: ``prediction`` is the 0/1 decision and ``score`` (required) the
    model's probability of ``positive_class`` (a value of ``target``, default 1);
    ``proxy_positive`` is the value of the proxy label that the proxy treats
    as that positive class (an engagement proxy for an "unsafe" target says
    0: items nobody engaged with are the ones the proxy would block).

    ``multiclass``: ``prediction`` is the predicted class label; optionally
    ``class_scores`` maps every class to the column holding its probability
    (``{setosa: p_setosa, ...}``, keys are the model's classes) and ``score``
    names a column holding P(predicted class).

    ``regression``: ``prediction`` is the predicted value (no ``score``);
    optionally ``interval`` names the columns of a logged prediction interval
    and its nominal ``level``.
    """

    id: str
    timestamp: str
    features: Annotated[list[Feature], Field(min_length=1)]
    prediction: str
    score: str | None = None
    target: str
    positive_class: ClassLabel = 1
    class_scores: dict[ClassLabel, str] | None = None
    interval: Interval | None = None
    proxy: str | None = None
    proxy_positive: Literal[0, 1] = 1
    exposure: str | None = None
    model_version: str | None = None
    segments: list[str] = Field(default_factory=list)

    @field_validator("class_scores")
    @classmethod
    def _class_scores(cls, value: dict[ClassLabel, str] | None) -> dict[ClassLabel, str] | None:
        if value is None:
            return value
        if len(value) < 2:
            raise ValueError(f"class_scores must map at least two classes to their probability columns; got {value}")
        keys = [label_key(k) for k in value]
        if len(set(keys)) < len(keys):
            raise ValueError(f"class_scores names a class twice (1, 1.0 and '1' are one class); got {list(value)}")
        columns = list(value.values())
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"class_scores must name one column per class; repeated: {repeated}")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ColumnRoles:
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"feature names must be unique; repeated: {duplicates}")
        return self

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


class Reference(Strict):
    """Where the model's reference comes from.

    ``training_data`` is the labelled data the first champion is trained on
    (relative to the data root); the reference of every promoted version is
    the held-out part of its own training data, scored by that version.
    """

    training_data: str
    audit_set: str
    holdout_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25
    max_rows: Annotated[int, Field(ge=100)] = 50_000
