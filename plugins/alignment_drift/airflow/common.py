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
    "arrival_nights",
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


def arrival_nights(context: Any) -> list[dict[str, Any]]:
    """The ``extra`` of every batch-arrived event that triggered this run, one per night, earliest night first."""
    nights: dict[str, dict[str, Any]] = {}
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events or ():
            extra = dict(getattr(event, "extra", None) or {})
            if extra.get("event") == "batch_arrived" and extra.get("data_interval_start"):
                nights.setdefault(str(extra["data_interval_start"]), extra)
    return [nights[k] for k in sorted(nights, key=dt.datetime.fromisoformat)]


def data_interval() -> tuple[dt.datetime, dt.datetime]:
    """The night of the running task: its batch-arrived event's, else the run conf's, else the run's data interval.

    A run of an ``on_arrival`` monitor DAG is triggered by an asset event naming the night whose batch landed
    (:mod:`alignment_drift.airflow.arrival`); when events of several nights were coalesced into the run, it is
    the earliest. A run triggered by hand may name the night in its conf (``data_interval_start`` and
    ``data_interval_end``, ISO times). A scheduled, backfilled or ``dag.test()`` run has its own interval.
    """
    context = get_current_context()
    nights = arrival_nights(context)
    conf = dict(getattr(context.get("dag_run"), "conf", None) or {})
    named = nights[0] if nights else conf
    if named.get("data_interval_start") and named.get("data_interval_end"):
        try:
            start = dt.datetime.fromisoformat(str(named["data_interval_start"]))
            end = dt.datetime.fromisoformat(str(named["data_interval_end"]))
        except ValueError:
            raise ValueError(
                f"This run names its night as {named['data_interval_start']!r} to {named['data_interval_end']!r}, "
                "which are not ISO times. Fix: give data_interval_start and data_interval_end as "
                "'YYYY-MM-DDTHH:MM:SS+00:00'."
            ) from None
        utc = dt.UTC
        return start if start.tzinfo else start.replace(tzinfo=utc), end if end.tzinfo else end.replace(tzinfo=utc)
    begins, ends = context["data_interval_start"], context["data_interval_end"]
    if begins is None or ends is None:
        raise ValueError(
            "This run has no data interval. Fix: trigger it with a logical date (e.g. 'airflow dags test DAG DATE')."
        )
    return begins, ends
