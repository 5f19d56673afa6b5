"""Drift engine: reference profiles, per-column tests with multiple-testing control, joint tests, trends."""

from .detector import DriftDetector
from .multiple_testing import adjust_p_values
from .multivariate import DomainClassifierDrift, MMDDrift, MultivariateDrift
from .output import model_output_drift, output_columns, output_drift, output_frame
from .profile import ColumnProfile, ReferenceProfile
from .result import ColumnDrift, DriftResult
from .sketch import QuantileSummary
from .trend import TrendDetector, TrendResult

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
