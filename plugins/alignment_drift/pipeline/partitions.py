"""Big batches: group a batch's files, profile each group, merge the partial profiles.

A deployment batch of 100M rows does not fit one task's memory. The monitor
DAG maps the batch-side statistics over groups of its files::

    validate -> partitions -> profile_partition[group 0..k] -> drift (merge + tests)

- :func:`plan_groups` lists the batch's member files in a deterministic order
  (by path) and packs neighbours into groups of at most ``max_rows`` rows
  (from the Parquet footers, no data read) and ``max_bytes`` bytes; a file
  larger than a bound is a group of its own; a single-file batch is one group.
- :func:`profile_group` fits the mergeable batch statistics of one group — the
  summaries a reference profile holds, for the columns the drift step tests —
  reading only those columns, one record batch at a time, and writes them to a
  small Parquet file (format ``alignment-drift/profile@1``). Only its path
  travels through XCom.
- :func:`merge_partials` merges the group profiles as a balanced tree.

Category and missing counts merge exactly. A numeric summary is exact while a
column has at most :data:`DRIFT_BINS` distinct values in the batch (so a batch
of up to that many rows gives the same drift results as reading it whole);
beyond, its CDF error is tracked and bounded (see
:mod:`alignment_drift.core.drift.sketch`). Peak memory of one group's task is
one record batch of the tested columns plus a few profiles.

:func:`read_columns` reads only some columns of a batch, optionally as a
seeded uniform row sample bounded by ``max_rows`` (benchmarks and joint tests
of a large batch).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.settings import Settings

__all__ = [
    "DEFAULT_GROUP_BYTES",
    "DEFAULT_GROUP_ROWS",
    "DRIFT_BINS",
    "DRIFT_MAX_CATEGORIES",
    "READ_BATCH_ROWS",
    "VALIDATE_GROUP_ROWS",
    "batch_rows",
    "drift_columns",
    "merge_partials",
    "plan_groups",
    "profile_group",
    "read_columns",
]

#: Rows per group (a group is one mapped task): bounds a task's time, not its memory.
DEFAULT_GROUP_ROWS = 5_000_000
#: Rows per group when a large batch is validated (groups in turn, in one task): bounds that task's memory.
VALIDATE_GROUP_ROWS = 1_000_000
#: Bytes per group (CSV files have no row count in a footer).
DEFAULT_GROUP_BYTES = 512 * 1024 * 1024
#: Rows read at once: bounds a task's memory.
READ_BATCH_ROWS = 1_000_000
#: Points of a batch-side numeric summary (exact up to this many distinct values).
DRIFT_BINS = 65_536
#: Categories kept per batch-side column (more fold into ``__other__``).
DRIFT_MAX_CATEGORIES = 10_000


def drift_columns(spec: AlignmentSpec) -> tuple[list[str], list[str]]:
    """``(numeric, categorical)``: the columns the drift step reads from a batch.

    The tested features, score and prediction; plus the exposure flag (its
    rate) and the model version (which version scored the batch) when declared.
    """
    roles = spec.columns
    numeric = [*roles.numeric, roles.score] + ([roles.exposure] if roles.exposure else [])
    categorical = [*roles.categorical, roles.prediction] + ([roles.model_version] if roles.model_version else [])
    return list(dict.fromkeys(numeric)), list(dict.fromkeys(categorical))


def _members(pulled: dict[str, Any], connections: ConnectionResolver | None) -> tuple[list[tuple[str, str]], Any]:
    """``(relative, full)`` paths of the batch's data files in path order, and the filesystem (None: local)."""
    from alignment_drift.integrations.sources import Batch, filesystem_of
    from alignment_drift.integrations.sources.base import member_key

    batch = Batch.from_dict(pulled)
    if not batch.exists:
        return [], None
    members = list(zip(batch.files, batch.member_paths(), strict=True))
    if batch.layout != "file":
        members = [(rel, full) for rel, full in members if not any(p.startswith(("_", ".")) for p in rel.split("/"))]
    return sorted(members, key=lambda m: member_key(m[0])), filesystem_of(batch, connections)


def _opener(fs: Any) -> Any:
    return (lambda p: open(p, "rb")) if fs is None else (lambda p: fs.open(p, "rb"))


def _size(fs: Any, path: str) -> int:
    return int(os.path.getsize(path) if fs is None else fs.size(path))


def _parquet_rows(handle: IO[bytes]) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(handle).metadata.num_rows)


def plan_groups(
    pulled: dict[str, Any],
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    connections: ConnectionResolver | None = None,
) -> list[dict[str, Any]]:
    """Pack the batch's files, in path order, into groups of at most ``max_rows`` rows and ``max_bytes`` bytes.

    Parameters
    ----------
    pulled : dict
        The pulled batch (see :func:`alignment_drift.pipeline.ingest.pull`).
    max_rows, max_bytes : int, optional
        Bounds of a group (default :data:`DEFAULT_GROUP_ROWS`, :data:`DEFAULT_GROUP_BYTES`);
        a file beyond either is a group of its own.

    Returns
    -------
    list of dict
        ``index``, ``files`` (relative paths), ``rows`` (None for CSV), ``bytes``;
        empty when the batch does not exist.

    Examples
    --------
    >>> plan_groups({"layout": "missing", "kind": "files", "uri": "x", "path": "x", "format": "parquet"})
    []
    """
    max_rows = DEFAULT_GROUP_ROWS if max_rows is None else max_rows
    max_bytes = DEFAULT_GROUP_BYTES if max_bytes is None else max_bytes
    for name, value in (("max_rows", max_rows), ("max_bytes", max_bytes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"The '{name}' parameter must be an int >= 1. Got {value!r} instead.")
    members, fs = _members(pulled, connections)
    opener, parquet = _opener(fs), pulled.get("format") == "parquet"
    groups: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for rel, full in members:
        size = _size(fs, full)
        rows: int | None = None
        if parquet:
            with opener(full) as handle:
                rows = _parquet_rows(handle)
        fits = current is not None and current["bytes"] + size <= max_bytes
        if fits and rows is not None and current is not None:
            fits = (current["rows"] or 0) + rows <= max_rows
        if current is None or not fits:
            current = {"index": len(groups), "files": [], "rows": 0 if parquet else None, "bytes": 0}
            groups.append(current)
        current["files"].append(rel)
        current["bytes"] += size
        if rows is not None:
            current["rows"] += rows
    return groups


def batch_rows(pulled: dict[str, Any], *, connections: ConnectionResolver | None = None) -> int | None:
    """Rows of a Parquet batch from its footers (no data read); None for CSV or a missing batch."""
    groups = plan_groups(pulled, max_rows=2**62, max_bytes=2**62, connections=connections)
    if not groups or any(g["rows"] is None for g in groups):
        return None
    return int(sum(g["rows"] for g in groups))


def _chunks(
    pulled: dict[str, Any],
    files: Sequence[str],
    columns: Sequence[str] | None,
    connections: ConnectionResolver | None,
    *,
    rows: int = READ_BATCH_ROWS,
) -> Iterator[pd.DataFrame]:
    """The given member files' rows, ``rows`` at a time, only ``columns`` (all when None)."""
    import pyarrow.parquet as pq

    from alignment_drift.integrations.sources import Batch
    from alignment_drift.integrations.sources.base import _normalise_timestamp, parse_frame

    members, fs = _members(pulled, connections)
    full = dict(members)
    opener = _opener(fs)
    fmt = pulled.get("format")
    stamp = Batch.from_dict(pulled).read.get("timestamp")
    for rel in files:
        keys = dict(p.split("=", 1) for p in rel.split("/")[:-1] if "=" in p)  # hive partition folders
        if fmt != "parquet":
            frame = parse_frame(opener, [(rel, full[rel])], fmt=str(fmt), read=Batch.from_dict(pulled).read)
            yield frame if columns is None else frame[[c for c in columns if c in frame.columns]]
            continue
        with opener(full[rel]) as handle:
            reader = pq.ParquetFile(handle)
            names = reader.schema_arrow.names
            wanted = None if columns is None else [c for c in columns if c in names]
            for record_batch in reader.iter_batches(batch_size=rows, columns=wanted):
                frame = record_batch.to_pandas()
                for key, value in keys.items():
                    if key not in frame.columns and (columns is None or key in columns):
                        frame[key] = value
                yield _normalise_timestamp(frame, stamp)


def profile_group(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: dict[str, Any],
    group: dict[str, Any],
    *,
    connections: ConnectionResolver | None = None,
) -> dict[str, Any]:
    """Fit the batch-side drift statistics of one group of files and write them beside the night's evidence.

    Returns
    -------
    dict
        ``index``, ``uri`` (the partial profile's path), ``rows``, ``files``;
        ``{"index": ..., "skipped": True}`` for a group marked ``skip``
        (a quarantined batch has nothing to profile).
    """
    from alignment_drift.pipeline.ingest import evidence_dir

    if group.get("skip"):
        return {"index": group.get("index", 0), "skipped": True}
    numeric, categorical = drift_columns(spec)
    chunks = _chunks(pulled, group["files"], [*numeric, *categorical], connections)
    first = next(chunks, None)
    if first is None:
        raise ValueError(f"Group {group['index']} of {pulled['uri']} has no rows to profile.")
    present = set(first.columns)
    kwargs = {
        "numeric": [c for c in numeric if c in present],
        "categorical": [c for c in categorical if c in present],
        "bins": DRIFT_BINS,
        "max_categories": DRIFT_MAX_CATEGORIES,
    }
    profile = ReferenceProfile.fit_chunks(_prepend(first, chunks), **kwargs)
    start, end = (dt.datetime.fromisoformat(pulled["interval"][k]) for k in ("start", "end"))
    folder = evidence_dir(settings, spec, start, end) / "partials"
    path = profile.save(folder / f"group-{int(group['index']):05d}.parquet")
    return {"index": int(group["index"]), "uri": str(path), "rows": profile.n_rows, "files": len(group["files"])}


def _prepend(first: pd.DataFrame, rest: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def merge_partials(partials: Iterable[dict[str, Any]]) -> ReferenceProfile | None:
    """Merge the partial profiles written by :func:`profile_group`, in group order, as a balanced tree.

    Memory holds ``log2(groups)`` profiles at a time. None when every group was skipped.
    """
    ordered = sorted((p for p in partials if not p.get("skipped")), key=lambda p: int(p["index"]))
    if not ordered:
        return None
    stack: list[tuple[int, ReferenceProfile]] = []
    for partial in ordered:
        size, part = 1, ReferenceProfile.load(Path(partial["uri"]))
        while stack and stack[-1][0] == size:
            size, part = size * 2, stack.pop()[1].merge(part)
        stack.append((size, part))
    profile = stack.pop()[1]
    while stack:
        profile = stack.pop()[1].merge(profile)
    return profile


def read_columns(
    pulled: dict[str, Any],
    columns: Sequence[str] | None,
    *,
    max_rows: int | None = None,
    seed: int = 0,
    connections: ConnectionResolver | None = None,
) -> tuple[pd.DataFrame, int]:
    """Read only ``columns`` of a batch, as a seeded uniform sample of about ``max_rows`` rows when it is larger.

    Returns
    -------
    (DataFrame, int)
        The rows read (all of them when the batch has at most ``max_rows``) and the batch's row count.
    """
    members, _ = _members(pulled, connections)
    files = [rel for rel, _ in members]
    total = batch_rows(pulled, connections=connections)
    share = 1.0 if max_rows is None or total is None or total <= max_rows else max_rows / total
    rng = np.random.default_rng(seed)
    frames: list[pd.DataFrame] = []
    seen = 0
    for chunk in _chunks(pulled, files, columns, connections):
        seen += len(chunk)
        if share < 1.0:
            chunk = chunk.iloc[np.flatnonzero(rng.random(len(chunk)) < share)]
        frames.append(chunk)
    if not frames:
        return pd.DataFrame(columns=list(columns or [])), 0
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return frame.reset_index(drop=True), seen
