"""One active check run per night, under any concurrency, and nothing a night recorded is lost.

A night is a model (its experiment) and a data interval (the run's
``data_interval_start`` tag). MLflow has no unique key nor lock on runs, so
the night's run is claimed optimistically and the same deterministic rule
settles every race, whether the store is a local SQLite file or an
``mlflow server`` shared by several workers:

- **The active run of a night is its earliest run tagged** ``kind=check``
  (by start time, then run id). Readers apply the rule too
  (:func:`one_per_night`), so ``compare`` lists a night once even while a
  race is being settled.
- **First record**: create a ``kind=check`` run, then settle the night
  (:func:`settle`): every run of the night but the earliest is retagged
  ``kind=check_superseded`` (tagged ``superseded_by``). Each writer settles
  after its run is tagged, so the last one to look sees every contender and
  leaves one. Each writer writes its record into its own run, so a run that
  lost still holds its writer's record in the night's history; runs are
  retagged, never deleted.
- **Rerun** (same parameters): the run is updated in place. Every write also
  keeps its own record (tags, parameters, metrics and ``check.json``) as the
  artifact ``history/<recorded_at>.json`` (:func:`keep`; a run written before
  that has its record archived first, :func:`archive`), so two reruns writing
  into one run at once both stay in its history. MLflow's metric history
  keeps the earlier values too.
- **Rerun with other parameters**, or that judged another batch or model
  version (parameters and a run's inputs are immutable in MLflow, see
  :mod:`.inputs`): a new run is created as ``kind=check_pending``, written
  completely, then promoted (:func:`promote`): it becomes ``kind=check``
  (tagged ``replaces``) and the
  earlier run becomes ``kind=check_superseded`` (tagged ``superseded_by``).
  The earlier run is never deleted and stays active until its successor is
  complete: a failure while recording (disk full, server gone) leaves it as
  the night's record.

:func:`night_history` lists everything a night recorded, newest first.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = [
    "ACTIVE",
    "PENDING",
    "SUPERSEDED",
    "archive",
    "claim",
    "earliest",
    "keep",
    "night_history",
    "night_runs",
    "on_conflict_again",
    "one_per_night",
    "promote",
    "settle",
    "start_pending",
]

ACTIVE = "check"
PENDING = "check_pending"
SUPERSEDED = "check_superseded"

_LOG = logging.getLogger(__name__)
#: How a store says a concurrent writer inserted the same row first (SQLite, PostgreSQL, MySQL, MLflow).
_CONFLICT = ("unique constraint", "duplicate key", "duplicate entry", "already")


def on_conflict_again(write: Callable[[], object]) -> None:
    """``write``, tried again (3 tries in all) when a concurrent writer of the same run won a unique key.

    MLflow's stores check for an existing param or tag, then insert: two
    writers of one run can both pass the check; the second try sees the row.
    """
    for attempt in range(3):
        try:
            write()
            return
        except Exception as error:
            if attempt == 2 or not any(sign in str(error).lower() for sign in _CONFLICT):
                raise
            time.sleep(0.05 * (attempt + 1))


def _set_tags(client: MlflowClient, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    on_conflict_again(lambda: client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()]))


def _order(run: Run) -> tuple[int, str]:
    return (run.info.start_time or 0, run.info.run_id)


def earliest(runs: Iterable[Run]) -> Run | None:
    """The run the rule makes active among ``runs`` (earliest start time, then smallest run id)."""
    return min(runs, key=_order, default=None)


def one_per_night(runs: Iterable[Run]) -> list[Run]:
    """Active check runs with at most one per night (the earliest), for readers that list nights."""
    by_night: dict[str, Run] = {}
    for run in runs:
        night = run.data.tags.get("data_interval_start", run.info.run_id)
        if night not in by_night or _order(run) < _order(by_night[night]):
            by_night[night] = run
    return list(by_night.values())


def night_runs(client: MlflowClient, experiment: str, interval_start: str, *, kind: str = ACTIVE) -> list[Run]:
    """The runs of one night tagged ``kind``, earliest first."""
    runs = client.search_runs(
        [experiment],
        filter_string=f"tags.kind = '{kind}' and tags.data_interval_start = '{interval_start}'",
        max_results=1000,
    )
    return sorted(runs, key=_order)


def settle(client: MlflowClient, experiment: str, interval_start: str) -> str | None:
    """The night's active run by the rule; every other run still tagged ``kind=check`` is marked superseded by it.

    Every writer settles after its own run is tagged active, so whichever
    writer looks last sees every contender and leaves one; a run is only ever
    retagged, never deleted, so a writer still writing into a run that lost
    keeps its record in the night's history.
    """
    runs = night_runs(client, experiment, interval_start)
    winner = earliest(runs)
    if winner is None:
        return None
    for run in runs:
        if run.info.run_id != winner.info.run_id:
            _set_tags(client, run.info.run_id, {"kind": SUPERSEDED, "superseded_by": winner.info.run_id})
            _LOG.info("Night %s: run %s superseded by run %s", interval_start, run.info.run_id, winner.info.run_id)
    return winner.info.run_id


def claim(client: MlflowClient, experiment: str, interval_start: str, *, run_name: str, tags: dict[str, str]) -> str:
    """A new run for a night that had none, and the night settled (:func:`settle`); returns the new run's id.

    ``tags`` must carry ``kind=check`` and the ``data_interval_start`` of the
    night. When a concurrent writer's run is earlier, the new run is already
    superseded by it: the caller still writes its record into it, so the
    night's history keeps every record.
    """
    mine = client.create_run(experiment, run_name=run_name, tags=tags).info.run_id
    settle(client, experiment, interval_start)
    return mine


def _recorded(run: Run) -> bool:
    return bool(run.data.metrics) or "verdict" in run.data.tags


def _stamp(run: Run) -> str:
    if run.data.tags.get("recorded_at"):
        return run.data.tags["recorded_at"]
    millis = run.info.end_time or run.info.start_time or 0
    return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC).isoformat()


_ARCHIVED = ".archived.json"


def _history_path(recorded_at: str, *, archived: bool = False) -> str:
    stem = "history/" + "".join(c if c.isalnum() or c in "-_." else "_" for c in recorded_at)
    return stem + (_ARCHIVED if archived else ".json")


def _kept_path(path: str) -> str:
    """The path a writer's own record of the same write has (an archived copy names it with ``.archived``)."""
    return path.removesuffix(_ARCHIVED) + ".json" if path.endswith(_ARCHIVED) else path


def keep(client: MlflowClient, run_id: str, record: dict[str, Any]) -> str:
    """Log ``record`` (``recorded_at``, ``tags``, ``params``, ``metrics``, ``check``) into the run's history.

    Every write keeps its own record this way, so two reruns writing into one
    run at once both stay in its history whatever the order of their writes.
    """
    name = _history_path(record["recorded_at"])
    client.log_dict(run_id, {"run_id": run_id, **record}, name)
    return name


def archive(client: MlflowClient, run_id: str) -> str | None:
    """Keep the run's current record in its history before a rerun overwrites it, unless it is there already.

    Runs written before records kept themselves (:func:`keep`) have their
    record archived here. The copy goes to its own path
    (``history/<recorded_at>.archived.json``), never over a record a writer
    kept: while another writer is still writing into the run, the run's tags
    and its ``check.json`` may come from two different writes, and the
    writer's own record of that write (kept a moment later) must win; readers
    prefer it (:func:`night_history`). Returns the artifact path, or None when
    the run holds no record yet or its record is already kept.
    """
    run = client.get_run(run_id)
    if not _recorded(run):
        return None
    stamp = _stamp(run)
    name = _history_path(stamp, archived=True)
    if any(entry.path in {name, _history_path(stamp)} for entry in client.list_artifacts(run_id, "history")):
        return None
    record: dict[str, Any] = {
        "recorded_at": _stamp(run),
        "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "check": None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        try:
            record["check"] = json.loads(Path(client.download_artifacts(run_id, "check.json", tmp)).read_text())
        except Exception as error:  # a run written before check.json existed, or half-written
            _LOG.info("Run %s has no readable check.json to archive: %s", run_id, error)
    client.log_dict(run_id, {"run_id": run_id, **record}, name)
    return name


def start_pending(client: MlflowClient, experiment: str, *, run_name: str, tags: dict[str, str], replaces: str) -> str:
    """A new run for a night whose active run ``replaces`` cannot take the rerun; hidden until :func:`promote`."""
    return client.create_run(
        experiment, run_name=run_name, tags={**tags, "kind": PENDING, "replaces": replaces}
    ).info.run_id


def promote(client: MlflowClient, experiment: str, interval_start: str, run_id: str, *, replaces: str) -> str:
    """Make the complete run ``run_id`` the night's record and keep ``replaces`` as superseded history.

    When concurrent reruns promote several runs, the earliest stays active and
    the others are superseded by it (see :func:`settle`); they stay in the
    night's history.

    Returns
    -------
    str
        The night's active run id.
    """
    _set_tags(client, run_id, {"kind": ACTIVE})
    _set_tags(client, replaces, {"kind": SUPERSEDED, "superseded_by": run_id})
    return settle(client, experiment, interval_start) or run_id


def night_history(client: MlflowClient, experiment: str, interval_start: str) -> list[dict[str, Any]]:
    """Every record of one night, newest first: the active run's, its archived ones and superseded runs'.

    Each item has ``run_id``, ``recorded_at``, ``state`` (``active`` or
    ``superseded``: the run's current record; ``archived``: an earlier record
    of the run), ``tags`` and, when kept, ``params``, ``metrics`` and ``check``.
    """
    items: list[dict[str, Any]] = []
    active = night_runs(client, experiment, interval_start)
    winner = earliest(active)
    for run in [*active, *night_runs(client, experiment, interval_start, kind=SUPERSEDED)]:
        if not _recorded(run):
            continue  # a run whose writer stopped before writing anything
        state = "active" if run is winner else "superseded"  # a second active run: a race not yet settled
        current = _history_path(_stamp(run))
        kept = False
        paths = [entry.path for entry in client.list_artifacts(run.info.run_id, "history")]
        # a writer's own record wins over an archived copy of the same write (see :func:`archive`)
        paths = [p for p in paths if p == _kept_path(p) or _kept_path(p) not in paths]
        for path in paths:
            with tempfile.TemporaryDirectory() as tmp:
                record = json.loads(Path(client.download_artifacts(run.info.run_id, path, tmp)).read_text())
            if _kept_path(path) == current:  # the run's current record, with its tags as they are now
                kept = True
                record = {**record, "state": state, "tags": dict(run.data.tags)}
            items.append({"state": "archived", **record, "run_id": run.info.run_id})
        if not kept:  # a run written before records kept themselves: its tags
            items.append({"run_id": run.info.run_id, "recorded_at": _stamp(run), "state": state, "tags": run.data.tags})
    return sorted(items, key=lambda item: str(item["recorded_at"]), reverse=True)
