"""Getting a night's batch in: pull it, validate it, quarantine it when it must not be used.

Steps of the monitor DAG (``pull``, ``validate``) as plain functions over
JSON-able values and paths; no Airflow import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["evidence_dir", "pull", "read_pulled", "validate"]


def evidence_dir(settings: Settings, spec: AlignmentSpec, start: dt.datetime) -> Path:
    """The folder holding one night's evidence files (validation result, drift table) until recorded."""
    path = settings.data_dir / "_checks" / spec.model / start.strftime("%Y-%m-%d")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def pull(spec: AlignmentSpec, settings: Settings, *, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Locate the night's batch and fingerprint its bytes.

    Returns
    -------
    dict
        ``uri``, ``path``, ``format``, ``exists``, ``bytes``, ``sha256`` (None when missing),
        and the interval as ISO strings.
    """
    from alignment_drift.integrations.sources import locate_batch

    batch = locate_batch(spec, settings, start=start, end=end)
    out = batch.to_dict()
    out["sha256"] = _sha256(Path(batch.path)) if batch.exists else None
    out["interval"] = {"start": start.isoformat(), "end": end.isoformat()}
    return out


def read_pulled(pulled: dict[str, Any]) -> pd.DataFrame:
    from alignment_drift.integrations.sources import Batch, read_batch

    fields = {k: pulled[k] for k in ("uri", "path", "format", "exists", "bytes")}
    return read_batch(Batch(**fields))


def validate(spec: AlignmentSpec, settings: Settings, pulled: dict[str, Any]) -> dict[str, Any]:
    """Validate the batch with the spec's Great Expectations suite; quarantine it when it fails.

    A batch that is missing, unreadable, empty, or fails a critical
    expectation is copied unchanged to the quarantine folder with a manifest.

    Returns
    -------
    dict
        ``status`` (``valid`` or ``quarantined``), ``reason``, the validation
        summary, the number of rows, and the quarantine record when quarantined.
    """
    from alignment_drift.integrations.gx import validate_dataframe
    from alignment_drift.integrations.quarantine import quarantine_batch

    start = dt.datetime.fromisoformat(pulled["interval"]["start"])
    evidence = evidence_dir(settings, spec, start)
    summary: dict[str, Any] | None = None
    rows = 0
    reason: str | None = None
    try:
        frame = read_pulled(pulled)
        rows = len(frame)
        if rows == 0:
            reason = "the batch is empty"
        else:
            suite_path = settings.expectations_dir / f"{spec.expectations}.json"
            result, full = validate_dataframe(frame, suite_path)
            summary = result.to_dict()
            (evidence / "validation.json").write_text(json.dumps(full, indent=1, default=str))
            if not result.success:
                failed = ", ".join(o.message for o in result.critical_failures[:5])
                reason = f"{len(result.critical_failures)} critical expectation(s) failed: {failed}"
    except FileNotFoundError as error:
        reason = f"no batch: {error}"
    except ValueError as error:  # BatchReadError and unusable contents
        reason = str(error)
    out: dict[str, Any] = {"status": "valid" if reason is None else "quarantined", "reason": reason, "rows": rows}
    out["validation"] = summary
    if reason is not None:
        record = quarantine_batch(
            Path(pulled["path"]),
            quarantine_root=settings.quarantine_dir,
            model=spec.model,
            interval_start=start.strftime("%Y-%m-%d"),
            reason=reason,
            details={"sha256_at_pull": pulled.get("sha256"), "validation": summary},
        )
        out["quarantine"] = record.to_dict()
    return out


