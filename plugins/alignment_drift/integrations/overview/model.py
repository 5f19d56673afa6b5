"""One monitored model's overview, read from MLflow: champion, timeline, open incidents, pending approvals."""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from alignment_drift.core.spec import VERDICTS, AlignmentSpec
from alignment_drift.integrations.incidents import INCIDENT_VERDICTS, incidents_dir
from alignment_drift.integrations.overview.links import REPORT_ARTIFACT, run_url
from alignment_drift.integrations.overview.records import Incident, ModelOverview, Night, PendingApproval
from alignment_drift.settings import Settings

__all__ = ["MAX_INCIDENTS", "MAX_NIGHTS", "check_nights", "model_overview"]

_LOG = logging.getLogger(__name__)

MAX_NIGHTS = 366
MAX_INCIDENTS = 20
_INCIDENT_CODE = min(VERDICTS.index(v) for v in INCIDENT_VERDICTS)


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


def _incident_document(settings: Settings, mlflow_client: Any, model: str, run_id: str, date: str) -> dict[str, Any]:
    """The incident logged on the check run (``incident.json``), else the sink folder's copy, else nothing."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return json.loads(Path(mlflow_client.download_artifacts(run_id, "incident.json", tmp)).read_text())
    except Exception as error:  # missing, unreadable or the store unreachable: the sink's copy may still say it
        sink = incidents_dir(settings) / model / f"{date}.json"
        _LOG.info(
            "The incident of %s on %s is read from %s: run %s's incident.json could not be (%s: %s)",
            model,
            date,
            sink,
            run_id,
            type(error).__name__,
            error,
        )
        try:
            return json.loads(sink.read_text())
        except (OSError, ValueError) as sink_error:
            _LOG.warning(
                "No incident document for %s on %s (run %s, %s): %s; shown without reasons or action",
                model,
                date,
                run_id,
                sink,
                sink_error,
            )
            return {}


def _open_incidents(
    settings: Settings, mlflow_client: Any, model: str, experiment_id: str, ui: str | None
) -> tuple[tuple[Incident, ...], int]:
    last_aligned = mlflow_client.search_runs(
        [experiment_id],
        filter_string="tags.kind = 'check' and tags.verdict = 'aligned'",
        order_by=["metrics.data_interval_start_ts DESC"],
        max_results=1,
    )
    clauses = ["tags.kind = 'check'", f"metrics.verdict_code >= {_INCIDENT_CODE}"]
    if last_aligned:
        since = last_aligned[0].data.metrics.get("data_interval_start_ts")
        if since is not None:
            clauses.append(f"metrics.data_interval_start_ts > {since!r}")
    found = mlflow_client.search_runs(
        [experiment_id],
        filter_string=" and ".join(clauses),
        order_by=["metrics.data_interval_start_ts DESC"],
        max_results=1000,
    )
    runs = [r for r in found if r.data.tags.get("verdict") in INCIDENT_VERDICTS]
    incidents = []
    for run in runs[:MAX_INCIDENTS]:
        night = _night(run, experiment_id, ui, _has_report(mlflow_client, run.info.run_id))
        document = _incident_document(settings, mlflow_client, model, run.info.run_id, night.date)
        action = (document.get("action") or {}).get("taken") or []
        incidents.append(
            Incident(
                model=model,
                date=night.date,
                verdict=night.verdict,
                model_version=night.model_version,
                reasons=tuple(str(r) for r in document.get("reasons") or []),
                attribution=night.attribution,
                action=tuple(str(a) for a in action),
                mlflow_run_id=night.mlflow_run_id,
                mlflow_run_url=night.mlflow_run_url,
                report_url=night.report_url,
                has_report=night.has_report,
                airflow_dag_id=night.airflow_dag_id,
                airflow_run_id=night.airflow_run_id,
            )
        )
    return tuple(incidents), len(runs)


def _pending_approvals(
    mlflow_client: Any, model: str, experiment_id: str, ui: str | None
) -> tuple[PendingApproval, ...]:
    runs = mlflow_client.search_runs(
        [experiment_id],
        filter_string="tags.kind = 'retrain' and tags.approval = 'pending'",
        order_by=["attributes.start_time DESC"],
        max_results=100,
    )
    pending = []
    for run in runs:
        tags = run.data.tags
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
    from alignment_drift.integrations.mlflow.registry import champion
    from alignment_drift.integrations.mlflow.store import client

    identity = {
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
    serving = champion(settings, spec.model)  # None when there is none; a store failure is the row's error
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
    incidents, total = _open_incidents(settings, mlflow_client, spec.model, experiment_id, ui)
    return ModelOverview(
        **identity,
        champion_version=None if serving is None else serving.version,
        latest=latest,
        nights=tuple(timeline),
        open_incidents=incidents,
        open_incidents_total=total,
        pending_approvals=_pending_approvals(mlflow_client, spec.model, experiment_id, ui),
    )
