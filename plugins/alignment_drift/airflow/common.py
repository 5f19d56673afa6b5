"""What the DAG builders share: the retrain-request asset, schedules, lazy pipeline imports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, get_current_context

from alignment_drift.core.spec import AlignmentSpec

__all__ = ["PRESETS", "dag_start", "data_interval", "pipeline", "retrain_request_asset"]

PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


def pipeline(module: str) -> Any:
    """A pipeline module, imported inside a task with Airflow connections available to the sources."""
    import importlib

    import alignment_drift.airflow.connections  # noqa: F401  registers the conn_id resolver for this process

    return importlib.import_module(f"alignment_drift.pipeline.{module}")


def retrain_request_asset(model: str) -> Asset:
    """The asset whose events are a model's retrain requests (``extra``: model, verdict, reason, interval)."""
    return Asset(name=f"alignment_drift.{model}.retrain_request", uri=f"alignment-drift://{model}/retrain-request")


def dag_start(spec: AlignmentSpec) -> dt.datetime:
    return dt.datetime(spec.start_date.year, spec.start_date.month, spec.start_date.day, tzinfo=dt.UTC)


def data_interval() -> tuple[dt.datetime, dt.datetime]:
    context = get_current_context()
    return context["data_interval_start"], context["data_interval_end"]
