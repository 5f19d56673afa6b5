"""The labels DAG of a spec with late labels: one run per arrival interval.

    apply -> request_retrain (asset event, only when an updated night newly asks) -> confirm_request
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
    connect,
    dag_start,
    data_interval,
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
    asset = retrain_request_asset(spec)

    @dag(
        dag_id=f"alignment_labels__{spec.model}",
        schedule=CronDataIntervalTimetable(PRESETS.get(spec.night_schedule, spec.night_schedule), timezone="UTC"),
        start_date=dag_start(spec),
        catchup=True,
        max_active_runs=1,
        tags=["alignment-drift", spec.model],
        default_args={**task_defaults(), "retries": 2, "retry_delay": dt.timedelta(seconds=30)},
        doc_md=f"Late labels of **{spec.model}**: joins each arrival to the nights it labels and updates their "
        f"records (labels arrive up to {spec.labels.max_delay_days} days late).",
    )
    def labels() -> None:
        @task(multiple_outputs=False)
        def apply() -> dict[str, Any]:
            from alignment_drift.pipeline import labels as steps

            connect()

            start, end = data_interval()
            return steps.apply(spec, Settings.from_env(home), start=start, end=end)

        # the updated nights' requests (recorded pending) and any other pending one, in one event
        @task(outlets=[asset])
        def request_retrain(applied: Any) -> Any:
            from airflow.sdk.exceptions import AirflowSkipException

            from alignment_drift.pipeline.steps.request import pending_requests, request_event

            night = applied.get("retrain")
            if not night:
                raise AirflowSkipException("no night updated by these labels newly requests retraining")
            event = request_event(spec, pending_requests(spec, Settings.from_env(home)))
            if event is None:
                raise AirflowSkipException("the requests of the updated nights were already emitted")
            yield Metadata(asset, extra={**event, "trigger": "late_labels"})
            return event

        @task
        def confirm_request(event: Any) -> list[str]:
            """Runs only once the event exists: the requests it carried are marked emitted."""
            from airflow.sdk import get_current_context

            from alignment_drift.pipeline.steps.request import mark_emitted

            context = get_current_context()
            via = f"asset_event:{context['dag'].dag_id}/{context['run_id']}"
            return mark_emitted(Settings.from_env(home), event, via=via)

        @task
        def finish(applied: Any) -> str:
            from airflow.sdk.exceptions import AirflowFailException

            if applied["status"] == "quarantined":
                where = (applied.get("quarantine") or {}).get("path", "nowhere: nothing readable was found")
                raise AirflowFailException(
                    f"The labels batch was quarantined ({applied['reason']}); kept in {where}. "
                    "Fix the batch and clear this run."
                )
            return f"{applied['status']}: {len(applied['nights'])} night(s) updated"

        applied = apply()
        confirm_request(request_retrain(applied))
        finish(applied)

    return labels()
