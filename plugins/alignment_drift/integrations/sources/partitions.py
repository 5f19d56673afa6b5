"""A batch read in bounded pieces: its files packed into groups, read a record batch at a time.

A deployment batch of 100M rows does not fit one task's memory. The monitor
maps the batch-side statistics over groups of its files:

- :func:`plan_groups` lists the batch's member files in a deterministic order
  (by path) and packs neighbours into groups of at most ``max_rows`` rows
  (from the Parquet footers, no data read) and ``max_bytes`` bytes; a Parquet
  file beyond a bound is cut into runs of its row groups within the bounds, each
  a group of its own (``row_groups``), so one 10M-row file is profiled in
  bounded slices like a folder of parts; a file of one row group beyond a bound
  (or a CSV file) is a group of its own.
- :func:`read_chunks` reads some files' rows (or one file's slice), some columns, one record
  batch at a time, without pre-buffering (see :mod:`~alignment_drift.integrations.sources.stream`).
- :func:`read_columns` reads only some columns of a batch, optionally as a
  seeded uniform row sample bounded by ``max_rows`` (benchmarks and joint tests
  of a large batch).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np
import pandas as pd

from alignment_drift.integrations.sources import Batch, filesystem_of
from alignment_drift.integrations.sources.base import member_key, normalise_types, open_regular, parse_frame
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.integrations.sources.stream import iter_parquet, parquet_file, row_group_slices
from alignment_drift.settings import DEFAULT_GROUP_ROWS

__all__ = [
    "DEFAULT_GROUP_BYTES",
    "DEFAULT_GROUP_ROWS",
    "READ_BATCH_ROWS",
    "SAMPLE_READ_ROWS",
    "VALIDATE_GROUP_ROWS",
    "batch_rows",
    "members",
    "plan_groups",
    "read_chunks",
    "read_columns",
]

#: Rows per group when a large batch is validated (groups in turn, in one task): bounds that task's memory.
VALIDATE_GROUP_ROWS = 1_000_000
#: Bytes per group (CSV files have no row count in a footer).
DEFAULT_GROUP_BYTES = 512 * 1024 * 1024
#: Rows read at once: bounds a task's memory.
READ_BATCH_ROWS = 1_000_000
#: Rows read at once while a batch is sampled (only the sample is kept, so small chunks cost no copy).
SAMPLE_READ_ROWS = 250_000


def members(batch: Batch, connections: ConnectionResolver | None) -> tuple[list[tuple[str, str]], Any]:
    """``(relative, full)`` paths of the batch's data files in path order, and the filesystem (None: local)."""
    if not batch.exists:
        return [], None
    listed = list(zip(batch.files, batch.member_paths(), strict=True))
    if batch.layout != "file":
        listed = [(rel, full) for rel, full in listed if not any(p.startswith(("_", ".")) for p in rel.split("/"))]
    return sorted(listed, key=lambda m: member_key(m[0])), filesystem_of(batch, connections)


def _opener(fs: Any) -> Any:
    return open_regular if fs is None else (lambda p: fs.open(p, "rb"))


def _size(fs: Any, path: str) -> int:
    return int(os.path.getsize(path) if fs is None else fs.size(path))


def _parquet_slices(handle: IO[bytes], max_rows: int, max_bytes: int, size: int) -> list[tuple[int, int, int, int]]:
    return row_group_slices(parquet_file(handle).metadata, max_rows=max_rows, max_bytes=max_bytes, size=size)


def plan_groups(
    batch: Batch,
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    connections: ConnectionResolver | None = None,
) -> list[dict[str, Any]]:
    """Pack the batch's files, in path order, into groups of at most ``max_rows`` rows and ``max_bytes`` bytes.

    Parameters
    ----------
    batch : Batch
        The located batch.
    max_rows, max_bytes : int, optional
        Bounds of a group (default :data:`DEFAULT_GROUP_ROWS`, :data:`DEFAULT_GROUP_BYTES`);
        a file beyond either is a group of its own.

    Returns
    -------
    list of dict
        ``index``, ``files`` (relative paths), ``rows`` (None for CSV), ``bytes``, ``row_groups``
        (``[first, stop)`` of the group's one file when it is a slice of it, else None);
        empty when the batch does not exist.

    Examples
    --------
    >>> plan_groups(Batch(kind="files", uri="x", path="x", format="parquet", layout="missing"))
    []
    """
    max_rows = DEFAULT_GROUP_ROWS if max_rows is None else max_rows
    max_bytes = DEFAULT_GROUP_BYTES if max_bytes is None else max_bytes
    for name, value in (("max_rows", max_rows), ("max_bytes", max_bytes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"The '{name}' parameter must be an int >= 1. Got {value!r} instead.")
    listed, fs = members(batch, connections)
    opener, parquet = _opener(fs), batch.format == "parquet"
    groups: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for rel, full in listed:
        size = _size(fs, full)
        rows: int | None = None
        if parquet:
            with opener(full) as handle:
                slices = _parquet_slices(handle, max_rows, max_bytes, size)
            if len(slices) > 1:  # a big file: its row-group runs are groups of their own
                for first, stop, count, nbytes in slices:
                    groups.append(_group(len(groups), rel, count, nbytes, [first, stop]))
                current = None
                continue
            rows = slices[0][2] if slices else 0
        fits = current is not None and current["bytes"] + size <= max_bytes
        if fits and rows is not None and current is not None:
            fits = (current["rows"] or 0) + rows <= max_rows
        if current is None or not fits:
            current = _group(len(groups), None, 0 if parquet else None, 0, None)
            groups.append(current)
        current["files"].append(rel)
        current["bytes"] += size
        if rows is not None:
            current["rows"] += rows
    return groups


def _group(index: int, rel: str | None, rows: int | None, nbytes: int, row_groups: list[int] | None) -> dict[str, Any]:
    files = [] if rel is None else [rel]
    return {"index": index, "files": files, "rows": rows, "bytes": nbytes, "row_groups": row_groups}


def batch_rows(batch: Batch, *, connections: ConnectionResolver | None = None) -> int | None:
    """Rows of a Parquet batch from its footers (no data read); None for CSV or a missing batch."""
    groups = plan_groups(batch, max_rows=2**62, max_bytes=2**62, connections=connections)
    if not groups or any(g["rows"] is None for g in groups):
        return None
    return int(sum(g["rows"] for g in groups))


def read_chunks(
    batch: Batch,
    files: Sequence[str],
    columns: Sequence[str] | None,
    connections: ConnectionResolver | None,
    *,
    rows: int = READ_BATCH_ROWS,
    row_groups: Sequence[int] | None = None,
) -> Iterator[pd.DataFrame]:
    """The given member files' rows, ``rows`` at a time, only ``columns`` (all when None).

    ``row_groups`` ``[first, stop)``: only that slice of the one file given (a group of :func:`plan_groups`).
    """
    if row_groups is not None and len(files) != 1:
        raise ValueError(f"A slice of row groups {list(row_groups)} reads one file; got {len(files)} files.")
    listed, fs = members(batch, connections)
    full = dict(listed)
    opener = _opener(fs)
    fmt = batch.format
    stamp = batch.read.get("timestamp")
    for rel in files:
        keys = dict(p.split("=", 1) for p in rel.split("/")[:-1] if "=" in p)  # hive partition folders
        if fmt != "parquet":
            frame = parse_frame(opener, [(rel, full[rel])], fmt=str(fmt), read=batch.read)
            yield frame if columns is None else frame[[c for c in columns if c in frame.columns]]
            continue
        with opener(full[rel]) as handle:
            reader = parquet_file(handle)
            names = reader.schema_arrow.names
            wanted = None if columns is None else [c for c in columns if c in names]
            for frame in iter_parquet(reader, columns=wanted, rows=rows, row_groups=row_groups):
                for key, value in keys.items():
                    if key not in frame.columns and (columns is None or key in columns):
                        frame[key] = value
                yield normalise_types(frame, stamp)


def read_columns(
    batch: Batch,
    columns: Sequence[str] | None,
    *,
    max_rows: int | None = None,
    seed: int = 0,
    connections: ConnectionResolver | None = None,
    row_groups: Sequence[int] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Read only ``columns`` of a batch, as a seeded uniform sample of about ``max_rows`` rows when it is larger.

    ``row_groups`` ``[first, stop)``: only that slice of the batch's one file (a group of :func:`plan_groups`).

    Returns
    -------
    (DataFrame, int)
        The rows read (all of them when the batch has at most ``max_rows``) and the batch's row count.
    """
    listed, _ = members(batch, connections)
    files = [rel for rel, _ in listed]
    total = None if row_groups is not None else batch_rows(batch, connections=connections)
    share = 1.0 if max_rows is None or total is None or total <= max_rows else max_rows / total
    rng = np.random.default_rng(seed)
    frames: list[pd.DataFrame] = []
    seen = 0
    rows = READ_BATCH_ROWS if share == 1.0 else SAMPLE_READ_ROWS
    for chunk in read_chunks(batch, files, columns, connections, rows=rows, row_groups=row_groups):
        seen += len(chunk)
        if share < 1.0:
            chunk = chunk.iloc[np.flatnonzero(rng.random(len(chunk)) < share)]
        frames.append(chunk)
    if not frames:
        return pd.DataFrame(columns=list(columns or [])), 0
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return frame.reset_index(drop=True), seen
