"""The nightly entry point of the incident lifecycle: :func:`track_incident`, called for every recorded night.

Grouping (what makes nights one incident)
-----------------------------------------
A ``drifting`` or ``misaligned`` night is of kind ``alignment``; a
``quarantined`` night of kind ``quarantine``. A problem night *continues* an
unresolved incident of the same model and kind when

1. no ``aligned`` night of the model lies between it and one of the
   incident's nights (``watch`` nights and other incidents' nights do not
   interrupt; only nights tracked here count), and
2. its sources overlap the incident's: they share an attribution source, or
   either side has none (quarantined nights have none, so consecutive
   quarantines group).

Otherwise it opens a new incident. Among several candidates the one with the
latest night wins. The incident's ``verdict`` is the worst of its nights
(``misaligned`` over ``drifting``) and its ``sources`` their union: an episode
gains sources as it develops (``model_update``, then ``distribution_shift``
once the feedback loop moves the inputs) and stays one incident. A resolved
incident is never continued: the next problem night opens a new one (its
``follows`` names the previous one).

Resolution: an unresolved incident is resolved automatically once
``governance.resolve_after_aligned_nights`` (default 3) aligned nights follow
its last night, or by a person (``alignment-drift incident resolve``).

Idempotent by night: a rerun of a night updates its occurrence in place (run id, report, verdict,
sources) and never adds a second one; when the rerun's verdict no longer belongs to the incident
(e.g. it is aligned now) the occurrence is withdrawn, recorded in the history, and the night is tracked anew.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from alignment_drift.core.spec.base import VERDICTS
from alignment_drift.integrations.incident_store import (
    SEVERITY,
    SYSTEM_ACTOR,
    Attribution,
    Incident,
    LedgerNight,
    NightLedger,
    Occurrence,
    Transition,
    locked,
    night_key,
    now_iso,
    read_incidents,
    read_ledger,
    write_incident_document,
    write_ledger,
)
from alignment_drift.integrations.incident_update import Action, IncidentUpdate
from alignment_drift.settings import Settings

if TYPE_CHECKING:
    from alignment_drift.core.spec import AlignmentSpec

__all__ = ["IncidentUpdate", "incident_kind", "track_incident"]

_LOG = logging.getLogger(__name__)
MAX_REASONS = 5
MAX_REASON_CHARS = 500


def incident_kind(verdict: str) -> Literal["alignment", "quarantine"] | None:
    """``alignment`` for drifting/misaligned, ``quarantine`` for quarantined, None for aligned/watch."""
    if verdict == "quarantined":
        return "quarantine"
    return "alignment" if verdict in ("drifting", "misaligned") else None


def _validated(spec: AlignmentSpec, check: Mapping[str, Any]) -> tuple[str, str, str]:
    if check.get("model") != spec.model:
        raise ValueError(
            f"The check's 'model' must be the spec's model {spec.model!r}. Got {check.get('model')!r} instead."
        )
    verdict = check.get("verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"The check's 'verdict' must be one of {list(VERDICTS)}. Got {verdict!r} instead.")
    interval = check.get("data_interval") or {}
    try:
        start, end = (night_key(str(interval[k])) for k in ("start", "end"))
    except (KeyError, ValueError):
        raise ValueError(
            f"The check's 'data_interval' must have ISO 'start' and 'end' time stamps. Got {interval!r} instead."
        ) from None
    if end <= start:
        raise ValueError(f"The check's 'data_interval' must end after it starts. Got {interval!r} instead.")
    return start.isoformat(), end.isoformat(), str(verdict)


def _occurrence(
    check: Mapping[str, Any], start: str, end: str, run_id: str | None, report: str | None, at: str
) -> Occurrence:
    reasons = [" ".join(str(r).split())[:MAX_REASON_CHARS] for r in (check.get("reasons") or [])[:MAX_REASONS]]
    return Occurrence(
        interval_start=start,
        interval_end=end,
        verdict=check["verdict"],
        model_version=None if check.get("model_version") is None else str(check["model_version"]),
        attribution=[
            Attribution(source=str(a["source"]), confidence=float(a.get("confidence") or 0.0))
            for a in check.get("attribution") or []
        ],
        reasons=reasons,
        check_run_id=run_id,
        report_path=report,
        recorded_at=at,
    )


def _owners(spec: AlignmentSpec) -> tuple[str, list[str]]:
    owners = list(dict.fromkeys(o for o in [spec.owner, *spec.governance.owners] if o))
    return (owners[0] if owners else ""), owners


def _overlaps(incident: Incident, sources: set[str]) -> bool:
    return not sources or not incident.sources or bool(sources & set(incident.sources))


def _continuous(incident: Incident, night: dt.datetime, aligned: list[dt.datetime]) -> bool:
    for occurrence in incident.occurrences:
        low, high = sorted((night_key(occurrence.interval_start), night))
        if not any(low < a < high for a in aligned):
            return True
    return False


def _new_id(model: str, start: str, end: str, kind: str, taken: Mapping[str, Incident]) -> str:
    from alignment_drift.integrations.quarantine import interval_key

    base = f"{model}-{interval_key(night_key(start), night_key(end))}-{kind}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


class _Night:
    """Tracking one night against the model's ledger and incidents (under the lock)."""

    def __init__(self, spec: AlignmentSpec, ledger: NightLedger, incidents: dict[str, Incident], stamp: str) -> None:
        self.spec, self.ledger, self.incidents, self.stamp = spec, ledger, incidents, stamp
        self.changed: dict[str, Incident] = {}

    def aligned_nights(self) -> list[dt.datetime]:
        return [night_key(k) for k, n in self.ledger.nights.items() if n.verdict == "aligned"]

    def touch(self, incident: Incident) -> None:
        incident.refresh()
        incident.updated_at = self.stamp
        self.changed[incident.id] = incident

    def withdraw(self, incident: Incident, start: str, verdict: str) -> None:
        incident.occurrences = [o for o in incident.occurrences if o.interval_start != start]
        note = f"the rerun of the night of {start} gave verdict {verdict}"
        incident.history.append(
            Transition(at=self.stamp, by=SYSTEM_ACTOR, action="occurrence_withdrawn", state=incident.state, note=note)
        )
        if not incident.occurrences and incident.state != "resolved":
            incident.state, incident.resolved_at = "resolved", self.stamp
            withdrawn = Transition(
                at=self.stamp, by=SYSTEM_ACTOR, action="resolved", state="resolved", note=f"withdrawn: {note}"
            )
            incident.history.append(withdrawn)
        self.touch(incident)

    def place(self, occurrence: Occurrence, kind: Literal["alignment", "quarantine"]) -> tuple[Incident, Action, bool]:
        """Add the night to the incident it continues, or open one; returns (incident, action, escalated)."""
        night = night_key(occurrence.interval_start)
        sources = {a.source for a in occurrence.attribution}
        aligned = self.aligned_nights()
        candidates = [
            i
            for i in self.incidents.values()
            if i.kind == kind and i.state != "resolved" and _overlaps(i, sources) and _continuous(i, night, aligned)
        ]
        owner, owners = _owners(self.spec)
        if candidates:
            incident = max(candidates, key=lambda i: (night_key(i.last_night or i.opened_at), i.id))
            before = SEVERITY[incident.verdict]
            incident.occurrences.append(occurrence)
            incident.owner, incident.owners = owner, owners
            self.touch(incident)
            escalated = SEVERITY[incident.verdict] > before
            if escalated:
                incident.history.append(
                    Transition(
                        at=self.stamp,
                        by=SYSTEM_ACTOR,
                        action="escalated",
                        state=incident.state,
                        note=f"the night of {occurrence.interval_start} was {occurrence.verdict}",
                    )
                )
            return incident, "occurrence_added", escalated
        earlier = [
            i
            for i in self.incidents.values()
            if i.kind == kind and i.state == "resolved" and i.last_night and night_key(i.last_night) < night
        ]
        incident = Incident(
            id=_new_id(self.spec.model, occurrence.interval_start, occurrence.interval_end, kind, self.incidents),
            model=self.spec.model,
            kind=kind,
            verdict=occurrence.verdict,
            owner=owner,
            owners=owners,
            opened_at=self.stamp,
            updated_at=self.stamp,
            follows=max(earlier, key=lambda i: night_key(i.last_night or "")).id if earlier else None,
            occurrences=[occurrence],
            history=[
                Transition(
                    at=self.stamp,
                    by=SYSTEM_ACTOR,
                    action="created",
                    state="open",
                    note=f"the night of {occurrence.interval_start} was {occurrence.verdict}",
                )
            ],
        )
        self.incidents[incident.id] = incident
        self.touch(incident)
        return incident, "created", False

    def auto_resolve(self) -> list[Incident]:
        needed = self.spec.governance.resolve_after_aligned_nights
        aligned = sorted(self.aligned_nights())
        resolved = []
        for incident in self.incidents.values():
            if incident.state == "resolved" or not incident.occurrences:
                continue
            last = night_key(incident.occurrences[-1].interval_start)
            after = [a for a in aligned if a > last]
            if len(after) >= needed:
                days = ", ".join(a.isoformat() for a in after[:needed])
                incident.state, incident.resolved_at = "resolved", self.stamp
                incident.history.append(
                    Transition(
                        at=self.stamp,
                        by=SYSTEM_ACTOR,
                        action="resolved",
                        state="resolved",
                        note=f"{needed} aligned night(s) after the last occurrence: {days}",
                    )
                )
                self.touch(incident)
                resolved.append(incident)
        return resolved


def _apply(
    spec: AlignmentSpec,
    folder: Any,
    check: Mapping[str, Any],
    *,
    start: str,
    end: str,
    verdict: str,
    run_id: str | None,
    report: str | None,
    stamp: str,
) -> IncidentUpdate:
    ledger = read_ledger(folder, spec.model)
    work = _Night(spec, ledger, read_incidents(folder, spec.model), stamp)
    kind = incident_kind(verdict)
    occurrence = _occurrence(check, start, end, run_id, report, stamp) if kind else None
    prior = ledger.nights.get(start)
    incident: Incident | None = None
    action: Action = "none"
    escalated = False
    previous = work.incidents.get(prior.incident) if prior is not None and prior.incident else None
    if previous is not None and occurrence is not None and previous.kind == kind:
        # a rerun of a night that stays in its incident: update the occurrence in place
        before = SEVERITY[previous.verdict]
        occurrence.recorded_at = next((o.recorded_at for o in previous.occurrences if o.interval_start == start), stamp)
        previous.occurrences = [o for o in previous.occurrences if o.interval_start != start] + [occurrence]
        work.touch(previous)
        escalated = SEVERITY[previous.verdict] > before
        incident = previous
    else:
        if previous is not None:
            work.withdraw(previous, start, verdict)
        ledger.nights[start] = LedgerNight(end=end, verdict=verdict)
        if occurrence is not None and kind is not None:
            incident, action, escalated = work.place(occurrence, kind)
    ledger.nights[start] = LedgerNight(end=end, verdict=verdict, incident=None if incident is None else incident.id)
    resolved = work.auto_resolve()
    if action == "none" and resolved and incident is None:
        action = "resolved"
    for changed in work.changed.values():
        write_incident_document(folder, changed)
    write_ledger(folder, ledger)
    return IncidentUpdate(
        action=action,
        model=spec.model,
        night=start,
        verdict=verdict,
        incident=incident,
        first_occurrence=incident is not None and incident.first_night == start,
        escalated=escalated,
        resolved=tuple(r for r in resolved if incident is None or r.id != incident.id),
    )


def _log_to_run(
    spec: AlignmentSpec, settings: Settings, check: Mapping[str, Any], update: IncidentUpdate, run_id: str
) -> None:
    """The night's incident record on its check run, as before, plus the incident@2 document and its id."""
    from alignment_drift.core.redaction import redact
    from alignment_drift.integrations.incidents import build_incident, incident_markdown
    from alignment_drift.integrations.mlflow.spool import retrying
    from alignment_drift.integrations.mlflow.store import client

    assert update.incident is not None
    night = build_incident(
        dict(check), mlflow_run_id=run_id, tracking_uri=settings.tracking_uri, approval=spec.governance.approval
    )
    occurrence = next(o for o in update.incident.occurrences if o.interval_start == update.night)
    night["links"]["report_path"] = occurrence.report_path
    mlflow_client = client(settings)
    document = redact(update.incident.to_dict())

    def write() -> None:
        mlflow_client.log_dict(run_id, night, "incident.json")
        mlflow_client.log_text(run_id, incident_markdown(night), "incident.md")
        mlflow_client.log_dict(run_id, document, f"incident/{update.incident.id}.json")  # type: ignore[union-attr]
        mlflow_client.set_tag(run_id, "incident_id", update.incident.id)  # type: ignore[union-attr]

    retrying(write, what=f"the incident of {spec.model}'s night {update.night}")


def track_incident(
    spec: AlignmentSpec,
    settings: Settings,
    check: Mapping[str, Any],
    *,
    mlflow_run_id: str | None,
    report_path: str | None,
    now: dt.datetime | None = None,
) -> IncidentUpdate:
    """Track one recorded night in the incident lifecycle: open, continue or resolve incidents.

    Call it for every night, aligned ones too (they count toward automatic resolution). A problem
    night's incident is stored first (durably, under the model's lock), then logged on its check run
    (``incident.json`` and ``incident.md`` as before, ``incident/<id>.json`` and tag ``incident_id``);
    a failure to log raises after the store is written, and the task's retry logs it again.

    Parameters
    ----------
    spec : AlignmentSpec
        The model's spec (owner, ``governance.owners``, ``governance.resolve_after_aligned_nights``).
    settings : Settings
        Where the incidents folder and the tracking store are.
    check : mapping
        The recorded ``check@1`` document of the night.
    mlflow_run_id : str or None
        The night's check run (None: nothing is logged in MLflow).
    report_path : str or None
        The night's report file, linked from the occurrence.
    now : datetime, optional
        The time stamped on changes (default: now).

    Returns
    -------
    IncidentUpdate

    Raises
    ------
    ValueError
        When the check is not of the spec's model, has no verdict, or no valid data interval.
    IncidentStoreBusy
        When another writer holds the model's lock for too long (transient: retry).
    """
    start, end, verdict = _validated(spec, check)
    with locked(settings, spec.model) as folder:
        update = _apply(
            spec,
            folder,
            check,
            start=start,
            end=end,
            verdict=verdict,
            run_id=mlflow_run_id,
            report=report_path,
            stamp=now_iso(now),
        )
    if update.incident is not None and mlflow_run_id:
        _log_to_run(spec, settings, check, update, mlflow_run_id)
    for incident in update.resolved:
        _LOG.info("Incident %s of %s resolved: %s", incident.id, spec.model, incident.history[-1].note)
    return update
