"""``validate``: the batch validated with the spec's suite and the interval checks, quarantined when it fails.

Severity rules
--------------
- The batch is **quarantined** (its bytes copied and verified, a manifest
  written, the night's verdict ``quarantined``) when it is missing, refused
  (its path or a symlink leaves its root), unreadable, empty, cannot be
  validated, or fails any ``critical`` expectation.
- ``warning`` expectations that fail are recorded in the validation summary
  and listed under ``warnings``; the check goes on.
- The timestamp checks GX cannot express easily are
  :mod:`alignment_drift.integrations.interval_checks`.

GX Data Docs
------------
The suite runs through its GX checkpoint, and the night's result is rendered
as a GX Data Docs site in ``<evidence>/validation/data_docs/`` (one page per
validated group for a large batch); a rerun of the night replaces it. See
:mod:`alignment_drift.integrations.gx_docs`.

Large batches
-------------
A Parquet folder or glob of more than one group of files is never read whole:
it is validated group by group (``VALIDATE_GROUP_ROWS`` rows at a time) and
the outcomes combined with exact totals (:func:`_assess_groups`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignment_drift.core.redaction import redact
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.evidence import evidence_dir
from alignment_drift.integrations.gx import SuiteLoadError, load_suite, validate_dataframe
from alignment_drift.integrations.gx_docs import DATA_DOCS
from alignment_drift.integrations.gx_report import ExpectationOutcome, ValidationSummary, clip, merge_outcomes
from alignment_drift.integrations.interval_checks import StampCounts, interval_checks, row_count_on_total
from alignment_drift.integrations.quarantine import interval_key, quarantine_batch
from alignment_drift.integrations.sources import BatchReadError, batch_members, read_batch
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.integrations.sources.partitions import VALIDATE_GROUP_ROWS, plan_groups, read_columns
from alignment_drift.integrations.sources.schema import batch_columns
from alignment_drift.pipeline.night import Pulled, Validation
from alignment_drift.settings import Settings

__all__ = ["Assessment", "assess", "groups_if_large", "validate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assessment:
    """Whether a batch may be used, and why not.

    Attributes
    ----------
    reason : str or None
        Why the batch must be quarantined; None when it may be used.
    rows : int
        Rows read (0 when unreadable).
    summary : ValidationSummary or None
        GX outcomes plus the interval checks; None when validation did not run.
    evidence : dict or None
        GX's full result with the interval checks under ``alignment_drift_checks``.
    columns : tuple of dict
        The batch's columns as read (``name``, ``type``; see :mod:`~alignment_drift.integrations.sources.schema`),
        empty when nothing was read.
    """

    reason: str | None
    rows: int
    summary: ValidationSummary | None
    evidence: dict[str, Any] | None
    columns: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (without the bulky evidence)."""
        return {
            "reason": self.reason,
            "rows": self.rows,
            "validation": None if self.summary is None else self.summary.to_dict(),
            "warnings": [] if self.summary is None else [o.message for o in self.summary.warnings],
            "columns": list(self.columns),
        }


def assess(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: Pulled,
    *,
    connections: ConnectionResolver | None = None,
    now: dt.datetime | None = None,
    data_docs: Path | None = None,
) -> Assessment:
    """Read and validate a pulled batch, writing nothing but the GX Data Docs site in ``data_docs`` when given.

    Raises
    ------
    SuiteLoadError
        When the spec's suite is missing or malformed (a configuration error, not a bad batch).
    """
    start, end = pulled.interval.bounds()
    if pulled.refused:
        return Assessment(f"the batch was refused: {pulled.refused}", 0, None, None)
    groups = groups_if_large(settings, pulled, connections)
    if groups is not None:
        return _assess_groups(spec, settings, pulled, groups, connections=connections, now=now, data_docs=data_docs)
    try:
        frame = read_batch(pulled.batch(), connections=connections)
    except FileNotFoundError as error:
        return Assessment(f"no batch: {error}{_waited(pulled)}", 0, None, None)
    except BatchReadError as error:
        return Assessment(f"unreadable batch at {pulled.uri}: {error}", 0, None, None)
    columns = tuple(batch_columns(frame))
    if frame.empty:
        return Assessment(f"the batch is empty (0 rows) at {pulled.uri}", 0, None, None, columns)
    suite_path = settings.expectations_dir / f"{spec.expectations}.json"
    try:
        summary, evidence = validate_dataframe(
            frame, suite_path, data_docs=data_docs, run_name=interval_key(start, end)
        )
    except SuiteLoadError:
        raise
    except Exception as error:  # GX failing on the batch itself: it cannot be vouched for, so it is not used
        message = clip(str(error).replace("\n", " "), 300)
        return Assessment(
            f"the batch could not be validated: {type(error).__name__}: {message}", len(frame), None, None, columns
        )
    extra = interval_checks(frame, spec.columns.timestamp, start, end, now or dt.datetime.now(dt.UTC))
    summary = merge_outcomes(summary, extra)
    evidence["alignment_drift_checks"] = [o.to_dict() for o in extra]
    reason = None
    if not summary.success:
        failed = summary.critical_failures
        reason = f"{len(failed)} critical expectation(s) failed: " + "; ".join(o.message for o in failed[:5])
    return Assessment(reason, len(frame), summary, evidence, columns)


def _waited(pulled: Pulled) -> str:
    """What a missing batch's reason adds when it was waited for (``source.wait``)."""
    if not pulled.wait:
        return ""
    from alignment_drift.core.spec.arrival import arrival_deadline, format_duration

    _, end = pulled.interval.bounds()
    wait = format_duration(pulled.wait)
    return (
        f" It was waited for {wait} after the night's end (source.wait, until "
        f"{arrival_deadline(end, pulled.wait).isoformat()}) and did not land. Fix: find why the batch is late; "
        "once it lands, rerun the night (clear its monitor DAG run, or 'alignment-drift check SPEC --date DATE'), "
        f"or raise source.wait above {wait} (at most 1d) if its batches routinely land later"
    )


def validate(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: Pulled,
    *,
    connections: ConnectionResolver | None = None,
    now: dt.datetime | None = None,
) -> Validation:
    """Validate the batch with the spec's suite and the interval checks; quarantine it when it fails.

    A batch that is missing, refused, unreadable, empty, or fails a critical
    expectation is copied unchanged (from disk or the object store) to the
    quarantine folder with a manifest; the copy's checksum is verified against
    the source and compared with the fingerprint taken at pull. Rerunning a
    night replaces its evidence and its quarantine (atomically), never duplicates them.

    Returns
    -------
    Validation
        ``status`` (``valid`` or ``quarantined``), ``reason``, ``rows``, the
        ``validation`` summary, ``warnings`` (messages of failed warning
        expectations), and the ``quarantine`` record (``path``, ``sha256``,
        ``matches_pull`` ...) when quarantined.
    """
    start, end = pulled.interval.bounds()
    evidence = evidence_dir(settings, spec.model, start, end)
    data_docs = evidence / DATA_DOCS
    for stale in (data_docs.parent, data_docs):  # never an earlier run's pages among this night's
        if stale.is_symlink():
            stale.unlink()
    shutil.rmtree(data_docs, ignore_errors=True)
    result = assess(
        spec, settings, pulled, connections=connections, now=now, data_docs=data_docs if settings.data_docs else None
    )
    target = evidence / "validation.json"
    if result.evidence is not None:
        staging = target.with_name(f".validation.json.tmp-{uuid.uuid4().hex}")
        try:  # owner-only: the evidence quotes rows of production data
            with os.fdopen(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
                out.write(json.dumps(redact(result.evidence), indent=1, default=str))
            os.replace(staging, target)
        except OSError as error:
            if result.reason is None:
                raise  # a usable night without its evidence: fail, and let the task be retried
            # a quarantined night is recorded all the same (disk full): without the full GX result
            log.warning(
                "The validation result of %s could not be written (%s); the night is quarantined.", target, error
            )
            target.unlink(missing_ok=True)
        finally:
            staging.unlink(missing_ok=True)
    else:
        target.unlink(missing_ok=True)  # never leave an earlier run's result behind as this night's evidence
    kept = None if result.reason is None else _quarantine(spec, settings, pulled, result, start, end, connections)
    return Validation(status="valid" if result.reason is None else "quarantined", quarantine=kept, **result.to_dict())


def _quarantine(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: Pulled,
    result: Assessment,
    start: dt.datetime,
    end: dt.datetime,
    connections: ConnectionResolver | None,
) -> dict[str, Any]:
    batch = pulled.batch()
    summary = result.summary
    failed = [] if summary is None else [*summary.critical_failures, *summary.warnings]
    details = {
        "sha256_at_pull": pulled.sha256,
        "batch": {
            k: getattr(pulled, k)
            for k in ("kind", "uri", "path", "layout", "format", "protocol", "conn_id", "refused", "origin")
        },
        "expectations": [{k: o.to_dict()[k] for k in ("type", "column", "severity", "message")} for o in failed],
        "counts": {
            "rows": result.rows,
            "critical_failures": 0 if summary is None else len(summary.critical_failures),
            "warnings": 0 if summary is None else len(summary.warnings),
            "files": len(batch.files) if batch.exists else 0,
            "bytes": batch.bytes,
        },
        "validation": None if summary is None else summary.to_dict(),
    }
    record = quarantine_batch(
        batch.path if batch.protocol == "file" else batch.uri,
        quarantine_root=settings.quarantine_dir,
        model=spec.model,
        interval_start=interval_key(start, end),
        reason=result.reason or "quarantined",
        details=details,
        members=batch_members(batch, connections),
        data_interval={"start": start.isoformat(), "end": end.isoformat()},
        source_exists=batch.layout != "missing",
    )
    return {**record.to_dict(), "matches_pull": record.sha256 == pulled.sha256}


def groups_if_large(
    settings: Settings, pulled: Pulled, connections: ConnectionResolver | None
) -> list[dict[str, Any]] | None:
    """The file groups of a Parquet batch of more than one group (see :mod:`~alignment_drift.pipeline.steps.profile`).

    None for a batch read whole: CSV, SQL snapshots, missing or small batches. A single Parquet file beyond
    a group is validated in slices of its row groups.
    """
    if pulled.format != "parquet" or pulled.layout not in ("file", "folder", "glob"):
        return None
    batch = pulled.batch()
    try:
        if len(plan_groups(batch, max_rows=settings.group_rows, connections=connections)) < 2:
            return None
        # validation reads groups one after the other in one task: smaller groups, lower peak memory
        rows = min(VALIDATE_GROUP_ROWS, settings.group_rows)
        return plan_groups(batch, max_rows=rows, connections=connections)
    except (OSError, ValueError) as error:  # an unreadable footer: the whole read reports it as the batch's fault
        log.info("The footers of %s could not be read (%s); it is validated as one piece.", pulled.uri, error)
        return None


def _assess_groups(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: Pulled,
    groups: list[dict[str, Any]],
    *,
    connections: ConnectionResolver | None,
    now: dt.datetime | None,
    data_docs: Path | None = None,
) -> Assessment:
    """Validate a large batch group by group, one group in memory at a time, and combine the outcomes.

    An expectation passes when it passes on every group (for ``mostly``
    expectations this is stricter than on the whole batch); the table row-count
    expectation is evaluated on the batch's total; the interval checks count over
    all groups. Id uniqueness is checked within each group, not across groups.
    """
    suite_path = settings.expectations_dir / f"{spec.expectations}.json"
    suite_doc = load_suite(suite_path)
    start, end = pulled.interval.bounds()
    now = now or dt.datetime.now(dt.UTC)
    column = spec.columns.timestamp
    failed: dict[tuple[str, str | None], ExpectationOutcome] = {}
    evaluated = 0
    evidence: dict[str, Any] = {"partitioned": {"groups": len(groups)}, "results": {}}
    stamps = StampCounts()
    rows = 0
    columns: tuple[dict[str, Any], ...] = ()
    for group in groups:
        try:
            frame, _ = read_columns(
                pulled.only(group["files"]), None, connections=connections, row_groups=group.get("row_groups")
            )
        except Exception as error:
            message = clip(str(error).replace("\n", " "), 300)
            return Assessment(f"unreadable batch at {pulled.uri} (group {group['index']}): {message}", rows, None, None)
        rows += len(frame)
        columns = columns or tuple(batch_columns(frame))
        try:
            summary, result = validate_dataframe(
                frame, suite_path, data_docs=data_docs, run_name=f"{interval_key(start, end)} group {group['index']}"
            )
        except SuiteLoadError:
            raise
        except Exception as error:
            message = clip(str(error).replace("\n", " "), 300)
            return Assessment(
                f"the batch could not be validated (group {group['index']}): {type(error).__name__}: {message}",
                rows,
                None,
                None,
            )
        evaluated = summary.evaluated
        for outcome in (*summary.critical_failures, *summary.warnings, *summary.infos):
            failed.setdefault((outcome.type, outcome.column), outcome)
        if not summary.success or group["index"] == 0:
            evidence["results"][str(group["index"])] = result
        stamps = stamps + StampCounts.of(frame, column, start, end, now)
        del frame
    evidence["partitioned"]["rows"] = rows
    outcomes = row_count_on_total(suite_doc, rows, failed)
    critical = tuple(o for o in outcomes if o.severity == "critical" and not o.success)
    summary = ValidationSummary(
        suite=str(suite_doc.get("name", spec.expectations)),
        success=not critical,
        evaluated=evaluated,
        successful=evaluated - len(outcomes),
        critical_failures=critical,
        warnings=tuple(o for o in outcomes if o.severity == "warning" and not o.success),
        infos=tuple(o for o in outcomes if o.severity == "info" and not o.success),
    )
    extra = stamps.outcomes(column, start, end, now)
    summary = merge_outcomes(summary, extra)
    evidence["alignment_drift_checks"] = [o.to_dict() for o in extra]
    reason = None
    if not summary.success:
        bad = summary.critical_failures
        reason = f"{len(bad)} critical expectation(s) failed: " + "; ".join(o.message for o in bad[:5])
    return Assessment(reason, rows, summary, evidence, columns)
