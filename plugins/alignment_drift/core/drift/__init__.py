"""Drift engine: reference profiles, per-column tests with multiple-testing control, joint tests, trends.

The names below load on first use (PEP 562): a column test against a saved
profile imports neither scikit-learn (the joint tests) nor ``scipy.stats``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .detector import DriftDetector
    from .multiple_testing import adjust_p_values
    from .multivariate import DomainClassifierDrift, MMDDrift, MultivariateDrift
    from .output import model_output_drift, output_columns, output_drift, output_frame
    from .profile import ColumnProfile, ReferenceProfile
    from .result import ColumnDrift, DriftResult
    from .sketch import QuantileSummary
    from .trend import TrendDetector, TrendResult

#: Each public name and the submodule that defines it.
_WHERE = {
    "ColumnDrift": "result",
    "ColumnProfile": "profile",
    "DomainClassifierDrift": "multivariate",
    "DriftDetector": "detector",
    "DriftResult": "result",
    "MMDDrift": "multivariate",
    "MultivariateDrift": "multivariate",
    "QuantileSummary": "sketch",
    "ReferenceProfile": "profile",
    "TrendDetector": "trend",
    "TrendResult": "trend",
    "adjust_p_values": "multiple_testing",
    "model_output_drift": "output",
    "output_columns": "output",
    "output_drift": "output",
    "output_frame": "output",
}

__all__ = [
    "ColumnDrift",
    "ColumnProfile",
    "DomainClassifierDrift",
    "DriftDetector",
    "DriftResult",
    "MMDDrift",
    "MultivariateDrift",
    "QuantileSummary",
    "ReferenceProfile",
    "TrendDetector",
    "TrendResult",
    "adjust_p_values",
    "model_output_drift",
    "output_columns",
    "output_drift",
    "output_frame",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
