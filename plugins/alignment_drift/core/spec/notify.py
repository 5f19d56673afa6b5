"""Who is told, and how: the notification routes of ``governance.notify``.

A route names the kind of channel (``email``, ``slack`` or ``webhook``), the
Airflow connection that holds its address and credentials (never the spec),
and the events it is sent for (``on``). Delivery goes through Airflow's own
provider notifiers (see ``alignment_drift.airflow.notify``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from alignment_drift.core.redaction import redact_uri
from alignment_drift.core.spec.base import Strict

__all__ = [
    "ALERT_EVENTS",
    "DEFAULT_ALERT_EVENTS",
    "AlertEvent",
    "EmailRoute",
    "NotifyRoute",
    "SlackRoute",
    "WebhookRoute",
    "route_key",
]

AlertEvent = Literal["misaligned", "quarantined", "drifting", "ungated", "gate_rejected"]
ALERT_EVENTS: tuple[str, ...] = ("misaligned", "quarantined", "drifting", "ungated", "gate_rejected")
# what needs a person by default: a drifting night already requests retraining on its own
DEFAULT_ALERT_EVENTS: tuple[str, ...] = ("misaligned", "quarantined", "ungated", "gate_rejected")

_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def _default_events() -> list[AlertEvent]:
    return list(DEFAULT_ALERT_EVENTS)  # type: ignore[arg-type]


class _Route(Strict):
    conn_id: str
    on: Annotated[list[AlertEvent], Field(min_length=1)] = Field(default_factory=_default_events)

    @field_validator("conn_id")
    @classmethod
    def _conn_id(cls, value: str) -> str:
        if not _CONN_ID.match(value):
            raise ValueError(
                "conn_id must name an Airflow connection (letters, digits, '_', '.', '-'); "
                f"got {value!r}. Fix: e.g. conn_id: smtp_default"
            )
        return value

    @field_validator("on")
    @classmethod
    def _unique_events(cls, value: list[AlertEvent]) -> list[AlertEvent]:
        return list(dict.fromkeys(value))


class EmailRoute(_Route):
    """E-mail through Airflow's SMTP provider (``SmtpNotifier``) and the SMTP connection ``conn_id``."""

    kind: Literal["email"]
    conn_id: str = "smtp_default"
    to: Annotated[list[str], Field(min_length=1, max_length=50)]
    from_email: str | None = None

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not _ADDRESS.match(a)]
        if bad:
            raise ValueError(f"every 'to' entry must be one e-mail address; not addresses: {bad}")
        return value

    @field_validator("from_email")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.match(value):
            raise ValueError(f"from_email must be one e-mail address; got {value!r}")
        return value


class SlackRoute(_Route):
    """Slack through the Slack provider's ``SlackWebhookNotifier`` and an incoming-webhook connection."""

    kind: Literal["slack"]


class WebhookRoute(_Route):
    """A JSON POST through the HTTP provider's ``HttpNotifier``: the connection's base URL plus ``endpoint``."""

    kind: Literal["webhook"]
    endpoint: str = ""

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if "://" in value or any(c.isspace() for c in value) or len(value) > 500:
            raise ValueError(
                "endpoint is the path below the connection's base URL (e.g. 'hooks/alignment'), without a "
                f"scheme, host or spaces, at most 500 characters; got {value!r}. Put the host in the connection."
            )
        return value


NotifyRoute = Annotated[EmailRoute | SlackRoute | WebhookRoute, Field(discriminator="kind")]


def route_key(route: EmailRoute | SlackRoute | WebhookRoute) -> str:
    """A route's stable, readable identity (which deliveries an incident already has).

    >>> route_key(EmailRoute(kind="email", to=["a@example.com"]))
    'email:smtp_default:a@example.com'
    >>> route_key(WebhookRoute(kind="webhook", conn_id="hooks", endpoint="alerts"))
    'webhook:hooks:alerts'
    """
    if isinstance(route, EmailRoute):
        return f"email:{route.conn_id}:{','.join(sorted(route.to))}"
    if isinstance(route, WebhookRoute):
        return f"webhook:{route.conn_id}:{redact_uri(route.endpoint)}"  # a token in the endpoint is never stored
    return f"slack:{route.conn_id}"
