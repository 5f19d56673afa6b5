"""The labels DAG of a spec with late labels: one run per arrival interval.

    apply -> request_retrain (asset event, only when an updated night newly asks)
          -> finish (fails when the labels batch was quarantined)

``apply`` joins the arrival's labels to the recorded nights they label,
re-evaluates their label-dependent benchmarks and updates those nights' MLflow
runs in place (see :mod:`alignment_drift.pipeline.labels`). Runs are serial
(``max_active_runs=1``): an arrival is applied after the earlier ones.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, Metadata, dag, task

from alignment_drift.airflow.common import (
    PRESETS,
    dag_start,
    data_interval,
    pipeline,
    retrain_request_asset,
    task_defaults,
)
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["labels_dag"]


def labels_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """Build the labels DAG of one spec (``alignment_labels__<model>``); the spec must have a ``labels`` section."""
    if spec.labels is None:
        raise ValueError(f"The spec of {spec.model!r} has no labels section: it has no labels DAG.")
    asset = retrain_request_asset(spec.model)

    @dag(
        dag_id=f"alignment_labels__{spec.model}",
        schedule=CronDataIntervalTimetable(PRESETS.get(spec.schedule, spec.schedule), timezone="UTC"),
        start_date=dag_start(spec),
        catchup=True,
        max_active_runs=1,
        tags=["alignment-drift", spec.model],
        default_args={**task_defaults(), "retries": 2, "retry_delay": dt.timedelta(seconds=30)},
        doc_md=f"Late labels of **{spec.model}**: joins each arrival to the nights it labels and updates their "
        f"records (labels arrive up to {spec.labels.max_delay_days} days late).",
    )
    def labels() -> None:
        @task
        def apply() -> dict[str, Any]:
            steps = pipeline("labels")

            start, end = data_interval()
            return steps.apply(spec, Settings.from_env(home), start=start, end=end)

        @task(outlets=[asset])
        def request_retrain(applied: dict[str, Any]):  # type: ignore[no-untyped-def]
            from airflow.sdk.exceptions import AirflowSkipException

            night = applied.get("retrain")
            if not night:
                raise AirflowSkipException("no night updated by these labels newly requests retraining")
            yield Metadata(
                asset,
                extra={
                    "model": spec.model,
                    "verdict": night["verdict"],
                    "reason": night["retrain_reason"],
                    "data_interval_start": night["data_interval"]["start"],
                    "data_interval_end": night["data_interval"]["end"],
                    "mlflow_run_id": night["run_id"],
                    "trigger": "late_labels",
                },
            )

        @task
        def finish(applied: dict[str, Any]) -> str:
            from airflow.sdk.exceptions import AirflowFailException

            if applied["status"] == "quarantined":
                where = (applied.get("quarantine") or {}).get("path", "nowhere: nothing readable was found")
                raise AirflowFailException(
                    f"The labels batch was quarantined ({applied['reason']}); kept in {where}. "
                    "Fix the batch and clear this run."
                )
            return f"{applied['status']}: {len(applied['nights'])} night(s) updated"

        applied = apply()
        request_retrain(applied)
        finish(applied)

    return labels()
