"""``pull``: locate the night's batch and fingerprint its bytes."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.core.spec.arrival import arrival_deadline, format_duration, poll_delays
from alignment_drift.integrations.evidence import evidence_dir
from alignment_drift.integrations.sources import batch_landed, fingerprint, locate_batch
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.pipeline.night import Interval, Pulled
from alignment_drift.settings import Settings

__all__ = ["BatchGone", "await_batch", "pull", "pull_night"]

log = logging.getLogger(__name__)


class BatchGone(LookupError):
    """A rerun of a recorded night whose batch is no longer at the source: the night's record is kept.

    Checking again would quarantine the night as "the source produced
    nothing" and replace the verdict recorded when the batch was there.
    """


def _refuse_if_recorded(settings: Settings, spec: AlignmentSpec, interval: Interval, uri: str) -> None:
    from alignment_drift.integrations.mlflow.checks import find_check_run
    from alignment_drift.integrations.mlflow.store import client

    run_id = find_check_run(settings, spec.model, interval.start)
    if run_id is None:
        return
    tags = client(settings).get_run(run_id).data.tags
    if not tags.get("source_sha256"):
        return  # recorded without a batch: checking again records the same
    raise BatchGone(
        f"batch no longer at the source: {uri} is gone, so {spec.model}'s night {interval.start} was not checked "
        f"again; its recorded verdict '{tags.get('verdict', '?')}' (MLflow run {run_id}, batch sha256 "
        f"{tags['source_sha256'][:12]}) is kept. Fix: put the batch back at the source (or release it from "
        "quarantine) to rerun the night."
    )


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
    wait = spec.source.wait if batch is None else 0
    return Pulled.of(located, sha256=fingerprint(located, connections), interval=Interval.of(start, end), wait=wait)


def await_batch(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    connections: ConnectionResolver | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait for the night's batch until ``end + source.wait``, looking with backoff; return whether it landed.

    A plain bounded poll in this process (``alignment-drift check``); the
    monitor DAG waits in a rescheduling sensor instead (it frees its worker
    slot between looks). A night whose deadline has passed is looked at once.

    Raises
    ------
    SourceError
        When an object store or database cannot be reached.
    """
    deadline = arrival_deadline(end, spec.source.wait)
    delays = poll_delays(spec.source.wait)
    while True:
        if batch_landed(spec, settings, start=start, end=end, connections=connections):
            return True
        left = (deadline - clock()).total_seconds()
        if left <= 0:
            return False
        pause = min(next(delays), left)
        log.info(
            "The batch of %s for %s/%s has not landed; looking again in %.0f s (source.wait %s, until %s).",
            spec.model,
            start.isoformat(),
            end.isoformat(),
            pause,
            format_duration(spec.source.wait),
            deadline.isoformat(),
        )
        sleep(pause)


def pull_night(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    batch: Path | str | None = None,
    connections: ConnectionResolver | None = None,
    await_arrival: bool = False,
) -> Pulled:
    """:func:`pull` for a check of the night (the monitor DAG's ``pull`` task, ``check``): a rerun keeps a record.

    With ``await_arrival`` (``check``), a batch not yet at the source is first waited for, up to
    ``source.wait`` after the interval's end (:func:`await_batch`); the monitor DAG waits in its
    ``wait_for_batch`` sensor before ``pull`` instead.

    Raises
    ------
    BatchGone
        When the spec's source has no batch for a night already recorded with one (a rerun after the
        batch left the source): checking again would replace the recorded verdict with "quarantined".
    SourceError
        When an object store or database cannot be reached (the task is retried).
    """
    if await_arrival and batch is None and spec.source.wait:
        await_batch(spec, settings, start=start, end=end, connections=connections)
    pulled = pull(spec, settings, start=start, end=end, batch=batch, connections=connections)
    if batch is None and pulled.layout == "missing":
        _refuse_if_recorded(settings, spec, pulled.interval, pulled.uri)
    return pulled
