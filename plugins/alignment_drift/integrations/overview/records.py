"""The overview's records: frozen dataclasses with ``to_dict()``, JSON-able for the page and the API."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from alignment_drift.core.redaction import redact

__all__ = [
    "OVERVIEW_SCHEMA",
    "Incident",
    "IncidentEvent",
    "ModelOverview",
    "Night",
    "Overview",
    "PendingApproval",
    "SpecProblem",
]

OVERVIEW_SCHEMA = "alignment-drift/overview@1"


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class _Record:
    """``to_dict()`` for the frozen dataclasses below: tuples become lists, nested records dicts."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Night(_Record):
    """One recorded check of a model: a cell of the timeline.

    ``mlflow_run_url`` and ``report_url`` are ``None`` when there is no MLflow
    UI to link to; ``has_report`` is ``None`` when the run's artifacts were not
    listed (only the latest night's are).
    """

    date: str
    data_interval_start: str
    verdict: str
    model_version: str | None
    attribution: tuple[str, ...]
    retrain_requested: bool
    mlflow_run_id: str
    mlflow_experiment_id: str
    mlflow_run_url: str | None
    report_url: str | None
    has_report: bool | None
    airflow_dag_id: str | None
    airflow_run_id: str | None


@dataclass(frozen=True)
class IncidentEvent(_Record):
    """One step of an incident's history: when, who, what, the state after it and the note."""

    at: str
    by: str
    action: str
    state: str
    note: str


@dataclass(frozen=True)
class Incident(_Record):
    """An incident of the store: a model's consecutive drifting, misaligned or quarantined nights.

    ``verdict`` is the worst of its nights; the run, report and Airflow links are those of its
    latest night (``has_report`` None when the run's artifacts could not be listed).
    """

    id: str
    model: str
    state: str
    kind: str
    verdict: str
    sources: tuple[str, ...]
    owner: str
    owners: tuple[str, ...]
    first_night: str
    last_night: str
    nights: int
    opened_at: str
    resolved_at: str | None
    model_version: str | None
    reasons: tuple[str, ...]
    mlflow_run_id: str | None
    mlflow_run_url: str | None
    report_url: str | None
    has_report: bool | None
    report_path: str | None
    airflow_dag_id: str | None
    airflow_run_id: str | None
    history: tuple[IncidentEvent, ...]
    notified: tuple[str, ...]


@dataclass(frozen=True)
class PendingApproval(_Record):
    """A run waiting for a human decision (MLflow tag ``approval = pending``).

    ``kind`` ``retrain``: a challenger that passed the gate waits for approval;
    ``deployment_review``: a serving version is held (deployed without the
    gate, or misaligned) until a person approves or rejects it.
    """

    model: str
    challenger_version: str | None
    champion_version: str | None
    reason: str
    trigger_verdict: str | None
    started_at: str | None
    mlflow_run_id: str
    mlflow_run_url: str | None
    airflow_dag_id: str | None
    airflow_run_id: str | None
    kind: str = "retrain"


@dataclass(frozen=True)
class ModelOverview(_Record):
    """One monitored model: its spec's identity, champion, latest check, timeline, incidents and approvals.

    ``open_incidents`` are the unresolved ones (open or acknowledged, latest night first, at most
    20 of ``open_incidents_total``), ``resolved_incidents`` the latest resolved ones. ``error`` says
    why the MLflow part could not be read (the rest is then empty); ``incidents_error`` why the
    incidents folder could not.
    """

    model: str
    description: str
    owner: str
    monitor_dag_id: str
    retrain_dag_id: str
    approval: str
    champion_version: str | None
    latest: Night | None
    nights: tuple[Night, ...]
    open_incidents: tuple[Incident, ...]
    open_incidents_total: int
    pending_approvals: tuple[PendingApproval, ...]
    error: str | None = None
    resolved_incidents: tuple[Incident, ...] = ()
    incidents_error: str | None = None


@dataclass(frozen=True)
class SpecProblem(_Record):
    """A spec file of the specs folder that does not load; its model is not shown."""

    path: str
    message: str


@dataclass(frozen=True)
class Overview(_Record):
    """Every monitored model's overview (schema ``alignment-drift/overview@1``)."""

    generated_at: str
    tracking_uri: str
    mlflow_ui_url: str | None
    nights: int
    models: tuple[ModelOverview, ...]
    spec_problems: tuple[SpecProblem, ...] = ()
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return redact({"schema": OVERVIEW_SCHEMA, **super().to_dict()})  # no credential reaches the page
