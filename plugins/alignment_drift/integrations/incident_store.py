"""The incident store: one JSON document per incident (schema ``alignment-drift/incident@2``), with its lifecycle.

An incident groups the consecutive problem nights of one model (see
:mod:`.incident_tracking` for the grouping rule) and carries an owner, a
state (``open`` → ``acknowledged`` → ``resolved``) and the history of every
transition (who, when, note). Layout, below the incidents folder
(:func:`~alignment_drift.integrations.incidents.incidents_dir`)::

    <model>/<incident id>.json   one document per incident
    <model>/_nights.json         the verdict of every tracked night (the ledger the grouping reads)
    <model>/.lock                the lock every writer takes

Every write is atomic (a temporary file in the same folder, fsync, rename) and
made under an exclusive lock of the model's folder (``fcntl.flock``; on shared
storage the lock must be honoured by every worker, as it is on local disks and
NFSv4), so concurrent nights of a model never lose each other's updates. The
folder must be shared by the workers and the API server (set
``ALIGNMENT_DRIFT_INCIDENTS_DIR`` on each).

People's steps (acknowledge, resolve) are in :mod:`.incident_actions`; the nightly grouping in
:mod:`.incident_tracking`. The document's JSON Schema is ``schemas/incident-v2.schema.json`` (generated from
:class:`Incident` by :func:`incident_json_schema`; a test keeps the two equal).

Incident ids are ``<model>-<interval key>-<kind>`` (``content_safety-2026-01-12-alignment``;
``-2`` … when a night starts a second incident of that kind): stable, and safe as file
names and command arguments.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignment_drift.core.redaction import redact
from alignment_drift.integrations.incidents import incidents_dir
from alignment_drift.settings import Settings

__all__ = [
    "INCIDENT_SCHEMA_V2",
    "LEDGER_SCHEMA",
    "SYSTEM_ACTOR",
    "Incident",
    "IncidentNotFound",
    "IncidentStoreBusy",
    "LedgerNight",
    "NightLedger",
    "NotificationRecord",
    "Occurrence",
    "State",
    "Transition",
    "get_incident",
    "incident_json_schema",
    "incident_model",
    "list_incidents",
    "locked",
    "now_iso",
    "write_incident_document",
]

INCIDENT_SCHEMA_V2: Final = "alignment-drift/incident@2"
LEDGER_SCHEMA: Final = "alignment-drift/incident-nights@1"
SYSTEM_ACTOR = "alignment-drift"
MAX_LEDGER_NIGHTS = 5000
LOCK_TIMEOUT_SECONDS = 120.0
_ID = re.compile(r"^(?P<model>[a-z][a-z0-9_]{0,62})-\d{4}-\d{2}-\d{2}(T\d{4}Z)?-(alignment|quarantine)(-\d{1,4})?$")
_LEDGER = "_nights.json"
State = Literal["open", "acknowledged", "resolved"]
SEVERITY = {"drifting": 1, "misaligned": 2, "quarantined": 2}


class IncidentNotFound(LookupError):
    """No incident has the id asked for."""


class IncidentStoreBusy(TimeoutError):
    """The model's incident folder stayed locked by another writer; retrying later will succeed."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Attribution(_Doc):
    source: str
    confidence: float = Field(ge=0.0, le=1.0)


class Occurrence(_Doc):
    """One night of the incident: its interval, verdict, sources, top reasons and where its record is."""

    interval_start: str
    interval_end: str
    verdict: Literal["drifting", "misaligned", "quarantined"]
    model_version: str | None = None
    attribution: list[Attribution] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    check_run_id: str | None = None
    report_path: str | None = None
    recorded_at: str


class Transition(_Doc):
    """One step of the incident's history; ``state`` is the state after it."""

    at: str
    by: str
    action: Literal["created", "escalated", "acknowledged", "resolved", "occurrence_withdrawn"]
    state: State
    note: str = ""


class NotificationRecord(_Doc):
    """One attempt to tell people through a route (``route`` is :func:`~alignment_drift.core.spec.notify.route_key`)."""

    at: str
    route: str
    event: str
    status: Literal["sent", "failed"]
    error: str | None = None


class Incident(_Doc):
    """An incident (schema ``alignment-drift/incident@2``).

    ``verdict`` is the worst verdict of its nights and ``sources`` the union of their attribution;
    both are recomputed from ``occurrences`` whenever the incident changes.
    """

    schema_: Literal["alignment-drift/incident@2"] = Field(default=INCIDENT_SCHEMA_V2, alias="schema")
    id: str
    model: str
    kind: Literal["alignment", "quarantine"]
    state: State = "open"
    verdict: Literal["drifting", "misaligned", "quarantined"]
    sources: list[str] = Field(default_factory=list)
    owner: str = ""
    owners: list[str] = Field(default_factory=list)
    opened_at: str
    updated_at: str
    resolved_at: str | None = None
    follows: str | None = None
    occurrences: list[Occurrence] = Field(default_factory=list)
    history: list[Transition] = Field(default_factory=list)
    notifications: list[NotificationRecord] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @property
    def first_night(self) -> str | None:
        return self.occurrences[0].interval_start if self.occurrences else None

    @property
    def last_night(self) -> str | None:
        return self.occurrences[-1].interval_start if self.occurrences else None

    def refresh(self) -> None:
        """Order the occurrences by night and recompute ``verdict`` and ``sources`` from them."""
        self.occurrences.sort(key=lambda o: night_key(o.interval_start))
        if self.occurrences:
            self.verdict = max((o.verdict for o in self.occurrences), key=lambda v: SEVERITY[v])
        self.sources = sorted({a.source for o in self.occurrences for a in o.attribution})

    def delivered_routes(self) -> set[str]:
        """The routes that have been told of this incident (a ``sent`` record)."""
        return {n.route for n in self.notifications if n.status == "sent"}


class LedgerNight(_Doc):
    end: str
    verdict: str
    incident: str | None = None


class NightLedger(_Doc):
    """Every tracked night of a model with its verdict and incident: what 'no aligned night in between' reads."""

    schema_: Literal["alignment-drift/incident-nights@1"] = Field(default=LEDGER_SCHEMA, alias="schema")
    model: str
    nights: dict[str, LedgerNight] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def incident_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``alignment-drift/incident@2`` (what ``schemas/incident-v2.schema.json`` holds)."""
    schema = Incident.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://alignment-drift/schemas/incident@2",
        **schema,
        "title": INCIDENT_SCHEMA_V2,
    }


def night_key(value: str) -> dt.datetime:
    """An interval start as an aware UTC datetime (naive values are taken as UTC), for ordering."""
    stamp = dt.datetime.fromisoformat(value)
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


def now_iso(now: dt.datetime | None = None) -> str:
    stamp = now or dt.datetime.now(dt.UTC)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")


def incident_model(incident_id: str) -> str:
    """The model an incident id belongs to.

    Raises
    ------
    IncidentNotFound
        When ``incident_id`` is not an incident id (it then names no file either).
    """
    match = _ID.match(incident_id) if isinstance(incident_id, str) else None
    if match is None:
        raise IncidentNotFound(
            f"{incident_id!r} is not an incident id; ids look like 'content_safety-2026-01-12-alignment'. "
            "Fix: copy it from 'alignment-drift incident list SPEC'."
        )
    return match.group("model")


def model_dir(settings: Settings, model: str) -> Path:
    return incidents_dir(settings) / model


@contextlib.contextmanager
def locked(settings: Settings, model: str, *, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[Path]:
    """Hold the exclusive lock of the model's incident folder (created if needed); yield the folder.

    Raises
    ------
    IncidentStoreBusy
        When the lock is not free within ``timeout`` seconds.
    """
    folder = model_dir(settings, model)
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise IncidentStoreBusy(
                        f"The incident folder {folder} stayed locked for {timeout:g} s; another night of "
                        f"{model} is writing. Retry (the task's retry does)."
                    ) from None
                time.sleep(0.05)
        yield folder
    finally:
        os.close(handle)  # closing releases the lock


def write_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to ``path`` so that a reader sees the old or the new document, never half of one."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(staging, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _read(path: Path, kind: type[_Doc]) -> Any:
    try:
        return kind.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as error:
        raise ValueError(
            f"{path} is not a valid {kind.__name__} document ({error}). Fix: restore it from a backup or move "
            "it aside; nothing is written over an unreadable incident."
        ) from None


def read_ledger(folder: Path, model: str) -> NightLedger:
    path = folder / _LEDGER
    return _read(path, NightLedger) if path.exists() else NightLedger(model=model)


def write_ledger(folder: Path, ledger: NightLedger) -> None:
    if len(ledger.nights) > MAX_LEDGER_NIGHTS:
        keep = sorted(ledger.nights, key=night_key)[-MAX_LEDGER_NIGHTS:]
        ledger.nights = {k: ledger.nights[k] for k in keep}
    write_atomic(folder / _LEDGER, ledger.to_dict())


def read_incidents(folder: Path, model: str) -> dict[str, Incident]:
    """Every incident document of the model's folder, by id."""
    found = {}
    for path in sorted(folder.glob(f"{model}-*.json")) if folder.is_dir() else []:
        incident = _read(path, Incident)
        found[incident.id] = incident
    return found


def write_incident_document(folder: Path, incident: Incident) -> Path:
    incident_model(incident.id)  # never a path from anything but a valid id
    path = folder / f"{incident.id}.json"
    write_atomic(path, redact(incident.to_dict()))
    return path


def list_incidents(
    settings: Settings, model: str, *, state: State | Literal["unresolved"] | None = None
) -> list[Incident]:
    """The model's incidents, latest night first; ``state`` keeps one state (``unresolved``: open or acknowledged)."""
    incidents = list(read_incidents(model_dir(settings, model), model).values())
    if state == "unresolved":
        incidents = [i for i in incidents if i.state != "resolved"]
    elif state is not None:
        incidents = [i for i in incidents if i.state == state]
    return sorted(incidents, key=lambda i: (night_key(i.last_night or i.opened_at), i.id), reverse=True)


def get_incident(settings: Settings, incident_id: str) -> Incident:
    """The incident with this id.

    Raises
    ------
    IncidentNotFound
        When the id is malformed or no such incident is stored.
    """
    model = incident_model(incident_id)
    path = model_dir(settings, model) / f"{incident_id}.json"
    if not path.exists():
        raise IncidentNotFound(
            f"no incident {incident_id!r} in {path.parent}. Fix: list them with "
            f"'alignment-drift incident list specs/{model}.yaml', and check ALIGNMENT_DRIFT_INCIDENTS_DIR."
        )
    incident: Incident = _read(path, Incident)
    return incident
