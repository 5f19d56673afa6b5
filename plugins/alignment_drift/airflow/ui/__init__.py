"""The Airflow UI's "Alignment" page: a FastAPI app mounted by the plugin, shown in Airflow's navigation.

Light to import (FastAPI only): Airflow imports plugins in every process,
task processes included; MLflow, Jinja2 and Airflow's security module are
imported when a request is served.
"""

from __future__ import annotations

from alignment_drift.airflow.ui.app import URL_PREFIX, create_app

__all__ = ["URL_PREFIX", "create_app"]
