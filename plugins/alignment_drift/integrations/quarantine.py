"""Quarantine a prediction-log batch that failed validation.

The original bytes are copied (a single file, or every file of a folder of
partitions with relative paths kept, from local disk or streamed from an object
store) to ``<quarantine_root>/<model>/<interval key>/`` with a ``manifest.json``
beside them. Every copy is checked against the sha256 of its source. The folder
is built in a hidden temporary sibling and renamed into place, so a reader never
sees a half-written quarantine and quarantining the same night again replaces
the previous contents (the earlier manifest's gist is kept in ``history``).
A release (``alignment-drift release-quarantine``) is recorded in the manifest.

Quarantines hold production data: every folder is created ``0700`` and every
file ``0600`` (owner only), whatever the source's permissions. Only regular
files are read, each once, at most to the size it had when opened. A copy that
cannot be made (the disk is full, the file is unreadable or changes while it is
copied) leaves nothing partial behind, and the night is still recorded: the
manifest says ``copy: failed`` and why, and keeps an earlier quarantine's files.
A batch folder with its own top-level ``manifest.json`` is copied below ``batch/``.

The interval key (:func:`interval_key`) is the start date for daily and longer
intervals that start at midnight UTC (``2026-01-06``), and the start time to
the minute otherwise (``2026-01-06T1300Z``), so hourly nights never share a folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignment_drift.core.redaction import redact
from alignment_drift.integrations.gx_report import json_safe
from alignment_drift.integrations.quarantine_copy import (
    CHUNK_SIZE,
    DIR_MODE,
    FILE_MODE,
    Openable,
    QuarantinedFile,
    QuarantineError,
    copy_failure_message,
    copy_verified,
    private_dirs,
    sha256_file,
)

__all__ = [
    "CHUNK_SIZE",
    "MANIFEST_NAME",
    "SCHEMA",
    "NothingQuarantined",
    "Openable",
    "QuarantineError",
    "QuarantineRecord",
    "QuarantinedFile",
    "interval_key",
    "load_manifest",
    "quarantine_batch",
    "sha256_file",
    "verify_quarantine",
    "write_manifest",
]

SCHEMA = "alignment-drift/quarantine@1"
MANIFEST_NAME = "manifest.json"
#: The folder a batch's files are copied below when the batch has its own top-level ``manifest.json``.
NESTED = "batch"


def interval_key(start: dt.datetime, end: dt.datetime) -> str:
    """The folder name of a data interval: ``YYYY-MM-DD`` for whole days from midnight UTC, else ``YYYY-MM-DDTHHMMZ``.

    >>> import datetime as dt
    >>> day = dt.datetime(2026, 1, 6, tzinfo=dt.UTC)
    >>> interval_key(day, day + dt.timedelta(days=1)), interval_key(day, day + dt.timedelta(hours=1))
    ('2026-01-06', '2026-01-06T0000Z')
    """
    start_utc = start.astimezone(dt.UTC) if start.tzinfo else start
    whole_days = (end - start) >= dt.timedelta(days=1) and start_utc.time() == dt.time(0)
    return start_utc.strftime("%Y-%m-%d" if whole_days else "%Y-%m-%dT%H%MZ")


class NothingQuarantined(LookupError):
    """No quarantine (or no unreleased one) exists for the night asked for."""


@dataclass(frozen=True)
class QuarantineRecord:
    """Where and why a batch was quarantined.

    Attributes
    ----------
    path, manifest_path : Path
        The quarantine folder ``<root>/<model>/<interval_start>`` and its ``manifest.json``.
    files : tuple of QuarantinedFile
        Copied files; empty when the batch was missing (or refused).
    reason, model, interval_start : str
        Why, and the model and night as given.
    sha256 : str or None
        Digest of the copies concatenated in order (equal to the batch's fingerprint at pull); None without files.
    bytes : int
        Total size of the copies.
    copy_error : str or None
        Why the bytes could not be copied (the night is recorded all the same; ``files`` are then
        those of an earlier quarantine of the night, if any).
    """

    path: Path
    manifest_path: Path
    files: tuple[QuarantinedFile, ...]
    reason: str
    model: str
    interval_start: str
    sha256: str | None = None
    bytes: int = 0
    copy_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "path": str(self.path),
            "manifest_path": str(self.manifest_path),
            "files": [f.to_dict() for f in self.files],
            "reason": self.reason,
            "model": self.model,
            "interval_start": self.interval_start,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "copy_error": self.copy_error,
        }


def quarantine_batch(
    source: Path | str,
    *,
    quarantine_root: Path,
    model: str,
    interval_start: str,
    reason: str,
    details: dict[str, Any],
    members: Sequence[tuple[str, Path | Openable]] | None = None,
    data_interval: dict[str, str] | None = None,
    source_exists: bool | None = None,
) -> QuarantineRecord:
    """Copy a batch's original bytes into quarantine and write its manifest.

    Parameters
    ----------
    source : Path or str
        The batch file or folder of partitions (missing: only the manifest is
        written, ``files: []``); with ``members``, only its name (e.g. an ``s3://`` URI).
    quarantine_root : Path
        Root of all quarantines.
    model, interval_start : str
        Model name and start of the night's interval; one folder level each, no separators.
    reason : str
        Why the batch is quarantined, for humans.
    details : dict
        JSON-able context (e.g. the validation summary); numpy, datetimes and
        paths are converted, NaN and infinities become ``null``.
    members : sequence of (str, Path or Openable), optional
        The files to copy and their relative paths, when they are not simply
        ``source`` (a glob's matches, objects in a store); ``[]`` copies nothing
        (a batch that must not be read).
    data_interval : dict, optional
        ``{"start", "end"}`` ISO strings, recorded in the manifest.
    source_exists : bool, optional
        Recorded as is; default: whether ``source`` exists (or ``members`` is non-empty).

    Returns
    -------
    QuarantineRecord
        With ``copy_error`` set when the bytes could not be copied (disk full, a file
        unreadable, still being written, or not matching its copy): nothing partial is
        kept, the manifest says ``copy: failed`` and an earlier quarantine's files stay.

    Raises
    ------
    ValueError
        If ``model`` or ``interval_start`` is not one folder name, or ``reason`` is empty.
    TypeError
        If ``details`` is not a dict.
    QuarantineError
        If ``source`` (without ``members``) is neither a file nor a folder.
    """
    _check_folder_name("model", model)
    _check_folder_name("interval_start", interval_start)
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("reason must be a non-empty string. Fix: say why, e.g. 'critical expectation failures'.")
    if not isinstance(details, dict):
        raise TypeError(
            f"details must be a dict, got {type(details).__name__}. Fix: pass e.g. ValidationSummary.to_dict()."
        )
    if members is None:
        pairs: list[tuple[str, Path | Openable]] = [(rel, src) for src, rel in _files(Path(source))]
        exists = Path(source).exists()
    else:
        pairs, exists = list(members), bool(members)
    if any(rel == MANIFEST_NAME for rel, _ in pairs):  # the batch's own manifest must not clash with ours
        pairs = [(f"{NESTED}/{rel}", src) for rel, src in pairs]
    dest = Path(quarantine_root) / model / interval_start
    previous = _previous(dest)
    manifest = {
        "schema": SCHEMA,
        "model": model,
        "interval_start": interval_start,
        "data_interval": data_interval,
        "status": "quarantined",
        "reason": reason,
        "details": json_safe(details),
        "source": str(source),
        "source_exists": exists if source_exists is None else source_exists,
        "files": [],
        "sha256": None,
        "bytes": 0,
        "quarantined_at": dt.datetime.now(dt.UTC).isoformat(),
        "copy": {"status": "copied" if pairs else "nothing to copy"},
        "releases": [],
        "history": previous,
    }
    staging = dest.parent / f".{interval_start}.tmp-{uuid.uuid4().hex}"
    try:
        private_dirs(Path(quarantine_root), model)
        staging.mkdir(mode=DIR_MODE)
        total = hashlib.sha256()
        files = tuple(copy_verified(src, rel, staging, total) for rel, src in pairs)
        digest = total.hexdigest() if files else None
        manifest.update(files=[f.to_dict() for f in files], sha256=digest, bytes=sum(f.bytes for f in files))
        write_manifest(staging, manifest)
        _swap_in(staging, dest)
    except (OSError, QuarantineError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        return _record_copy_failure(dest, manifest, error, model=model, interval_start=interval_start)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return QuarantineRecord(
        path=dest,
        manifest_path=dest / MANIFEST_NAME,
        files=files,
        reason=reason,
        model=model,
        interval_start=interval_start,
        sha256=digest,
        bytes=manifest["bytes"],
    )


def _record_copy_failure(
    dest: Path, manifest: dict[str, Any], error: BaseException, *, model: str, interval_start: str
) -> QuarantineRecord:
    """Record a night whose bytes could not be copied: a manifest saying so, an earlier quarantine's files kept.

    When even the manifest cannot be written (the disk is full), the record returned still says
    what happened, so the night's verdict (recorded elsewhere) is not lost.
    """
    message = copy_failure_message(error)
    kept: dict[str, Any] = {}
    if (dest / MANIFEST_NAME).is_file():
        try:
            old = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
            kept = {k: old.get(k) for k in ("files", "sha256", "bytes")} if old.get("files") else {}
        except (OSError, ValueError):
            kept = {}
        if kept:
            message += f" The files of the earlier quarantine (quarantined at {old.get('quarantined_at')}) are kept."
    manifest = {**manifest, "files": [], "sha256": None, "bytes": 0, **kept}
    manifest["copy"] = {"status": "failed", "error": message}
    files = tuple(QuarantinedFile(**f) for f in manifest["files"])
    try:
        if kept:
            write_manifest(dest, manifest)  # the earlier files stay, described by the new manifest
        else:
            staging = dest.parent / f".{interval_start}.tmp-{uuid.uuid4().hex}"
            try:
                staging.mkdir(mode=DIR_MODE)
                write_manifest(staging, manifest)
                _swap_in(staging, dest)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except OSError as again:
        message += f" The manifest could not be written either ({again.strerror or again}); nothing is left there."
    return QuarantineRecord(
        path=dest,
        manifest_path=dest / MANIFEST_NAME,
        files=files,
        reason=manifest["reason"],
        model=model,
        interval_start=interval_start,
        sha256=manifest["sha256"],
        bytes=manifest["bytes"],
        copy_error=message,
    )


def load_manifest(quarantine_root: Path, model: str, interval_start: str) -> dict[str, Any]:
    """Read the manifest of a night's quarantine.

    Raises
    ------
    NothingQuarantined
        When that night has no quarantine.
    """
    _check_folder_name("model", model)
    _check_folder_name("interval_start", interval_start)
    path = Path(quarantine_root) / model / interval_start / MANIFEST_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NothingQuarantined(
            f"Nothing is quarantined for {model} on {interval_start} (no {path}). Fix: check the model and "
            f"the date; quarantined nights are the folders under {Path(quarantine_root) / model}."
        ) from None


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` in ``folder`` atomically (temporary file, fsync, rename)."""
    path = Path(folder) / MANIFEST_NAME
    tmp = path.with_name(f".{MANIFEST_NAME}.tmp-{uuid.uuid4().hex}")
    text = json.dumps(redact(json_safe(manifest)), indent=2, allow_nan=False) + "\n"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def verify_quarantine(folder: Path) -> list[str]:
    """Re-hash a quarantine's files against its manifest; returns the problems found (none: intact)."""
    manifest = json.loads((Path(folder) / MANIFEST_NAME).read_text(encoding="utf-8"))
    problems, total = [], hashlib.sha256()
    for entry in manifest["files"]:
        path = Path(folder) / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']} is missing")
        elif (digest := sha256_file(path, total)) != entry["sha256"]:
            problems.append(f"{entry['path']} has sha256 {digest}, the manifest says {entry['sha256']}")
    if manifest["files"] and manifest.get("sha256") not in (None, total.hexdigest()):
        problems.append(f"the batch sha256 is {total.hexdigest()}, the manifest says {manifest['sha256']}")
    return problems


def _previous(dest: Path) -> list[dict[str, Any]]:
    """The gist of the quarantine being replaced (and its own history), newest first."""
    try:
        old = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    keep = ("reason", "quarantined_at", "sha256", "status", "releases")
    return [{k: old.get(k) for k in keep}, *old.get("history", [])][:20]


def _check_folder_name(name: str, value: str) -> None:
    bad = not isinstance(value, str) or value.strip() in ("", ".", "..")
    if bad or any(sep in value for sep in ("/", "\\", "\0")):
        raise ValueError(
            f"{name}={value!r} cannot be used as one folder name under the "
            f"quarantine root. Fix: pass a non-empty {name} without path separators."
        )


def _files(source: Path) -> list[tuple[Path, str]]:
    """List ``(file, relative POSIX path)`` pairs of a batch, sorted."""
    if not source.exists():
        return []
    if source.is_file():
        return [(source, source.name)]
    if not source.is_dir():
        raise QuarantineError(
            f"Batch {source} is neither a file nor a folder. Fix: pass the batch file or its folder of partitions."
        )
    return sorted((p, p.relative_to(source).as_posix()) for p in source.rglob("*") if p.is_file())


def _swap_in(staging: Path, dest: Path) -> None:
    """Rename ``staging`` to ``dest``, replacing an older quarantine of the night."""
    old = None
    if dest.exists() or dest.is_symlink():
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex}"
        os.replace(dest, old)
    try:
        os.replace(staging, dest)
    except BaseException:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
