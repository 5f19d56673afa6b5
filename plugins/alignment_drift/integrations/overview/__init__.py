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

from alignment_drift.integrations.overview.build import build_overview, monitored_specs
from alignment_drift.integrations.overview.links import REPORT_ARTIFACT, mlflow_ui_url, redact_uri
from alignment_drift.integrations.overview.model import model_overview
from alignment_drift.integrations.overview.records import (
    OVERVIEW_SCHEMA,
    Incident,
    IncidentEvent,
    ModelOverview,
    Night,
    Overview,
    PendingApproval,
    SpecProblem,
)

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
