"""``alignment-drift release-quarantine MODEL --date YYYY-MM-DD --reason TEXT``: re-admit a fixed batch.

The fixed batch (``--batch PATH``, or the original fixed in place) is
validated first with the night's own checks; then, for a ``files`` or
``object_store`` source, ``--batch`` is written back to where the source reads
the night. The release (who, when, why, the new checksum) is recorded in the
quarantine's manifest, which stays as the record of what happened; the command
prints how to rerun the night.

Exit codes: 0 released; 2 nothing quarantined for that night, or bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, read_spec, write_output


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "release-quarantine",
        help="re-admit a fixed batch that was quarantined, and say how to rerun its night",
        description="Validate the fixed batch, write it back to the source location (files and object stores), "
        "record the release in the quarantine manifest and print how to rerun the night.",
    )
    parser.add_argument("model", help="the model whose night was quarantined")
    parser.add_argument(
        "--date", required=True, help="the quarantined night, YYYY-MM-DD (YYYY-MM-DDTHH:MM for sub-daily schedules)"
    )
    parser.add_argument(
        "--batch",
        type=Path,
        default=None,
        help="the fixed batch (file or folder); default: the original, fixed in place",
    )
    parser.add_argument("--reason", required=True, help="what was fixed (recorded in the manifest)")
    parser.add_argument("--spec", type=Path, default=None, help="the model's spec (default: <specs dir>/MODEL.yaml)")
    parser.set_defaults(handler=run)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown"


def run(args: argparse.Namespace) -> int:
    from alignment_drift.cli.check import interval_for, parse_date
    from alignment_drift.integrations.quarantine import NothingQuarantined, interval_key, load_manifest
    from alignment_drift.integrations.sources.files import not_regular
    from alignment_drift.settings import Settings

    day = parse_date(args.date)
    if not args.reason.strip():
        raise UsageError("--reason is empty. Fix: say what was fixed, e.g. --reason 'removed duplicate rows'.")
    settings = Settings.from_env()
    spec = read_spec(args.spec or settings.specs_dir / f"{args.model}.yaml", fix="Fix: pass --spec PATH.")
    if spec.model != args.model:
        raise UsageError(f"the spec is for model {spec.model!r}, not {args.model!r}. Fix: pass the right --spec.")
    start, end = interval_for(spec.night_schedule, day)
    key = interval_key(start, end)
    try:
        manifest = load_manifest(settings.quarantine_dir, args.model, key)
    except (NothingQuarantined, ValueError) as error:
        raise UsageError(str(error)) from None
    start, end = _checked_interval(manifest, args.model, key, start, end, settings.quarantine_dir)
    if manifest.get("status") == "released":
        last = manifest["releases"][-1]
        raise UsageError(
            f"nothing is quarantined for {args.model} on {day}: it was released on {last['released_at']} by "
            f"{last['released_by']} ({last['reason']}). Fix: rerun the night; if it is quarantined again, release that."
        )
    if args.batch is not None and not args.batch.exists():
        raise UsageError(f"--batch {args.batch} does not exist. Fix: pass the fixed file or folder.")
    if args.batch is not None and (why := not_regular(str(args.batch))) is not None:
        raise UsageError(f"--batch {why}.")
    entry, location = _release(spec, settings, {**manifest, "interval_start": key}, args, start, end)
    _report(spec, day, manifest, entry, location)
    return EXIT_OK


def _checked_interval(
    manifest: dict[str, Any], model: str, key: str, start: dt.datetime, end: dt.datetime, root: Path
) -> tuple[dt.datetime, dt.datetime]:
    """The night to write back, once the manifest is shown to be the one its own folder and the schedule name.

    The folder ``<quarantine>/<model>/<interval key>`` is the quarantine's identity;
    a manifest whose model, key or data interval disagree with it (edited, or copied
    from another night) is refused, so a release can never write to another night's location.
    """
    from alignment_drift.integrations.quarantine import interval_key

    where = Path(root) / model / key
    fix = "Fix: restore the manifest the quarantine wrote (or quarantine the night again by rerunning it)."
    if manifest.get("model") != model or manifest.get("interval_start") != key:
        raise UsageError(
            f"the quarantine manifest in {where} names model {manifest.get('model')!r} and night "
            f"{manifest.get('interval_start')!r}, not its own folder ({model}, {key}). {fix}"
        )
    interval = manifest.get("data_interval")
    if not interval:
        return start, end
    try:
        begin, finish = (dt.datetime.fromisoformat(interval[k]) for k in ("start", "end"))
        ok = begin.tzinfo is not None and finish.tzinfo is not None and begin < finish
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok or interval_key(begin, finish) != key or (begin, finish) != (start, end):
        raise UsageError(
            f"the quarantine manifest in {where} gives the data interval {interval!r}, not the night its folder "
            f"and the spec's schedule name ({start.isoformat()} to {end.isoformat()}). {fix}"
        )
    return start, end


def _release(
    spec: Any, settings: Any, manifest: dict[str, Any], args: argparse.Namespace, start: Any, end: Any
) -> tuple[dict[str, Any], str]:
    from alignment_drift.integrations.gx import SuiteLoadError
    from alignment_drift.integrations.quarantine import MANIFEST_NAME
    from alignment_drift.integrations.sources import SourceError, fingerprint, locate_batch
    from alignment_drift.integrations.sources.release import record_release, write_back
    from alignment_drift.pipeline.steps.pull import pull
    from alignment_drift.pipeline.steps.validate import assess

    if args.batch is not None and spec.source.kind == "sql":
        raise UsageError(
            "a sql source cannot be written back. Fix: correct the rows in the database, then release "
            "without --batch (the night's query is run again and validated)."
        )
    connections = None
    if getattr(spec.source, "conn_id", None):
        from alignment_drift.airflow.connections import AirflowConnections

        connections = AirflowConnections()
    try:
        candidate = pull(spec, settings, start=start, end=end, batch=args.batch, connections=connections)
        verdict = assess(spec, settings, candidate, connections=connections)
        if verdict.reason is not None:
            raise UsageError(
                f"the fixed batch would be quarantined again: {verdict.reason}. Fix the batch (or the suite "
                f"expectations/{spec.expectations}.json if the expectation is wrong) and release again."
            )
        if args.batch is not None:
            target = locate_batch(spec, settings, start=start, end=end, connections=connections)
            write_back(target, args.batch, connections=connections)
            released = pull(spec, settings, start=start, end=end, connections=connections).batch()
        else:
            released = candidate.batch()
    except (SourceError, SuiteLoadError, LookupError, ValueError) as error:
        raise UsageError(str(error)) from None
    sha = fingerprint(released, connections)
    if args.batch is not None and sha != candidate.sha256:
        raise UsageError(f"the batch written to {released.uri} does not match {args.batch}. Fix: release again.")
    folder = Path(settings.quarantine_dir) / spec.model / manifest["interval_start"]
    if not (folder / MANIFEST_NAME).exists():
        raise UsageError(f"the quarantine {folder} disappeared while releasing. Fix: check the quarantine folder.")
    entry = record_release(
        folder,
        manifest,
        by=_user(),
        reason=args.reason,
        batch=str(args.batch.resolve()) if args.batch is not None else "fixed in place",
        sha256=sha,
        size=released.bytes,
    )
    return {**entry, "manifest": str(folder / MANIFEST_NAME)}, released.uri


def _report(spec: Any, day: Any, manifest: dict[str, Any], entry: dict[str, Any], location: str) -> None:
    note = " (the same bytes as quarantined: the suite or the source must have changed)" if entry["unchanged"] else ""
    lines = [
        f"released {spec.model} {day} (quarantined for: {manifest['reason'][:200]})",
        f"  batch     {location} (sha256 {entry['sha256']}, {entry['bytes']} bytes){note}",
        f"  from      {entry['batch']}",
        f"  manifest  {entry['manifest']}",
        "rerun the night:",
        f"  airflow tasks clear {spec.monitor_dag_id} --start-date {day} --end-date {day} --yes",
        f"  or, outside Airflow: alignment-drift check specs/{spec.model}.yaml --date {day}",
    ]
    write_output("\n".join(lines), None)
