"""The ``files`` source: prediction logs on a local or mounted file system.

The spec's path template is filled with the data interval below its root: the
data root for a relative template, the template's fixed leading folders for an
absolute one. It may name a file, a folder of partitions, or a glob. A rendered
path that leaves the root (``..``), or a symlink whose target lies outside it,
is *refused*: recorded, quarantined without being read, never followed.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
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

__all__ = ["format_of", "locate_files", "locate_path", "scan_local"]


def locate_files(
    template: str,
    *,
    fmt: str,
    data_root: Path,
    model: str,
    start: dt.datetime,
    end: dt.datetime,
    read: dict[str, Any],
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

    Returns
    -------
    Batch
        Layout ``file``, ``folder``, ``glob``, ``missing`` or ``refused``.
    """
    rendered = render_path(template, model=model, start=start, end=end)
    if os.path.isabs(template):
        root = os.path.normpath(static_root(template, sep=os.sep) or os.sep)
        candidate = os.path.normpath(rendered)
    else:
        root = os.path.normpath(os.path.abspath(data_root))
        candidate = os.path.normpath(os.path.join(root, rendered))
    origin = {"template": template, "root": root}
    if not inside(candidate, root):
        reason = (
            f"the source path template {template!r} renders to {rendered!r}, which leaves its root {root}; "
            "it was not read. Fix: remove '..' from source.path so the batch stays below its root"
        )
        return _batch(candidate, fmt, "refused", read=read, origin=origin, refused=reason)
    return scan_local(candidate, root, fmt, read, origin)


def locate_path(path: Path | str, *, fmt: str | None, read: dict[str, Any]) -> Batch:
    """A batch at an explicit path given by a person (``check --batch``): no root, symlinks followed.

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


def scan_local(candidate: str, root: str | None, fmt: str, read: dict[str, Any], origin: dict[str, Any]) -> Batch:
    """Classify a local path (file, folder, glob, missing) and refuse anything that resolves outside ``root``."""
    real_root = os.path.realpath(root) if root is not None else None

    def escapes(path: str) -> str | None:
        if real_root is None:
            return None
        real = os.path.realpath(path)
        if inside(real, real_root):
            return None
        return (
            f"{path} is a symlink (or lies below one) to {real}, outside the data root {root}; it was not "
            "followed. Fix: move or copy the batch below the data root instead of linking to it"
        )

    if any(char in GLOB_CHARS for char in candidate):
        base = os.path.normpath(static_root(candidate, sep=os.sep) or os.sep)
        matches = [m for m in glob.glob(candidate, recursive=True) if os.path.isfile(m) or os.path.islink(m)]
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
        for folder, dirs, names in os.walk(candidate, followlinks=False):
            for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
                full = os.path.join(folder, name)
                if (why := escapes(full)) is not None:
                    return _batch(candidate, fmt, "refused", read=read, origin=origin, refused=why)
                if os.path.isfile(full):
                    files.append(os.path.relpath(full, candidate).replace(os.sep, "/"))
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
