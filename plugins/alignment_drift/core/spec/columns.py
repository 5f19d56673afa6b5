"""The role of each column of the prediction log, and the model's reference data."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from alignment_drift.core.spec.base import Strict

__all__ = ["ColumnRoles", "Feature", "Reference"]


class Feature(Strict):
    """One model input and how drift treats it."""

    name: str
    kind: Literal["numeric", "categorical"]


class ColumnRoles(Strict):
    """The role of each column of the prediction log.

    ``score`` is the model's probability of the positive class of ``target``;
    ``proxy_positive`` is the value of the proxy label that the proxy treats
    as that positive class (an engagement proxy for an "unsafe" target says
    0: items nobody engaged with are the ones the proxy would block).
    """

    id: str
    timestamp: str
    features: Annotated[list[Feature], Field(min_length=1)]
    prediction: str
    score: str
    target: str
    proxy: str | None = None
    proxy_positive: Literal[0, 1] = 1
    exposure: str | None = None
    model_version: str | None = None
    segments: list[str] = Field(default_factory=list)

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
