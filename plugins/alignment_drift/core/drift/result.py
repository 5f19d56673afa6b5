"""The results of :class:`~alignment_drift.core.drift.detector.DriftDetector`: one per column, one per batch."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["ColumnDrift", "ColumnKind", "DriftResult"]

ColumnKind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class ColumnDrift:
    """Drift verdict for one column (distribution and missingness).

    ``in_family`` / ``missing_in_family`` say whether the distribution /
    missing-rate test counted in the multiple-testing family: False when it
    was not run (too little data, see ``note``) or when it could not reject
    whatever the data (its smallest attainable p-value is above Tarone's bar,
    see ``note`` / ``missing_note``); its adjusted p-value is then 1.0.
    ``missing_test`` names the missing-rate test (``"fisher_exact"``).
    """

    name: str
    kind: ColumnKind
    test: str
    statistic: float
    p_value: float
    p_adjusted: float
    effect: float
    effect_metric: str
    effect_floor: float
    drift: bool
    missing_rate_reference: float
    missing_rate_current: float
    missing_p_value: float
    missing_p_adjusted: float
    missing_drift: bool
    unseen_categories: tuple[str, ...] = ()
    note: str = ""
    in_family: bool = True
    missing_test: str = "fisher_exact"
    missing_in_family: bool = True
    missing_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (plain Python scalars and lists only)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, (bool, np.bool_)):
                out[key] = bool(value)
            elif isinstance(value, numbers.Real):
                out[key] = float(value)
            elif isinstance(value, tuple):
                out[key] = [str(v) for v in value]
            else:
                out[key] = str(value)
        return out


@dataclass(frozen=True)
class DriftResult:
    """Outcome of :meth:`DriftDetector.test` on one batch."""

    drift: bool
    n_reference: int
    n_current: int
    alpha: float
    correction: str
    columns: tuple[ColumnDrift, ...]
    drift_share: float
    family_size: int = 0

    def drifted_columns(self) -> list[str]:
        """Names of columns whose distribution or missing rate drifted."""
        return [c.name for c in self.columns if c.drift or c.missing_drift]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (plain Python scalars and lists only)."""
        return {
            "drift": bool(self.drift),
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "alpha": float(self.alpha),
            "correction": str(self.correction),
            "drift_share": float(self.drift_share),
            "family_size": int(self.family_size),
            "drifted_columns": self.drifted_columns(),
            "columns": [c.to_dict() for c in self.columns],
        }
