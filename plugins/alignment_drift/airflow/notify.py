"""Telling people: alerts through Airflow's own provider notifiers, routed by ``governance.notify``.

- ``email``: ``airflow.providers.smtp.notifications.smtp.SmtpNotifier`` with an SMTP connection
  (host, port, login, password; extras ``from_email``, ``disable_ssl``, ``disable_tls``, ``timeout``);
- ``slack``: ``airflow.providers.slack.notifications.slack_webhook.SlackWebhookNotifier`` with a
  ``slackwebhook`` connection (the webhook token in the password; the host defaults to Slack's);
- ``webhook``: ``airflow.providers.http.notifications.http.HttpNotifier``, a POST of the JSON alert
  (schema ``alignment-drift/alert@1``) to an ``http`` connection's base URL plus the route's ``endpoint``.

Addresses and credentials come only from Airflow connections (the metadata DB,
a secrets backend, or ``AIRFLOW_CONN_<ID>`` variables); they are never logged
or recorded: a delivery error is recorded with URLs cut to their host and the
connection's secrets masked.

An incident is told to each route once: :func:`notify_incident` sends to the
routes that listen for one of the incident's verdicts and have no successful
delivery recorded on the incident yet, so the first night tells everyone, a
second night tells no one, an escalation (``drifting`` → ``misaligned``) tells
the routes that listen only for ``misaligned``, and a delivery that failed is
sent again by the task's retry (or the incident's next night). Every attempt is
recorded on the incident (``notifications``); the incident itself is stored
before anything is sent, so a failed delivery never loses it.

The notifiers' ``notify()`` is called directly, without Airflow's template
rendering: the message is data, and a reason containing ``{{ … }}`` is sent as written.

An ungated version (one that serves without having passed the gate, see
``governance.on_ungated``) is told to each route listening for ``ungated``
once per version: :func:`notify_ungated` records the routes told on the model
version (tag ``ungated_alerted``), so its later nights tell no one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from alignment_drift.core.governance import routes_for
from alignment_drift.core.redaction import (
    is_secret_name,
    redact_text,
    redact_uri,
    register_mapping_secrets,
    register_secret,
)
from alignment_drift.core.spec.notify import EmailRoute, SlackRoute, WebhookRoute, route_key
from alignment_drift.integrations.alerts import Alert, incident_alert
from alignment_drift.integrations.incident_actions import record_deliveries
from alignment_drift.integrations.incident_store import NotificationRecord, get_incident, now_iso
from alignment_drift.integrations.incident_tracking import IncidentUpdate
from alignment_drift.settings import Settings

if TYPE_CHECKING:
    from alignment_drift.core.spec import AlignmentSpec

__all__ = [
    "Delivery",
    "NotificationFailed",
    "Route",
    "deliver",
    "notify_incident",
    "raise_for_deliveries",
    "run_url",
    "send_alert",
]

_LOG = logging.getLogger(__name__)
TIMEOUT_SECONDS = 30
_URL_PATH = re.compile(r"((?:https?|smtps?)://[^/\s'\"<>]+)[^\s'\"<>]*", re.IGNORECASE)
Route = EmailRoute | SlackRoute | WebhookRoute


@dataclass(frozen=True)
class Delivery:
    """One attempt to send an alert through one route.

    ``status``: ``sent``; ``failed`` (``error`` says why, without credentials); ``skipped`` (the route
    was told of this incident before).
    """

    route: str
    kind: str
    conn_id: str
    event: str
    status: Literal["sent", "failed", "skipped"]
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NotificationFailed(RuntimeError):
    """Some alerts could not be sent; they are recorded as failed and the task's retry sends them again."""


def _secrets(conn_id: str) -> list[str]:
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:
        return []
    found = [conn.password or ""]
    extra = conn.extra_dejson if isinstance(conn.extra_dejson, dict) else {}
    register_mapping_secrets(extra)
    found += [str(v) for k, v in extra.items() if is_secret_name(k) and isinstance(v, str)]
    return [s for s in found if len(s) >= 4]


def _redacted(error: BaseException, conn_id: str) -> str:
    """The error as text with URLs cut to their host and every credential masked, at most 500 characters."""
    text = f"{type(error).__name__}: {error}"
    for secret in _secrets(conn_id):
        register_secret(secret)
        text = text.replace(secret, "***")
    text = _URL_PATH.sub(r"\1/…", redact_text(text))
    text = " ".join(text.split())
    return text[:500]


def _notifier(route: Route, alert: Alert) -> Any:
    if isinstance(route, EmailRoute):
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        return SmtpNotifier(
            to=list(route.to),
            from_email=route.from_email,
            subject=alert.subject,
            html_content=alert.html(),
            smtp_conn_id=route.conn_id,
        )
    if isinstance(route, SlackRoute):
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        return SlackWebhookNotifier(
            slack_webhook_conn_id=route.conn_id, text=alert.slack_text(), timeout=TIMEOUT_SECONDS
        )
    from airflow.providers.http.notifications.http import HttpNotifier

    return HttpNotifier(
        http_conn_id=route.conn_id,
        endpoint=route.endpoint,
        method="POST",
        json=dict(alert.payload),
        headers={"Content-Type": "application/json"},
        extra_options={"timeout": TIMEOUT_SECONDS},
    )


def deliver(route: Route, alert: Alert, context: Mapping[str, Any] | None) -> Delivery:
    key = route_key(route)
    try:
        _notifier(route, alert).notify(dict(context or {}))
    except Exception as error:  # every failure is recorded and retried, never raised past the others
        reason = _redacted(error, route.conn_id)
        _LOG.warning(
            "The %s alert of %s (%s) could not be sent through %s: %s. It is recorded as failed; the task's "
            "retry sends it again.",
            alert.event,
            alert.model,
            alert.incident_id or "no incident",
            key,
            reason,
        )
        return Delivery(key, route.kind, route.conn_id, alert.event, "failed", reason)
    _LOG.info("The %s alert of %s was sent through %s.", alert.event, alert.model, key)
    return Delivery(key, route.kind, route.conn_id, alert.event, "sent")


def send_alert(
    spec: AlignmentSpec,
    alert: Alert,
    *,
    routes: Sequence[Route] | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[Delivery]:
    """Send ``alert`` through every route of the spec that listens for its event (or through ``routes``).

    For events without an incident (``gate_rejected``, ``ungated``; see
    :func:`~alignment_drift.integrations.alerts.gate_alert`); the caller decides that it is sent once.
    Failures are returned (status ``failed``), not raised: see :func:`raise_for_deliveries`.
    """
    chosen = list(routes) if routes is not None else routes_for(spec, alert.event)
    return [deliver(route, alert, context) for route in chosen]


def run_url(settings: Settings, model: str, run_id: str | None) -> str | None:
    if not run_id:
        return None
    try:
        from alignment_drift.integrations.mlflow.store import client
        from alignment_drift.integrations.overview import mlflow_ui_url

        ui = mlflow_ui_url(settings)
        if ui is None:
            return None
        experiment = client(settings).get_experiment_by_name(f"alignment-drift/{model}")
        return None if experiment is None else f"{ui}/#/experiments/{experiment.experiment_id}/runs/{run_id}"
    except Exception:  # a link is a convenience: the run id is in the message anyway
        return None


def notify_incident(
    spec: AlignmentSpec,
    update: IncidentUpdate | Mapping[str, Any],
    check: Mapping[str, Any],
    *,
    settings: Settings,
    context: Mapping[str, Any] | None = None,
) -> list[Delivery]:
    """Tell the people on the spec's routes about the night's incident, once per route and incident.

    Parameters
    ----------
    spec : AlignmentSpec
        The model's spec (``governance.notify``).
    update : IncidentUpdate or mapping
        What :func:`~alignment_drift.integrations.incident_tracking.track_incident` returned (or its
        ``to_dict()``, e.g. from XCom).
    check : mapping
        The night's ``check@1`` document.
    settings : Settings
        Where the incidents folder and the tracking store are.
    context : mapping, optional
        The task's Airflow context, handed to the notifiers.

    Returns
    -------
    list of Delivery
        One per route that listens for the incident's verdicts: ``sent``, ``failed`` or ``skipped``
        (told before). Empty without an unresolved incident or without listening routes.
    """
    if not isinstance(update, IncidentUpdate):
        update = IncidentUpdate.from_dict(update)
    if update.incident is None or update.model != spec.model:
        return []
    incident = get_incident(settings, update.incident.id)  # as stored: deliveries of earlier tries included
    if incident.state == "resolved":
        return []
    seen = {"quarantined"} if incident.kind == "quarantine" else {o.verdict for o in incident.occurrences}
    routes = [r for r in spec.governance.notify if seen & set(r.on)]
    if not routes:
        return []
    delivered = incident.delivered_routes()
    event = "quarantined" if incident.kind == "quarantine" else incident.verdict
    due = [r for r in routes if route_key(r) not in delivered]
    skipped = [Delivery(route_key(r), r.kind, r.conn_id, event, "skipped") for r in routes if r not in due]
    if not due:
        return skipped
    occurrence = next((o for o in incident.occurrences if o.interval_start == update.night), incident.occurrences[-1])
    alert = incident_alert(
        spec,
        incident,
        check,
        mlflow_run_id=occurrence.check_run_id,
        mlflow_run_url=run_url(settings, spec.model, occurrence.check_run_id),
        report_path=occurrence.report_path,
        tracking_uri=redact_uri(settings.tracking_uri),
    )
    sent = [deliver(route, alert, context) for route in due]
    stamp = now_iso()
    record_deliveries(
        settings,
        incident.id,
        [NotificationRecord(at=stamp, route=d.route, event=d.event, status=d.status, error=d.error) for d in sent],  # type: ignore[arg-type]
    )
    return sent + skipped


def raise_for_deliveries(deliveries: Sequence[Delivery]) -> None:
    """Raise :class:`NotificationFailed` when any delivery failed (an ordinary exception: Airflow retries).

    Call it after the night and its incident are recorded, so that the retry only re-sends.
    """
    failed = [d for d in deliveries if d.status == "failed"]
    if failed:
        listed = "; ".join(f"{d.route}: {d.error}" for d in failed)
        raise NotificationFailed(
            f"{len(failed)} alert(s) could not be sent ({listed}). The incident and the failed attempts are "
            "recorded; the task's retry sends them again. Check the Airflow connection(s) named."
        )
