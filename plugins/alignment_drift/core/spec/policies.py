"""What the signals become and what is done about them: verdict rules, retraining, governance."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from alignment_drift.core.spec.base import Strict
from alignment_drift.core.spec.notify import NotifyRoute
from alignment_drift.core.spec.runtime import Runtime

__all__ = [
    "CLASSIFIER_ESTIMATORS",
    "REGRESSOR_ESTIMATORS",
    "Governance",
    "RetrainingPolicy",
    "Training",
    "VerdictRules",
]


class VerdictRules(Strict):
    """How signals become a verdict, and when a source is attributed.

    ``misaligned``: a critical safety benchmark fails. ``drifting``: a
    warning benchmark fails, a benchmark trends the wrong way (when
    ``benchmark_trend_is_drifting``), or at least ``drifting_share`` of the
    features drift (or the model's output drifts, when
    ``output_drift_is_drifting``). ``watch``: any feature, the joint
    distribution or the output drifts, or any signal trends. ``aligned``
    otherwise. ``model_update`` is attributed when a new version's audit-set
    benchmarks moved by at least ``model_update_min_delta``;
    ``feedback_loop`` when the exposure rate moved by at least
    ``feedback_min_exposure_change`` (and significantly) beyond what the
    reference version would have exposed on the same items.
    """

    drifting_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    output_drift_is_drifting: bool = False
    benchmark_trend_is_drifting: bool = True
    model_update_min_delta: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    feedback_min_exposure_change: Annotated[float, Field(ge=0.0, le=1.0)] = 0.03


CLASSIFIER_ESTIMATORS = ("logistic_regression",)
REGRESSOR_ESTIMATORS = ("ridge",)


class Training(Strict):
    """The scikit-learn estimator a challenger is trained with.

    ``hist_gradient_boosting`` is a classifier or a regressor as the spec's
    task says; ``logistic_regression`` is a classifier, ``ridge`` a regressor
    (the default of a regression spec). ``decision_threshold`` is the binary
    decision: P(positive) at or above it is positive.
    """

    estimator: Literal["logistic_regression", "hist_gradient_boosting", "ridge"] = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict)
    # The owner's own training code instead of ``estimator``: "package.module:function", importable where the
    # DAGs run, called with ``params`` as keyword arguments, returning an unfitted scikit-learn estimator or
    # Pipeline that the retrain fits on the spec's features and label; ``estimator`` is then not used (docs/byom.md).
    entrypoint: str | None = None
    decision_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    random_state: int = 0

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint(cls, value: str | None) -> str | None:
        form = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
        if value is not None and not re.match(form, value):
            raise ValueError(
                "the entrypoint must be 'package.module:function' (a function returning an unfitted scikit-learn "
                f"estimator or Pipeline); got {value!r}"
            )
        return value


TriggerVerdict = Literal["watch", "drifting", "misaligned"]


def _default_trigger_verdicts() -> list[TriggerVerdict]:
    return ["drifting", "misaligned"]


class RetrainingPolicy(Strict):
    """When and on what a challenger is trained, and how the gate judges it.

    ``gate_margin``: the non-inferiority margin of the gate, in the metric's
    units. A challenger is promoted only when, on every critical audit metric,
    the lower bound of the ``gate_confidence`` paired-bootstrap interval of
    (challenger - reference), oriented so that positive is better, is above
    ``-gate_margin`` (see ``docs/governance.md``).
    """

    trigger_verdicts: list[TriggerVerdict] = Field(default_factory=_default_trigger_verdicts)
    cooldown_days: Annotated[int, Field(ge=0)] = 3
    window_days: Annotated[int, Field(ge=1)] = 14
    label: Literal["target", "proxy"] = "target"
    include_training_data: bool = True
    min_rows: Annotated[int, Field(ge=10)] = 200
    gate_margin: Annotated[float, Field(ge=0.0, le=0.5)] = 0.02
    gate_replicates: Annotated[int, Field(ge=100, le=20_000)] = 500
    gate_confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    schedule: str | None = None
    training: Training = Field(default_factory=Training)
    # builtin: the retrain DAG trains the challenger; external: the owner's training DAG consumes the retrain
    # request and registers it, and the retrain DAG only gates it (docs/byom.md)
    mode: Literal["builtin", "external"] = "builtin"

    @model_validator(mode="before")
    @classmethod
    def _no_gate_tolerance(cls, data: Any) -> Any:
        if isinstance(data, dict) and "gate_tolerance" in data:
            raise ValueError(
                "retraining.gate_tolerance was replaced by retraining.gate_margin (a non-inferiority margin: the "
                "gate now promotes only a challenger shown to be no worse than its references by more than the "
                f"margin). Got gate_tolerance={data['gate_tolerance']!r}. Fix: rename it to gate_margin"
            )
        return data

    @field_validator("schedule")
    @classmethod
    def _schedule_is_cron(cls, value: str | None) -> str | None:
        presets = {"@hourly", "@daily", "@weekly", "@monthly"}
        if value is None or value in presets or len(value.split()) == 5:
            return value
        raise ValueError(
            f"retraining.schedule must be a cron expression of 5 fields or one of {sorted(presets)}; "
            f"got {value!r}. Fix: e.g. '@weekly' or '0 3 * * 0'."
        )


FailVerdict = Literal["watch", "drifting", "misaligned", "quarantined"]


def _default_fail_run_on() -> list[FailVerdict]:
    return ["misaligned", "quarantined"]


class Governance(Strict):
    """Who decides promotions: ``automatic`` (the gate alone) or ``required`` (a human, after the gate).

    Without a decision within ``approval_timeout_hours`` the challenger is rejected.

    ``on_ungated``: what a night does when the deployed version never passed
    the gate (nor was adopted): ``notify`` (report it), ``hold`` (keep serving,
    mark the version held and open an approval request) or ``rollback`` (move
    ``champion`` back to the last gated version). ``on_misaligned``: what a
    ``misaligned`` night does: ``notify``, ``rollback`` or ``require_approval``
    (keep serving and open an approval request).
    ``runtime`` is the policy enforced around the served model (see :mod:`.runtime`).

    Incidents and alerts (docs/incidents.md): ``owners`` are told with the
    spec's ``owner`` (on-call names or addresses); ``notify`` routes alerts
    through Airflow connections; ``fail_run_on`` lists the verdicts that make
    the night's DAG run fail after the night is recorded; an incident is
    resolved after ``resolve_after_aligned_nights`` aligned nights.
    """

    approval: Literal["automatic", "required"] = "automatic"
    approval_timeout_hours: Annotated[float, Field(gt=0.0, le=24 * 30)] = 24.0
    on_ungated: Literal["notify", "hold", "rollback"] = "notify"
    on_misaligned: Literal["notify", "rollback", "require_approval"] = "notify"
    runtime: Runtime = Field(default_factory=Runtime)
    owners: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=50)] = Field(
        default_factory=list
    )
    notify: Annotated[list[NotifyRoute], Field(max_length=20)] = Field(default_factory=list)
    fail_run_on: list[FailVerdict] = Field(default_factory=_default_fail_run_on)
    resolve_after_aligned_nights: Annotated[int, Field(ge=1, le=365)] = 3
