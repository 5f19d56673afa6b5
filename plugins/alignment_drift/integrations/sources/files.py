"""The ``files`` source: prediction logs on a local or mounted file system.

The spec's path template is filled with the data interval below its root: the
data root for a relative template, the template's fixed leading folders for an
absolute one. It may name a file, a folder of partitions, or a glob. A batch is
*refused* (recorded, quarantined without a byte of it read, never followed) when:

- the rendered path leaves its root (``..`` is resolved before the check);
- an absolute template's folders are not below an allowed root: the data root
  or a folder of ``ALIGNMENT_DRIFT_SOURCE_ROOTS`` (so a spec cannot read ``/etc``);
- a symlink's target (or the real location of a folder) lies outside that allowed root;
- a member is not a regular file (a named pipe, a device, a socket), which could
  block or never end, or cannot be read by the user running the check.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignment_drift.integrations.sources.base import (
    GLOB_CHARS,
    Batch,
    inside,
    member_key,
    render_path,
    static_root,
)

__all__ = ["format_of", "locate_files", "locate_path", "not_regular", "scan_local"]

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def locate_files(
    template: str,
    *,
    fmt: str,
    data_root: Path,
    model: str,
    start: dt.datetime,
    end: dt.datetime,
    read: dict[str, Any],
    allowed_roots: Sequence[Path] = (),
) -> Batch:
    """Resolve the night's batch of a ``files`` source (it need not exist; a missing batch is quarantined).

    Parameters
    ----------
    template : str
        The spec's ``source.path``, relative to ``data_root`` or absolute.
    fmt : str
        ``parquet`` or ``csv``.
    data_root : Path
        The data root (``ALIGNMENT_DRIFT_DATA_DIR``).
    model, start, end
        Fill the template's fields.
    read : dict
        Parsing hints stored on the batch (see :class:`Batch`).
    allowed_roots : sequence of Path
        Folders besides ``data_root`` an absolute template may point below (``ALIGNMENT_DRIFT_SOURCE_ROOTS``).

    Returns
    -------
    Batch
        Layout ``file``, ``folder``, ``glob``, ``missing`` or ``refused``.
    """
    rendered = render_path(template, model=model, start=start, end=end)
    data = os.path.normpath(os.path.abspath(data_root))
    if os.path.isabs(template):
        root = os.path.normpath(static_root(template, sep=os.sep) or os.sep)
        candidate = os.path.normpath(rendered)
    else:
        root = data
        candidate = os.path.normpath(os.path.join(root, rendered))
    origin = {"template": template, "root": root}
    if not inside(candidate, root):
        reason = (
            f"the source path template {template!r} renders to {rendered!r}, which leaves its root {root}; "
            "it was not read. Fix: remove '..' from source.path so the batch stays below its root"
        )
        return _batch(candidate, fmt, "refused", read=read, origin=origin, refused=reason)
    roots = [data, *(os.path.normpath(os.path.abspath(r)) for r in allowed_roots)]
    allowed = next((r for r in roots if inside(root, r)), None)
    if allowed is None:
        reason = (
            f"the source path {template!r} lies outside the allowed roots ({', '.join(dict.fromkeys(roots))}); "
            "it was not read. Fix: make source.path relative to the data root (ALIGNMENT_DRIFT_DATA_DIR), or "
            "add the batch's folder to ALIGNMENT_DRIFT_SOURCE_ROOTS"
        )
        return _batch(candidate, fmt, "refused", read=read, origin=origin, refused=reason)
    return scan_local(candidate, allowed, fmt, read, origin)


def locate_path(path: Path | str, *, fmt: str | None, read: dict[str, Any]) -> Batch:
    """A batch at an explicit path given by a person (``check --batch``): no root, symlinks followed.

    Members that are not regular files (a pipe, ``/dev/zero``) are refused all the same.

    The format is taken from the suffix (``.csv``, ``.parquet``/``.pq``), else ``fmt``.
    """
    candidate = os.path.abspath(os.fspath(path))
    chosen = format_of(candidate, default=fmt)
    return scan_local(candidate, None, chosen, read, {"explicit": True})


def format_of(path: str, *, default: str | None) -> str:
    """The batch format a path's suffix names, else ``default`` (else parquet)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return default or "parquet"


def not_regular(path: str) -> str | None:
    """Why ``path`` (followed if a symlink) may not be read as a batch file, or None for a readable regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # vanished or a dangling link: found missing (or unreadable) when read
    for test, kind in _KINDS:
        if test(mode):
            return (
                f"{path} is {kind}, not a regular file; it was not read (it could block or never end). "
                "Fix: write the batch to a regular file (or a folder of them) and check that"
            )
    if stat.S_ISREG(mode) and not os.access(path, os.R_OK):
        return (
            f"{path} cannot be read by this user (permission denied); it was not read. "
            "Fix: let the user running the check read it (e.g. chmod g+r, or chown to the writer's group)"
        )
    return None


def scan_local(candidate: str, root: str | None, fmt: str, read: dict[str, Any], origin: dict[str, Any]) -> Batch:
    """Classify a local path (file, folder, glob, missing); refuse what resolves outside ``root`` or is not a file."""
    real_root = os.path.realpath(root) if root is not None else None

    def escapes(path: str) -> str | None:
        if real_root is None:
            return not_regular(path) if not os.path.isdir(path) else None
        real = os.path.realpath(path)
        if not inside(real, real_root):
            return (
                f"{path} is a symlink (or lies below one) to {real}, outside the data root {root}; it was not "
                "followed. Fix: move or copy the batch below the data root instead of linking to it"
            )
        return not_regular(path) if not os.path.isdir(path) else None

    if any(char in GLOB_CHARS for char in candidate):
        base = os.path.normpath(static_root(candidate, sep=os.sep) or os.sep)
        matches = [m for m in glob.glob(candidate, recursive=True) if not os.path.isdir(m)]
        for match in matches:
            if (why := escapes(match)) is not None:
                return _batch(candidate, fmt, "refused", read=read, origin=origin, refused=why)
        files = sorted(
            (os.path.relpath(m, base).replace(os.sep, "/") for m in matches if os.path.isfile(m)), key=member_key
        )
        if not files:
            pattern = {**origin, "pattern": candidate}
            return _batch(candidate, fmt, "missing", read=read, origin=pattern, uri="file://" + candidate)
        pattern = {**origin, "pattern": candidate}
        return _batch(base, fmt, "glob", files, read=read, origin=pattern, uri="file://" + candidate)
    if os.path.lexists(candidate) and (why := escapes(candidate)) is not None:
        return _batch(candidate, fmt, "refused", read=read, origin=origin, refused=why)
    if os.path.isdir(candidate):
        files = []
        unlisted: list[OSError] = []
        for folder, dirs, names in os.walk(candidate, followlinks=False, onerror=unlisted.append):
            for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:  # never followed
                full = os.path.join(folder, name)
                if (why := escapes(full)) is not None:
                    return _batch(candidate, fmt, "refused", read=read, origin=origin, refused=why)
                if os.path.isfile(full):
                    files.append(os.path.relpath(full, candidate).replace(os.sep, "/"))
        if unlisted:  # a folder of the batch that cannot be listed: its files would be silently missing
            error = unlisted[0]
            why = (
                f"{error.filename} cannot be listed by this user ({error.strerror}); the batch was not read. "
                "Fix: let the user running the check read and enter the batch's folders (e.g. chmod g+rx)"
            )
            return _batch(candidate, fmt, "refused", read=read, origin=origin, refused=why)
        return _batch(candidate, fmt, "folder", sorted(files, key=member_key), read=read, origin=origin)
    if os.path.isfile(candidate):
        return _batch(candidate, fmt, "file", [os.path.basename(candidate)], read=read, origin=origin)
    return _batch(candidate, fmt, "missing", read=read, origin=origin)


def _batch(
    path: str,
    fmt: str,
    layout: str,
    files: list[str] | None = None,
    *,
    read: dict[str, Any],
    origin: dict[str, Any],
    refused: str | None = None,
    uri: str | None = None,
) -> Batch:
    files = files or []
    if layout == "file":
        size = os.path.getsize(path)
    else:
        size = sum(os.path.getsize(os.path.join(path, rel)) for rel in files)
    return Batch(
        kind="files",
        uri=uri or Path(path).as_uri(),
        path=path,
        format=fmt,
        layout=layout,
        files=tuple(files),
        bytes=size,
        refused=refused,
        protocol="file",
        read=read,
        origin=origin,
    )
