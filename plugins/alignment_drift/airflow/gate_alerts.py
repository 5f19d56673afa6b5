"""Gate events told to people: an ungated version serving (``ungated``), a refused challenger (``gate_rejected``).

Neither has an incident; each is told once per model version and route, the
routes told being recorded on the version (tags ``ungated_alerted`` and
``gate_rejected_alerted``). Delivery goes through :mod:`.notify` (Airflow's
provider notifiers, routed by ``governance.notify``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from alignment_drift.airflow.notify import Delivery, Route, deliver, run_url
from alignment_drift.core.governance import routes_for
from alignment_drift.core.spec.notify import route_key
from alignment_drift.integrations.alerts import Alert, gate_alert
from alignment_drift.settings import Settings

if TYPE_CHECKING:
    from alignment_drift.core.spec import AlignmentSpec

__all__ = ["GATE_REJECTED_TAG", "UNGATED_TAG", "notify_gate_rejected", "notify_ungated"]

#: The model-version tag naming the routes already told that the version serves ungated.
UNGATED_TAG = "ungated_alerted"
#: The model-version tag naming the routes already told that the gate refused the version.
GATE_REJECTED_TAG = "gate_rejected_alerted"


def notify_ungated(
    spec: AlignmentSpec,
    deployment: Mapping[str, Any] | None,
    *,
    settings: Settings,
    check_run_id: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[Delivery]:
    """Tell the routes listening for ``ungated`` that an ungated version served a night, once per version and route.

    Parameters
    ----------
    spec : AlignmentSpec
        The model's spec (``governance.notify``).
    deployment : mapping or None
        What :func:`~alignment_drift.pipeline.policy.check_deployment` found (its ``to_dict()``, e.g.
        ``Recorded.policy["deployment"]`` from XCom); None for a night without one (quarantined).
    settings : Settings
        Where the registry is.
    check_run_id : str, optional
        The night's check run, linked from the alert.
    context : mapping, optional
        The task's Airflow context, handed to the notifiers.

    Returns
    -------
    list of Delivery
        Empty when the version is gated or accepted, or no route listens for ``ungated``; else one per
        route: ``sent``, ``failed`` (sent again by the task's retry or the version's next night) or
        ``skipped`` (told of this version before). The routes told are recorded on the model version
        (tag ``ungated_alerted``).
    """
    if not deployment or deployment.get("gated") or deployment.get("accepted"):
        return []
    routes = routes_for(spec, "ungated")
    if not routes:
        return []
    version = str(deployment["version"])
    last = deployment.get("last_gated_version")
    alert = gate_alert(
        spec,
        event="ungated",
        model_version=version,
        reason=str(deployment.get("finding") or ""),
        mlflow_run_id=check_run_id,
        mlflow_run_url=run_url(settings, spec.model, check_run_id),
        details=(
            ("Policy", f"governance.on_ungated: {deployment.get('policy')} (done: {deployment.get('action')})"),
            ("Last gated version", f"v{last}" if last else "none"),
        ),
    )
    return _tell_each_route_once(settings, spec.model, version, UNGATED_TAG, routes, alert, context)


def _tell_each_route_once(
    settings: Settings,
    model: str,
    version: str,
    tag: str,
    routes: Sequence[Route],
    alert: Alert,
    context: Mapping[str, Any] | None,
) -> list[Delivery]:
    """Send ``alert`` through the routes not yet told of this version (version tag ``tag``), and record who was told."""
    from alignment_drift.integrations.mlflow import registry

    told = set(json.loads(registry.version_info(settings, model, version).tags.get(tag) or "[]"))
    due = [r for r in routes if route_key(r) not in told]
    skipped = [Delivery(route_key(r), r.kind, r.conn_id, alert.event, "skipped") for r in routes if r not in due]
    if not due:
        return skipped
    sent = [deliver(route, alert, context) for route in due]
    newly = {d.route for d in sent if d.status == "sent"}
    if newly:
        registry.set_version_tags(settings, model, version, {tag: json.dumps(sorted(told | newly))})
    return sent + skipped


def notify_gate_rejected(
    spec: AlignmentSpec,
    decided: Mapping[str, Any],
    *,
    settings: Settings,
    retrain_run_id: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[Delivery]:
    """Tell the routes listening for ``gate_rejected`` that the gate refused a challenger, once per version and route.

    A challenger the gate rejected (shown less aligned than the last gated
    version or the champion) or could not judge (``insufficient_evidence``)
    is not promoted; the champion keeps serving, and retraining did not fix
    what triggered it, which is what the owner has to hear.

    Parameters
    ----------
    spec : AlignmentSpec
        The model's spec (``governance.notify``).
    decided : mapping
        :func:`~alignment_drift.pipeline.promotion.decide_promotion`'s result (``decision``, ``version``,
        ``reasons``, ``previous_champion``, ``n_needed``).
    settings : Settings
        Where the registry is.
    retrain_run_id : str, optional
        The retrain run holding the comparison, linked from the alert.
    context : mapping, optional
        The task's Airflow context, handed to the notifiers.

    Returns
    -------
    list of Delivery
        Empty when the challenger was not refused or no route listens for ``gate_rejected``; else one per
        route: ``sent``, ``failed`` (sent again by the task's retry) or ``skipped`` (told of this version
        before). The routes told are recorded on the version (tag ``gate_rejected_alerted``).
    """
    decision = str(decided.get("decision") or "")
    if decision not in ("rejected", "insufficient_evidence"):
        return []
    routes = routes_for(spec, "gate_rejected")
    if not routes:
        return []
    version = str(decided["version"])
    champion = decided.get("previous_champion")
    what = "rejected: shown less aligned" if decision == "rejected" else "not promoted: insufficient evidence"
    reasons = "; ".join(str(r) for r in decided.get("reasons") or []) or "(no reason recorded)"
    details = [
        ("Gate decision", decision),
        ("Serving", f"v{champion} (champion, unchanged)" if champion else "no champion"),
    ]
    if decided.get("n_needed"):
        details.append(("Audit rows needed", str(decided["n_needed"])))
    alert = gate_alert(
        spec,
        event="gate_rejected",
        model_version=version,
        reason=f"The challenger was {what}. {reasons}",
        mlflow_run_id=retrain_run_id,
        mlflow_run_url=run_url(settings, spec.model, retrain_run_id),
        details=details,
    )
    return _tell_each_route_once(settings, spec.model, version, GATE_REJECTED_TAG, routes, alert, context)
