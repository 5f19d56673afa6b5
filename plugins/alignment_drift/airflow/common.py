"""What the DAG builders share: the retrain-request asset, schedules, the pool, lazy pipeline imports."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.sdk import Asset, get_current_context

from alignment_drift.core.spec import AlignmentSpec

__all__ = [
    "LIGHT",
    "POOL_ENV",
    "PRESETS",
    "TAIL",
    "connect",
    "dag_start",
    "data_interval",
    "retrain_request_asset",
    "task_defaults",
]

PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}

#: The environment variable naming the Airflow pool every task of every alignment-drift DAG runs in.
POOL_ENV = "ALIGNMENT_DRIFT_POOL"
#: ``priority_weight`` of the steps that close a night (record, finish, retrain request): they run first.
TAIL = 10
#: ``priority_weight`` of the light steps between the heavy ones and the tail (trend, verdict).
LIGHT = 5


def task_defaults() -> dict[str, Any]:
    """``default_args`` shared by every task: the pool and absolute priority weights (heavy steps 1).

    The pool is ``$ALIGNMENT_DRIFT_POOL``, default ``default_pool`` (which always exists); a
    deployment with many models creates a dedicated pool and names it here. Weights are
    ``absolute`` so that a queued night's record outranks another night's heavy step.
    """
    return {
        "pool": os.environ.get(POOL_ENV) or "default_pool",
        "weight_rule": "absolute",
        "priority_weight": 1,
    }


def connect() -> None:
    """Make Airflow connections available to the sources in this process (called first in a task body)."""
    import alignment_drift.airflow.connections  # noqa: F401  importing it registers the resolver


def retrain_request_asset(spec: AlignmentSpec) -> Asset:
    """The asset whose events are a model's retrain requests (``extra``: model, verdict, reason, interval)."""
    name, uri = spec.retrain_request_asset
    return Asset(name=name, uri=uri)


def dag_start(spec: AlignmentSpec) -> dt.datetime:
    return dt.datetime(spec.start_date.year, spec.start_date.month, spec.start_date.day, tzinfo=dt.UTC)


def data_interval() -> tuple[dt.datetime, dt.datetime]:
    """The running task's data interval (a scheduled, backfilled or ``dag.test()`` run always has one)."""
    context = get_current_context()
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None:
        raise ValueError(
            "This run has no data interval. Fix: trigger it with a logical date (e.g. 'airflow dags test DAG DATE')."
        )
    return start, end
