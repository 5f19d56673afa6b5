"""Deployment data sources: where a night's prediction log is, how it is read and fingerprinted.

Three kinds, chosen by the spec's ``source.kind``:

- ``files``: a path template below the data root (file, folder of partitions or glob), parquet or CSV;
- ``object_store``: a URI template for any fsspec/``ObjectStoragePath`` scheme, credentials from a connection;
- ``sql``: a query with ``:start``/``:end`` bound, streamed in chunks and snapshotted as parquet.

Connections are resolved at the edge into plain values (see
:mod:`alignment_drift.integrations.sources.connections`); nothing here imports Airflow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from alignment_drift.core.redaction import register_mapping_secrets, register_uri_secrets
from alignment_drift.integrations.sources.base import (
    Batch,
    BatchReadError,
    RemoteFile,
    SourceError,
    open_regular,
    parse_frame,
    render_path,
)
from alignment_drift.integrations.sources.connections import (
    ConnectionResolver,
    register_connection_resolver,
    resolve_resolver,
)
from alignment_drift.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from alignment_drift.core.spec import AlignmentSpec

__all__ = [
    "Batch",
    "BatchReadError",
    "ConnectionResolver",
    "RemoteFile",
    "SourceError",
    "batch_landed",
    "batch_members",
    "filesystem_of",
    "fingerprint",
    "locate_batch",
    "read_batch",
    "read_hints",
    "register_connection_resolver",
    "render_path",
]

_CHUNK = 1 << 20


def read_hints(spec: AlignmentSpec) -> dict[str, Any]:
    """How to parse the spec's prediction log from text: the timestamp column and the columns kept as strings."""
    roles = spec.columns
    text = [roles.id, *roles.categorical, *roles.segments] + ([roles.model_version] if roles.model_version else [])
    return {"timestamp": roles.timestamp, "text": list(dict.fromkeys(text))}


def locate_batch(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    connections: ConnectionResolver | None = None,
    override: Path | str | None = None,
    workdir: Path | None = None,
) -> Batch:
    """Resolve the night's batch of the spec's source (it need not exist: a missing batch is quarantined).

    Parameters
    ----------
    spec, settings
        The model's spec and the resolved locations.
    start, end : datetime
        The data interval.
    connections : ConnectionResolver, optional
        Resolves ``conn_id``; default: the one registered for the process.
    override : path, optional
        Check this local file or folder instead of the spec's source (``check --batch``).
    workdir : Path, optional
        Where a ``sql`` source writes its snapshot (the night's evidence folder).

    Raises
    ------
    SourceError
        When an object store or database cannot be reached, or a needed connection cannot be resolved.
    """
    from alignment_drift.integrations.sources.files import locate_files, locate_path

    hints = read_hints(spec)
    source = spec.source
    if override is not None:
        return locate_path(override, fmt=None if source.kind == "sql" else source.format, read=hints)
    if source.kind == "files":
        return locate_files(
            source.path,
            fmt=source.format,
            data_root=settings.data_dir,
            model=spec.model,
            start=start,
            end=end,
            read=hints,
            allowed_roots=settings.source_roots,
        )
    if source.kind == "object_store":
        from alignment_drift.integrations.sources.object_store import locate_object

        register_uri_secrets(source.uri)  # a presigned or SAS URL: its signature is masked in every output
        return locate_object(
            source.uri,
            fmt=source.format,
            storage_options=_options(connections, source.conn_id, source.uri.split("://", 1)[0]),
            conn_id=source.conn_id,
            model=spec.model,
            start=start,
            end=end,
            read=hints,
        )
    from alignment_drift.integrations.sources.sql import SNAPSHOT_NAME, snapshot_query

    if workdir is None:
        raise ValueError("a sql source needs workdir= for its snapshot. Fix: pass the night's evidence folder.")
    url = resolve_resolver(connections, source.conn_id).sqlalchemy_url(source.conn_id)
    register_uri_secrets(url)
    return snapshot_query(
        url,
        source.query,
        start=start,
        end=end,
        chunk_size=source.chunk_size,
        dest=workdir / SNAPSHOT_NAME,
        conn_id=source.conn_id,
        read=hints,
    )


def batch_landed(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    connections: ConnectionResolver | None = None,
) -> bool:
    """Whether the night's batch is at the spec's source yet (one look; nothing is read or written).

    A ``files`` or ``object_store`` batch has landed once its path (file,
    folder or glob) is not missing (a refused one counts: it is quarantined
    unread); a ``sql`` batch once the query returns a row.

    Raises
    ------
    SourceError
        When an object store or database cannot be reached.
    """
    source = spec.source
    if source.kind != "sql":
        return locate_batch(spec, settings, start=start, end=end, connections=connections).layout != "missing"
    from alignment_drift.integrations.sources.sql import query_has_rows

    url = resolve_resolver(connections, source.conn_id).sqlalchemy_url(source.conn_id)
    register_uri_secrets(url)
    return query_has_rows(url, source.query, start=start, end=end, conn_id=source.conn_id)


def _options(connections: ConnectionResolver | None, conn_id: str | None, protocol: str) -> dict[str, Any]:
    """Storage options from the connection (none without one: anonymous access or the environment's credentials)."""
    options = resolve_resolver(connections, conn_id).storage_options(conn_id, protocol) if conn_id else {}
    register_mapping_secrets(options)
    return options


def filesystem_of(batch: Batch, connections: ConnectionResolver | None) -> Any:
    """The fsspec file system of a remote batch (``None`` for local files)."""
    if batch.protocol in ("file", "local"):
        return None
    from alignment_drift.integrations.sources.object_store import filesystem

    return filesystem(batch.uri, _options(connections, batch.conn_id, batch.protocol))[0]


def batch_members(batch: Batch, connections: ConnectionResolver | None = None) -> list[tuple[str, Path | RemoteFile]]:
    """The member files to fingerprint or quarantine, ``(relative path, local Path or RemoteFile)``, in order.

    A missing or refused batch has none (a refused one is never read).
    """
    if not batch.exists:
        return []
    fs = filesystem_of(batch, connections)
    pairs = zip(batch.files, batch.member_paths(), strict=True)
    return [(rel, Path(full) if fs is None else RemoteFile(fs, full)) for rel, full in pairs]


def _open(member: Path | RemoteFile) -> IO[bytes]:
    return open_regular(member) if isinstance(member, Path) else member.open()


def fingerprint(batch: Batch, connections: ConnectionResolver | None = None) -> str | None:
    """sha256 of the batch's bytes: its member files concatenated in order (``None`` when it has none).

    Raises
    ------
    SourceError
        When a local member vanished or cannot be read between being listed and being hashed.
    """
    members = batch_members(batch, connections)
    if not members:
        return None
    digest = hashlib.sha256()
    for _, member in members:
        try:
            with _open(member) as handle:
                while block := handle.read(_CHUNK):
                    digest.update(block)
        except OSError as error:
            if not isinstance(member, Path):
                raise
            raise SourceError(
                f"the batch file {member} could not be read to fingerprint it ({error.strerror or error}). "
                "Fix: make sure it is a regular file the check's user can read and nothing moves it, then rerun"
            ) from None
    return digest.hexdigest()


def read_batch(batch: Batch, *, connections: ConnectionResolver | None = None) -> pd.DataFrame:
    """Read the batch into a DataFrame.

    Raises
    ------
    FileNotFoundError
        When the batch does not exist.
    BatchReadError
        When it was refused (it escapes its root) or its bytes are not valid for the declared format.
    """
    if batch.refused:
        raise BatchReadError(batch.refused)
    if not batch.exists:
        raise FileNotFoundError(f"No batch at {batch.uri}: the source produced nothing for this interval.")
    fs = filesystem_of(batch, connections)
    opener = open_regular if fs is None else (lambda p: fs.open(p, "rb"))
    members = list(zip(batch.files, batch.member_paths(), strict=True))
    if batch.layout != "file":
        members = [(rel, full) for rel, full in members if not _hidden(rel)]
    return parse_frame(opener, members, fmt=batch.format, read=batch.read)


def _hidden(rel: str) -> bool:
    """Files Spark/Hive write beside data (``_SUCCESS``, ``.crc``): kept in quarantine, not parsed."""
    return any(part.startswith(("_", ".")) for part in rel.split("/"))
