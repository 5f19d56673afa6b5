"""One monitored model's overview: champion and timeline from MLflow, incidents from the store, pending approvals."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.overview.links import REPORT_ARTIFACT, run_url
from alignment_drift.integrations.overview.records import Incident, IncidentEvent, ModelOverview, Night, PendingApproval
from alignment_drift.settings import Settings

__all__ = ["MAX_INCIDENTS", "MAX_NIGHTS", "MAX_RESOLVED", "check_nights", "incidents_of", "model_overview"]

_LOG = logging.getLogger(__name__)

MAX_NIGHTS = 366
MAX_INCIDENTS = 20
MAX_RESOLVED = 5


def _tag(tags: dict[str, str], key: str) -> str | None:
    value = tags.get(key)
    return value or None


def _night(run: Any, experiment_id: str, ui: str | None, has_report: bool | None = None) -> Night:
    tags = run.data.tags
    start = tags.get("data_interval_start", "")
    run_id = run.info.run_id
    return Night(
        date=start[:10],
        data_interval_start=start,
        verdict=tags.get("verdict", "unknown"),
        model_version=_tag(tags, "model_version"),
        attribution=tuple(s for s in tags.get("attribution", "").split(",") if s),
        retrain_requested=tags.get("retrain_requested") == "true",
        mlflow_run_id=run_id,
        mlflow_experiment_id=experiment_id,
        mlflow_run_url=run_url(ui, experiment_id, run_id),
        report_url=run_url(ui, experiment_id, run_id, REPORT_ARTIFACT),
        has_report=has_report,
        airflow_dag_id=_tag(tags, "airflow_dag_id"),
        airflow_run_id=_tag(tags, "airflow_run_id"),
    )


def _has_report(mlflow_client: Any, run_id: str) -> bool | None:
    """Whether the run has its report; None (shown as unknown) when its artifacts cannot be listed."""
    try:
        return any(a.path == REPORT_ARTIFACT for a in mlflow_client.list_artifacts(run_id))
    except Exception as error:  # an unreachable artifact store must not hide the rest of the overview
        _LOG.warning("The artifacts of check run %s could not be listed: %s: %s", run_id, type(error).__name__, error)
        return None


def _incident_row(incident: Any, mlflow_client: Any, experiment_id: str, ui: str | None) -> Incident:
    latest = incident.occurrences[-1]
    run_id = latest.check_run_id
    tags: dict[str, str] = {}
    has_report = None
    if run_id and mlflow_client is not None:
        try:
            tags = mlflow_client.get_run(run_id).data.tags
        except Exception:  # the incident is shown without its Airflow link
            tags = {}
        has_report = _has_report(mlflow_client, run_id)
    return Incident(
        id=incident.id,
        model=incident.model,
        state=incident.state,
        kind=incident.kind,
        verdict=incident.verdict,
        sources=tuple(incident.sources),
        owner=incident.owner,
        owners=tuple(incident.owners),
        first_night=incident.occurrences[0].interval_start,
        last_night=latest.interval_start,
        nights=len(incident.occurrences),
        opened_at=incident.opened_at,
        resolved_at=incident.resolved_at,
        model_version=latest.model_version,
        reasons=tuple(latest.reasons),
        mlflow_run_id=run_id,
        mlflow_run_url=None if not (run_id and experiment_id) else run_url(ui, experiment_id, run_id),
        report_url=None if not (run_id and experiment_id) else run_url(ui, experiment_id, run_id, REPORT_ARTIFACT),
        has_report=has_report,
        report_path=latest.report_path,
        airflow_dag_id=_tag(tags, "airflow_dag_id"),
        airflow_run_id=_tag(tags, "airflow_run_id"),
        history=tuple(IncidentEvent(t.at, t.by, t.action, t.state, t.note) for t in incident.history),
        notified=tuple(sorted(incident.delivered_routes())),
    )


def incidents_of(
    settings: Settings, mlflow_client: Any, model: str, experiment_id: str, ui: str | None
) -> tuple[tuple[Incident, ...], int, tuple[Incident, ...], str | None]:
    """(unresolved shown, unresolved total, latest resolved, problem) from the incident store."""
    from alignment_drift.integrations.incident_store import list_incidents

    try:
        stored = [i for i in list_incidents(settings, model) if i.occurrences]
    except (OSError, ValueError) as error:
        return (), 0, (), f"The incidents of {model} could not be read: {error}"[:2000]
    unresolved = [i for i in stored if i.state != "resolved"]
    resolved = [i for i in stored if i.state == "resolved"][:MAX_RESOLVED]
    shown = tuple(_incident_row(i, mlflow_client, experiment_id, ui) for i in unresolved[:MAX_INCIDENTS])
    done = tuple(_incident_row(i, mlflow_client, experiment_id, ui) for i in resolved)
    return shown, len(unresolved), done, None


def _pending_approvals(
    mlflow_client: Any, model: str, experiment_id: str, ui: str | None
) -> tuple[PendingApproval, ...]:
    runs = mlflow_client.search_runs(
        [experiment_id],
        filter_string="tags.approval = 'pending'",
        order_by=["attributes.start_time DESC"],
        max_results=100,
    )
    pending = []
    for run in runs:
        tags = run.data.tags
        if tags.get("kind") not in ("retrain", "deployment_review"):
            continue
        started = run.info.start_time
        pending.append(
            PendingApproval(
                model=model,
                challenger_version=_tag(tags, "challenger_version"),
                champion_version=_tag(tags, "champion_version"),
                reason=tags.get("retrain_reason", ""),
                trigger_verdict=_tag(tags, "trigger_verdict"),
                started_at=None if not started else dt.datetime.fromtimestamp(started / 1000, dt.UTC).isoformat(),
                mlflow_run_id=run.info.run_id,
                mlflow_run_url=run_url(ui, experiment_id, run.info.run_id),
                airflow_dag_id=_tag(tags, "airflow_dag_id"),
                airflow_run_id=_tag(tags, "airflow_run_id"),
                kind=tags.get("kind", "retrain"),
            )
        )
    return tuple(pending)


def check_nights(nights: int) -> None:
    if isinstance(nights, bool) or not isinstance(nights, int) or not 1 <= nights <= MAX_NIGHTS:
        raise ValueError(f"The 'nights' parameter must be an integer in [1, {MAX_NIGHTS}]. Got {nights!r} instead.")


def model_overview(
    settings: Settings, spec: AlignmentSpec, *, nights: int = 30, ui: str | None = None
) -> ModelOverview:
    """The overview of one monitored model from MLflow: champion, the last ``nights`` checks, incidents, approvals.

    Parameters
    ----------
    settings : Settings
        Where the tracking store is.
    spec : AlignmentSpec
        The model's alignment spec.
    nights : int
        How many of the latest checks make the timeline, 1 to 366.
    ui : str, optional
        The MLflow UI's base URL (see :func:`mlflow_ui_url`); links are ``None`` without it.

    Raises
    ------
    ValueError
        When ``nights`` is out of range.
    Exception
        Whatever the MLflow client raises when the store cannot be read.
    """
    check_nights(nights)
    from mlflow.exceptions import MlflowException

    from alignment_drift.integrations.mlflow.registry import champion
    from alignment_drift.integrations.mlflow.store import client

    identity: dict[str, Any] = {
        "model": spec.model,
        "description": spec.description,
        "owner": spec.owner,
        "monitor_dag_id": spec.monitor_dag_id,
        "retrain_dag_id": spec.retrain_dag_id,
        "approval": spec.governance.approval,
    }
    mlflow_client = client(settings)
    experiment = mlflow_client.get_experiment_by_name(spec.experiment_name)
    if experiment is None or experiment.lifecycle_stage == "deleted":
        return ModelOverview(
            **identity,
            champion_version=None,
            latest=None,
            nights=(),
            open_incidents=(),
            open_incidents_total=0,
            pending_approvals=(),
        )
    experiment_id = str(experiment.experiment_id)
    try:
        serving = champion(settings, spec.model)
    except MlflowException:
        serving = None
    latest_first = mlflow_client.search_runs(
        [experiment_id],
        filter_string="tags.kind = 'check'",
        order_by=["metrics.data_interval_start_ts DESC"],
        max_results=nights,
    )
    runs = sorted(latest_first, key=lambda r: r.data.tags.get("data_interval_start", ""))
    timeline = [_night(run, experiment_id, ui) for run in runs]
    latest = None
    if runs:
        latest = _night(runs[-1], experiment_id, ui, _has_report(mlflow_client, runs[-1].info.run_id))
        timeline[-1] = latest
    incidents, total, resolved, problem = incidents_of(settings, mlflow_client, spec.model, experiment_id, ui)
    return ModelOverview(
        **identity,
        champion_version=None if serving is None else serving.version,
        latest=latest,
        nights=tuple(timeline),
        open_incidents=incidents,
        open_incidents_total=total,
        pending_approvals=_pending_approvals(mlflow_client, spec.model, experiment_id, ui),
        resolved_incidents=resolved,
        incidents_error=problem,
    )
