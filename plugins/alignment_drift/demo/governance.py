"""The demo's governance: its settings that differ from the spec file, the local alert receiver, and what the
table says about policies and alerts.

The demo never edits ``specs/content_safety.yaml``: it re-validates the spec's
data with ``governance.on_ungated`` set from its option and, when alerts are
on, a ``webhook`` route to a loopback receiver (:mod:`.receiver`) whose Airflow
connection is given as ``AIRFLOW_CONN_<ID>`` for the demo's duration only.
Alerts reach the receiver through the monitor DAG's own ``notify`` task and
the HTTP provider's ``HttpNotifier``, as they would reach a real endpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from alignment_drift.core.spec import AlignmentSpec, WebhookRoute, parse_spec
from alignment_drift.core.spec.notify import ALERT_EVENTS
from alignment_drift.demo.receiver import AlertReceiver
from alignment_drift.settings import Settings

__all__ = [
    "ALERT_CONN_ID",
    "ALERT_ENDPOINT",
    "ON_UNGATED",
    "alert_note",
    "alert_receiver",
    "alerts_dir",
    "demo_spec",
    "policy_notes",
]

ON_UNGATED = ("notify", "hold", "rollback")
#: The Airflow connection of the demo's webhook route (``AIRFLOW_CONN_ALIGNMENT_DRIFT_DEMO_ALERTS``).
ALERT_CONN_ID = "alignment_drift_demo_alerts"
ALERT_ENDPOINT = "alerts"


def alerts_dir(settings: Settings) -> Path:
    """Where the receiver writes the alerts it got: ``<data_dir>/demo/alerts``."""
    return settings.data_dir / "demo" / "alerts"


def demo_spec(spec: AlignmentSpec, *, on_ungated: str, alerts: bool, source: str) -> tuple[AlignmentSpec, list[str]]:
    """The spec the demo runs: ``governance.on_ungated`` from the option, plus the receiver's route when ``alerts``.

    The result is validated like a spec file (the spec's data re-parsed; errors name ``source``).
    Returns it with one line per setting that differs from the file.

    Raises
    ------
    ValueError
        When ``on_ungated`` is not one of ``notify``, ``hold``, ``rollback``.
    """
    if on_ungated not in ON_UNGATED:
        raise ValueError(f"The 'on_ungated' parameter must be one of {list(ON_UNGATED)}. Got {on_ungated!r} instead.")
    data = spec.model_dump(mode="json")
    governance = dict(data["governance"], on_ungated=on_ungated)
    differs = []
    if on_ungated != spec.governance.on_ungated:
        differs.append(f"governance.on_ungated: {on_ungated} (the file: {spec.governance.on_ungated})")
    if alerts:
        route = WebhookRoute.model_validate(
            {"kind": "webhook", "conn_id": ALERT_CONN_ID, "endpoint": ALERT_ENDPOINT, "on": list(ALERT_EVENTS)}
        )
        governance["notify"] = [*governance["notify"], route.model_dump(mode="json")]
        differs.append(
            f"governance.notify: + webhook (connection {ALERT_CONN_ID}, endpoint {ALERT_ENDPOINT}) on "
            f"{', '.join(route.on)} (the file: {len(spec.governance.notify)} route(s))"
        )
    return parse_spec({**data, "governance": governance}, path=source), differs


@contextlib.contextmanager
def alert_receiver(settings: Settings, enabled: bool) -> Iterator[AlertReceiver | None]:
    """Run the local alert receiver, with its connection in ``AIRFLOW_CONN_<ID>``, for the ``with`` block.

    Yields None when ``enabled`` is false. The variable's earlier value (or absence) is restored on exit.
    """
    if not enabled:
        yield None
        return
    name = f"AIRFLOW_CONN_{ALERT_CONN_ID.upper()}"
    before = os.environ.get(name)
    with AlertReceiver(alerts_dir(settings)) as receiver:
        os.environ[name] = json.dumps(receiver.connection())
        try:
            yield receiver
        finally:
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before


def policy_notes(tags: Mapping[str, str], version: str) -> list[str]:
    """What the deployment policies did after a night, from its check run's tags (``policy.*``)."""
    notes = []
    ungated = tags.get("policy.on_ungated", "none")
    if ungated not in ("none", ""):
        to = tags.get("policy.on_ungated_rolled_back_to")
        what = {
            "rollback": f"rollback v{version} -> v{to}",
            "hold": f"hold v{version}, approval requested",
        }.get(ungated, f"{ungated} v{version}, nothing moved")
        notes.append(f"on_ungated: {what} (v{version} never passed the gate)")
    misaligned = tags.get("policy.on_misaligned", "none")
    if misaligned not in ("none", "notify", ""):  # notify is every misaligned night: the verdict says it
        to = tags.get("policy.on_misaligned_rolled_back_to")
        what = f"rollback v{version} -> v{to}" if misaligned == "rollback" else f"{misaligned} v{version}"
        notes.append(f"on_misaligned: {what}")
    return notes


def alert_note(alert: Mapping[str, Any]) -> str:
    """One line for an alert the receiver got (schema ``alignment-drift/alert@1``)."""
    incident = alert.get("incident")
    if isinstance(incident, Mapping):
        nights = int(incident.get("occurrences") or 1)
        when = "first night" if nights == 1 else f"night {nights} of the incident"
        return f"incident {incident.get('id')} {alert.get('verdict')} ({when})"
    version = alert.get("model_version")
    return f"{alert.get('event')}" + (f" v{version}" if version else "") + " (once per version)"
