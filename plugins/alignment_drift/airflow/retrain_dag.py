"""The retrain and rollback DAGs of one spec: gated promotion, and the way back.

``alignment_retrain__<model>`` (on the model's retrain-request asset, on
``retraining.schedule`` when set, or by hand with a reason)::

    request -> assemble -> train -> gate -> decide [-> needs_approval -> approve -> apply_approval]
                                           decide -> notify_gate_rejected

The gate decides ``promote``, ``reject`` or ``insufficient_evidence``;
``decide`` promotes only on ``promote`` and records the other two (an
``insufficient_evidence`` challenger is not promoted and says so, with the
audit size that would resolve it). ``notify_gate_rejected`` tells the spec's
``gate_rejected`` routes of a refused challenger, once per version and route.

``alignment_rollback__<model>`` (by hand, with a reason) restores the previous
champion, or ``to_version``; a version that never passed the gate or was
misaligned on its last check is refused unless ``force`` (warned, recorded).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, dag, get_current_context, task

from alignment_drift.airflow.common import PRESETS, connect, dag_start, retrain_request_asset, task_defaults
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["retrain_dag", "rollback_dag"]


def _request(context: Any) -> dict[str, Any]:
    """The retrain request: from the triggering asset events, else the run's conf (manual), else the schedule.

    Asset events that arrived since the last retrain run are coalesced into
    this one: the newest event's ``extra`` is the request, ``coalesced_events``
    counts them, ``requested_by_check_run`` is the newest event's check run and
    ``related_runs`` lists every event's check run (newest last).
    """
    events = context.get("triggering_asset_events") or {}
    for asset_events in events.values():
        if asset_events:
            latest = asset_events[-1]
            extra = dict(latest.extra or {})
            extra.setdefault("reason", "retrain requested")
            extra["coalesced_events"] = len(asset_events)
            extra["trigger"] = "asset"
            extra["requested_by_check_run"] = extra.get("mlflow_run_id") or ""
            runs = [
                str((e.extra or {}).get("mlflow_run_id")) for e in asset_events if (e.extra or {}).get("mlflow_run_id")
            ]
            extra["related_runs"] = ",".join(dict.fromkeys(runs))
            return extra
    params = dict(context.get("params") or {})
    dag_run = context.get("dag_run")
    conf = dict(getattr(dag_run, "conf", None) or {})
    scheduled = str(getattr(dag_run, "run_type", "")).endswith("scheduled") and not conf
    return {
        "reason": conf.get("reason") or ("scheduled retrain" if scheduled else params.get("reason") or "manual"),
        "data_interval_end": conf.get("as_of") or params.get("as_of") or None,
        "verdict": conf.get("verdict"),
        "asset_event_id": conf.get("asset_event_id"),
        "coalesced_events": 0,
        "trigger": "schedule" if scheduled else "manual",
        "requested_by_check_run": conf.get("check_run_id") or "",
        "related_runs": conf.get("check_run_id") or "",
    }


def _retrain_schedule(spec: AlignmentSpec, asset: Asset) -> Any:
    """The retrain-request asset, or (``retraining.schedule``) the asset or a periodic cron, whichever comes first."""
    if not spec.retraining.schedule:
        return [asset]
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    cron = PRESETS.get(spec.retraining.schedule, spec.retraining.schedule)
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=[asset])


def retrain_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """Build the retrain DAG of one spec.

    ``request -> assemble -> train -> gate -> decide``; with
    ``governance.approval: required`` also ``-> needs_approval -> approve ->
    apply_approval``: ``approve`` is Airflow's human-in-the-loop operator
    (options Approve/Reject, a comment, default Reject after
    ``governance.approval_timeout_hours``), and ``needs_approval`` skips it when
    the gate did not say ``promote`` (rejected or insufficient evidence).
    """
    asset = retrain_request_asset(spec)

    def settings() -> Settings:
        return Settings.from_env(home)

    @dag(
        dag_id=spec.retrain_dag_id,
        schedule=_retrain_schedule(spec, asset),
        start_date=dag_start(spec),
        catchup=False,
        max_active_runs=1,
        tags=["alignment-drift", spec.model],
        default_args={**task_defaults(), "retries": 2, "retry_delay": dt.timedelta(seconds=30)},
        params={
            "reason": Param("manual", type="string", description="Why this retrain is run (recorded)."),
            "as_of": Param(
                None, type=["null", "string"], description="ISO time the training window ends at; default now."
            ),
        },
        doc_md=f"Gated retraining of **{spec.model}**: trains on the target label, "
        "promotes only an at-least-as-aligned challenger.",
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
        def assemble(req: dict[str, Any]) -> dict[str, Any]:
            from alignment_drift.pipeline import retrain as steps

            connect()

            end = req.get("data_interval_end")
            as_of = dt.datetime.fromisoformat(end) if end else dt.datetime.now(dt.UTC)
            return steps.assemble(spec, settings(), as_of=as_of, key=req["key"])

        @task(multiple_outputs=False)
        def train(req: dict[str, Any], assembled: dict[str, Any]) -> dict[str, Any]:
            from alignment_drift.pipeline import retrain as steps

            connect()

            tags = {
                "airflow_dag_id": req["dag_id"],
                "airflow_run_id": req["run_id"],
                "trigger": str(req.get("trigger", "")),
                "trigger_verdict": str(req.get("verdict")),
                "trigger_night": str(req.get("data_interval_start") or ""),  # the requesting night (its run's name)
                "coalesced_events": str(req.get("coalesced_events", 0)),
                "requested_by_check_run": str(req.get("requested_by_check_run") or ""),
                "related_runs": str(req.get("related_runs") or ""),
            }
            from airflow.sdk.exceptions import AirflowFailException

            from alignment_drift.core.entrypoint import EntrypointError

            try:
                return steps.train(spec, settings(), assembled, key=req["key"], reason=req["reason"], tags=tags)
            except EntrypointError as error:  # the owner's training code: retrying cannot fix it
                raise AirflowFailException(str(error)) from None

        @task(multiple_outputs=False)
        def gate(trained: dict[str, Any]) -> dict[str, Any]:
            from alignment_drift.pipeline import retrain as steps

            connect()

            return steps.gate(spec, settings(), trained)

        @task(multiple_outputs=False)
        def decide(trained: dict[str, Any], gated: dict[str, Any]) -> dict[str, Any]:
            from alignment_drift.pipeline import retrain as steps

            connect()

            return steps.decide_promotion(spec, settings(), trained, gated)

        # Airflow types a @task call with the function's own parameters, but at DAG-build time the arguments
        # are XComArgs, resolved to those values when the task runs: the stub, not the call, is wrong here.
        req = request()
        trained = train(req, assemble(req))  # type: ignore[arg-type]
        decided = decide(trained, gate(trained))  # type: ignore[arg-type]
        _gate_alert_task(spec, settings, trained, decided)
        if spec.governance.approval == "required":
            _approval_tasks(spec, settings, trained, decided)

    return retrain()


def _gate_alert_task(spec: AlignmentSpec, settings: Any, trained: Any, decided: Any) -> None:
    """notify_gate_rejected: the spec's ``gate_rejected`` routes hear of a refused challenger (retried on its own)."""

    @task(retries=3, retry_delay=dt.timedelta(minutes=1))
    def notify_gate_rejected(trained_out: dict[str, Any], decision: dict[str, Any]) -> list[dict[str, Any]]:
        from alignment_drift.airflow.gate_alerts import notify_gate_rejected
        from alignment_drift.airflow.notify import raise_for_deliveries

        deliveries = notify_gate_rejected(
            spec,
            decision,
            settings=settings(),
            retrain_run_id=trained_out.get("mlflow_run_id"),
            context=get_current_context(),
        )
        raise_for_deliveries(deliveries)
        return [d.to_dict() for d in deliveries]

    notify_gate_rejected(trained, decided)


def _approval_tasks(spec: AlignmentSpec, settings: Any, trained: Any, decided: Any) -> None:
    """needs_approval (short-circuit) -> approve (human in the loop) -> apply_approval."""
    from airflow.providers.standard.operators.hitl import HITLOperator

    @task.short_circuit
    def needs_approval(decision: dict[str, Any]) -> bool:
        return decision["decision"] == "awaiting_approval"

    approve = HITLOperator(
        task_id="approve",
        subject=f"Promote the {spec.model} challenger?",
        body="The challenger passed the gate (shown non-inferior to the last gated version and the champion). "
        "Compare them (retrain run, gate/comparison_table.json) and approve or reject it. Without a decision within "
        f"{spec.governance.approval_timeout_hours:g} h it is rejected.",
        options=["Approve", "Reject"],
        defaults=["Reject"],
        params={"comment": Param("", type="string", description="Why (recorded on the version and the run).")},
        response_timeout=dt.timedelta(hours=spec.governance.approval_timeout_hours),
        retries=0,
    )

    @task(multiple_outputs=False)
    def apply_approval(trained_out: dict[str, Any], decision: dict[str, Any], response: Any) -> dict[str, Any]:
        from alignment_drift.pipeline import retrain as steps

        connect()

        return steps.apply_approval(
            spec, settings(), decision, dict(response or {}), run_id=trained_out["mlflow_run_id"]
        )

    gatekeeper = needs_approval(decided)
    gatekeeper >> approve
    apply_approval(trained, decided, approve.output)


def rollback_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """Build the rollback DAG of one spec: triggered by hand with a reason; restores the previous champion.

    Params: ``reason`` (required), ``to_version`` (default: alias ``previous``)
    and ``force`` (restore a version that is not safe: never gated, or
    misaligned on its last check; warned and recorded). An unsafe version
    without ``force`` fails the task without retries, naming the last safe version.
    """

    @dag(
        dag_id=f"alignment_rollback__{spec.model}",
        schedule=None,
        start_date=dag_start(spec),
        catchup=False,
        max_active_runs=1,
        tags=["alignment-drift", spec.model],
        default_args=task_defaults(),
        params={
            "reason": Param(type="string", minLength=1, description="Why the champion is rolled back."),
            "to_version": Param(
                None, type=["null", "string"], description="The version to restore; default alias 'previous'."
            ),
            "force": Param(
                False, type="boolean", description="Restore it even if it never passed the gate or was misaligned."
            ),
        },
        doc_md=f"Restore the previous champion of **{spec.model}** (alias `previous`), recording why. "
        "A version that never passed the gate or was misaligned on its last check is refused unless `force`.",
    )
    def rollback() -> None:
        @task(multiple_outputs=False)
        def restore() -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowFailException

            from alignment_drift.integrations.mlflow.rollback import UnsafeRollback
            from alignment_drift.integrations.mlflow.rollback import rollback as do_rollback

            context = get_current_context()
            params = context.get("params") or {}
            reason = str(params.get("reason") or "")
            ids = {"airflow_dag_id": context["dag"].dag_id, "airflow_run_id": context["run_id"]}
            try:
                done = do_rollback(
                    Settings.from_env(home),
                    spec.model,
                    reason=reason,
                    actor=f"airflow:{context['run_id']}",
                    tags=ids,
                    to_version=params.get("to_version") or None,
                    force=bool(params.get("force")),
                )
            except UnsafeRollback as error:
                raise AirflowFailException(str(error)) from None
            return done.to_dict()

        restore()

    return rollback()
