"""The overview of every monitored model: the specs folder read, each model's overview, problems shown not hidden."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from alignment_drift.core.redaction import redact_text, redact_uri
from alignment_drift.core.spec import AlignmentSpec, load_spec_folder
from alignment_drift.integrations.overview.links import mlflow_ui_url
from alignment_drift.integrations.overview.model import check_nights, incidents_of, model_overview
from alignment_drift.integrations.overview.records import ModelOverview, Overview, SpecProblem
from alignment_drift.settings import Settings

__all__ = ["build_overview", "monitored_specs"]

_LOG = logging.getLogger(__name__)


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
    loaded = load_spec_folder(folder)
    return list(loaded.specs), [SpecProblem(str(failure.path), failure.message) for failure in loaded.failures]


def _unreadable(spec: AlignmentSpec, settings: Settings, error: Exception) -> ModelOverview:
    message = (
        f"MLflow at {redact_uri(settings.tracking_uri)} could not be read for {spec.model!r} "
        f"({type(error).__name__}: {error}). Fix: check that the tracking server is up and that the API "
        "server has the same MLFLOW_TRACKING_URI as the workers."
    )
    incidents, total, resolved, problem = incidents_of(settings, None, spec.model, "", None)
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
        error=redact_text(message)[:2000],
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
    check_nights(nights)
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
            _LOG.warning("The overview of %s could not be read: %s: %s", spec.model, type(error).__name__, error)
            models.append(_unreadable(spec, settings, error))
    return Overview(
        generated_at=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        tracking_uri=redact_uri(settings.tracking_uri),
        mlflow_ui_url=ui,
        nights=nights,
        models=tuple(models),
        spec_problems=tuple(dataclasses.replace(p, message=redact_text(p.message)) for p in spec_problems),
        problems=tuple(redact_text(p) for p in problems),
    )
