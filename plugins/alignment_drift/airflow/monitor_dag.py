"""The monitor DAG of one spec: one alignment check per data interval.

    pull -> validate -> partitions -> profile_partition[group 0..k] -> drift -> trend -> verdict -> record
                     -> benchmarks ------------------------------------------------^
    record -> request_retrain -> confirm_request
           -> notify   (an incident's first night, an ungated version's first night: the spec's routes)
           -> finish   (fails the run when the batch was quarantined or governance.fail_run_on lists the verdict)

The DAG mirrors :func:`alignment_drift.pipeline.check.run_check` task for
task: each task calls one step of :mod:`alignment_drift.pipeline.steps` and
passes its typed result (:mod:`alignment_drift.pipeline.night`) to the next
through XCom as JSON. A large batch is never read whole by one task:
``partitions`` packs its files into bounded groups, ``profile_partition``
(mapped over them) fits each group's mergeable statistics, and ``drift``
merges them. Every task runs in the pool named by ``ALIGNMENT_DRIFT_POOL``
(default ``default_pool``) with absolute priority weights: the night's tail
(record, finish) before another night's heavy steps.

Nights run concurrently up to ``max_active_runs``; ``trend`` waits for the
previous night's ``trend``, ``verdict`` and ``record``, and ``request_retrain``
for the previous night's ``confirm_request`` (``depends_on_past`` with
``wait_for_downstream``), so history-dependent steps see every earlier night
and a pending request is emitted once.

A spec with ``source.wait`` gets a ``wait_for_batch`` sensor before ``pull``
(rescheduling: it holds no worker slot while a late batch is awaited); a spec
with ``schedule: on_arrival`` is scheduled on its batch-arrived asset and gets
``requeue_nights``. Both are described in :mod:`alignment_drift.airflow.arrival`.

Heavy imports happen inside the task bodies.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, Metadata, dag, get_current_context, task

from alignment_drift.airflow.arrival import BatchArrivalSensor, arrival_asset, requeue_nights
from alignment_drift.airflow.common import (
    LIGHT,
    PRESETS,
    TAIL,
    connect,
    dag_start,
    data_interval,
    retrain_request_asset,
    task_defaults,
)
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["monitor_dag"]

Json = dict[str, Any]
#: A task's argument: the upstream task's result at run time (an ``XComArg`` while the DAG is built).
XCom = Any


def monitor_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """Build the monitor DAG of one spec."""
    asset = retrain_request_asset(spec)

    def settings() -> Settings:
        return Settings.from_env(home)

    # on_arrival: a run per batch-arrived event (the watcher DAG catches up the nights), never on a clock
    schedule: Any = (
        [arrival_asset(spec)]
        if spec.on_arrival
        else CronDataIntervalTimetable(PRESETS.get(spec.schedule, spec.schedule), timezone="UTC")
    )

    @dag(
        dag_id=spec.monitor_dag_id,
        schedule=schedule,
        start_date=dag_start(spec),
        catchup=not spec.on_arrival,
        max_active_runs=4,
        tags=["alignment-drift", spec.model],
        default_args={**task_defaults(), "retries": 2, "retry_delay": dt.timedelta(seconds=30)},
        doc_md=f"Nightly alignment check of **{spec.model}**. {spec.description}",
    )
    def monitor() -> None:
        @task(multiple_outputs=False)
        def pull() -> Json:
            from airflow.sdk.exceptions import AirflowFailException

            from alignment_drift.pipeline.steps.pull import BatchGone, pull_night

            connect()
            start, end = data_interval()
            try:
                return pull_night(spec, settings(), start=start, end=end).to_xcom()
            except BatchGone as error:  # a rerun that cannot redo the night; its record stays (not retried)
                raise AirflowFailException(str(error)) from None

        @task(multiple_outputs=False)
        def validate(pulled: XCom) -> Json:
            from alignment_drift.pipeline.night import Pulled
            from alignment_drift.pipeline.steps.validate import validate

            connect()
            return validate(spec, settings(), Pulled.model_validate(pulled)).to_xcom()

        @task
        def partitions(pulled: XCom, validation: XCom) -> list[Json]:
            from alignment_drift.pipeline.night import Pulled, Validation
            from alignment_drift.pipeline.steps.profile import plan

            connect()
            groups = plan(settings(), Pulled.model_validate(pulled), Validation.model_validate(validation))
            return [g.to_xcom() for g in groups]

        @task(multiple_outputs=False)
        def profile_partition(pulled: XCom, group: XCom) -> Json:
            from alignment_drift.pipeline.night import Group, Pulled
            from alignment_drift.pipeline.steps.profile import profile_group

            connect()
            return profile_group(spec, settings(), Pulled.model_validate(pulled), Group.model_validate(group)).to_xcom()

        @task(multiple_outputs=False)
        def drift(pulled: XCom, validation: XCom, partials: XCom) -> Json:
            from alignment_drift.pipeline.night import Partial, Pulled, Validation
            from alignment_drift.pipeline.steps.drift import drift

            connect()
            parts = [Partial.model_validate(p) for p in partials]
            return drift(
                spec, settings(), Pulled.model_validate(pulled), Validation.model_validate(validation), parts
            ).to_xcom()

        @task(multiple_outputs=False)
        def benchmarks(pulled: XCom, validation: XCom) -> Json:
            from alignment_drift.pipeline.night import Pulled, Validation
            from alignment_drift.pipeline.steps.benchmarks import benchmarks

            connect()
            return benchmarks(
                spec, settings(), Pulled.model_validate(pulled), Validation.model_validate(validation)
            ).to_xcom()

        # Nights may run concurrently (catch-up, backfill), but each night's trend reads the nights before it
        # and its record decides the retrain cooldown: this task waits until the previous night's trend and
        # record have finished, so the tails run in night order and every record equals the one-by-one run.
        @task(multiple_outputs=False, depends_on_past=True, wait_for_downstream=True, priority_weight=LIGHT)
        def trend(pulled: XCom, drift_out: XCom, bench_out: XCom) -> Json:
            from alignment_drift.pipeline.night import BenchmarkResults, DriftResult, Pulled
            from alignment_drift.pipeline.steps.trend import trend

            return trend(
                spec,
                settings(),
                Pulled.model_validate(pulled),
                DriftResult.model_validate(drift_out),
                BenchmarkResults.model_validate(bench_out),
            ).to_xcom()

        @task(multiple_outputs=False, priority_weight=LIGHT)
        def verdict(pulled: XCom, validation: XCom, drift_out: XCom, bench_out: XCom, trend_out: XCom) -> Json:
            from alignment_drift.pipeline.night import BenchmarkResults, DriftResult, Pulled, TrendResult, Validation
            from alignment_drift.pipeline.steps.verdict import decide

            return decide(
                spec,
                Pulled.model_validate(pulled),
                Validation.model_validate(validation),
                DriftResult.model_validate(drift_out),
                BenchmarkResults.model_validate(bench_out),
                TrendResult.model_validate(trend_out),
            ).to_xcom()

        @task(multiple_outputs=False, priority_weight=TAIL)
        def record(check: XCom, drift_out: XCom) -> Json:
            from alignment_drift.pipeline.night import Check, DriftResult
            from alignment_drift.pipeline.steps.record import record

            context = get_current_context()
            return record(
                spec,
                settings(),
                Check.model_validate(check),
                drift=DriftResult.model_validate(drift_out),
                dag_id=context["dag"].dag_id,
                run_id=context["run_id"],
            ).to_xcom()

        # One event carries tonight's request and every request still pending (e.g. made by
        # 'alignment-drift check'); the previous night's confirm_request has run first, so none is sent twice.
        @task(outlets=[asset], priority_weight=TAIL, depends_on_past=True, wait_for_downstream=True)
        def request_retrain(recorded: XCom) -> Any:
            from airflow.sdk.exceptions import AirflowSkipException

            from alignment_drift.pipeline.steps.request import pending_requests, request_event

            _, end = data_interval()
            event = request_event(spec, pending_requests(spec, settings(), until=end.isoformat()))
            if event is None:
                raise AirflowSkipException(recorded["retrain_reason"])
            yield Metadata(asset, extra=event)
            return event

        @task(priority_weight=TAIL)
        def confirm_request(event: XCom) -> list[str]:
            """Runs only once the event exists (its upstream succeeded): the requests are marked emitted."""
            from alignment_drift.pipeline.steps.request import mark_emitted

            context = get_current_context()
            return mark_emitted(settings(), event, via=f"asset_event:{context['dag'].dag_id}/{context['run_id']}")

        # retried on its own: a failed delivery is sent again, the night is never recorded twice
        @task(priority_weight=TAIL, retries=3, retry_delay=dt.timedelta(minutes=1))
        def notify(recorded: XCom, check: XCom) -> list[Json]:
            from alignment_drift.airflow.gate_alerts import notify_ungated
            from alignment_drift.airflow.notify import notify_incident, raise_for_deliveries

            context, where = get_current_context(), settings()
            deliveries = []
            if recorded.get("incident"):
                deliveries += notify_incident(spec, recorded["incident"], check, settings=where, context=context)
            deployment = (recorded.get("policy") or {}).get("deployment")
            deliveries += notify_ungated(
                spec, deployment, settings=where, check_run_id=recorded.get("mlflow_run_id"), context=context
            )
            raise_for_deliveries(deliveries)
            return [d.to_dict() for d in deliveries]

        @task(priority_weight=TAIL)
        def finish(recorded: XCom, validation: XCom) -> str:
            from airflow.sdk.exceptions import AirflowFailException

            from alignment_drift.core.governance import run_should_fail

            if validation["status"] == "quarantined":
                raise AirflowFailException(
                    f"The batch was quarantined ({validation['reason']}); the night is recorded as "
                    f"'quarantined' in MLflow run {recorded['mlflow_run_id']}. Fix the batch and release it."
                )
            incident = ((recorded.get("incident") or {}).get("incident") or {}).get("id")
            message = run_should_fail(
                spec, recorded["verdict"], incident_id=incident, mlflow_run_id=recorded["mlflow_run_id"]
            )
            if message:
                raise AirflowFailException(message)
            return str(recorded["verdict"])

        pulled = pull()
        if spec.source.wait and not spec.on_arrival:  # on_arrival: the watcher DAG has waited
            BatchArrivalSensor(task_id="wait_for_batch", spec=spec, home=home) >> pulled
        if spec.on_arrival:
            requeue_nights(spec)()
        validation = validate(pulled)
        partials = profile_partition.partial(pulled=pulled).expand(group=partitions(pulled, validation))
        drift_out, bench_out = drift(pulled, validation, partials), benchmarks(pulled, validation)
        trend_out = trend(pulled, drift_out, bench_out)
        check = verdict(pulled, validation, drift_out, bench_out, trend_out)
        recorded = record(check, drift_out)
        trend_out >> recorded  # so that wait_for_downstream covers the previous night's record
        confirm_request(request_retrain(recorded))
        notify(recorded, check)
        finish(recorded, validation)

    return monitor()
