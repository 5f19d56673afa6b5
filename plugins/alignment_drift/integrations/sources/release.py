"""Re-admitting a quarantined night: put the fixed batch back where the source reads it, record the release.

Writing back is atomic where the store allows it: a local file or folder is
written beside its target and renamed over it; objects are uploaded, then read
back and compared. A glob's matches, a refused location and a SQL result are
never written to: those are fixed at the source, then released in place.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from alignment_drift.integrations.sources.base import Batch
from alignment_drift.integrations.sources.connections import ConnectionResolver

__all__ = ["record_release", "write_back"]


def write_back(target: Batch, fixed: Path, *, connections: ConnectionResolver | None = None) -> None:
    """Write the fixed batch (a file or a folder) to the location ``target`` was read from.

    Parameters
    ----------
    target : Batch
        The source's batch for the night, as located now (``file``, ``folder`` or ``missing``).
    fixed : Path
        The fixed batch: a file for a file location, a folder for a folder of partitions.
    connections : ConnectionResolver, optional
        For an object store's credentials.

    Raises
    ------
    ValueError
        When the location cannot be written to (a SQL source, a glob, a refused path), or the shapes differ.
    """
    fixed = Path(fixed)
    if target.kind == "sql":
        raise ValueError(
            "a sql source cannot be written back. Fix: correct the rows in the database, then release "
            "without --batch (the night's query is run again)."
        )
    if target.layout == "refused":
        raise ValueError(f"the source location is refused ({target.refused}). Fix that first, then release.")
    if target.layout == "glob" or target.origin.get("pattern"):
        raise ValueError(
            "the source is a glob, so there is no single place to write to. Fix: put the fixed files where the "
            "pattern matches them, then release without --batch."
        )
    if target.layout == "folder" and not fixed.is_dir():
        raise ValueError(f"the source is a folder of partitions but {fixed} is not a folder. Fix: pass a folder.")
    if fixed.is_dir() and target.layout == "file":
        raise ValueError(f"the source is a single file but {fixed} is a folder. Fix: pass the fixed file.")
    if target.protocol in ("file", "local"):
        _replace_local(fixed, Path(target.path))
    else:
        _upload(fixed, target, connections)


def _replace_local(fixed: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f".{dest.name}.release-{uuid.uuid4().hex}")
    try:
        if fixed.is_dir():
            shutil.copytree(fixed, staging)
            old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex}") if dest.exists() else None
            if old is not None:
                os.replace(dest, old)
            os.replace(staging, dest)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.copyfile(fixed, staging)
            os.replace(staging, dest)
    finally:
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        elif staging.exists():
            staging.unlink()


def _upload(fixed: Path, target: Batch, connections: ConnectionResolver | None) -> None:
    from alignment_drift.integrations.sources import filesystem_of

    fs = filesystem_of(target, connections)
    if fixed.is_dir():
        if fs.exists(target.path):
            fs.rm(target.path, recursive=True)
        pairs = [
            (p, f"{target.path}/{p.relative_to(fixed).as_posix()}") for p in sorted(fixed.rglob("*")) if p.is_file()
        ]
    else:
        pairs = [(fixed, target.path)]
    for local, remote in pairs:
        fs.put_file(str(local), remote)
        if fs.cat_file(remote) != local.read_bytes():
            raise OSError(f"the upload of {local} to {remote} does not read back identical. Fix: release again.")
    fs.invalidate_cache()


def record_release(
    folder: Path, manifest: dict[str, Any], *, by: str, reason: str, batch: str, sha256: str | None, size: int
) -> dict[str, Any]:
    """Append the release to the quarantine's manifest (status ``released``) and rewrite it atomically.

    Returns
    -------
    dict
        The release entry: ``released_at``, ``released_by``, ``reason``, ``batch``, ``sha256``, ``bytes`` and
        ``unchanged`` (the released bytes equal the quarantined ones).
    """
    from alignment_drift.integrations.quarantine import write_manifest

    if not reason.strip():
        raise ValueError("a release needs a reason. Fix: say what was fixed, e.g. --reason 'dropped duplicate rows'.")
    entry = {
        "released_at": dt.datetime.now(dt.UTC).isoformat(),
        "released_by": by,
        "reason": reason,
        "batch": batch,
        "sha256": sha256,
        "bytes": size,
        "unchanged": sha256 is not None and sha256 == manifest.get("sha256"),
    }
    manifest = {**manifest, "status": "released", "releases": [*manifest.get("releases", []), entry]}
    write_manifest(folder, manifest)
    return entry
