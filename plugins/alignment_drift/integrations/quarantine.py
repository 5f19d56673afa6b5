"""Quarantine a prediction-log batch that failed validation.

The original bytes are copied (a single file, or every file of a folder of
partitions with relative paths kept) to ``<quarantine_root>/<model>/<interval_start>/``
with a ``manifest.json`` beside them. Every copy is checked against the sha256
of its source. The folder is built in a hidden temporary sibling and renamed into
place, so a reader never sees a half-written quarantine and quarantining the
same night again replaces the previous contents.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import math
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCHEMA = "alignment-drift/quarantine@1"
MANIFEST_NAME = "manifest.json"
CHUNK_SIZE = 1 << 20  # 1 MiB


class QuarantineError(RuntimeError):
    """A batch could not be quarantined faithfully."""


@dataclass(frozen=True)
class QuarantinedFile:
    """One copied file.

    Attributes
    ----------
    path : str
        POSIX path relative to the quarantine folder (and to a source folder).
    bytes : int
        Size of the copy.
    sha256 : str
        Hex digest of the copy, equal to that of the source.
    """

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
    path : Path
        The quarantine folder ``<root>/<model>/<interval_start>``.
    manifest_path : Path
        Its ``manifest.json``.
    files : tuple of QuarantinedFile
        Copied files; empty when the batch was missing.
    reason : str
        Why the batch was quarantined.
    model, interval_start : str
        The model and the night, as given.
    """

    path: Path
    manifest_path: Path
    files: tuple[QuarantinedFile, ...]
    reason: str
    model: str
    interval_start: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "path": str(self.path),
            "manifest_path": str(self.manifest_path),
            "files": [f.to_dict() for f in self.files],
            "reason": self.reason,
            "model": self.model,
            "interval_start": self.interval_start,
        }


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : Path
        File to hash.

    Returns
    -------
    str
        64 hex characters.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def quarantine_batch(
    source: Path,
    *,
    quarantine_root: Path,
    model: str,
    interval_start: str,
    reason: str,
    details: dict[str, Any],
) -> QuarantineRecord:
    """Copy a batch's original bytes into quarantine and write its manifest.

    Parameters
    ----------
    source : Path
        The batch file, or a folder of partition files. If it does not exist,
        only the manifest is written (``files: []``).
    quarantine_root : Path
        Root of all quarantines.
    model : str
        Model name; one folder level, so no path separators.
    interval_start : str
        Start of the night's data interval (e.g. ISO timestamp); one folder level.
    reason : str
        Why the batch is quarantined, for humans.
    details : dict
        JSON-able context, e.g. a validation summary. numpy scalars, datetimes
        and paths are converted; NaN and infinities become ``null``.

    Returns
    -------
    QuarantineRecord

    Raises
    ------
    ValueError
        If ``model`` or ``interval_start`` is not a single folder name, or
        ``reason`` is empty.
    TypeError
        If ``details`` is not a dict.
    QuarantineError
        If a copy does not match its source, or ``source`` is neither a file nor
        a folder. Any previous quarantine of the same night is then kept as is.
    """
    _check_folder_name("model", model)
    _check_folder_name("interval_start", interval_start)
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("reason must be a non-empty string. Fix: say why, e.g. 'critical expectation failures'.")
    if not isinstance(details, dict):
        raise TypeError(
            f"details must be a dict, got {type(details).__name__}. Fix: pass e.g. ValidationSummary.to_dict()."
        )
    source = Path(source)
    dest = Path(quarantine_root) / model / interval_start
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{interval_start}.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    source_exists = source.exists()
    try:
        files = tuple(_copy_verified(src, rel, staging) for src, rel in _files(source))
        manifest = {
            "schema": SCHEMA,
            "model": model,
            "interval_start": interval_start,
            "reason": reason,
            "details": _jsonable(details),
            "source": str(source),
            "source_exists": source_exists,
            "files": [f.to_dict() for f in files],
            "quarantined_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        manifest_path = staging / MANIFEST_NAME
        manifest_path.write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        _fsync(manifest_path)
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
    )


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


def _copy_bytes(src: Path, dst: Path) -> None:
    """Copy the bytes of ``src`` to ``dst`` (no metadata) and flush them to disk."""
    shutil.copyfile(src, dst)
    _fsync(dst)


def _copy_verified(src: Path, rel: str, staging: Path) -> QuarantinedFile:
    before = sha256_file(src)
    target = staging / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_bytes(src, target)
    after = sha256_file(target)
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


def _jsonable(value: Any) -> Any:
    """Return ``value`` with numpy, datetime, path and enum values made JSON-able."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in items]
    if hasattr(value, "tolist") and type(value).__module__.startswith("numpy"):
        return _jsonable(value.tolist())
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)
