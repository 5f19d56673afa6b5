"""``alignment-drift incident list|show|ack|resolve``: read incidents and move them through their lifecycle.

- ``incident list SPEC [--state open|acknowledged|resolved|unresolved] [--format table|json]``
- ``incident show ID [--format table|json]``
- ``incident ack ID --note TEXT [--by NAME]`` — open → acknowledged
- ``incident resolve ID --note TEXT [--by NAME]`` — open/acknowledged → resolved

Every transition is recorded in the incident's history with who (``--by``,
default the login name), when and the note. Exit codes: 0 done; 2 bad input
(unknown id, a transition the state does not allow, an empty note).
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, read_spec, to_json, write_output

LIST_SCHEMA = "alignment-drift/incident-list@1"
STATES = ("open", "acknowledged", "resolved", "unresolved")


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "incident",
        help="list incidents, and acknowledge or resolve one (recorded with who, when and why)",
        description="Incidents group a model's consecutive drifting, misaligned or quarantined nights. "
        "List them, show one, acknowledge it (someone owns it) or resolve it; every step is recorded.",
    )
    actions = parser.add_subparsers(dest="incident_action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the incidents of a spec's model, latest night first")
    listing.add_argument("spec", type=Path, help="the model's alignment spec")
    listing.add_argument("--state", choices=STATES, default=None, help="keep one state (unresolved: not resolved)")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.add_argument("--output", type=Path, default=None)
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="one incident with its nights, history and notifications")
    show.add_argument("id", help="the incident id (from 'incident list')")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.add_argument("--output", type=Path, default=None)
    show.set_defaults(handler=run_show)

    for name, verb, help_text in (
        ("ack", "acknowledge", "open → acknowledged: you own it now"),
        ("resolve", "resolve", "open or acknowledged → resolved"),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("id", help="the incident id (from 'incident list')")
        sub.add_argument("--note", required=True, help="what was found or done (recorded)")
        sub.add_argument("--by", default=None, help="who (default: your login name)")
        sub.add_argument("--format", choices=("table", "json"), default="table")
        sub.set_defaults(handler=run_transition, transition=verb)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown"


def _settings() -> Any:
    from alignment_drift.settings import Settings

    return Settings.from_env()


def _row(incident: Any) -> str:
    count = len(incident.occurrences)
    nights = (
        f"{(incident.first_night or '')[:10]}…{(incident.last_night or '')[:10]}"
        if count > 1
        else ((incident.first_night or "")[:10])
    )
    return (
        f"{incident.id:<48} {incident.state:<12} {incident.verdict:<11} {count:>6} {nights:<21} "
        f"{incident.owner or '-':<20} {', '.join(incident.sources) or '-'}"
    )


def run_list(args: argparse.Namespace) -> int:
    from alignment_drift.integrations.incident_store import list_incidents

    spec = read_spec(args.spec)
    try:
        incidents = list_incidents(_settings(), spec.model, state=args.state)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.format == "json":
        payload = {"schema": LIST_SCHEMA, "model": spec.model, "state": args.state}
        text = to_json({**payload, "incidents": [i.to_dict() for i in incidents]})
    else:
        header = (
            f"{'incident':<48} {'state':<12} {'verdict':<11} {'nights':>6} {'first…last night':<21} "
            f"{'owner':<20} sources"
        )
        lines = [header] + [_row(i) for i in incidents]
        if not incidents:
            lines.append(f"(no {args.state + ' ' if args.state else ''}incidents for {spec.model})")
        text = "\n".join(lines)
    write_output(text, args.output)
    return EXIT_OK


def _details(incident: Any) -> str:
    lines = [
        f"{incident.id}: {incident.state}, {incident.verdict} ({incident.kind})",
        f"owner: {incident.owner or '-'}"
        + (f" (also {', '.join(incident.owners[1:])})" if incident.owners[1:] else ""),
        f"sources: {', '.join(incident.sources) or '-'}",
        f"opened {incident.opened_at}" + (f", resolved {incident.resolved_at}" if incident.resolved_at else ""),
    ]
    if incident.follows:
        lines.append(f"follows {incident.follows}")
    lines += ["", f"nights ({len(incident.occurrences)}):"]
    for o in incident.occurrences:
        sources = ", ".join(a.source for a in o.attribution) or "-"
        lines.append(
            f"  {o.interval_start}  {o.verdict:<11} v{o.model_version or '?'}  {sources}  run {o.check_run_id or '-'}"
            + (f"  report {o.report_path}" if o.report_path else "")
        )
    lines += ["", "history:"]
    lines += [f"  {t.at}  {t.action:<20} {t.state:<12} by {t.by}: {t.note}" for t in incident.history]
    if incident.notifications:
        lines += ["", "notifications:"] + [
            f"  {n.at}  {n.status:<6} {n.route}" + (f" ({n.error})" if n.error else "") for n in incident.notifications
        ]
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    from alignment_drift.integrations.incident_store import IncidentNotFound, get_incident

    try:
        incident = get_incident(_settings(), args.id)
    except (IncidentNotFound, ValueError) as error:
        raise UsageError(str(error)) from None
    text = to_json(incident.to_dict()) if args.format == "json" else _details(incident)
    write_output(text, args.output)
    return EXIT_OK


def run_transition(args: argparse.Namespace) -> int:
    from alignment_drift.integrations.incident_actions import TransitionRefused, acknowledge_incident, resolve_incident
    from alignment_drift.integrations.incident_store import IncidentNotFound

    change = acknowledge_incident if args.transition == "acknowledge" else resolve_incident
    try:
        incident = change(_settings(), args.id, by=args.by if args.by is not None else _user(), note=args.note)
    except (IncidentNotFound, TransitionRefused, ValueError) as error:
        raise UsageError(str(error)) from None
    last = incident.history[-1]
    if args.format == "json":
        text = to_json(incident.to_dict())
    else:
        text = f"{incident.id} is {incident.state} (by {last.by} at {last.at}: {last.note})"
    write_output(text, None)
    return EXIT_OK
