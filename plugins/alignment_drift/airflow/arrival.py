"""Data-aware nights: wait for a late batch (``source.wait``) and run a night when its batch lands (``on_arrival``).

``source.wait``
    The monitor DAG gets a ``wait_for_batch`` sensor before ``pull``. It runs
    in ``reschedule`` mode: each look at the source is a short task try, and
    between looks (with exponential backoff) the task gives its worker slot
    back, so a night waiting hours for its batch holds no slot. It succeeds as
    soon as the batch landed, or at ``data_interval_end + source.wait``
    without it; ``pull`` then finds the batch (checked as usual) or not
    (quarantined as missing, the reason naming the wait and the fix).

``schedule: on_arrival``
    The nights are days. A light watcher DAG, ``alignment_arrival__<model>``
    (daily, catch-up allowed), runs the same sensor for each night and then
    emits an event of the asset ``alignment_drift.<model>.batch_arrived``
    whose ``extra`` names the night (``data_interval_start``,
    ``data_interval_end``) and whether its batch landed. The monitor DAG is
    scheduled on that asset, as the retrain DAG is on its retrain-request
    asset, and every task takes the night from the triggering event
    (:func:`alignment_drift.airflow.common.data_interval`), so an
    arrival-triggered night is recorded under the same interval as a cron
    night. The night is the event's, not the run's own data interval (for an
    asset-triggered run Airflow sets that from the events' timestamps).
    Events that the scheduler coalesces into one run are not lost: the run
    checks the earliest night and ``requeue_nights`` emits the others again.

    Why a sensor DAG rather than an ``AssetWatcher``: Airflow 3.3 watches
    assets only with event triggers of message queues, not files, object
    stores or SQL queries; a rescheduling sensor looks at every source kind
    through the same code as ``pull`` and holds no slot between looks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, BaseSensorOperator, CronDataIntervalTimetable, Metadata, PokeReturnValue, dag, task

from alignment_drift.airflow.common import PRESETS, TAIL, connect, dag_start, data_interval, task_defaults
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["ARRIVAL_EVENT", "BatchArrivalSensor", "arrival_asset", "arrival_dag", "requeue_nights"]

#: ``extra["event"]`` of a batch-arrived asset event.
ARRIVAL_EVENT = "batch_arrived"


def arrival_asset(spec: AlignmentSpec) -> Asset:
    """The asset whose events say a night's batch landed (``extra``: event, model, the night, landed)."""
    name, uri = spec.arrival_asset
    return Asset(name=name, uri=uri)


class BatchArrivalSensor(BaseSensorOperator):
    """Succeeds once the night's batch is at the spec's source, or at ``data_interval_end + source.wait``.

    Its XCom is ``{"landed": bool, "deadline": ISO time}``. Always reschedules
    between looks (``poke_interval`` from the wait, doubling up to a quarter of
    it, at most 10 minutes), so a long wait holds no worker slot.
    """

    def __init__(self, *, spec: AlignmentSpec, home: Path | str | None = None, **kwargs: Any) -> None:
        wait = spec.source.wait
        kwargs.setdefault("poke_interval", max(1.0, wait / 20))
        kwargs.setdefault("max_wait", dt.timedelta(seconds=max(1.0, min(600.0, wait / 4))))
        # a safety net only: the look itself ends the wait at the deadline
        kwargs.setdefault("timeout", dt.timedelta(seconds=2 * wait + 600))
        super().__init__(mode="reschedule", exponential_backoff=True, **kwargs)
        self.spec = spec
        self.home = home

    def poke(self, context: Any) -> PokeReturnValue | bool:
        from alignment_drift.core.spec.arrival import arrival_deadline
        from alignment_drift.integrations.sources import batch_landed

        connect()
        start, end = data_interval()
        deadline = arrival_deadline(end, self.spec.source.wait)
        landed = batch_landed(self.spec, Settings.from_env(self.home), start=start, end=end)
        if landed or dt.datetime.now(dt.UTC) >= deadline:
            if not landed:
                self.log.warning(
                    "The batch of %s/%s did not land by %s (source.wait %s); the night is checked without it.",
                    start.isoformat(),
                    end.isoformat(),
                    deadline.isoformat(),
                    self.spec.wait_text,
                )
            return PokeReturnValue(is_done=True, xcom_value={"landed": landed, "deadline": deadline.isoformat()})
        self.log.info("The batch of %s/%s has not landed; waiting until %s.", start, end, deadline.isoformat())
        return False


def requeue_nights(spec: AlignmentSpec) -> Callable[[], Any]:
    """The ``requeue_nights`` task of an ``on_arrival`` monitor DAG: re-emit the nights a coalesced run left out."""
    asset = arrival_asset(spec)

    @task(outlets=[asset], priority_weight=TAIL)
    def requeue_nights() -> Any:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from alignment_drift.airflow.common import arrival_nights

        later = arrival_nights(get_current_context())[1:]
        if not later:
            raise AirflowSkipException("one night in this run's events: nothing to requeue")
        for extra in later:
            yield Metadata(asset, extra=extra)
        return [e["data_interval_start"] for e in later]

    return requeue_nights


def arrival_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """The watcher DAG of an ``on_arrival`` spec: one run per night, an asset event once its batch landed."""
    asset = arrival_asset(spec)

    @dag(
        dag_id=spec.arrival_dag_id,
        schedule=CronDataIntervalTimetable(PRESETS[spec.night_schedule], timezone="UTC"),
        start_date=dag_start(spec),
        catchup=True,
        max_active_runs=8,
        tags=["alignment-drift", spec.model, "on-arrival"],
        default_args={**task_defaults(), "retries": 2, "retry_delay": dt.timedelta(seconds=30)},
        doc_md=f"Waits for each night's batch of **{spec.model}** (up to `source.wait` = {spec.wait_text} after "
        f"the night) and emits `{asset.name}`, which runs the monitor DAG for that night.",
    )
    def watch() -> None:
        @task(outlets=[asset], priority_weight=TAIL)
        def announce(arrival: Any) -> Any:
            start, end = data_interval()
            extra = {
                "event": ARRIVAL_EVENT,
                "model": spec.model,
                "data_interval_start": start.isoformat(),
                "data_interval_end": end.isoformat(),
                "landed": bool(arrival["landed"]),
                "deadline": arrival["deadline"],
            }
            yield Metadata(asset, extra=extra)
            return extra

        announce(BatchArrivalSensor(task_id="wait_for_batch", spec=spec, home=home).output)

    return watch()
