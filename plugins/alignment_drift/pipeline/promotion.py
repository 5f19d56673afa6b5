"""After the gate: promote, reject, hold or wait for a human; record the decision on the version and the run.

The gate decides ``promote``, ``reject`` or ``insufficient_evidence`` (see
:mod:`alignment_drift.core.gate`). A challenger held as
``insufficient_evidence`` is not promoted: it is recorded as such (version
tag ``gate = insufficient_evidence``, the reasons and the audit size that
would resolve them), keeps alias ``challenger`` and can be judged again
(``alignment-drift gate``) on a larger audit set.

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

__all__ = ["COMPARISON_COLUMNS", "apply_approval", "comparison_table", "decide_promotion"]


COMPARISON_COLUMNS = (
    "benchmark",
    "metric",
    "severity",
    "blocking",
    "challenger",
    "challenger_ci_low",
    "challenger_ci_high",
    "threshold",
    "floor_outcome",
    "reference",
    "reference_version",
    "reference_value",
    "delta",
    "ci_low",
    "ci_high",
    "bound",
    "comparison_outcome",
    "decision",
    "why",
)


def comparison_table(gated: dict[str, Any]) -> pd.DataFrame:
    """The gate's side-by-side comparison (what ``gate/comparison_table.json`` holds).

    One row per benchmark and reference: the challenger's value and interval,
    the threshold and whether it holds (``floor_outcome``), the reference's
    value, ``delta`` (challenger - reference oriented so that positive is
    better) with its paired interval, the ``bound`` it must clear
    (``-margin``), and the benchmark's outcome (``decision``: ``pass``,
    ``fail``, ``unresolved``, ``skipped`` or ``info``).
    """
    frame = pd.DataFrame(gated["comparison"], columns=list(COMPARISON_COLUMNS))
    frame.insert(0, "challenger_version", gated["challenger_version"])
    frame.insert(1, "gate_decision", gated["decision"])
    return frame


def decide_promotion(
    spec: AlignmentSpec, settings: Settings, trained: dict[str, Any], gated: dict[str, Any]
) -> dict[str, Any]:
    """Promote the challenger when the gate says ``promote`` (and approval allows); else record why not.

    The comparison is logged on the retrain run as ``gate/comparison.json``,
    as the MLflow table ``gate/comparison_table.json`` and as metrics
    ``gate.passed``, ``gate.n_needed`` and, per benchmark,
    ``gate.<benchmark>.{challenger,passed}`` and
    ``gate.<benchmark>.<reference role>.{reference,delta,ci_low,ci_high}``
    (roles ``last_gated`` and ``champion``). A promoted (or approval-pending)
    version is tagged ``gate = passed`` with ``gate_run_id`` (this run) and
    ``gate_objective`` (the spec's fingerprint).

    Returns
    -------
    dict
        ``decision`` (``promoted``, ``rejected``, ``insufficient_evidence`` or
        ``awaiting_approval``), ``gate_decision``, ``version``,
        ``previous_champion``, ``reasons``, ``n_needed``.
    """
    from mlflow.entities import RunTag

    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, log_table

    version = trained["version"]
    run_id = trained["mlflow_run_id"]
    previous = gated["champion_version"]
    reasons = "; ".join(gated["reasons"])[:5000]
    against = ", ".join(f"{r['role']} v{r['version']}" for r in gated["references"]) or "no reference (floors only)"
    passed = {"gate": "passed", "gate_run_id": run_id, "gate_objective": gated.get("objective_fingerprint") or ""}
    if gated["decision"] == "reject":
        decision = "rejected"
        registry.set_version_tags(settings, spec.model, version, {"gate": "rejected", "gate_reasons": reasons})
    elif gated["decision"] == "insufficient_evidence":
        decision = "insufficient_evidence"
        needed = gated.get("n_needed")
        registry.set_version_tags(
            settings,
            spec.model,
            version,
            {
                "gate": "insufficient_evidence",
                "gate_reasons": f"not promoted: insufficient evidence. {reasons}"[:5000],
                "gate_n_needed": "" if needed is None else str(needed),
            },
        )
    elif spec.governance.approval == "required":
        decision = "awaiting_approval"
        registry.set_version_tags(settings, spec.model, version, {**passed, "approval": "pending"})
    else:
        decision = "promoted"
        registry.set_version_tags(settings, spec.model, version, {**passed, "approval": "automatic"})
        previous = registry.promote(settings, spec.model, version, reason=f"gate passed against {against}")
        _register_runtime_policy(spec, settings, version, run_id)
    mlflow_client = client(settings)
    mlflow_client.log_dict(run_id, gated, "gate/comparison.json")
    log_table(mlflow_client, run_id, comparison_table(gated), "gate/comparison_table.json")
    mlflow_client.log_batch(
        run_id,
        metrics=_gate_metrics(gated),
        tags=[RunTag(k, v) for k, v in _gate_tags(gated, decision, version).items()],
    )
    mlflow_client.set_terminated(run_id, "FINISHED")
    return {
        "decision": decision,
        "gate_decision": gated["decision"],
        "version": version,
        "previous_champion": previous,
        "reasons": gated["reasons"],
        "n_needed": gated.get("n_needed"),
    }


def _gate_metrics(gated: dict[str, Any]) -> list[Any]:
    from mlflow.entities import Metric

    metrics = [Metric("gate.passed", 1.0 if gated["decision"] == "promote" else 0.0, 0, 0)]
    if gated.get("n_needed") is not None:
        metrics.append(Metric("gate.n_needed", float(gated["n_needed"]), 0, 0))
    for bench in gated["benchmarks"]:
        name = bench["benchmark"]
        if bench.get("value") is not None:
            metrics.append(Metric(f"gate.{name}.challenger", float(bench["value"]), 0, 0))
        if bench["outcome"] in ("pass", "fail", "unresolved"):
            metrics.append(Metric(f"gate.{name}.passed", 1.0 if bench["outcome"] == "pass" else 0.0, 0, 0))
        for c in bench["comparisons"]:
            values = {"reference": c["reference_value"], "delta": c["advantage"]}
            values.update(ci_low=c["ci_low"], ci_high=c["ci_high"])
            for key, value in values.items():
                if value is not None:
                    metrics.append(Metric(f"gate.{name}.{c['reference']}.{key}", float(value), 0, 0))
    return metrics


def _gate_tags(gated: dict[str, Any], decision: str, version: str) -> dict[str, str]:
    return {
        "gate_decision": decision,
        "gate_outcome": gated["decision"],
        "gate_passed": "true" if gated["decision"] == "promote" else "false",
        "gate_reasons": "; ".join(gated["reasons"])[:5000],
        "gate_margin": str(gated["margin"]),
        "gate_n_needed": "" if gated.get("n_needed") is None else str(gated["n_needed"]),
        "challenger_version": version,
        "champion_version": gated["champion_version"] or "",
        "last_gated_version": gated.get("last_gated_version") or "",
        "objective_fingerprint": gated.get("objective_fingerprint") or "",
        "approval": {"promoted": "automatic", "awaiting_approval": "pending"}.get(decision, "not_asked"),
    }


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
        _register_runtime_policy(spec, settings, version, run_id)
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


def _register_runtime_policy(spec: AlignmentSpec, settings: Settings, version: str, run_id: str) -> None:
    """Register the promoted version's runtime policy model ``<model>_policy`` (its alias follows the champion).

    The promotion stands when this fails: the failure is logged with its reason and tagged on the retrain
    run (``policy_model_error``), and ``alignment-drift`` users see the policy model lag the champion.
    """
    import logging

    from alignment_drift.integrations.mlflow.policy_registry import register_policy_model
    from alignment_drift.integrations.mlflow.store import client

    try:
        registered = register_policy_model(spec, settings, version)
    except Exception as error:  # the promotion is recorded; the policy model is an addition to it
        reason = f"{type(error).__name__}: {error}"[:5000]
        logging.getLogger(__name__).exception("The runtime policy of %s v%s was not registered", spec.model, version)
        client(settings).set_tag(run_id, "policy_model_error", reason)
        return
    if registered is not None:
        client(settings).set_tag(run_id, "policy_model", registered.model_uri)
