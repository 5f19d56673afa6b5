"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from alignment_drift import __version__


def get_provider_info() -> dict[str, Any]:
    """What ``airflow providers list`` shows; ``package-name`` must equal the distribution name."""
    return {
        "package-name": "alignment-drift",
        "name": "Alignment Drift",
        "description": "Nightly alignment checks of deployed scikit-learn models: validation, drift, "
        "safety benchmarks, MLflow records and gated retraining.",
        "versions": [__version__],
    }
