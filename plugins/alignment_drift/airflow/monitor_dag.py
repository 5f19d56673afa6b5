"""The monitor DAG of one spec: one alignment check per data interval.

    pull -> validate -> partitions -> profile_partition[group 0..k] -> drift -> trend -> verdict -> record
                     -> benchmarks ------------------------------------------------^              -> request_retrain
                                                                                                  -> finish

A large batch is never read whole by one task: ``partitions`` packs its files
into bounded groups, ``profile_partition`` (mapped over them) fits each group's
mergeable statistics and writes them to a small file, and ``drift`` merges them
(see :mod:`alignment_drift.pipeline.partitions`). Every task runs in the pool
named by ``ALIGNMENT_DRIFT_POOL`` (default ``default_pool``) with absolute
priority weights: the night's tail (record, finish) before another night's heavy steps.

Nights run concurrently up to ``max_active_runs``; ``trend`` waits for the
previous night's ``trend``, ``verdict`` and ``record`` (``depends_on_past`` with
``wait_for_downstream``), so history-dependent steps see every earlier night.

Task bodies call :mod:`alignment_drift.pipeline`; heavy imports happen inside them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, Metadata, dag, get_current_context, task

from alignment_drift.airflow.common import (
    LIGHT,
    PRESETS,
    TAIL,
    dag_start,
    data_interval,
    pipeline,
    retrain_request_asset,
    task_defaults,
)
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["monitor_dag"]


def monitor_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """Build the monitor DAG of one spec."""
    asset = retrain_request_asset(spec.model)

    def settings() -> Settings:
        return Settings.from_env(home)

    @dag(
        dag_id=spec.monitor_dag_id,
        schedule=CronDataIntervalTimetable(PRESETS.get(spec.schedule, spec.schedule), timezone="UTC"),
        start_date=dag_start(spec),
        catchup=True,
        max_active_runs=4,
        tags=["alignment-drift", spec.model],
        default_args={**task_defaults(), "retries": 2, "retry_delay": dt.timedelta(seconds=30)},
        doc_md=f"Nightly alignment check of **{spec.model}**. {spec.description}",
    )
    def monitor() -> None:
        @task
        def pull() -> dict[str, Any]:
            steps = pipeline("ingest")

            start, end = data_interval()
            return steps.pull(spec, settings(), start=start, end=end)

        @task
        def validate(pulled: dict[str, Any]) -> dict[str, Any]:
            steps = pipeline("ingest")

            return steps.validate(spec, settings(), pulled)

        @task
        def partitions(pulled: dict[str, Any], validation: dict[str, Any]) -> list[dict[str, Any]]:
            steps = pipeline("partitions")

            skipped = [{"index": 0, "files": [], "skip": True}]  # an empty map would skip drift and the tail
            if validation["status"] != "valid":
                return skipped
            return steps.plan_groups(pulled) or skipped

        @task
        def profile_partition(pulled: dict[str, Any], group: dict[str, Any]) -> dict[str, Any]:
            steps = pipeline("partitions")

            return steps.profile_group(spec, settings(), pulled, group)

        @task
        def drift(pulled: dict[str, Any], validation: dict[str, Any], partials: Any) -> dict[str, Any]:
            steps = pipeline("monitor")

            return steps.drift(spec, settings(), pulled, validation, partials=list(partials))

        @task
        def benchmarks(pulled: dict[str, Any], validation: dict[str, Any]) -> dict[str, Any]:
            steps = pipeline("monitor")

            return steps.benchmarks(spec, settings(), pulled, validation)

        # Nights may run concurrently (catch-up, backfill), but each night's trend reads the nights before it
        # and its record decides the retrain cooldown: this task waits until the previous night's trend and
        # record have finished, so the tails run in night order and every record equals the one-by-one run.
        @task(depends_on_past=True, wait_for_downstream=True, priority_weight=LIGHT)
        def trend(pulled: dict[str, Any], drift_out: dict[str, Any], bench_out: dict[str, Any]) -> dict[str, Any]:
            steps = pipeline("trends")

            return steps.trends(spec, settings(), pulled, drift_out, bench_out)

        @task(priority_weight=LIGHT)
        def verdict(
            pulled: dict[str, Any],
            validation: dict[str, Any],
            drift_out: dict[str, Any],
            bench_out: dict[str, Any],
            trend_out: dict[str, Any],
        ) -> dict[str, Any]:
            steps = pipeline("monitor")

            return steps.decide(spec, pulled, validation, drift_out, bench_out, trend_out)

        @task(priority_weight=TAIL)
        def record(check: dict[str, Any]) -> dict[str, Any]:
            steps = pipeline("monitor")

            context = get_current_context()
            return steps.record(spec, settings(), check, dag_id=context["dag"].dag_id, run_id=context["run_id"])

        @task(outlets=[asset], priority_weight=TAIL)
        def request_retrain(recorded: dict[str, Any], check: dict[str, Any]):  # type: ignore[no-untyped-def]
            from airflow.sdk.exceptions import AirflowSkipException

            if not recorded["retrain_due"]:
                raise AirflowSkipException(recorded["retrain_reason"])
            yield Metadata(
                asset,
                extra={
                    "model": spec.model,
                    "verdict": check["verdict"],
                    "reason": recorded["retrain_reason"],
                    "data_interval_start": check["data_interval"]["start"],
                    "data_interval_end": check["data_interval"]["end"],
                    "mlflow_run_id": recorded["mlflow_run_id"],
                },
            )

        @task(priority_weight=TAIL)
        def finish(recorded: dict[str, Any], validation: dict[str, Any]) -> str:
            from airflow.sdk.exceptions import AirflowFailException

            if validation["status"] == "quarantined":
                raise AirflowFailException(
                    f"The batch was quarantined ({validation['reason']}); the night is recorded as "
                    f"'quarantined' in MLflow run {recorded['mlflow_run_id']}. Fix the batch and release it."
                )
            return recorded["verdict"]

        pulled = pull()
        validation = validate(pulled)
        partials = profile_partition.partial(pulled=pulled).expand(group=partitions(pulled, validation))
        drift_out, bench_out = drift(pulled, validation, partials), benchmarks(pulled, validation)
        trend_out = trend(pulled, drift_out, bench_out)
        check = verdict(pulled, validation, drift_out, bench_out, trend_out)
        recorded = record(check)
        trend_out >> recorded  # so that wait_for_downstream covers the previous night's record
        request_retrain(recorded, check)
        finish(recorded, validation)

    return monitor()
