"""The ``sql`` source: the spec's query, the data interval bound as ``:start``/``:end``, read in chunks.

The SQLAlchemy URL is resolved from the spec's Airflow connection at the edge
and passed in as a plain string. The rows are streamed (a server-side cursor
where the driver has one) ``chunk_size`` at a time and written once as a
parquet snapshot in the night's evidence folder: those are the bytes that are
fingerprinted, validated, read by the later steps and quarantined if need be.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignment_drift.integrations.sources.base import Batch, SourceError

__all__ = ["SNAPSHOT_NAME", "query_has_rows", "snapshot_query"]

SNAPSHOT_NAME = "batch.parquet"


def snapshot_query(
    url: str,
    query: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
    chunk_size: int,
    dest: Path,
    conn_id: str,
    read: dict[str, Any],
) -> Batch:
    """Run the interval's query and write its result once as parquet at ``dest`` (atomically).

    Parameters
    ----------
    url : str
        SQLAlchemy URL (credentials included; never stored).
    query : str
        SQL with the bound parameters ``:start`` and ``:end``.
    start, end : datetime
        The data interval, bound as parameters (never formatted into the text).
    chunk_size : int
        Rows fetched per round trip.
    dest : Path
        Where the snapshot goes (replaced when the night is pulled again).
    conn_id : str
        The Airflow connection, recorded on the batch.
    read : dict
        Parsing hints stored on the batch.

    Raises
    ------
    ValueError
        If ``chunk_size`` < 1 or the query lacks ``:start``/``:end``.
    SourceError
        When the database cannot be reached or the query fails (the task is retried).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1; got {chunk_size}. Fix: set source.chunk_size.")
    if ":start" not in query or ":end" not in query:
        raise ValueError("the query must bind :start and :end. Fix: add 'WHERE ts >= :start AND ts < :end'.")
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    try:
        engine = sa.create_engine(url, poolclass=NullPool)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as error:
        raise SourceError(
            f"The SQLAlchemy URL of connection {conn_id!r} cannot be used: {error}. Fix: correct the "
            "connection, or install its driver (e.g. `pip install 'alignment-drift[postgres]'`)."
        ) from error
    tables: list[Any] = []
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=chunk_size).execute(
                sa.text(query), {"start": start, "end": end}
            )
            columns = list(result.keys())
            for part in result.partitions(chunk_size):
                tables.append(_to_arrow(columns, part))
    except sa.exc.SQLAlchemyError as error:
        raise SourceError(
            f"The query of connection {conn_id!r} failed for {start.isoformat()}/{end.isoformat()}: "
            f"{type(error).__name__}: {str(error).splitlines()[0]}. Fix: check that the database is reachable "
            "with that connection and that the spec's query runs there with :start and :end bound."
        ) from error
    finally:
        engine.dispose()
    if tables:
        table = pa.concat_tables(tables, promote_options="permissive")
    else:
        table = pa.table({c: pa.array([], pa.null()) for c in columns})
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex}")
    try:
        pq.write_table(table, staging)
        os.replace(staging, dest)
    finally:
        staging.unlink(missing_ok=True)
    origin = {
        "conn_id": conn_id,
        "query_sha256": hashlib.sha256(query.encode()).hexdigest(),
        "rows": table.num_rows,
        "chunks": len(tables),
        "chunk_size": chunk_size,
        "columns": columns,
    }
    return Batch(
        kind="sql",
        uri=dest.as_uri(),
        path=str(dest),
        format="parquet",
        layout="file",
        files=(dest.name,),
        bytes=dest.stat().st_size,
        conn_id=conn_id,
        read=read,
        origin=origin,
    )


def query_has_rows(url: str, query: str, *, start: dt.datetime, end: dt.datetime, conn_id: str) -> bool:
    """Whether the interval's query returns a row yet: one cheap look (``LIMIT 1``) while a late batch is awaited.

    Raises
    ------
    SourceError
        When the database cannot be reached or the query fails.
    """
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    # the spec's own query, wrapped: its rows are not fetched, only whether there is one
    probe = f"SELECT 1 FROM ({query.strip().rstrip(';')}) AS alignment_drift_arrival LIMIT 1"
    try:
        engine = sa.create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(probe), {"start": start, "end": end}).first() is not None
        finally:
            engine.dispose()
    except (sa.exc.SQLAlchemyError, ImportError) as error:
        raise SourceError(
            f"The query of connection {conn_id!r} could not be run to see whether the batch of "
            f"{start.isoformat()}/{end.isoformat()} landed: {type(error).__name__}: {str(error).splitlines()[0]}. "
            "Fix: check that the database is reachable with that connection and that the spec's query runs there."
        ) from error


def _to_arrow(columns: list[str], rows: Sequence[Any]) -> Any:
    """One chunk of rows as an Arrow table: decimals as float64, tz-aware times in UTC."""
    import pyarrow as pa

    arrays = []
    for i, _ in enumerate(columns):
        values = [row[i] for row in rows]
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python types (e.g. SQLite): keep them as text
            array = pa.array([None if v is None else str(v) for v in values], pa.string())
        if pa.types.is_decimal(array.type):
            array = array.cast(pa.float64())
        elif pa.types.is_timestamp(array.type) and array.type.tz is not None:
            array = array.cast(pa.timestamp(array.type.unit, "UTC"))
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=columns)
