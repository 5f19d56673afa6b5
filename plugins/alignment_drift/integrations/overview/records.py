"""The records of the overview: frozen dataclasses with ``to_dict()``, the JSON the UI and its API serve."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["OVERVIEW_SCHEMA", "Incident", "ModelOverview", "Night", "Overview", "PendingApproval", "SpecProblem"]

OVERVIEW_SCHEMA = "alignment-drift/overview@1"


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class _Record:
    """``to_dict()`` for the frozen dataclasses below: tuples become lists, nested records dicts."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


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
class Incident(_Record):
    """An open incident: a drifting, misaligned or quarantined night not yet followed by an aligned one."""

    model: str
    date: str
    verdict: str
    model_version: str | None
    reasons: tuple[str, ...]
    attribution: tuple[str, ...]
    action: tuple[str, ...]
    mlflow_run_id: str
    mlflow_run_url: str | None
    report_url: str | None
    has_report: bool | None
    airflow_dag_id: str | None
    airflow_run_id: str | None


@dataclass(frozen=True)
class PendingApproval(_Record):
    """A retrain run whose challenger passed the gate and waits for a human decision (MLflow tag ``approval``)."""

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


@dataclass(frozen=True)
class ModelOverview(_Record):
    """One monitored model: its spec's identity, champion, latest check, timeline, incidents and approvals.

    ``error`` says why the MLflow part could not be read (the rest is then empty).
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
        return {"schema": OVERVIEW_SCHEMA, **super().to_dict()}
