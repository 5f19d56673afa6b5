"""``request_retrain``: retrain requests delivered as asset events, never recorded as sent when they were not.

A check that makes retraining due is recorded with ``retrain_request:
pending``. The monitor DAG's ``request_retrain`` task emits one asset event
carrying tonight's request and every request still pending for the model (a
night checked from the command line leaves its request pending), and its
``confirm_request`` task marks them ``emitted`` only after the event exists.
The command line emits a pending request itself through Airflow's REST API when
one is configured (:mod:`alignment_drift.integrations.airflow_api`); otherwise
the next monitor run emits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.mlflow.checks import list_checks
from alignment_drift.integrations.mlflow.spool import retrying
from alignment_drift.integrations.mlflow.store import client
from alignment_drift.settings import Settings

__all__ = ["mark_emitted", "pending_requests", "request_event"]


def pending_requests(spec: AlignmentSpec, settings: Settings, *, until: str | None = None) -> list[dict[str, Any]]:
    """The model's retrain requests recorded but not yet emitted, oldest first (interval start before ``until``).

    Each: ``mlflow_run_id``, ``verdict``, ``reason``, ``data_interval_start``, ``data_interval_end``.
    """
    runs = list_checks(settings, spec.model, until=until)
    runs = [r for r in runs if r.data.tags.get("retrain_request") == "pending"]
    return [
        {
            "mlflow_run_id": run.info.run_id,
            "verdict": run.data.tags.get("verdict", ""),
            "reason": run.data.tags.get("retrain_reason", ""),
            "data_interval_start": run.data.tags.get("data_interval_start", ""),
            "data_interval_end": run.data.tags.get("data_interval_end", ""),
        }
        for run in runs
    ]


def request_event(spec: AlignmentSpec, pending: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The asset event's ``extra`` delivering ``pending`` (the newest is the request; the others ride along).

    None when nothing is pending.
    """
    if not pending:
        return None
    newest = pending[-1]
    return {
        "model": spec.model,
        "verdict": newest["verdict"],
        "reason": newest["reason"],
        "data_interval_start": newest["data_interval_start"],
        "data_interval_end": newest["data_interval_end"],
        "mlflow_run_id": newest["mlflow_run_id"],
        "pending_requests": [
            {k: p[k] for k in ("data_interval_start", "mlflow_run_id", "verdict")} for p in pending[:-1]
        ],
    }


def mark_emitted(settings: Settings, event: dict[str, Any], *, via: str) -> list[str]:
    """Mark the requests an emitted event carried as ``emitted`` (tags ``retrain_request``, ``retrain_emitted_via``).

    Returns the check run ids marked.
    """
    runs = [event["mlflow_run_id"], *(p["mlflow_run_id"] for p in event.get("pending_requests", []))]
    mlflow_client = client(settings)

    def mark(run_id: str) -> None:
        mlflow_client.set_tag(run_id, "retrain_request", "emitted")
        mlflow_client.set_tag(run_id, "retrain_emitted_via", via)

    for run_id in runs:
        retrying(lambda: mark(run_id), what=f"the retrain request of run {run_id}")  # noqa: B023  called at once
    return runs
