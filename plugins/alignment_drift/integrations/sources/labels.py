"""Late labels as they arrive: each arrival interval's labels batch, located, read and checked.

The spec's ``labels`` section names a source templated by the *arrival*
interval (``labels/{date}.parquet`` holds the labels that arrived that day),
each batch carrying the prediction log's id column and the target (and/or
proxy) column. A batch that cannot be read or joined is a
:class:`~alignment_drift.core.labels.LabelsError`, and
:func:`quarantine_arrival` keeps its bytes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from alignment_drift.core.labels import ARRIVAL_COLUMN, LabelsError, check_labels
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.quarantine import interval_key, quarantine_batch
from alignment_drift.integrations.sources import Batch, BatchReadError, batch_members, locate_batch, read_batch
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.settings import Settings

__all__ = ["arrival_intervals", "arrived_labels", "label_columns", "quarantine_arrival", "read_arrival"]


def label_columns(spec: AlignmentSpec) -> list[str]:
    """The label columns an arrival may carry: the target, and the proxy when the spec has one."""
    roles = spec.columns
    return [roles.target] + ([roles.proxy] if roles.proxy else [])


def arrival_intervals(
    night_start: dt.datetime, night_end: dt.datetime, *, as_of: dt.datetime, max_delay_days: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The arrival intervals that can hold labels of a night: from the night itself, up to ``max_delay_days`` later.

    Only arrivals that have ended by ``as_of`` count (an arrival still under way is not complete).
    """
    length = night_end - night_start
    last = night_start + dt.timedelta(days=max_delay_days)
    out = []
    start = night_start
    while start <= last and start + length <= as_of:
        out.append((start, start + length))
        start += length
    return out


def read_arrival(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    connections: ConnectionResolver | None = None,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """One arrival's labels batch: its description (``Batch.to_dict()``) and its rows, or None when nothing arrived.

    Raises
    ------
    LabelsError
        When the batch exists but cannot be read or joined (refused path, unreadable bytes, bad columns or values).
    """
    assert spec.labels is not None
    labels_spec = spec.model_copy(update={"source": spec.labels.source})
    workdir = None
    if spec.labels.source.kind == "sql":
        workdir = settings.data_dir / "_labels" / spec.model / interval_key(start, end)
        workdir.mkdir(parents=True, exist_ok=True)
    batch = locate_batch(labels_spec, settings, start=start, end=end, connections=connections, workdir=workdir)
    described = batch.to_dict()
    if batch.refused:
        raise LabelsError(f"The labels batch at {batch.uri} was refused: {batch.refused}")
    if not batch.exists:
        return described, None
    try:
        frame = read_batch(batch, connections=connections)
    except BatchReadError as error:
        raise LabelsError(f"The labels batch at {batch.uri} is unreadable: {error}") from None
    check_labels(frame, id_column=spec.columns.id, columns=label_columns(spec), where=f"at {batch.uri}")
    return described, frame


def arrived_labels(
    spec: AlignmentSpec,
    settings: Settings,
    night_start: dt.datetime,
    night_end: dt.datetime,
    *,
    as_of: dt.datetime,
    connections: ConnectionResolver | None = None,
) -> tuple[pd.DataFrame | None, list[str]]:
    """Every label arrived for a night by ``as_of``, in arrival order, and the arrival ends read.

    An arrival whose batch is bad is skipped here (the labels DAG quarantines it).
    """
    assert spec.labels is not None
    frames, ends = [], []
    for start, end in arrival_intervals(night_start, night_end, as_of=as_of, max_delay_days=spec.labels.max_delay_days):
        try:
            _, frame = read_arrival(spec, settings, start=start, end=end, connections=connections)
        except LabelsError:
            continue
        if frame is None:
            continue
        keep = [c for c in (spec.columns.id, *label_columns(spec)) if c in frame.columns]
        frames.append(frame[keep].assign(**{ARRIVAL_COLUMN: start.isoformat()}))
        ends.append(end.isoformat())
    if not frames:
        return None, []
    return pd.concat(frames, ignore_index=True), ends


def quarantine_arrival(
    spec: AlignmentSpec,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    connections: ConnectionResolver | None,
) -> dict[str, Any] | None:
    """Quarantine a bad labels batch (bytes copied and verified) under ``<quarantine>/<model>/labels-<key>``."""
    assert spec.labels is not None
    labels_spec = spec.model_copy(update={"source": spec.labels.source})
    workdir = None
    if spec.labels.source.kind == "sql":
        workdir = settings.data_dir / "_labels" / spec.model / interval_key(start, end)
    batch: Batch = locate_batch(labels_spec, settings, start=start, end=end, connections=connections, workdir=workdir)
    if batch.refused or not batch.exists:
        return None  # nothing readable to keep: the reason says where it was
    record = quarantine_batch(
        batch.path if batch.protocol == "file" else batch.uri,
        quarantine_root=settings.quarantine_dir,
        model=spec.model,
        interval_start=f"labels-{interval_key(start, end)}",
        reason=reason,
        details={"kind": "labels", "batch": {k: batch.to_dict().get(k) for k in ("kind", "uri", "format", "layout")}},
        members=batch_members(batch, connections),
        data_interval={"start": start.isoformat(), "end": end.isoformat()},
        source_exists=True,
    )
    return record.to_dict()
