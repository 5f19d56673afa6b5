"""Quarantine a prediction-log batch that failed validation.

The original bytes are copied (a single file, or every file of a folder of
partitions with relative paths kept, from local disk or streamed from an object
store) to ``<quarantine_root>/<model>/<interval key>/`` with a ``manifest.json``
beside them. Every copy is checked against the sha256 of its source. The folder
is built in a hidden temporary sibling and renamed into place, so a reader never
sees a half-written quarantine and quarantining the same night again replaces
the previous contents (the earlier manifest's gist is kept in ``history``).
A release (``alignment-drift release-quarantine``) is recorded in the manifest.

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from alignment_drift.core.redaction import redact
from alignment_drift.integrations.gx_report import json_safe

SCHEMA = "alignment-drift/quarantine@1"
MANIFEST_NAME = "manifest.json"
CHUNK_SIZE = 1 << 20  # 1 MiB


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


class QuarantineError(RuntimeError):
    """A batch could not be quarantined faithfully."""


class NothingQuarantined(LookupError):
    """No quarantine (or no unreleased one) exists for the night asked for."""


class Openable(Protocol):
    """A member file that is not on local disk (e.g. an object in a store)."""

    def open(self) -> IO[bytes]: ...


@dataclass(frozen=True)
class QuarantinedFile:
    """One copied file: ``path`` relative to the quarantine folder (POSIX), ``bytes``, ``sha256`` (= the source's)."""

    path: str
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)


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
    """

    path: Path
    manifest_path: Path
    files: tuple[QuarantinedFile, ...]
    reason: str
    model: str
    interval_start: str
    sha256: str | None = None
    bytes: int = 0

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
        }


def sha256_file(path: Path | Openable, *also: Any) -> str:
    """Return the hex sha256 of a file (or a store object), read in 1 MiB chunks.

    Parameters
    ----------
    path : Path or Openable
        File to hash.
    *also : hashlib objects
        Also fed every chunk (e.g. the digest of a whole batch).

    Returns
    -------
    str
        64 hex characters.
    """
    digest = hashlib.sha256()
    with open(path, "rb") if isinstance(path, (str, os.PathLike)) else path.open() as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
            for other in also:
                other.update(chunk)
    return digest.hexdigest()


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

    Raises
    ------
    ValueError
        If ``model`` or ``interval_start`` is not one folder name, or ``reason`` is empty.
    TypeError
        If ``details`` is not a dict.
    QuarantineError
        If a copy does not match its source, or ``source`` is neither a file nor
        a folder; any previous quarantine of the night is then kept as is.
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
        if any(rel == MANIFEST_NAME for rel, _ in pairs):
            raise QuarantineError(f"Batch {source} has its own top-level {MANIFEST_NAME}. Fix: rename that file.")
    dest = Path(quarantine_root) / model / interval_start
    dest.parent.mkdir(parents=True, exist_ok=True)
    previous = _previous(dest)
    staging = dest.parent / f".{interval_start}.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        total = hashlib.sha256()
        files = tuple(_copy_verified(src, rel, staging, total) for rel, src in pairs)
        digest = total.hexdigest() if files else None
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
            "files": [f.to_dict() for f in files],
            "sha256": digest,
            "bytes": sum(f.bytes for f in files),
            "quarantined_at": dt.datetime.now(dt.UTC).isoformat(),
            "releases": [],
            "history": previous,
        }
        write_manifest(staging, manifest)
        _swap_in(staging, dest)
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
    tmp.write_text(json.dumps(redact(json_safe(manifest)), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)
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
    pairs = sorted((p, p.relative_to(source).as_posix()) for p in source.rglob("*") if p.is_file())
    if any(rel == MANIFEST_NAME for _, rel in pairs):
        raise QuarantineError(
            f"Batch folder {source} has its own top-level {MANIFEST_NAME}, which would "
            "clash with the quarantine manifest. Fix: rename that file."
        )
    return pairs


def _copy_bytes(src: Path | Openable, dst: Path) -> None:
    """Copy the bytes of ``src`` (a local file, or streamed from a store) to ``dst`` and flush them to disk."""
    if isinstance(src, Path):
        shutil.copyfile(src, dst)
    else:
        with src.open() as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout, CHUNK_SIZE)
    _fsync(dst)


def _copy_verified(src: Path | Openable, rel: str, staging: Path, total: Any) -> QuarantinedFile:
    before = sha256_file(src)
    target = staging / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_bytes(src, target)
    after = sha256_file(target, total)
    if after != before:
        raise QuarantineError(
            f"Quarantine copy of {src} does not match it (sha256 {before} before "
            f"copying, {after} for the copy): the file changed while being copied or "
            "the disk is failing. Fix: stop writers of the batch and quarantine again."
        )
    return QuarantinedFile(path=rel, bytes=target.stat().st_size, sha256=after)


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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
