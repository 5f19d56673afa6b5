"""Operators for your own DAGs: one night's check, a batch's validation, the gate, and the promotion after it.

The DAG factory builds whole DAGs per spec; these operators let a team that
already runs Airflow put the same steps into DAGs it owns (its training DAG,
say)::

    validate = ValidateBatchOperator(task_id="validate", spec="content_safety")
    gate = AlignmentGateOperator(task_id="gate", spec="content_safety", challenger_version=register.output)
    promote = PromoteOperator(task_id="promote", spec="content_safety", version=register.output)
    validate >> train >> register >> gate >> promote

Each calls the very functions the factory's tasks call (:mod:`alignment_drift.pipeline`),
so what it records in MLflow is what the plugin's own DAGs record. ``spec`` is
a model name (its spec is ``<specs dir>/<model>.yaml``, the specs folder of
:meth:`Settings.from_env <alignment_drift.settings.Settings.from_env>`) or a
spec file's path. Nothing is read in a constructor: specs, settings and
connections are resolved when the task runs. Deterministic failures (a
quarantined batch, a rejected challenger, an unknown spec) raise
:class:`AirflowFailException` and are not retried.
"""

from __future__ import annotations

from alignment_drift.airflow.operators.base import resolve_spec
from alignment_drift.airflow.operators.gate import AlignmentGateOperator, PromoteOperator
from alignment_drift.airflow.operators.night import AlignmentCheckOperator, ValidateBatchOperator

__all__ = [
    "AlignmentCheckOperator",
    "AlignmentGateOperator",
    "PromoteOperator",
    "ValidateBatchOperator",
    "resolve_spec",
]
