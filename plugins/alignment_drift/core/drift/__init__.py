"""Drift engine: per-column two-sample tests with multiple-testing control."""

from .detector import ColumnDrift, DriftDetector, DriftResult
from .multiple_testing import adjust_p_values
from .output import output_drift

__all__ = [
    "ColumnDrift",
    "DriftDetector",
    "DriftResult",
    "adjust_p_values",
    "output_drift",
]
