"""The overview of every monitored model, read from MLflow: what the Airflow UI's "Alignment" page shows.

For each alignment spec in the specs folder: the champion version, the
latest check and its verdict, the last nights' verdicts (the timeline),
the incidents and the retrain runs waiting for a human approval. Read
only: nothing is created or changed in the tracking store or the incidents folder.

Incidents come from the incident store (:mod:`.incident_store`, the
incidents folder, which the API server must see as the workers do): the
unresolved ones (open or acknowledged) with their owner, nights and history,
and the latest resolved ones.

Links into MLflow's UI are built from ``ALIGNMENT_DRIFT_MLFLOW_UI_URL``, or
from the tracking URI when that is an ``http(s)`` server; with a local store
(``sqlite:///...``) there is no UI to link to and the run ids are shown.
The nightly report is the check run's artifact ``report.html``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from alignment_drift.core.spec import AlignmentSpec, SpecError, load_spec
from alignment_drift.settings import Settings

__all__ = [
    "OVERVIEW_SCHEMA",
    "REPORT_ARTIFACT",
    "Incident",
    "IncidentEvent",
    "ModelOverview",
    "Night",
    "Overview",
    "PendingApproval",
    "SpecProblem",
    "build_overview",
    "mlflow_ui_url",
    "model_overview",
    "monitored_specs",
    "redact_uri",
]

OVERVIEW_SCHEMA = "alignment-drift/overview@1"
REPORT_ARTIFACT = "report.html"
MAX_NIGHTS = 366
MAX_INCIDENTS = 20
MAX_RESOLVED = 5


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
        return {"schema": OVERVIEW_SCHEMA, **super().to_dict()}


def redact_uri(uri: str) -> str:
    """The URI with any password replaced by ``***`` (safe to show).

    >>> redact_uri("postgresql://mlflow:s3cret@db:5432/mlflow")
    'postgresql://mlflow:***@db:5432/mlflow'
    >>> redact_uri("sqlite:////srv/mlflow.db")
    'sqlite:////srv/mlflow.db'
    """
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def mlflow_ui_url(settings: Settings) -> str | None:
    """The base URL of MLflow's web UI, or ``None`` when there is none to link to.

    ``ALIGNMENT_DRIFT_MLFLOW_UI_URL`` when set; otherwise the tracking URI when
    it is an ``http(s)`` server (credentials removed); otherwise ``None``.

    Raises
    ------
    ValueError
        When ``ALIGNMENT_DRIFT_MLFLOW_UI_URL`` is not an ``http(s)`` URL.

    Examples
    --------
    >>> import dataclasses
    >>> base = Settings.from_env("/srv/alignment")
    >>> mlflow_ui_url(dataclasses.replace(base, tracking_uri="http://user:pw@mlflow:5000/"))
    'http://mlflow:5000'
    >>> mlflow_ui_url(dataclasses.replace(base, tracking_uri="sqlite:////srv/mlflow.db")) is None
    True
    """
    value = os.environ.get("ALIGNMENT_DRIFT_MLFLOW_UI_URL", "").strip()
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "The 'ALIGNMENT_DRIFT_MLFLOW_UI_URL' environment variable must be an http(s) URL "
                f"(e.g. https://mlflow.example.com). Got {value!r} instead; fix or unset it."
            )
        return _without_credentials(value)
    parts = urlsplit(settings.tracking_uri)
    if parts.scheme in ("http", "https") and parts.hostname:
        return _without_credentials(settings.tracking_uri)
    return None


def _run_url(ui: str | None, experiment_id: str, run_id: str, artifact: str | None = None) -> str | None:
    if ui is None:
        return None
    url = f"{ui}/#/experiments/{quote(experiment_id, safe='')}/runs/{quote(run_id, safe='')}"
    return url if artifact is None else f"{url}/artifactPath/{quote(artifact)}"


def monitored_specs(settings: Settings) -> tuple[list[AlignmentSpec], list[SpecProblem]]:
    """The specs of the specs folder that load, sorted by model, and the files that do not (with why)."""
    folder = settings.specs_dir
    if not folder.is_dir():
        return [], [
            SpecProblem(
                str(folder),
                "The specs folder does not exist. Set ALIGNMENT_DRIFT_SPECS_DIR (or ALIGNMENT_DRIFT_HOME) "
                "for the Airflow API server as for the DAG processor.",
            )
        ]
    specs, problems = [], []
    for path in sorted(folder.glob("*.yaml")):
        try:
            specs.append(load_spec(path))
        except (SpecError, OSError, ValueError) as error:
            problems.append(SpecProblem(str(path), str(error)))
    return sorted(specs, key=lambda s: s.model), problems


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
        mlflow_run_url=_run_url(ui, experiment_id, run_id),
        report_url=_run_url(ui, experiment_id, run_id, REPORT_ARTIFACT),
        has_report=has_report,
        airflow_dag_id=_tag(tags, "airflow_dag_id"),
        airflow_run_id=_tag(tags, "airflow_run_id"),
    )


def _has_report(mlflow_client: Any, run_id: str) -> bool | None:
    try:
        return any(a.path == REPORT_ARTIFACT for a in mlflow_client.list_artifacts(run_id))
    except Exception:  # an unreachable artifact store must not hide the rest
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
        mlflow_run_url=None if not (run_id and experiment_id) else _run_url(ui, experiment_id, run_id),
        report_url=None if not (run_id and experiment_id) else _run_url(ui, experiment_id, run_id, REPORT_ARTIFACT),
        has_report=has_report,
        report_path=latest.report_path,
        airflow_dag_id=_tag(tags, "airflow_dag_id"),
        airflow_run_id=_tag(tags, "airflow_run_id"),
        history=tuple(IncidentEvent(t.at, t.by, t.action, t.state, t.note) for t in incident.history),
        notified=tuple(sorted(incident.delivered_routes())),
    )


def _incidents(
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
                mlflow_run_url=_run_url(ui, experiment_id, run.info.run_id),
                airflow_dag_id=_tag(tags, "airflow_dag_id"),
                airflow_run_id=_tag(tags, "airflow_run_id"),
            )
        )
    return tuple(pending)


def _check_nights(nights: int) -> None:
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
    _check_nights(nights)
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
    incidents, total, resolved, problem = _incidents(settings, mlflow_client, spec.model, experiment_id, ui)
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


def _unreadable(spec: AlignmentSpec, settings: Settings, error: Exception) -> ModelOverview:
    message = (
        f"MLflow at {redact_uri(settings.tracking_uri)} could not be read for {spec.model!r} "
        f"({type(error).__name__}: {error}). Fix: check that the tracking server is up and that the API "
        "server has the same MLFLOW_TRACKING_URI as the workers."
    )
    incidents, total, resolved, problem = _incidents(settings, None, spec.model, "", None)
    return ModelOverview(
        model=spec.model,
        description=spec.description,
        owner=spec.owner,
        monitor_dag_id=spec.monitor_dag_id,
        retrain_dag_id=spec.retrain_dag_id,
        approval=spec.governance.approval,
        champion_version=None,
        latest=None,
        nights=(),
        open_incidents=incidents,
        open_incidents_total=total,
        pending_approvals=(),
        error=message[:2000],
        resolved_incidents=resolved,
        incidents_error=problem,
    )


def build_overview(
    settings: Settings,
    *,
    specs: Sequence[AlignmentSpec] | None = None,
    spec_problems: Iterable[SpecProblem] = (),
    nights: int = 30,
    now: dt.datetime | None = None,
) -> Overview:
    """The overview of every monitored model (or of ``specs``), one failing model never hiding the others.

    Parameters
    ----------
    settings : Settings
        Where the specs and the tracking store are.
    specs : sequence of AlignmentSpec, optional
        The models to show; default every spec of the specs folder (see :func:`monitored_specs`).
    spec_problems : iterable of SpecProblem
        Spec files that did not load, shown with the overview (found here when ``specs`` is not given).
    nights : int
        How many of the latest checks make each model's timeline, 1 to 366.
    now : datetime, optional
        The time stamped on the overview (default: now, UTC).

    Raises
    ------
    ValueError
        When ``nights`` is out of range.
    """
    _check_nights(nights)
    problems: list[str] = []
    if specs is None:
        specs, found = monitored_specs(settings)
        spec_problems = [*spec_problems, *found]
    try:
        ui = mlflow_ui_url(settings)
    except ValueError as error:
        ui = None
        problems.append(str(error))
    models = []
    for spec in specs:
        try:
            models.append(model_overview(settings, spec, nights=nights, ui=ui))
        except Exception as error:  # one model's store failure is shown on its row
            models.append(_unreadable(spec, settings, error))
    return Overview(
        generated_at=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        tracking_uri=redact_uri(settings.tracking_uri),
        mlflow_ui_url=ui,
        nights=nights,
        models=tuple(models),
        spec_problems=tuple(spec_problems),
        problems=tuple(problems),
    )
