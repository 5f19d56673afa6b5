"""The gate and the promotion after it, for a challenger version your own DAG registered.

:class:`AlignmentGateOperator` does what the retrain DAG of an external-training
spec does with the owner's challenger (``collect_challenger -> gate -> decide``,
:mod:`alignment_drift.airflow.external_dag`), except promote: a challenger that
passes is recorded as passed and waiting for its promotion (version tags
``gate = passed``, ``approval = pending``, the retrain run's ``gate/comparison.json``),
exactly as a spec with ``governance.approval: required`` leaves it for a human.
:class:`PromoteOperator` is that approval: it promotes only a version with such a
record, through :func:`alignment_drift.pipeline.promotion.apply_approval`, and
with ``governance.approval: required`` only with a person's decision (the output
of Airflow's ``HITLOperator``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from alignment_drift.airflow.operators.base import AlignmentOperator
from alignment_drift.core.spec import AlignmentSpec

__all__ = ["AlignmentGateOperator", "PromoteOperator"]

Json = dict[str, Any]


def _awaiting_promotion(spec: AlignmentSpec) -> AlignmentSpec:
    """The spec as the gate records a pass here: approval required (the PromoteOperator is the approval)."""
    governance = spec.governance.model_copy(update={"approval": "required"})
    return spec.model_copy(update={"governance": governance})


def _as_external(spec: AlignmentSpec) -> AlignmentSpec:
    """The spec as ``collect_challenger`` reads it: the challenger is the owner's, whatever DAG the factory builds."""
    return spec.model_copy(update={"retraining": spec.retraining.model_copy(update={"mode": "external"})})


class AlignmentGateOperator(AlignmentOperator):
    """Gate a registered challenger version against the champion and the last gated version.

    The version gets its reference and baselines (fitted once per version,
    :func:`~alignment_drift.pipeline.external.collect_challenger`), is judged on
    the spec's audit set (:func:`~alignment_drift.pipeline.retrain.gate`) and the
    decision is recorded on the version and a retrain run
    (:func:`~alignment_drift.pipeline.promotion.decide_promotion`). Nothing is promoted:
    that is :class:`PromoteOperator`'s job.

    Parameters
    ----------
    spec : str or Path
        The model (its spec in the specs folder) or a spec file.
    challenger_version : str
        The registered version to gate (templated; e.g. your register task's output).
    request : str, optional
        What the version answers (tag ``alignment_drift.request``; templated). A version without
        that tag gets this, default ``<data_interval_start>/<data_interval_end>`` of the run.
    fail_on_reject : bool, default True
        Fail the task (not retried) unless the gate says ``promote``: a ``reject`` or
        ``insufficient_evidence`` challenger stops the DAG here, so nothing downstream promotes it.
    home : str or Path, optional
        The project home when ``ALIGNMENT_DRIFT_HOME`` is unset.

    Returns (XCom)
    --------------
    dict
        ``decision`` (``promote``, ``reject``, ``insufficient_evidence``), ``passed``, ``reasons``,
        ``n_needed``, ``challenger_version``, ``champion_version``, ``last_gated_version``,
        ``references``, ``mlflow_run_id`` (the retrain run holding the comparison) and ``recorded``
        (``awaiting_approval``, ``rejected`` or ``insufficient_evidence``).
    """

    template_fields: Sequence[str] = ("spec", "challenger_version", "request")

    def __init__(
        self,
        *,
        spec: str | Path,
        challenger_version: str | int,
        request: str | None = None,
        fail_on_reject: bool = True,
        home: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(spec=spec, home=home, **kwargs)
        self.challenger_version = challenger_version
        self.request = request
        self.fail_on_reject = fail_on_reject

    def execute(self, context: Any) -> Json:
        from alignment_drift.airflow.gate_alerts import notify_gate_rejected
        from alignment_drift.airflow.notify import raise_for_deliveries
        from alignment_drift.integrations.mlflow import registry
        from alignment_drift.pipeline import external, promotion
        from alignment_drift.pipeline import retrain as steps

        settings = self._settings()
        spec = self._spec(settings)
        version = str(self.challenger_version or "").strip()
        if not version.isdigit():
            raise AirflowFailException(
                f"The 'challenger_version' parameter must be a registered version number of {spec.model}. "
                f"Got {self.challenger_version!r} instead. Fix: pass your register task's version (e.g. its output)."
            )
        try:
            info = registry.version_info(settings, spec.model, version)
        except LookupError as error:
            raise AirflowFailException(str(error)) from None
        if not info.tags.get(external.REQUEST_TAG):
            start, end = context.get("data_interval_start"), context.get("data_interval_end")
            answered = self.request or (
                f"{start.isoformat()}/{end.isoformat()}" if start and end else f"airflow:{context.get('run_id')}"
            )
            registry.set_version_tags(settings, spec.model, version, {external.REQUEST_TAG: str(answered)})
        ids = {"airflow_dag_id": self.dag_id, "airflow_run_id": str(context.get("run_id") or "")}
        req = {"version": version, **({"request": self.request} if self.request else {})}
        try:
            trained = external.collect_challenger(
                _as_external(spec), settings, req, key=f"{spec.model}/{ids['airflow_run_id']}/v{version}", tags=ids
            )
        except external.ExternalChallengerError as error:
            raise AirflowFailException(str(error)) from None
        gated = steps.gate(spec, settings, trained)
        decided = promotion.decide_promotion(_awaiting_promotion(spec), settings, trained, gated)
        result = {k: v for k, v in gated.items() if k not in ("comparison", "benchmarks")}
        result.update(mlflow_run_id=trained["mlflow_run_id"], recorded=decided["decision"])
        # the spec's gate_rejected routes hear of a refused challenger (once per version and route)
        deliveries = notify_gate_rejected(
            spec, decided, settings=settings, retrain_run_id=trained["mlflow_run_id"], context=context
        )
        result["alerts"] = [d.to_dict() for d in deliveries]
        failed = [f"{d.route}: {d.error}" for d in deliveries if d.status == "failed"]
        if gated["decision"] != "promote" and self.fail_on_reject:
            unsent = f" {len(failed)} alert(s) could not be sent ({'; '.join(failed)})." if failed else ""
            raise AirflowFailException(
                f"The gate did not pass {spec.model} version {version} ({gated['decision']}): "
                f"{'; '.join(gated['reasons'])}. It is recorded on the version (tag gate) and MLflow run "
                f"{trained['mlflow_run_id']} (gate/comparison_table.json). Nothing downstream may promote it; "
                f"fix the model (or, for insufficient_evidence, enlarge the audit set) and gate a new version.{unsent}"
            )
        raise_for_deliveries(deliveries)  # not failed on the decision: a retry sends what was not sent
        return result


class PromoteOperator(AlignmentOperator):
    """Promote a version that passed :class:`AlignmentGateOperator` to champion; refuse any other.

    Parameters
    ----------
    spec : str or Path
        The model (its spec in the specs folder) or a spec file.
    version : str
        The version to promote (templated).
    approval : dict, optional
        With ``governance.approval: required``, a person's decision: the output of Airflow's
        ``HITLOperator`` (``chosen_options`` ``["Approve"]`` or ``["Reject"]``, ``responded_by_user``,
        ``params_input.comment``), e.g. ``approval=approve.output``. Ignored with ``automatic``.
    reason : str, optional
        Recorded with the promotion (templated).
    home : str or Path, optional
        The project home when ``ALIGNMENT_DRIFT_HOME`` is unset.

    Returns (XCom)
    --------------
    dict
        ``decision`` (``promoted``), ``approval``, ``decided_by``, ``why``, ``version``, ``previous_champion``.
        A version that is champion already is not promoted again (``already_champion``: true).
    """

    template_fields: Sequence[str] = ("spec", "version", "approval", "reason")

    def __init__(
        self,
        *,
        spec: str | Path,
        version: str | int,
        approval: Any = None,
        reason: str = "",
        home: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(spec=spec, home=home, **kwargs)
        self.version = version
        self.approval = approval
        self.reason = reason

    def execute(self, context: Any) -> Json:
        from alignment_drift.integrations.mlflow import lineage, registry
        from alignment_drift.pipeline.promotion import apply_approval

        settings = self._settings()
        spec = self._spec(settings)
        version = str(self.version or "").strip()
        try:
            info = registry.version_info(settings, spec.model, version)
        except LookupError as error:
            raise AirflowFailException(str(error)) from None
        tags = info.tags
        champion = registry.champion(settings, spec.model)
        if champion is not None and champion.version == version and lineage.is_gated(info):
            return {"decision": "promoted", "version": version, "already_champion": True, "approval": tags["approval"]}
        if tags.get("gate") != "passed" or tags.get("approval") != "pending" or not tags.get("gate_run_id"):
            blockers = "; ".join(lineage.rollback_blockers(settings, spec.model, version)) or (
                f"gate={tags.get('gate')}, approval={tags.get('approval')}"
            )
            why = f" ({tags['gate_reasons']})" if tags.get("gate_reasons") else ""
            raise AirflowFailException(
                f"Refusing to promote {spec.model} version {version}: it has no passing gate record waiting for "
                f"promotion ({blockers}){why}. Fix: gate it first (AlignmentGateOperator); only a version that "
                "passed is promoted."
            )
        actor = f"airflow:{self.dag_id}/{context.get('run_id')}"
        if spec.governance.approval == "required":
            if not isinstance(self.approval, dict) or not self.approval.get("responded_by_user"):
                raise AirflowFailException(
                    f"{spec.model}'s governance.approval is 'required': a person must decide. Fix: put Airflow's "
                    "HITLOperator before this task and pass its decision (approval=approve.output)."
                )
            response = dict(self.approval)
        else:
            now = dt.datetime.now(dt.UTC).isoformat()
            comment = self.reason or "promoted by the owner's DAG after the gate passed"
            user = {"id": actor, "name": actor}
            response = {"chosen_options": ["Approve"], "responded_by_user": user, "params_input": {"comment": comment}}
            response["responded_at"] = now
        decided: Json = {
            "decision": "awaiting_approval",
            "version": version,
            "previous_champion": None if champion is None else champion.version,
            "reasons": [],
        }
        done = apply_approval(spec, settings, decided, response, run_id=tags["gate_run_id"])
        if done["decision"] != "promoted":
            raise AirflowFailException(
                f"{spec.model} version {version} was not promoted: {done['approval']} by {done['decided_by']} "
                f"({done['why'] or 'no comment'}). It is recorded on the version and run {tags['gate_run_id']}."
            )
        return done
