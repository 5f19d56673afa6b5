"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from alignment_drift import __version__


def get_provider_info() -> dict[str, Any]:
    """What ``airflow providers list`` shows; ``package-name`` must equal the distribution name.

    The keys follow Airflow's ``provider_info.schema.json`` (tests/airflow/test_plugin.py validates it):
    the operators module is listed under ``operators``. There is no hook or connection type of our
    own: settings come from the environment, sources use Airflow's own connection types.
    """
    return {
        "package-name": "alignment-drift",
        "name": "Alignment Drift",
        "description": "Nightly alignment checks of deployed scikit-learn models: validation, drift, "
        "safety benchmarks, MLflow records and gated retraining.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Alignment Drift",
                "tags": ["ml", "monitoring"],
            }
        ],
        "operators": [
            {"integration-name": "Alignment Drift", "python-modules": ["alignment_drift.airflow.operators"]},
        ],
    }
