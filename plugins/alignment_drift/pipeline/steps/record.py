"""``record``: the check written to MLflow (one run per night), its report, its incident, the retraining decision.

The check carries the objective it was judged against (the spec's fingerprint, and its diff when the
spec changed since the last recorded night); every night goes through the incident lifecycle
(:mod:`alignment_drift.integrations.incident_tracking`): a problem night opens or continues an
incident, aligned nights count toward resolving it.

Recording is part of the job: a tracking server that is down is retried, then
the record is spooled on disk and replayed (see
:mod:`alignment_drift.integrations.mlflow.spool`); the report is drawn from
the batch profile the drift step merged, never by reading the batch again.

Retraining is due for a trigger verdict outside the cooldown; the request is
recorded as ``pending`` (tag ``retrain_request``) and becomes ``emitted``
only once an asset event carries it (:mod:`~alignment_drift.pipeline.steps.request`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.redaction import redact
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.evidence import evidence_dir
from alignment_drift.integrations.gx_docs import DATA_DOCS, site_pages
from alignment_drift.integrations.incident_tracking import track_incident
from alignment_drift.integrations.mlflow.checks import find_check_run, list_checks, record_check
from alignment_drift.integrations.mlflow.spool import is_transient
from alignment_drift.integrations.mlflow.store import client
from alignment_drift.integrations.objective import objective_section, record_objective
from alignment_drift.integrations.reports.publish import publish_report
from alignment_drift.pipeline.night import Check, DriftResult, Recorded, RetrainDecision
from alignment_drift.pipeline.policy import act_on_verdict, check_deployment
from alignment_drift.settings import Settings

__all__ = ["record", "retrain_due"]

log = logging.getLogger(__name__)


def retrain_due(spec: AlignmentSpec, settings: Settings, check: Check) -> RetrainDecision:
    """Whether this check should request retraining, whether it was coalesced into an earlier request, and why."""
    verdict = check.verdict
    policy = spec.retraining
    if verdict not in policy.trigger_verdicts:
        return RetrainDecision(
            due=False, reason=f"verdict {verdict} is not a trigger verdict ({', '.join(policy.trigger_verdicts)})"
        )
    start = check.data_interval.bounds()[0]
    if policy.cooldown_days:
        since = (start - dt.timedelta(days=policy.cooldown_days)).isoformat()
        earlier = [
            r
            for r in list_checks(settings, spec.model, since=since, until=start.isoformat())
            if r.data.tags.get("retrain_requested") == "true"
        ]
        if earlier:
            last = earlier[-1].data.tags["data_interval_start"][:10]
            return RetrainDecision(
                due=False,
                coalesced=True,
                reason=(
                    f"verdict {verdict}, but a retrain was already requested on {last}, within the "
                    f"{policy.cooldown_days}-day cooldown: coalesced into that request"
                ),
            )
    return RetrainDecision(due=True, reason=f"verdict {verdict}: " + "; ".join(check.reasons[:3]))


def _request_state(settings: Settings, check: Check, due: bool) -> str:
    """``pending`` for a due request, unless this night's request was already emitted (a rerun)."""
    if not due:
        return "none"
    run_id = find_check_run(settings, check.model, check.data_interval.start)
    if run_id is not None and client(settings).get_run(run_id).data.tags.get("retrain_request") == "emitted":
        return "emitted"
    return "pending"


def _objective(spec: AlignmentSpec, settings: Settings) -> dict[str, Any]:
    """The objective (the normalised spec) this night was judged against, and how it changed since the last one.

    When the tracking server cannot be reached the fingerprint is still recorded (the check is spooled
    below and nothing is lost), and whether it changed is left unknown.
    """
    try:
        return objective_section(spec, record_objective(spec, settings))
    except Exception as error:
        if not is_transient(error):
            raise
        log.warning("The objective of %s could not be compared: %s", spec.model, error)
        return {**objective_section(spec, None), "changed_since_last_night": None}


def record(
    spec: AlignmentSpec,
    settings: Settings,
    check: Check,
    *,
    drift: DriftResult | None = None,
    dag_id: str = "",
    run_id: str = "",
    retrain: RetrainDecision | None = None,
) -> Recorded:
    """Record the check in MLflow (one run per night, idempotent) with the retraining decision.

    Parameters
    ----------
    drift : DriftResult, optional
        The night's drift result: its merged batch profile draws the report's charts.
    retrain : RetrainDecision, optional
        Replaces the decision of :func:`retrain_due` (late labels decide it over a wider window).
    """
    try:
        decision = retrain if retrain is not None else retrain_due(spec, settings, check)
        state = _request_state(settings, check, decision.due)
    except Exception as error:
        if not is_transient(error):
            raise
        # the cooldown cannot be read: keep the check (it is spooled below) and decide on the task's retry
        log.warning("The retraining decision of %s waits: %s", check.data_interval.start, error)
        reason = f"retraining not decided yet: the tracking server could not be reached ({type(error).__name__})"
        decision, state = RetrainDecision(due=False, reason=reason), "none"
    action = {
        "retrain_requested": decision.due,
        "retrain_coalesced": decision.coalesced,
        "retrain_reason": decision.reason,
    }
    objective = _objective(spec, settings)
    check = check.model_copy(update={"action": action, "objective": objective})
    document = check.document()
    start, end = check.data_interval.bounds()
    evidence = evidence_dir(settings, spec.model, start, end)
    artifacts: dict[str, Any] = {"check.json": document}
    validation_file = evidence / "validation.json"
    if validation_file.exists():
        artifacts["validation/gx_result.json"] = json.loads(validation_file.read_text())
    artifacts.update(site_pages(evidence / DATA_DOCS))  # the night's GX Data Docs, as HTML
    if check.drift:
        artifacts["drift/columns.json"] = check.drift["columns"]
    tags = {
        "model_version": check.model_version or "",
        "reference_version": check.reference_version or "",
        "verdict": check.verdict,
        "attribution": ",".join(a["source"] for a in check.attribution),
        "retrain_requested": "true" if decision.due else "false",
        "retrain_reason": decision.reason[:5000],
        "retrain_coalesced": "true" if decision.coalesced else "false",
        "retrain_request": state,
        "source_uri": check.source["uri"],
        "source_sha256": check.source.get("sha256") or "",
        "airflow_dag_id": dag_id,
        "airflow_run_id": run_id,
        "objective_fingerprint": objective["fingerprint"],
    }
    if check.labels:
        tags["labels_as_of"] = check.labels["as_of"]
    params = {
        "alpha": str(spec.drift.alpha),
        "correction": spec.drift.correction,
        "numeric_effect_floor": str(spec.drift.numeric_effect_floor),
        "categorical_effect_floor": str(spec.drift.categorical_effect_floor),
        "expectations": spec.expectations,
    }
    # no credential (a password in a source's URL, a presigned URL's signature) is recorded or reported
    document, tags, params, artifacts = redact((document, tags, params, artifacts))
    check = Check.from_document(document)
    mlflow_run = record_check(settings, document, tags=tags, params=params, artifacts=artifacts)
    profile = None if drift is None or not drift.profile_uri else ReferenceProfile.load(Path(drift.profile_uri))
    report = _publish_report(spec, settings, check, mlflow_run, evidence, profile, dag_id=dag_id, run_id=run_id)
    # every night, aligned ones too: they count toward resolving an open incident
    incident = track_incident(spec, settings, document, mlflow_run_id=mlflow_run, report_path=report)
    policy = _enforce(spec, settings, check, document, mlflow_run)
    return Recorded(
        mlflow_run_id=mlflow_run,
        verdict=check.verdict,
        retrain_due=decision.due,
        retrain_reason=decision.reason,
        retrain_request=state,  # type: ignore[arg-type]
        report=report,
        incident=incident.to_dict(),
        policy=policy,
    )


def _enforce(
    spec: AlignmentSpec, settings: Settings, check: Check, document: dict[str, Any], mlflow_run: str
) -> dict[str, Any] | None:
    """The spec's deployment policies on the recorded night: ``on_ungated`` for the version that served it,
    ``on_misaligned`` for its verdict (see :mod:`alignment_drift.pipeline.policy`); None for a quarantined night."""
    if check.model_version is None:
        return None
    deployment = check_deployment(spec, settings, check.model_version, check_run_id=mlflow_run)
    verdict = act_on_verdict(spec, settings, document, check_run_id=mlflow_run)
    return {"deployment": deployment.to_dict(), "verdict": verdict.to_dict()}


def _publish_report(
    spec: AlignmentSpec,
    settings: Settings,
    check: Check,
    mlflow_run: str,
    evidence: Path,
    profile: ReferenceProfile | None,
    *,
    dag_id: str,
    run_id: str,
) -> str | None:
    """The check's HTML report: logged with its run, written to the evidence folder and beside the incident.

    The check is recorded before: a report that fails is logged and left out, never raised.
    Returns the report's path, or None when it failed.
    """
    paths = [evidence / "report.html"]
    try:
        published = publish_report(
            spec,
            settings,
            check.document(),
            mlflow_run_id=mlflow_run,
            dag_id=dag_id,
            airflow_run_id=run_id,
            paths=paths,
            current=profile,
        )
    except Exception:
        log.exception(
            "The report of %s's check of %s could not be built; the check is recorded in MLflow run %s.",
            spec.model,
            check.data_interval.start,
            mlflow_run,
        )
        return None
    return str(published["paths"][-1])
