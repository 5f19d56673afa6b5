"""The retrain DAG of a spec with ``retraining.mode: external``: gate what the owner's training DAG registered.

``alignment_retrain__<model>`` is then scheduled on the asset
``alignment_drift.<model>.challenger_registered`` (which the owner's DAG
emits after registering a version with alias ``challenger``), and by hand::

    request -> collect_challenger -> gate -> decide [-> needs_approval -> approve -> apply_approval]
                                              decide -> notify_gate_rejected

It never trains. The contract is in :mod:`alignment_drift.pipeline.external`
and docs/byom.md; ``dags/examples/owner_training.py`` is a runnable owner's DAG.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, dag, get_current_context, task

from alignment_drift.airflow.common import dag_start, task_defaults
from alignment_drift.airflow.retrain_dag import _approval_tasks, _gate_alert_task, _request
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["challenger_registered_asset", "external_retrain_dag"]


def challenger_registered_asset(model: str) -> Asset:
    """The asset the owner's training DAG emits once it registered a challenger (``extra``: version, request)."""
    return Asset(
        name=f"alignment_drift.{model}.challenger_registered", uri=f"alignment-drift://{model}/challenger-registered"
    )


def external_retrain_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """Build the retrain DAG of an external-training spec (see the module docstring)."""
    asset = challenger_registered_asset(spec.model)

    def settings() -> Settings:
        return Settings.from_env(home)

    @dag(
        dag_id=spec.retrain_dag_id,
        schedule=[asset],
        start_date=dag_start(spec),
        catchup=False,
        max_active_runs=1,
        tags=["alignment-drift", spec.model, "external-training"],
        default_args={**task_defaults(), "retries": 2, "retry_delay": dt.timedelta(seconds=30)},
        params={"reason": Param("manual", type="string", description="Why this challenger is gated (recorded).")},
        doc_md=f"Gates the challenger of **{spec.model}** that the owner's own training DAG registered "
        f"(asset `{asset.name}`); never trains.",
    )
    def retrain() -> None:
        @task(multiple_outputs=False)
        def request() -> dict[str, Any]:
            context = get_current_context()
            req = _request(context)
            req["key"] = f"{spec.model}/{context['run_id']}"
            req["dag_id"], req["run_id"] = context["dag"].dag_id, context["run_id"]
            return req

        @task(multiple_outputs=False)
        def collect_challenger(req: dict[str, Any]) -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowFailException

            import alignment_drift.airflow.connections  # noqa: F401  registers the conn_id resolver
            from alignment_drift.pipeline import external as steps

            tags = {"airflow_dag_id": req["dag_id"], "airflow_run_id": req["run_id"]}
            try:
                return steps.collect_challenger(spec, settings(), req, key=req["key"], tags=tags)
            except steps.ExternalChallengerError as error:
                raise AirflowFailException(str(error)) from None

        @task(multiple_outputs=False)
        def gate(trained: dict[str, Any]) -> dict[str, Any]:
            import alignment_drift.airflow.connections  # noqa: F401
            from alignment_drift.pipeline import retrain as steps

            return steps.gate(spec, settings(), trained)

        @task(multiple_outputs=False)
        def decide(trained: dict[str, Any], gated: dict[str, Any]) -> dict[str, Any]:
            import alignment_drift.airflow.connections  # noqa: F401
            from alignment_drift.pipeline import retrain as steps

            return steps.decide_promotion(spec, settings(), trained, gated)

        trained = collect_challenger(request())  # type: ignore[arg-type]  # XComArgs, resolved at run time
        decided = decide(trained, gate(trained))  # type: ignore[arg-type]
        _gate_alert_task(spec, settings, trained, decided)
        if spec.governance.approval == "required":
            _approval_tasks(spec, settings, trained, decided)

    return retrain()
