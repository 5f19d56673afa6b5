"""Copying a batch's files into a quarantine: only regular files, read once, owner-only, verified.

A local file is opened without blocking and refused unless it is a regular file
(a pipe or a device could block or never end), read at most to the size it had
when opened, and written ``0600`` in a ``0700`` folder; a change of its size or
modification time meanwhile means it was still being written. The copy is then
read back and compared with the bytes read.
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from alignment_drift.integrations.sources.base import open_regular

__all__ = [
    "CHUNK_SIZE",
    "DIR_MODE",
    "FILE_MODE",
    "Openable",
    "QuarantineError",
    "QuarantinedFile",
    "copy_failure_message",
    "copy_verified",
    "private_dirs",
    "sha256_file",
    "write_all",
]

CHUNK_SIZE = 1 << 20  # 1 MiB
DIR_MODE, FILE_MODE = 0o700, 0o600


class QuarantineError(RuntimeError):
    """A batch could not be quarantined faithfully."""


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
    with open_regular(path) if isinstance(path, (str, os.PathLike)) else path.open() as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
            for other in also:
                other.update(chunk)
    return digest.hexdigest()


def private_dirs(root: Path, model: str) -> None:
    """Create the quarantine root and the model's folder owner-only (existing folders are left as they are)."""
    for folder in (root, root / model):
        if not folder.is_dir():
            folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def copy_verified(src: Path | Openable, rel: str, staging: Path, total: Any) -> QuarantinedFile:
    """Copy one file into ``staging/rel`` (``0600``), hashing the bytes read; re-read the copy to verify it.

    A local source is read once, at most to the size it had when opened; a change
    of its size or modification time meanwhile means it was being written.
    """
    target = staging / rel
    for parent in reversed(target.relative_to(staging).parents[:-1]):
        (staging / parent).mkdir(mode=DIR_MODE, exist_ok=True)
    digest = hashlib.sha256()
    with open_regular(src) if isinstance(src, Path) else src.open() as fin:
        before = os.fstat(fin.fileno()) if isinstance(src, Path) else None
        limit = before.st_size if before is not None else None
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            copied = 0
            while limit is None or copied < limit:
                chunk = fin.read(CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - copied))
                if not chunk:
                    break
                digest.update(chunk)
                write_all(fd, chunk)
                copied += len(chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        if before is not None:
            after = os.fstat(fin.fileno())
            grew = bool(fin.read(1))
            if (
                grew
                or copied != before.st_size
                or (after.st_size, after.st_mtime_ns)
                != (
                    before.st_size,
                    before.st_mtime_ns,
                )
            ):
                raise QuarantineError(
                    f"{src} changed while it was copied ({before.st_size} bytes when opened, {after.st_size} "
                    "after): it is still being written. Fix: let the writer finish (write to a temporary name "
                    "and rename), then rerun the night"
                )
    read = digest.hexdigest()
    copy = sha256_file(target, total)
    if copy != read:
        raise QuarantineError(
            f"the quarantine copy of {src} does not match it (sha256 {read} read, {copy} for the copy): "
            "the disk may be failing. Fix: check the quarantine disk, then rerun the night"
        )
    return QuarantinedFile(path=rel, bytes=copied, sha256=copy)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def copy_failure_message(error: BaseException) -> str:
    if not isinstance(error, OSError):
        return f"The batch could not be copied into quarantine: {error}"
    what = error.strerror or str(error)
    where = f" ({error.filename})" if getattr(error, "filename", None) else ""
    fix = {
        errno.ENOSPC: "free space on the quarantine disk (or set ALIGNMENT_DRIFT_QUARANTINE_DIR to a larger one)",
        errno.EFBIG: "raise the file size limit of the worker (ulimit -f) or free space on the quarantine disk",
        errno.EDQUOT: "raise the disk quota of the worker's user",
        errno.EACCES: "let the user running the check read the batch and write the quarantine folder",
    }.get(error.errno or 0, "check the batch and the quarantine disk")
    return (
        f"The batch could not be copied into quarantine: {what}{where}. Nothing partial was kept. "
        f"Fix: {fix}, then rerun the night."
    )
