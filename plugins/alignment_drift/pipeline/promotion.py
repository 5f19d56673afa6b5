"""After the gate: promote, reject or wait for a human; record the decision on the version and the retrain run.

``governance.approval: automatic`` promotes a challenger that passed the gate
at once. ``required`` leaves it ``approval: pending`` (alias ``challenger``)
until a human decides (the retrain DAG's ``approve`` task, Airflow's
human-in-the-loop operator); no decision within
``governance.approval_timeout_hours`` rejects it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["apply_approval", "comparison_table", "decide_promotion"]


def comparison_table(gated: dict[str, Any]) -> pd.DataFrame:
    """The gate's side-by-side comparison, one row per benchmark (what ``gate/comparison_table.json`` holds)."""
    columns = [
        "benchmark",
        "metric",
        "challenger",
        "champion",
        "delta",
        "ci_low",
        "ci_high",
        "floor",
        "floor_status",
        "decision",
        "why",
    ]
    frame = pd.DataFrame(gated["comparison"], columns=columns)
    frame.insert(0, "challenger_version", gated["challenger_version"])
    frame.insert(1, "champion_version", gated["champion_version"] or "")
    return frame


def decide_promotion(
    spec: AlignmentSpec, settings: Settings, trained: dict[str, Any], gated: dict[str, Any]
) -> dict[str, Any]:
    """Promote the challenger when the gate passed (and approval allows), else reject it; record the decision.

    The comparison is logged on the retrain run as ``gate/comparison.json``,
    as the MLflow table ``gate/comparison_table.json`` and as metrics
    ``gate.<benchmark>.{challenger,champion,delta,ci_low,ci_high,passed}``.

    Returns
    -------
    dict
        ``decision`` (``promoted``, ``rejected`` or ``awaiting_approval``),
        ``version``, ``previous_champion``, ``reasons``.
    """
    from mlflow.entities import Metric, RunTag

    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client

    version = trained["version"]
    previous = gated["champion_version"]
    if not gated["passed"]:
        decision = "rejected"
        registry.set_version_tags(
            settings, spec.model, version, {"gate": "rejected", "gate_reasons": "; ".join(gated["reasons"])[:5000]}
        )
    elif spec.governance.approval == "required":
        decision = "awaiting_approval"
        registry.set_version_tags(settings, spec.model, version, {"gate": "passed", "approval": "pending"})
    else:
        decision = "promoted"
        registry.set_version_tags(settings, spec.model, version, {"gate": "passed", "approval": "automatic"})
        previous = registry.promote(settings, spec.model, version, reason=f"gate passed against champion {previous}")
    mlflow_client = client(settings)
    run_id = trained["mlflow_run_id"]
    mlflow_client.log_dict(run_id, gated, "gate/comparison.json")
    mlflow_client.log_table(run_id, data=comparison_table(gated), artifact_file="gate/comparison_table.json")
    metrics = [Metric("gate.passed", 1.0 if gated["passed"] else 0.0, 0, 0)]
    for row in gated["comparison"]:
        for field in ("challenger", "champion", "delta", "ci_low", "ci_high"):
            if row.get(field) is not None:
                metrics.append(Metric(f"gate.{row['benchmark']}.{field}", float(row[field]), 0, 0))
        metrics.append(Metric(f"gate.{row['benchmark']}.passed", 1.0 if row["decision"] == "pass" else 0.0, 0, 0))
    tags = {
        "gate_decision": decision,
        "gate_passed": "true" if gated["passed"] else "false",
        "challenger_version": version,
        "champion_version": gated["champion_version"] or "",
        "approval": {"promoted": "automatic", "awaiting_approval": "pending"}.get(decision, "not_asked"),
    }
    mlflow_client.log_batch(run_id, metrics=metrics, tags=[RunTag(k, v) for k, v in tags.items()])
    mlflow_client.set_terminated(run_id, "FINISHED")
    return {"decision": decision, "version": version, "previous_champion": previous, "reasons": gated["reasons"]}


def apply_approval(
    spec: AlignmentSpec, settings: Settings, decided: dict[str, Any], response: dict[str, Any] | None, *, run_id: str
) -> dict[str, Any]:
    """Apply a human decision on a challenger that passed the gate (``governance.approval: required``).

    Parameters
    ----------
    decided : dict
        What :func:`decide_promotion` returned (``decision`` ``awaiting_approval``).
    response : dict or None
        The human-in-the-loop result: ``chosen_options`` (``["Approve"]`` or
        ``["Reject"]``), ``params_input`` (``{"comment": ...}``),
        ``responded_by_user`` (``{"id", "name"}``, None when the timeout chose the
        default) and ``responded_at``. None (no response at all) rejects.
    run_id : str
        The retrain run, tagged with the decision.

    Returns
    -------
    dict
        ``decision`` (``promoted`` or ``rejected``), ``approval`` (``approved``,
        ``rejected`` or ``timed_out``), ``decided_by``, ``why``, ``version``,
        ``previous_champion``.
    """
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client

    version = decided["version"]
    if decided["decision"] != "awaiting_approval":
        return {**decided, "approval": "not_asked", "decided_by": "", "why": ""}
    response = response or {}
    chosen = list(response.get("chosen_options") or ["Reject"])
    user = response.get("responded_by_user") or {}
    decided_by = str(user.get("name") or user.get("id") or "")
    why = str((response.get("params_input") or {}).get("comment") or "")
    if not decided_by:
        approval, decided_by = "timed_out", "timeout"
        why = why or f"no decision within governance.approval_timeout_hours={spec.governance.approval_timeout_hours}"
    else:
        approval = "approved" if chosen == ["Approve"] else "rejected"
    tags = {
        "approval": approval,
        "approved_by" if approval == "approved" else "decided_by": decided_by,
        "approval_reason": why[:5000],
        "approval_at": str(response.get("responded_at") or ""),
    }
    registry.set_version_tags(settings, spec.model, version, tags)
    previous = decided["previous_champion"]
    if approval == "approved":
        decision = "promoted"
        previous = registry.promote(settings, spec.model, version, reason=f"approved by {decided_by}: {why}"[:5000])
    else:
        decision = "rejected"
        registry.drop_alias(settings, spec.model, "challenger")
    mlflow_client = client(settings)
    for key, value in {**tags, "gate_decision": decision, "decided_by": decided_by}.items():
        mlflow_client.set_tag(run_id, key, value)
    return {
        "decision": decision,
        "approval": approval,
        "decided_by": decided_by,
        "why": why,
        "version": version,
        "previous_champion": previous,
        "reasons": decided.get("reasons", []),
    }
