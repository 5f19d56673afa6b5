"""Getting a night's batch in: pull it, validate it, quarantine it when it must not be used.

Steps of the monitor DAG (``pull``, ``validate``) as plain functions over
JSON-able values and paths; no Airflow import. Connection ids are resolved by
a resolver from the edge (``connections=``, else the one registered for the
process); credentials never enter the returned dicts.

Severity rules
--------------
- The batch is **quarantined** (its bytes copied and verified, a manifest
  written, the night's verdict ``quarantined``) when it is missing, refused
  (its path or a symlink leaves its root), unreadable, empty, cannot be
  validated, or fails any ``critical`` expectation.
- ``warning`` expectations that fail are recorded in the validation summary
  and listed under ``warnings`` in the result; the check goes on.
- Checks GX cannot express easily, run here on the timestamp column: rows
  outside the data interval are a warning up to ``OUTSIDE_INTERVAL_TOLERANCE``
  (1 %: late rows around midnight, clock skew) and critical above it; rows
  later than now plus ``FUTURE_SKEW`` (5 minutes) are critical (clocks are
  wrong). Id uniqueness and tz-aware timestamps are the suite's.

Large batches
-------------
A Parquet folder or glob of more than one group of files (see
:mod:`alignment_drift.pipeline.partitions`) is never read whole: it is
validated group by group (``VALIDATE_GROUP_ROWS`` rows at a time) and the
outcomes combined with exact totals (:func:`_assess_groups`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.gx_report import ExpectationOutcome, ValidationSummary, clip
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.settings import Settings

__all__ = [
    "FUTURE_SKEW",
    "OUTSIDE_INTERVAL_TOLERANCE",
    "Assessment",
    "assess",
    "evidence_dir",
    "interval_checks",
    "pull",
    "read_pulled",
    "validate",
]

OUTSIDE_INTERVAL_TOLERANCE = 0.01
FUTURE_SKEW = dt.timedelta(minutes=5)


def evidence_dir(settings: Settings, spec: AlignmentSpec, start: dt.datetime, end: dt.datetime) -> Path:
    """The folder holding one interval's evidence files (validation result, drift table) until recorded.

    Named by :func:`~alignment_drift.integrations.quarantine.interval_key`, so
    sub-daily intervals of one day never share a folder.
    """
    from alignment_drift.integrations.quarantine import interval_key

    path = settings.data_dir / "_checks" / spec.model / interval_key(start, end)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _interval(pulled: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    start, end = (dt.datetime.fromisoformat(pulled["interval"][k]) for k in ("start", "end"))
    return tuple(t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in (start, end))  # type: ignore[return-value]


def pull(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    batch: Path | str | None = None,
    connections: ConnectionResolver | None = None,
) -> dict[str, Any]:
    """Locate the night's batch and fingerprint its bytes.

    Parameters
    ----------
    spec, settings
        The model's spec and the resolved locations.
    start, end : datetime
        The data interval.
    batch : path, optional
        Check this local file or folder instead of the spec's source (``check --batch``).
    connections : ConnectionResolver, optional
        Resolves the source's ``conn_id`` (default: the resolver registered for the process).

    Returns
    -------
    dict
        The :class:`~alignment_drift.integrations.sources.Batch` as a dict (``kind``, ``uri``,
        ``path``, ``format``, ``layout``, ``files``, ``exists``, ``bytes``, ``refused`` ...),
        ``sha256`` of its bytes (None when missing or refused) and the ``interval`` as ISO strings.
        A ``sql`` source's rows are written once as parquet in the evidence folder: that file is the batch.

    Raises
    ------
    SourceError
        When an object store or database cannot be reached (the task is retried).
    """
    from alignment_drift.integrations.sources import fingerprint, locate_batch

    workdir = evidence_dir(settings, spec, start, end) if spec.source.kind == "sql" and batch is None else None
    located = locate_batch(
        spec, settings, start=start, end=end, connections=connections, override=batch, workdir=workdir
    )
    out = located.to_dict()
    out["sha256"] = fingerprint(located, connections)
    out["interval"] = {"start": start.isoformat(), "end": end.isoformat()}
    return out


def read_pulled(pulled: dict[str, Any], connections: ConnectionResolver | None = None) -> pd.DataFrame:
    """Read a pulled batch (see :func:`pull`) into a DataFrame."""
    from alignment_drift.integrations.sources import Batch, read_batch

    return read_batch(Batch.from_dict(pulled), connections=connections)


def interval_checks(
    frame: pd.DataFrame, column: str, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> list[ExpectationOutcome]:
    """Timestamps inside the data interval, and none in the future (see the module's severity rules).

    Returns no outcome when the column is missing or not tz-aware: the suite reports that.
    """
    if column not in frame.columns or not isinstance(frame[column].dtype, pd.DatetimeTZDtype):
        return []
    stamps = frame[column].dropna()
    if stamps.empty:
        return []
    outside = stamps[(stamps < start) | (stamps >= end)]
    share = len(outside) / len(stamps)
    future = stamps[stamps > now + FUTURE_SKEW]
    where = f"column '{column}': expected"
    inside = (
        f"{where} timestamps inside the data interval [{start.isoformat()}, {end.isoformat()}) "
        f"(up to {OUTSIDE_INTERVAL_TOLERANCE:.0%} outside is a warning, more is critical)"
    )
    ahead = f"{where} no timestamp later than now ({now.isoformat(timespec='seconds')}) plus {FUTURE_SKEW}"
    return [
        _check(
            "timestamps_inside_data_interval",
            column,
            "critical" if share > OUTSIDE_INTERVAL_TOLERANCE else "warning",
            outside,
            len(stamps),
            inside,
        ),
        _check("timestamps_not_in_the_future", column, "critical", future, len(stamps), ahead),
    ]


def _check(
    name: str, column: str, severity: str, bad: pd.Series, n: int, desc: str, count: int | None = None
) -> ExpectationOutcome:
    """One interval check's outcome; ``count`` (default ``len(bad)``) when ``bad`` holds only examples."""
    count = len(bad) if count is None else count
    share = 100.0 * count / n
    sample = [t.isoformat() for t in bad.head(3)]
    observed = f"{count} of {n} rows ({share:.2f}%), e.g. {sample}" if count else "none"
    return ExpectationOutcome(
        type=f"alignment_drift:{name}",
        column=column,
        severity=severity,
        success=count == 0,
        unexpected_percent=share,
        observed_value=count,
        message=f"{desc}; " + ("passed" if count == 0 else f"observed {observed}"),
    )


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
    """

    reason: str | None
    rows: int
    summary: ValidationSummary | None
    evidence: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (without the bulky evidence)."""
        return {
            "reason": self.reason,
            "rows": self.rows,
            "validation": None if self.summary is None else self.summary.to_dict(),
            "warnings": [] if self.summary is None else [o.message for o in self.summary.warnings],
        }


def assess(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: dict[str, Any],
    *,
    connections: ConnectionResolver | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    """Read and validate a pulled batch without writing anything.

    Raises
    ------
    SuiteLoadError
        When the spec's suite is missing or malformed (a configuration error, not a bad batch).
    """
    from alignment_drift.integrations.gx import SuiteLoadError, validate_dataframe
    from alignment_drift.integrations.gx_report import merge_outcomes
    from alignment_drift.integrations.sources import BatchReadError

    start, end = _interval(pulled)
    if pulled.get("refused"):
        return Assessment(f"the batch was refused: {pulled['refused']}", 0, None, None)
    groups = _groups_if_large(pulled, connections)
    if groups is not None:
        return _assess_groups(spec, settings, pulled, groups, connections=connections, now=now)
    try:
        frame = read_pulled(pulled, connections)
    except FileNotFoundError as error:
        return Assessment(f"no batch: {error}", 0, None, None)
    except BatchReadError as error:
        return Assessment(f"unreadable batch at {pulled['uri']}: {error}", 0, None, None)
    if frame.empty:
        return Assessment(f"the batch is empty (0 rows) at {pulled['uri']}", 0, None, None)
    suite_path = settings.expectations_dir / f"{spec.expectations}.json"
    try:
        summary, evidence = validate_dataframe(frame, suite_path)
    except SuiteLoadError:
        raise
    except Exception as error:  # GX failing on the batch itself: it cannot be vouched for, so it is not used
        message = clip(str(error).replace("\n", " "), 300)
        return Assessment(
            f"the batch could not be validated: {type(error).__name__}: {message}", len(frame), None, None
        )
    extra = interval_checks(frame, spec.columns.timestamp, start, end, now or dt.datetime.now(dt.UTC))
    summary = merge_outcomes(summary, extra)
    evidence["alignment_drift_checks"] = [o.to_dict() for o in extra]
    reason = None
    if not summary.success:
        failed = summary.critical_failures
        reason = f"{len(failed)} critical expectation(s) failed: " + "; ".join(o.message for o in failed[:5])
    return Assessment(reason, len(frame), summary, evidence)


def validate(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: dict[str, Any],
    *,
    connections: ConnectionResolver | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Validate the batch with the spec's suite and the interval checks; quarantine it when it fails.

    A batch that is missing, refused, unreadable, empty, or fails a critical
    expectation is copied unchanged (from disk or the object store) to the
    quarantine folder with a manifest; the copy's checksum is verified against
    the source and compared with the fingerprint taken at pull. Rerunning a
    night replaces its evidence and its quarantine (atomically), never duplicates them.

    Returns
    -------
    dict
        ``status`` (``valid`` or ``quarantined``), ``reason``, ``rows``, the
        ``validation`` summary, ``warnings`` (messages of failed warning
        expectations), and the ``quarantine`` record (``path``, ``sha256``,
        ``matches_pull`` ...) when quarantined.
    """
    start, end = _interval(pulled)
    evidence = evidence_dir(settings, spec, start, end)
    result = assess(spec, settings, pulled, connections=connections, now=now)
    target = evidence / "validation.json"
    if result.evidence is not None:
        staging = target.with_name(f".validation.json.tmp-{uuid.uuid4().hex}")
        staging.write_text(json.dumps(result.evidence, indent=1, default=str), encoding="utf-8")
        os.replace(staging, target)
    else:
        target.unlink(missing_ok=True)  # never leave an earlier run's result behind as this night's evidence
    out: dict[str, Any] = {"status": "valid" if result.reason is None else "quarantined", **result.to_dict()}
    if result.reason is not None:
        out["quarantine"] = _quarantine(spec, settings, pulled, result, start, end, connections)
    return out


def _quarantine(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: dict[str, Any],
    result: Assessment,
    start: dt.datetime,
    end: dt.datetime,
    connections: ConnectionResolver | None,
) -> dict[str, Any]:
    from alignment_drift.integrations.quarantine import interval_key, quarantine_batch
    from alignment_drift.integrations.sources import Batch, batch_members

    batch = Batch.from_dict(pulled)
    summary = result.summary
    failed = [] if summary is None else [*summary.critical_failures, *summary.warnings]
    details = {
        "sha256_at_pull": pulled.get("sha256"),
        "batch": {
            k: pulled.get(k)
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
    return {**record.to_dict(), "matches_pull": record.sha256 == pulled.get("sha256")}


def _groups_if_large(pulled: dict[str, Any], connections: ConnectionResolver | None) -> list[dict[str, Any]] | None:
    """The file groups of a Parquet batch of more than one group (see :mod:`~alignment_drift.pipeline.partitions`).

    None for a batch read whole as before: CSV, SQL snapshots, missing or small batches.
    """
    from alignment_drift.pipeline import partitions

    if pulled.get("format") != "parquet" or pulled.get("layout") not in ("folder", "glob"):
        return None
    try:
        if len(partitions.plan_groups(pulled, connections=connections)) < 2:
            return None
        # validation reads groups one after the other in one task: smaller groups, lower peak memory
        return partitions.plan_groups(pulled, max_rows=partitions.VALIDATE_GROUP_ROWS, connections=connections)
    except Exception:  # an unreadable footer: the whole read below reports it as the batch's fault
        return None


def _assess_groups(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: dict[str, Any],
    groups: list[dict[str, Any]],
    *,
    connections: ConnectionResolver | None,
    now: dt.datetime | None,
) -> Assessment:
    """Validate a large batch group by group, one group in memory at a time, and combine the outcomes.

    An expectation passes when it passes on every group (for ``mostly``
    expectations this is stricter than on the whole batch); the table row-count
    expectation is evaluated on the batch's total; the interval checks count over
    all groups. Id uniqueness is checked within each group, not across groups.
    """
    from alignment_drift.integrations.gx import SuiteLoadError, load_suite, validate_dataframe
    from alignment_drift.integrations.gx_report import merge_outcomes
    from alignment_drift.pipeline.partitions import read_columns

    suite_doc = load_suite(settings.expectations_dir / f"{spec.expectations}.json")

    start, end = _interval(pulled)
    now = now or dt.datetime.now(dt.UTC)
    suite_path = settings.expectations_dir / f"{spec.expectations}.json"
    column = spec.columns.timestamp
    failed: dict[tuple[str, str | None], ExpectationOutcome] = {}
    evaluated = 0
    evidence: dict[str, Any] = {"partitioned": {"groups": len(groups)}, "results": {}}
    counts = {"stamps": 0, "outside": 0, "future": 0}
    examples: dict[str, list[pd.Series]] = {"outside": [], "future": []}
    rows = 0
    for group in groups:
        subset = {**pulled, "files": group["files"]}
        try:
            frame, _ = read_columns(subset, None, connections=connections)
        except Exception as error:
            message = clip(str(error).replace("\n", " "), 300)
            return Assessment(
                f"unreadable batch at {pulled['uri']} (group {group['index']}): {message}", rows, None, None
            )
        rows += len(frame)
        try:
            summary, result = validate_dataframe(frame, suite_path)
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
        if column in frame.columns and isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            stamps = frame[column].dropna()
            outside = stamps[(stamps < start) | (stamps >= end)]
            future = stamps[stamps > now + FUTURE_SKEW]
            counts["stamps"] += len(stamps)
            counts["outside"] += len(outside)
            counts["future"] += len(future)
            examples["outside"].append(outside.head(3))
            examples["future"].append(future.head(3))
        del frame
    evidence["partitioned"]["rows"] = rows
    outcomes = _row_count_on_total(suite_doc, rows, failed)
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
    extra: list[ExpectationOutcome] = []
    if counts["stamps"]:
        n, where = counts["stamps"], f"column '{column}': expected"
        share = counts["outside"] / n
        inside = (
            f"{where} timestamps inside the data interval [{start.isoformat()}, {end.isoformat()}) "
            f"(up to {OUTSIDE_INTERVAL_TOLERANCE:.0%} outside is a warning, more is critical)"
        )
        ahead = f"{where} no timestamp later than now ({now.isoformat(timespec='seconds')}) plus {FUTURE_SKEW}"
        severity = "critical" if share > OUTSIDE_INTERVAL_TOLERANCE else "warning"
        outside_examples = pd.concat(examples["outside"]).head(3)
        future_examples = pd.concat(examples["future"]).head(3)
        extra = [
            _check("timestamps_inside_data_interval", column, severity, outside_examples, n, inside, counts["outside"]),
            _check("timestamps_not_in_the_future", column, "critical", future_examples, n, ahead, counts["future"]),
        ]
    summary = merge_outcomes(summary, extra)
    evidence["alignment_drift_checks"] = [o.to_dict() for o in extra]
    reason = None
    if not summary.success:
        bad = summary.critical_failures
        reason = f"{len(bad)} critical expectation(s) failed: " + "; ".join(o.message for o in bad[:5])
    return Assessment(reason, rows, summary, evidence)


def _row_count_on_total(
    suite: dict[str, Any], rows: int, failed: dict[tuple[str, str | None], ExpectationOutcome]
) -> list[ExpectationOutcome]:
    """The groups' failed outcomes, with the table row-count expectation re-evaluated on the batch's total rows."""
    out = [o for key, o in failed.items() if key[0] != "expect_table_row_count_to_be_between"]
    for expectation in suite.get("expectations", []):
        if expectation.get("type") != "expect_table_row_count_to_be_between":
            continue
        kwargs = expectation.get("kwargs", {})
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if (low is None or rows >= low) and (high is None or rows <= high):
            continue
        out.append(
            ExpectationOutcome(
                type="expect_table_row_count_to_be_between",
                column=None,
                severity=str(expectation.get("severity") or "critical"),
                success=False,
                unexpected_percent=None,
                observed_value=rows,
                message=f"expected the batch's row count between {low} and {high}; observed {rows} rows",
            )
        )
    return out
