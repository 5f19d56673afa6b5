"""Pending approvals: retrain runs waiting at the approval step, from Airflow's metadata and from MLflow.

The retrain DAG's ``approve`` task is Airflow's ``HITLOperator``: while it
waits for a human its task instance is deferred and its ``hitl_detail`` row
has no response. MLflow records the same wait on the retrain run (tag
``approval = pending``). The page shows both sides merged on the Airflow
DAG run, so a run whose approval task is gone (cleared, failed) is visible
as such instead of waiting forever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from alignment_drift.integrations.overview import PendingApproval

__all__ = ["ApprovalRow", "WaitingApproval", "merge_approvals", "waiting_approvals"]

RETRAIN_PREFIX = "alignment_retrain__"


@dataclass(frozen=True)
class WaitingApproval:
    """A human-in-the-loop task instance of a retrain DAG without a response yet."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    subject: str
    requested_at: str | None
    decide_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ApprovalRow:
    """One pending approval as the page shows it.

    ``state`` is ``waiting`` (Airflow waits and MLflow records it),
    ``not_waiting`` (MLflow says pending but no approval task waits in
    Airflow), ``airflow_only`` (Airflow waits, MLflow has no record yet),
    ``review`` (a serving version held for a deployment review: decided with
    ``alignment-drift review``, no Airflow task) or ``unknown`` (Airflow's
    metadata could not be read).
    """

    model: str
    state: Literal["waiting", "not_waiting", "airflow_only", "review", "unknown"]
    dag_id: str | None
    run_id: str | None
    task_id: str | None
    challenger_version: str | None
    champion_version: str | None
    reason: str
    since: str | None
    decide_by: str | None
    mlflow_run_id: str | None
    mlflow_run_url: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def waiting_approvals(dag_ids: Collection[str], *, session: Any = None) -> list[WaitingApproval]:
    """Task instances of ``dag_ids`` deferred on a human-in-the-loop request without a response.

    Parameters
    ----------
    dag_ids : collection of str
        The retrain DAGs to look at.
    session : sqlalchemy.orm.Session, optional
        A metadata DB session; a new one when omitted.
    """
    if not dag_ids:
        return []
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    query = (
        select(
            TaskInstance.dag_id,
            TaskInstance.run_id,
            TaskInstance.task_id,
            TaskInstance.map_index,
            TaskInstance.trigger_timeout,
            HITLDetail.subject,
            HITLDetail.created_at,
        )
        .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
        .where(
            TaskInstance.dag_id.in_(sorted(dag_ids)),
            TaskInstance.state == TaskInstanceState.DEFERRED,
            HITLDetail.responded_at.is_(None),
        )
        .order_by(HITLDetail.created_at)
    )

    def read(db: Any) -> list[WaitingApproval]:
        return [
            WaitingApproval(
                dag_id=row.dag_id,
                run_id=row.run_id,
                task_id=row.task_id,
                map_index=row.map_index,
                subject=row.subject,
                requested_at=_iso(row.created_at),
                decide_by=_iso(row.trigger_timeout),
            )
            for row in db.execute(query)
        ]

    if session is not None:
        return read(session)
    with create_session() as db:
        return read(db)


def merge_approvals(pending: Iterable[PendingApproval], waiting: Iterable[WaitingApproval] | None) -> list[ApprovalRow]:
    """MLflow's pending retrain runs and Airflow's waiting approval tasks, merged on (DAG id, run id).

    ``waiting`` is ``None`` when Airflow's metadata could not be read: every
    MLflow row is then ``unknown``.
    """
    by_run: dict[tuple[str | None, str | None], WaitingApproval] = {(w.dag_id, w.run_id): w for w in waiting or []}
    rows = []
    for p in pending:
        found = by_run.pop((p.airflow_dag_id, p.airflow_run_id), None)
        state: Literal["waiting", "not_waiting", "review", "unknown"]
        state = "unknown" if waiting is None else "waiting" if found else "not_waiting"
        if p.kind == "deployment_review":
            state = "review"
        rows.append(
            ApprovalRow(
                model=p.model,
                state=state,
                dag_id=p.airflow_dag_id,
                run_id=p.airflow_run_id,
                task_id=None if found is None else found.task_id,
                challenger_version=p.challenger_version,
                champion_version=p.champion_version,
                reason=p.reason,
                since=found.requested_at if found else p.started_at,
                decide_by=None if found is None else found.decide_by,
                mlflow_run_id=p.mlflow_run_id,
                mlflow_run_url=p.mlflow_run_url,
            )
        )
    for w in by_run.values():
        rows.append(
            ApprovalRow(
                model=w.dag_id.removeprefix(RETRAIN_PREFIX),
                state="airflow_only",
                dag_id=w.dag_id,
                run_id=w.run_id,
                task_id=w.task_id,
                challenger_version=None,
                champion_version=None,
                reason=w.subject,
                since=w.requested_at,
                decide_by=w.decide_by,
                mlflow_run_id=None,
                mlflow_run_url=None,
            )
        )
    return sorted(rows, key=lambda r: (r.model, r.since or ""))
