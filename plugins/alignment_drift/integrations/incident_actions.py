"""People's steps in an incident's lifecycle, and the record of who was told.

``open`` → ``acknowledged`` (:func:`acknowledge_incident`), ``open``/``acknowledged`` → ``resolved``
(:func:`resolve_incident`), each recorded in the incident's history with who, when and the note, under
the model's lock; :func:`record_deliveries` appends notification attempts.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from alignment_drift.integrations.incident_store import (
    Incident,
    NotificationRecord,
    State,
    Transition,
    get_incident,
    incident_model,
    locked,
    now_iso,
    write_incident_document,
)
from alignment_drift.settings import Settings

__all__ = [
    "MAX_ACTOR",
    "MAX_NOTE",
    "TransitionRefused",
    "acknowledge_incident",
    "record_deliveries",
    "resolve_incident",
]

MAX_NOTE = 2000
MAX_ACTOR = 200


class TransitionRefused(ValueError):
    """The incident's state does not allow the transition asked for (e.g. acknowledging a resolved incident)."""


def _checked(text: str, name: str, limit: int) -> str:
    value = " ".join(str(text).split())
    if not value:
        raise ValueError(
            f"The {name!r} parameter (--{name}) must not be empty. Fix: say it, e.g. --{name} 'rolled back to v5'."
        )
    if len(value) > limit:
        raise ValueError(
            f"The {name!r} parameter (--{name}) must be at most {limit} characters. Got {len(value)} instead."
        )
    return value


def _transition(
    settings: Settings,
    incident_id: str,
    *,
    to: State,
    allowed_from: tuple[State, ...],
    by: str,
    note: str,
    now: dt.datetime | None,
) -> Incident:
    note, by = _checked(note, "note", MAX_NOTE), _checked(by, "by", MAX_ACTOR)
    model = incident_model(incident_id)
    with locked(settings, model) as folder:
        incident = get_incident(settings, incident_id)
        if incident.state not in allowed_from:
            last = incident.history[-1] if incident.history else None
            since = f" by {last.by} at {last.at}" if last else ""
            raise TransitionRefused(
                f"incident {incident_id} is {incident.state}{since}; it can be "
                f"{'acknowledged' if to == 'acknowledged' else 'resolved'} only when it is "
                f"{' or '.join(allowed_from)}."
            )
        stamp = now_iso(now)
        incident.state = to
        incident.updated_at = stamp
        if to == "resolved":
            incident.resolved_at = stamp
        action: Literal["acknowledged", "resolved"] = "acknowledged" if to == "acknowledged" else "resolved"
        incident.history.append(Transition(at=stamp, by=by, action=action, state=to, note=note))
        write_incident_document(folder, incident)
    return incident


def acknowledge_incident(
    settings: Settings, incident_id: str, *, by: str, note: str, now: dt.datetime | None = None
) -> Incident:
    """``open`` → ``acknowledged``: someone owns the problem now (recorded with who, when and the note).

    Raises
    ------
    IncidentNotFound, TransitionRefused, ValueError
        Unknown id; the incident is not open; an empty or over-long note or name.
    """
    return _transition(settings, incident_id, to="acknowledged", allowed_from=("open",), by=by, note=note, now=now)


def resolve_incident(
    settings: Settings, incident_id: str, *, by: str, note: str, now: dt.datetime | None = None
) -> Incident:
    """``open``/``acknowledged`` → ``resolved`` by a person; a later problem night starts a new incident.

    Raises
    ------
    IncidentNotFound, TransitionRefused, ValueError
        Unknown id; the incident is already resolved; an empty or over-long note or name.
    """
    return _transition(
        settings, incident_id, to="resolved", allowed_from=("open", "acknowledged"), by=by, note=note, now=now
    )


def record_deliveries(settings: Settings, incident_id: str, records: list[NotificationRecord]) -> Incident:
    """Append notification attempts to the incident (under the lock) and return it."""
    model = incident_model(incident_id)
    with locked(settings, model) as folder:
        incident = get_incident(settings, incident_id)
        incident.notifications.extend(records)
        write_incident_document(folder, incident)
    return incident
