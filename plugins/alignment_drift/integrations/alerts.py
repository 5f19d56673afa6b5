"""What an alert says: a short message about an incident (or a gate event), rendered for each channel.

Nothing here sends anything (that is ``alignment_drift.airflow.notify``, through
Airflow's provider notifiers). Every value from a check, a spec or MLflow is
data, never markup or a template: the e-mail body is HTML-escaped, the Slack
text escapes Slack's control characters, the subject is one line, and the
notifiers are called without template rendering, so a reason containing
``{{ … }}`` arrives as written.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from alignment_drift.core.redaction import redact
from alignment_drift.core.spec.notify import ALERT_EVENTS

if TYPE_CHECKING:
    from alignment_drift.core.spec import AlignmentSpec
    from alignment_drift.integrations.incident_store import Incident

__all__ = ["ALERT_SCHEMA", "Alert", "gate_alert", "incident_alert"]

ALERT_SCHEMA = "alignment-drift/alert@1"
MAX_REASONS = 3
_LINE = 300


def _one_line(text: Any, limit: int = _LINE) -> str:
    value = " ".join(str(text).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Alert:
    """One message about one event, with the facts every channel renders.

    ``lines`` are plain-text lines (label, value); ``payload`` is the webhook's JSON body
    (schema ``alignment-drift/alert@1``). Credentials in any of them are masked on construction.
    """

    event: str
    model: str
    title: str
    summary: str
    lines: tuple[tuple[str, str], ...]
    reasons: tuple[str, ...] = ()
    incident_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.event not in ALERT_EVENTS:
            raise ValueError(f"The 'event' parameter must be one of {list(ALERT_EVENTS)}. Got {self.event!r} instead.")
        for name in ("title", "summary", "lines", "reasons", "payload"):
            object.__setattr__(self, name, redact(getattr(self, name)))

    @property
    def subject(self) -> str:
        """One line (no CR/LF: it becomes a mail header), at most 200 characters."""
        return _one_line(f"[alignment-drift] {self.title}", 200)

    def text(self) -> str:
        """Plain text: the summary, the facts, the top reasons."""
        out = [self.summary, ""]
        out += [f"{label}: {value}" for label, value in self.lines]
        if self.reasons:
            out += ["", "Top reasons:"] + [f"- {r}" for r in self.reasons]
        return "\n".join(out)

    def slack_text(self) -> str:
        """Slack ``mrkdwn``, with ``&``, ``<`` and ``>`` escaped so data never becomes a link or mention."""
        out = [f"*{_slack(self.subject)}*", _slack(self.summary)]
        out += [f"• *{_slack(label)}*: {_slack(value)}" for label, value in self.lines]
        if self.reasons:
            out += ["*Top reasons:*"] + [f"• {_slack(r)}" for r in self.reasons]
        return "\n".join(out)

    def html(self) -> str:
        """A short HTML e-mail body; every value escaped."""
        rows = "".join(
            f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
            for label, value in self.lines
        )
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        return (
            f"<p>{html.escape(self.summary)}</p><table>{rows}</table>"
            + (f"<p>Top reasons:</p><ul>{reasons}</ul>" if reasons else "")
            + "<p>Sent by alignment-drift.</p>"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lines"] = [list(pair) for pair in self.lines]
        out["reasons"] = list(self.reasons)
        out["payload"] = dict(self.payload)
        return out


def _sources(check: Mapping[str, Any], incident: Incident) -> str:
    found = [f"{a['source']} ({float(a.get('confidence') or 0.0):.2f})" for a in check.get("attribution") or []]
    return ", ".join(found) or ", ".join(incident.sources) or "unattributed"


def incident_alert(
    spec: AlignmentSpec,
    incident: Incident,
    check: Mapping[str, Any],
    *,
    mlflow_run_id: str | None,
    mlflow_run_url: str | None = None,
    report_path: str | None = None,
    tracking_uri: str | None = None,
) -> Alert:
    """The alert of an incident, from the night that tells people (its first night or an escalation).

    Parameters
    ----------
    spec : AlignmentSpec
        The model's spec (description, owners).
    incident : Incident
        The incident as stored.
    check : mapping
        The night's ``check@1`` document (verdict, attribution, reasons).
    mlflow_run_id, mlflow_run_url : str, optional
        The night's check run, and its URL in MLflow's UI when there is one.
    report_path : str, optional
        The night's report file.
    tracking_uri : str, optional
        The tracking store, credentials removed, named when there is no UI link.
    """
    from alignment_drift.integrations.reports.sections import verdict_sentence

    verdict = str(check.get("verdict") or incident.verdict)
    night = str(check["data_interval"]["start"])[:16].replace("T00:00", "")
    event = "quarantined" if incident.kind == "quarantine" else incident.verdict
    reasons = tuple(_one_line(r) for r in (check.get("reasons") or [])[:MAX_REASONS])
    run = mlflow_run_url or (f"runs:/{mlflow_run_id}" if mlflow_run_id else "-")
    if mlflow_run_url is None and mlflow_run_id and tracking_uri:
        run = f"{run} in {tracking_uri}"
    night_of = (incident.first_night or "")[:16].replace("T00:00", "")
    owners = ", ".join(incident.owners) or "(no owner in the spec: set 'owner')"
    lines = (
        ("Model", f"{spec.model}" + (f" v{check['model_version']}" if check.get("model_version") else "")),
        ("Verdict", verdict if verdict == incident.verdict else f"{verdict} (incident: {incident.verdict})"),
        ("Likely source", _sources(check, incident)),
        ("Incident", f"{incident.id} ({incident.state}, {len(incident.occurrences)} night(s) since {night_of})"),
        ("Owner", owners),
        ("MLflow run", run),
        ("Report", report_path or "-"),
        ("Acknowledge", f"alignment-drift incident ack {incident.id} --note '...'"),
    )
    summary = _one_line(verdict_sentence(dict(check)), 600)
    payload = {
        "schema": ALERT_SCHEMA,
        "event": event,
        "model": spec.model,
        "verdict": verdict,
        "night": check["data_interval"]["start"],
        "summary": summary,
        "attribution": [
            {"source": a["source"], "confidence": a.get("confidence")} for a in check.get("attribution") or []
        ],
        "reasons": list(reasons),
        "incident": {
            "id": incident.id,
            "kind": incident.kind,
            "state": incident.state,
            "verdict": incident.verdict,
            "owner": incident.owner,
            "owners": list(incident.owners),
            "first_night": incident.first_night,
            "occurrences": len(incident.occurrences),
        },
        "links": {
            "mlflow_run_id": mlflow_run_id,
            "mlflow_run_url": mlflow_run_url,
            "report_path": report_path,
            "tracking_uri": tracking_uri,
        },
    }
    return Alert(
        event=event,
        model=spec.model,
        title=f"{spec.model} is {verdict.upper()} on {night} (incident {incident.id})",
        summary=summary,
        lines=lines,
        reasons=reasons,
        incident_id=incident.id,
        payload=payload,
    )


def gate_alert(
    spec: AlignmentSpec,
    *,
    event: str,
    model_version: str | None,
    reason: str,
    mlflow_run_id: str | None = None,
    mlflow_run_url: str | None = None,
    details: Sequence[tuple[str, str]] = (),
) -> Alert:
    """The alert of a gate event: ``gate_rejected`` (a challenger was refused) or ``ungated`` (alias
    ``champion`` moved to a version the gate never passed).

    Raises
    ------
    ValueError
        When ``event`` is neither.
    """
    if event not in ("gate_rejected", "ungated"):
        raise ValueError(f"The 'event' parameter must be 'gate_rejected' or 'ungated'. Got {event!r} instead.")
    what = "a challenger was rejected by the gate" if event == "gate_rejected" else "an ungated version serves"
    version = f" v{model_version}" if model_version else ""
    summary = _one_line(f"{spec.model}{version}: {what}. {reason}", 600)
    lines = (
        ("Model", f"{spec.model}{version}"),
        ("Event", event),
        ("Owner", ", ".join(o for o in [spec.owner, *spec.governance.owners] if o) or "(no owner in the spec)"),
        ("MLflow run", mlflow_run_url or (f"runs:/{mlflow_run_id}" if mlflow_run_id else "-")),
        *((_one_line(k, 60), _one_line(v)) for k, v in details),
    )
    payload = {
        "schema": ALERT_SCHEMA,
        "event": event,
        "model": spec.model,
        "model_version": model_version,
        "summary": summary,
        "reason": _one_line(reason, 2000),
        "links": {"mlflow_run_id": mlflow_run_id, "mlflow_run_url": mlflow_run_url},
    }
    return Alert(
        event=event,
        model=spec.model,
        title=f"{spec.model}{version}: {event.replace('_', ' ')}",
        summary=summary,
        lines=lines,
        payload=payload,
    )
