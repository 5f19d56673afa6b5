"""The ``object_store`` source: prediction logs under any URI fsspec understands (s3://, gs://, file:// ...).

This is what Airflow's ``ObjectStoragePath`` uses underneath. Credentials
arrive here as plain fsspec ``storage_options``, resolved from the spec's
Airflow connection at the edge (:mod:`alignment_drift.airflow.connections`);
they never enter the :class:`~alignment_drift.integrations.sources.base.Batch`.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from dataclasses import replace
from typing import Any

from alignment_drift.integrations.sources.base import (
    GLOB_CHARS,
    Batch,
    SourceError,
    inside,
    member_key,
    render_path,
    static_root,
)

__all__ = ["filesystem", "locate_object"]

_LOCAL = ("file", "local")


def filesystem(uri: str, storage_options: dict[str, Any] | None) -> tuple[Any, str]:
    """Return the fsspec file system of ``uri`` and the path inside it.

    Raises
    ------
    SourceError
        When no fsspec implementation serves the scheme, or the options are rejected.
    """
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(uri, **(storage_options or {}))
    except ImportError as error:
        raise SourceError(
            f"No file system implementation for {uri.split('://', 1)[0]}:// ({error}). "
            "Fix: install it, e.g. `pip install 'alignment-drift[s3]'` (s3fs) or gcsfs for gs://."
        ) from error
    except (TypeError, ValueError) as error:
        raise SourceError(
            f"The storage options for {uri} were rejected: {error}. Fix: correct the Airflow connection's extras."
        ) from error
    return fs, path


def protocol_of(fs: Any) -> str:
    """The main protocol name of an fsspec file system (``file``, ``s3``, ``gs`` ...)."""
    proto = fs.protocol
    return proto if isinstance(proto, str) else proto[0]


def locate_object(
    template: str,
    *,
    fmt: str,
    storage_options: dict[str, Any] | None,
    conn_id: str | None,
    model: str,
    start: dt.datetime,
    end: dt.datetime,
    read: dict[str, Any],
) -> Batch:
    """Resolve the night's batch of an ``object_store`` source: a file, a folder (prefix) or a glob.

    Raises
    ------
    SourceError
        When the store cannot be reached or refuses the credentials (the task is retried).
    """
    rendered = render_path(template, model=model, start=start, end=end)
    scheme = template.split("://", 1)[0]
    origin = {"template": template, "conn_id": conn_id}
    root = posixpath.normpath(static_root(template.split("://", 1)[1]) or "/")
    relative = posixpath.normpath(rendered.split("://", 1)[1])
    if not inside(relative, root, posix=True):
        reason = (
            f"the source uri template {template!r} renders to {rendered!r}, which leaves its root "
            f"{scheme}://{root}; it was not read. Fix: remove '..' from source.uri"
        )
        return Batch(
            "object_store",
            rendered,
            relative,
            fmt,
            "refused",
            refused=reason,
            protocol=scheme,
            conn_id=conn_id,
            read=read,
            origin=origin,
        )
    fs, path = filesystem(rendered, storage_options)
    protocol = protocol_of(fs)
    if protocol in _LOCAL:
        from alignment_drift.integrations.sources.files import scan_local

        found = scan_local(posixpath.normpath(path), root, fmt, read, origin)
        return replace(found, kind="object_store", conn_id=conn_id)
    try:
        return _scan_remote(fs, path, protocol, fmt, read, origin, conn_id)
    except OSError as error:
        raise SourceError(
            f"Cannot list {rendered}: {type(error).__name__}: {error}. Fix: check that the store is reachable "
            f"and that the Airflow connection {conn_id!r} grants read access to it."
        ) from error
    except Exception as error:  # botocore / gcsfs raise their own types for auth and endpoint errors
        if type(error).__module__.split(".")[0] in ("botocore", "aiobotocore", "google", "gcsfs", "s3fs", "aiohttp"):
            raise SourceError(
                f"The object store refused or failed the request for {rendered}: {type(error).__name__}: {error}. "
                f"Fix: check the endpoint and credentials of the Airflow connection {conn_id!r}."
            ) from error
        raise


def _scan_remote(
    fs: Any, path: str, protocol: str, fmt: str, read: dict[str, Any], origin: dict[str, Any], conn_id: str | None
) -> Batch:
    fs.invalidate_cache()
    if any(char in GLOB_CHARS for char in path):
        base = posixpath.normpath(static_root(path) or "/")
        found = {k: v for k, v in fs.glob(path, detail=True).items() if v.get("type") == "file"}
        layout, files = ("glob", found) if found else ("missing", {})
        rels = {posixpath.relpath(k, base): v for k, v in files.items()}
        uri = fs.unstrip_protocol(path)
        return _remote(base if found else path, uri, protocol, fmt, layout, rels, read, origin, conn_id)
    if fs.isfile(path):
        info = fs.info(path)
        rels = {posixpath.basename(path): info}
        return _remote(path, fs.unstrip_protocol(path), protocol, fmt, "file", rels, read, origin, conn_id)
    if fs.isdir(path):
        found = fs.find(path, detail=True)
        rels = {posixpath.relpath(k, path): v for k, v in found.items() if v.get("type", "file") == "file"}
        return _remote(path, fs.unstrip_protocol(path), protocol, fmt, "folder", rels, read, origin, conn_id)
    return _remote(path, fs.unstrip_protocol(path), protocol, fmt, "missing", {}, read, origin, conn_id)


def _remote(
    path: str,
    uri: str,
    protocol: str,
    fmt: str,
    layout: str,
    rels: dict[str, dict[str, Any]],
    read: dict[str, Any],
    origin: dict[str, Any],
    conn_id: str | None,
) -> Batch:
    files = sorted(rels, key=member_key)
    return Batch(
        kind="object_store",
        uri=uri,
        path=path,
        format=fmt,
        layout=layout,
        files=tuple(files),
        bytes=int(sum(int(rels[f].get("size") or 0) for f in files)),
        protocol=protocol,
        conn_id=conn_id,
        read=read,
        origin=origin,
    )
