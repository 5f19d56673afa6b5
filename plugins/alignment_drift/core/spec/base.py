"""What every part of the spec shares: the error type, the strict base model, the verdicts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["TASKS", "VERDICTS", "SpecError", "Strict", "Task", "Verdict"]

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

Verdict = Literal["aligned", "watch", "drifting", "misaligned", "quarantined"]
VERDICTS: tuple[str, ...] = ("aligned", "watch", "drifting", "misaligned", "quarantined")


class SpecError(ValueError):
    """An alignment spec that cannot be used, with the file and field named."""


class Strict(BaseModel):
    """A spec section: unknown fields are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
