"""The operators on one night: :class:`AlignmentCheckOperator` (the whole check) and :class:`ValidateBatchOperator`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from alignment_drift.airflow.operators.base import NightOperator
from alignment_drift.core.spec.base import VERDICTS

__all__ = ["AlignmentCheckOperator", "ValidateBatchOperator"]

Json = dict[str, Any]


class AlignmentCheckOperator(NightOperator):
    """Check one night of a model, every step, as the monitor DAG does, and record it in MLflow.

    Calls :func:`alignment_drift.pipeline.check.run_check`.

    Parameters
    ----------
    spec : str or Path
        The model (its spec in the specs folder) or a spec file.
    data_interval_start, data_interval_end : str or datetime, optional
        The night (templated); default the run's data interval.
    batch : str, optional
        Check this local file or folder instead of the spec's source (templated).
    fail_on : sequence of str, optional
        Verdicts that fail the task once the night is recorded. Default: the monitor's rule, a
        ``quarantined`` batch and the spec's ``governance.fail_run_on``.
    home : str or Path, optional
        The project home when ``ALIGNMENT_DRIFT_HOME`` is unset.

    Returns (XCom)
    --------------
    dict
        ``model``, ``verdict``, ``mlflow_run_id``, ``incident`` (its id or None), ``reasons``,
        ``retrain_request`` (``none``, ``pending`` or ``emitted``), ``data_interval_start`` and ``_end``.
    """

    template_fields: Sequence[str] = ("spec", "data_interval_start", "data_interval_end", "batch")

    def __init__(self, *, fail_on: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if fail_on is not None:
            if isinstance(fail_on, str):
                fail_on = [fail_on]
            unknown = [v for v in fail_on if v not in VERDICTS]
            if unknown:
                raise ValueError(
                    f"The 'fail_on' parameter must list verdicts of {list(VERDICTS)}. Got {list(fail_on)!r} instead."
                )
        self.fail_on = None if fail_on is None else tuple(fail_on)

    def execute(self, context: Any) -> Json:
        from alignment_drift.core.governance import run_should_fail
        from alignment_drift.pipeline.check import run_check
        from alignment_drift.pipeline.steps.pull import BatchGone

        settings = self._settings()
        spec = self._spec(settings)
        start, end = self._interval(context)
        try:
            night = run_check(
                spec,
                settings,
                start=start,
                end=end,
                batch=self.batch or None,
                dag_id=self.dag_id,
                run_id=str(context.get("run_id") or ""),
            )
        except BatchGone as error:  # a rerun that cannot redo the night; its record stays
            raise AirflowFailException(str(error)) from None
        recorded = night.recorded
        incident = ((recorded.incident or {}).get("incident") or {}).get("id")
        summary = {
            "model": spec.model,
            "verdict": recorded.verdict,
            "mlflow_run_id": recorded.mlflow_run_id,
            "incident": incident,
            "reasons": list(night.check.reasons),
            "retrain_request": recorded.retrain_request,
            "data_interval_start": start.isoformat(),
            "data_interval_end": end.isoformat(),
        }
        if self.fail_on is None:
            if night.validation.status == "quarantined":
                raise AirflowFailException(
                    f"The batch was quarantined ({night.validation.reason}); the night is recorded as 'quarantined' "
                    f"in MLflow run {recorded.mlflow_run_id}. Fix the batch and release it "
                    "('alignment-drift release-quarantine'), then rerun the night."
                )
            message = run_should_fail(
                spec, recorded.verdict, incident_id=incident, mlflow_run_id=recorded.mlflow_run_id
            )
        elif recorded.verdict in self.fail_on:
            message = (
                f"{spec.model} was {recorded.verdict} (MLflow run {recorded.mlflow_run_id}"
                f"{f', incident {incident}' if incident else ''}); the night is recorded. This task fails because "
                f"fail_on is {list(self.fail_on)}; to keep it green, remove {recorded.verdict!r} from fail_on."
            )
        else:
            message = None
        if message:
            raise AirflowFailException(message)
        return summary


class ValidateBatchOperator(NightOperator):
    """Pull and validate one night's batch; fail (not retried) when it is quarantined.

    Calls :func:`~alignment_drift.pipeline.steps.pull.pull_night` and
    :func:`~alignment_drift.pipeline.steps.validate.validate`: a batch that fails
    the spec's suite or the interval checks is quarantined (copied with a
    manifest below the quarantine folder), never silently used. Nothing is
    recorded in MLflow: that is the check's job.

    Parameters are those of :class:`AlignmentCheckOperator` without ``fail_on``.

    Returns (XCom)
    --------------
    dict
        The validation (``status``, ``reason``, ``rows``, ``validation``, ``warnings``, ``columns``).
    """

    template_fields: Sequence[str] = ("spec", "data_interval_start", "data_interval_end", "batch")

    def execute(self, context: Any) -> Json:
        from alignment_drift.pipeline.steps.pull import BatchGone, pull_night
        from alignment_drift.pipeline.steps.validate import validate

        settings = self._settings()
        spec = self._spec(settings)
        start, end = self._interval(context)
        try:
            pulled = pull_night(spec, settings, start=start, end=end, batch=self.batch or None)
        except BatchGone as error:
            raise AirflowFailException(str(error)) from None
        validation = validate(spec, settings, pulled)
        if validation.status == "quarantined":
            where = (validation.quarantine or {}).get("path") or settings.quarantine_dir
            raise AirflowFailException(
                f"The {spec.model} batch of {start.isoformat()}..{end.isoformat()} was quarantined: "
                f"{validation.reason}. Its copy and manifest are in {where}. Fix the batch at its source, then "
                "'alignment-drift release-quarantine' and rerun this task."
            )
        return validation.to_xcom()
