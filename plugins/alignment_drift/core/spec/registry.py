"""How the model's artifacts in the MLflow registry may be loaded: the custom types the owner trusts."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from alignment_drift.core.spec.base import Strict

__all__ = ["ModelRegistry"]

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class ModelRegistry(Strict):
    """What may be loaded from the model's skops artifacts besides scikit-learn's, numpy's and scipy's own classes.

    ``trusted_types`` lists the fully qualified names of the owner's own
    classes (e.g. ``my_team.features.Clipper``: a custom transformer of the
    Pipeline, importable where the DAGs run). A skops artifact holding any
    other type is refused; a version is saved with skops when every type it
    holds is trusted, else with cloudpickle.
    """

    trusted_types: Annotated[list[str], Field(max_length=200)] = Field(default_factory=list)

    @field_validator("trusted_types")
    @classmethod
    def _dotted(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _DOTTED.match(v)]
        if bad:
            raise ValueError(
                f"each trusted type must be a fully qualified class name such as 'my_team.features.Clipper'; got {bad}"
            )
        return value
