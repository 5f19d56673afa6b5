"""``pull``: locate the night's batch and fingerprint its bytes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.evidence import evidence_dir
from alignment_drift.integrations.sources import fingerprint, locate_batch
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.pipeline.night import Interval, Pulled
from alignment_drift.settings import Settings

__all__ = ["pull"]


def pull(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    batch: Path | str | None = None,
    connections: ConnectionResolver | None = None,
) -> Pulled:
    """Locate the batch of the data interval ``[start, end)`` and fingerprint its bytes (sha256).

    Parameters
    ----------
    spec, settings
        The model's spec and the resolved locations.
    start, end : datetime
        The data interval.
    batch : path, optional
        Check this local file or folder instead of the spec's source (``check --batch``).
    connections : ConnectionResolver, optional
        Resolves the source's ``conn_id`` (default: the resolver registered for the process).

    Returns
    -------
    Pulled
        Where the batch is (missing and refused batches too: validation quarantines them).
        A ``sql`` source's rows are written once as parquet in the evidence folder: that file is the batch.

    Raises
    ------
    SourceError
        When an object store or database cannot be reached (the task is retried).
    """
    workdir = evidence_dir(settings, spec.model, start, end) if spec.source.kind == "sql" and batch is None else None
    located = locate_batch(
        spec, settings, start=start, end=end, connections=connections, override=batch, workdir=workdir
    )
    return Pulled.of(located, sha256=fingerprint(located, connections), interval=Interval.of(start, end))
