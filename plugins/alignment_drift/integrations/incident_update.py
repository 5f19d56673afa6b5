"""What tracking one night did to the incident lifecycle: :class:`IncidentUpdate` (also what XCom carries)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from alignment_drift.integrations.incident_store import Incident

__all__ = ["Action", "IncidentUpdate"]

Action = Literal["created", "occurrence_added", "resolved", "none"]


@dataclass(frozen=True)
class IncidentUpdate:
    """What tracking one night did.

    ``action``: ``created`` (the night opened an incident), ``occurrence_added`` (it continued one),
    ``resolved`` (an aligned night resolved incidents, listed in ``resolved``) or ``none`` (a rerun,
    or a night that changed nothing). ``incident`` is the night's incident (None for aligned and watch
    nights). ``first_occurrence`` says the night is its incident's first, ``escalated`` that it made the
    incident worse (``drifting`` → ``misaligned``): that is when people are told (see :attr:`notify`).
    """

    action: Action
    model: str
    night: str
    verdict: str
    incident: Incident | None = None
    first_occurrence: bool = False
    escalated: bool = False
    resolved: tuple[Incident, ...] = ()

    @property
    def notify(self) -> bool:
        """Whether people should hear of it tonight: an unresolved incident's first night, or an escalation."""
        return (
            self.incident is not None
            and self.incident.state != "resolved"
            and (self.first_occurrence or self.escalated)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model": self.model,
            "night": self.night,
            "verdict": self.verdict,
            "incident": None if self.incident is None else self.incident.to_dict(),
            "first_occurrence": self.first_occurrence,
            "escalated": self.escalated,
            "notify": self.notify,
            "resolved": [i.to_dict() for i in self.resolved],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IncidentUpdate:
        """The update from :meth:`to_dict` (e.g. after XCom)."""
        incident = data.get("incident")
        return cls(
            action=data["action"],
            model=data["model"],
            night=data["night"],
            verdict=data["verdict"],
            incident=None if incident is None else Incident.model_validate(incident),
            first_occurrence=bool(data.get("first_occurrence")),
            escalated=bool(data.get("escalated")),
            resolved=tuple(Incident.model_validate(i) for i in data.get("resolved") or []),
        )
