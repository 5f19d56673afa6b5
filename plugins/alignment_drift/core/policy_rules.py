"""The hard rules of a runtime policy: a small, closed expression language evaluated column-wise, never ``eval``.

A rule holds when all its conditions hold. A condition compares one
*subject* — a feature (numeric features as numbers, categorical ones as
text) or the model's output (``output:score``, ``output:prediction``) — with
a constant, by one of a fixed set of operators. A missing value satisfies
only ``is_missing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from alignment_drift.core.spec.runtime import RuntimeRule

__all__ = ["OPS", "Condition", "Rule", "rule_mask"]

OPS = ("<", "<=", ">", ">=", "==", "!=", "in", "not_in", "is_missing", "not_missing")


@dataclass(frozen=True)
class Condition:
    """``subject op value``; ``subject`` is a feature name or ``output:score`` / ``output:prediction``."""

    subject: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"Unknown rule operator {self.op!r}; allowed: {list(OPS)}.")


@dataclass(frozen=True)
class Rule:
    """Rows where every condition holds get ``action`` (``review`` or ``block``), with ``reason``."""

    conditions: tuple[Condition, ...]
    action: str
    reason: str

    @classmethod
    def from_spec(cls, rule: RuntimeRule) -> Rule:
        return cls(tuple(Condition(c.subject, c.op, c.value) for c in rule.conditions), rule.action, rule.reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "conditions": [{"subject": c.subject, "op": c.op, "value": c.value} for c in self.conditions],
            "action": self.action,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        return cls(tuple(Condition(**c) for c in data["conditions"]), data["action"], data["reason"])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _compare(series: pd.Series, op: str, value: Any) -> np.ndarray:
    """``op`` over a series, numerically when both sides are numbers, else as text."""
    values = value if isinstance(value, list) else [value]
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    if numeric and all(_is_number(v) for v in values):
        column: pd.Series = series.astype(np.float64)
        wanted: list[Any] = [float(v) for v in values]
    else:
        column = series.astype("str")
        wanted = [str(v) for v in values]
    if op == "in":
        return column.isin(wanted).to_numpy(dtype=bool)
    if op == "not_in":
        return (~column.isin(wanted)).to_numpy(dtype=bool)
    target = wanted[0]
    if op in ("<", "<=", ">", ">="):
        if not isinstance(target, float):
            return np.zeros(len(series), dtype=bool)  # ordering against text: never holds
        array = column.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return {"<": array < target, "<=": array <= target, ">": array > target, ">=": array >= target}[op]
    if op == "==":
        return (column == target).to_numpy(dtype=bool)
    return (column != target).to_numpy(dtype=bool)


def rule_mask(rule: Rule, subjects: dict[str, pd.Series], n: int) -> np.ndarray:
    """The rows where ``rule`` holds; ``subjects`` maps each subject to its values (missing: NaN or None).

    Examples
    --------
    >>> rule = Rule((Condition("x", ">", 2), Condition("c", "in", ["a", "b"])), "block", "big a or b")
    >>> subjects = {"x": pd.Series([1.0, 3.0, 3.0, np.nan]), "c": pd.Series(["a", "b", "z", "a"])}
    >>> rule_mask(rule, subjects, 4).tolist()
    [False, True, False, False]
    """
    mask = np.ones(n, dtype=bool)
    for condition in rule.conditions:
        series = subjects.get(condition.subject)
        if series is None:  # e.g. output:score of a regression model: the condition cannot hold
            return np.zeros(n, dtype=bool)
        present = series.notna().to_numpy(dtype=bool)
        if condition.op == "is_missing":
            mask &= ~present
        elif condition.op == "not_missing":
            mask &= present
        else:
            mask &= present & _compare(series, condition.op, condition.value)
        if not mask.any():
            break
    return mask
