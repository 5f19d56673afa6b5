"""Objective versioning in MLflow: every distinct normalised spec stored once, every change recorded with its diff.

Where (in the model's experiment ``alignment-drift/<model>``): one dedicated
run named ``objective`` (tag ``kind=objective``) holds

- ``objectives/<fingerprint>.json`` — each distinct normalised spec, once
  (schema ``alignment-drift/objective@1``: ``fingerprint``, ``model``,
  ``first_recorded_at``, ``spec``);
- ``changes/<n>-<fingerprint[:12]>.json`` — one record per change (schema
  ``alignment-drift/objective-change@1``: ``previous_fingerprint``,
  ``fingerprint``, ``recorded_at``, ``diff``), numbered in order;
- tags ``objective.fingerprint`` (the objective in force), ``objective.since``
  and ``objective.changes`` (how many changes so far).

A dedicated run rather than registered-model tags: a spec is monitored before
(and independently of) any registered version, tags cap values at a few
kilobytes, and artifacts keep the full normalised spec and diff readable in
MLflow's UI. The fingerprint is :func:`~alignment_drift.core.spec.fingerprint.objective_fingerprint`
(the gate computes the same value). Writes are retried on a transient failure
and made under the model's lock in the incidents folder, so two nights that run
at once record one change, not two.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignment_drift.core.redaction import redact
from alignment_drift.core.spec.fingerprint import SpecChange, normalised_spec, objective_diff, objective_fingerprint
from alignment_drift.integrations.incident_store import locked, now_iso
from alignment_drift.settings import Settings

if TYPE_CHECKING:
    from alignment_drift.core.spec import AlignmentSpec

__all__ = [
    "CHANGE_SCHEMA",
    "OBJECTIVE_SCHEMA",
    "ObjectiveChange",
    "objective_changes",
    "objective_section",
    "record_objective",
]

OBJECTIVE_SCHEMA = "alignment-drift/objective@1"
CHANGE_SCHEMA = "alignment-drift/objective-change@1"
RUN_NAME = "objective"
TAG_FINGERPRINT, TAG_SINCE, TAG_CHANGES = "objective.fingerprint", "objective.since", "objective.changes"


@dataclass(frozen=True)
class ObjectiveChange:
    """The objective changed: from ``previous_fingerprint`` to ``fingerprint``, with what changed."""

    model: str
    previous_fingerprint: str
    fingerprint: str
    recorded_at: str
    diff: tuple[SpecChange, ...]
    sequence: int

    def lines(self) -> list[str]:
        """The diff as readable lines: ``benchmarks[audit_unsafe_recall].floor: 0.65 → 0.55``."""
        return [c.text() for c in self.diff]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CHANGE_SCHEMA,
            "model": self.model,
            "previous_fingerprint": self.previous_fingerprint,
            "fingerprint": self.fingerprint,
            "recorded_at": self.recorded_at,
            "sequence": self.sequence,
            "diff": [c.to_dict() for c in self.diff],
        }


def objective_section(spec: AlignmentSpec, change: ObjectiveChange | None) -> dict[str, Any]:
    """What the check record carries as ``objective``: the fingerprint, whether it changed since the last
    recorded night, from what, and the diff (``path``, ``change``, ``old``, ``new``, ``text`` per entry)."""
    fingerprint = objective_fingerprint(spec)
    if change is not None and change.fingerprint != fingerprint:
        raise ValueError(
            f"The 'change' parameter is for objective {change.fingerprint[:12]}, not this spec's "
            f"{fingerprint[:12]}. Pass the change record_objective returned for this spec."
        )
    return {
        "fingerprint": fingerprint,
        "changed_since_last_night": change is not None,
        "previous_fingerprint": None if change is None else change.previous_fingerprint,
        "diff": [] if change is None else [c.to_dict() for c in change.diff],
    }


def _objective_run(settings: Settings, model: str) -> Any:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    mlflow_client = client(settings)
    experiment = experiment_id(settings, model)
    found = mlflow_client.search_runs(
        [experiment], filter_string="tags.kind = 'objective'", order_by=["attributes.start_time ASC"], max_results=1
    )
    if found:
        return found[0]
    run = mlflow_client.create_run(experiment, run_name=RUN_NAME, tags={"kind": "objective", "model": model})
    mlflow_client.set_terminated(run.info.run_id)
    return mlflow_client.get_run(run.info.run_id)


def _load(settings: Settings, run_id: str, path: str) -> dict[str, Any]:
    from alignment_drift.integrations.mlflow.store import client

    with tempfile.TemporaryDirectory() as tmp:
        return dict(json.loads(Path(client(settings).download_artifacts(run_id, path, tmp)).read_text()))


def _record(spec: AlignmentSpec, settings: Settings, stamp: str) -> ObjectiveChange | None:
    from alignment_drift.integrations.mlflow.store import client

    mlflow_client = client(settings)
    fingerprint = objective_fingerprint(spec)
    run = _objective_run(settings, spec.model)
    run_id, tags = run.info.run_id, run.data.tags
    current = tags.get(TAG_FINGERPRINT)
    if current == fingerprint:
        return None
    stored = {a.path for a in mlflow_client.list_artifacts(run_id, "objectives")}
    if f"objectives/{fingerprint}.json" not in stored:
        document = {
            "schema": OBJECTIVE_SCHEMA,
            "fingerprint": fingerprint,
            "model": spec.model,
            "first_recorded_at": stamp,
            "spec": redact(normalised_spec(spec)),  # a token in a webhook route's endpoint is not stored
        }
        mlflow_client.log_dict(run_id, document, f"objectives/{fingerprint}.json")
    change = None
    sequence = int(tags.get(TAG_CHANGES) or 0)
    if current is not None:
        previous = _load(settings, run_id, f"objectives/{current}.json")["spec"]
        sequence += 1
        change = ObjectiveChange(
            model=spec.model,
            previous_fingerprint=current,
            fingerprint=fingerprint,
            recorded_at=stamp,
            diff=tuple(objective_diff(previous, redact(normalised_spec(spec)))),
            sequence=sequence,
        )
        mlflow_client.log_dict(run_id, change.to_dict(), f"changes/{sequence:05d}-{fingerprint[:12]}.json")
    for key, value in ((TAG_FINGERPRINT, fingerprint), (TAG_SINCE, stamp), (TAG_CHANGES, str(sequence))):
        mlflow_client.set_tag(run_id, key, value)
    return change


def record_objective(
    spec: AlignmentSpec, settings: Settings, *, now: dt.datetime | None = None
) -> ObjectiveChange | None:
    """Record the spec's objective in MLflow; return the change when it differs from the last recorded one.

    The first objective ever recorded for a model is stored and returns None (there is nothing to
    compare with); so does an objective equal to the last recorded one. Call it once per night,
    before the check is recorded, and put :func:`objective_section` into the check.

    Raises
    ------
    Exception
        Whatever MLflow raises once the retries are spent (transient failures are retried first).
    """
    from alignment_drift.integrations.mlflow.spool import retrying

    stamp = now_iso(now)
    with locked(settings, spec.model):
        return retrying(lambda: _record(spec, settings, stamp), what=f"the objective of {spec.model}")


def objective_changes(settings: Settings, model: str) -> list[dict[str, Any]]:
    """Every recorded change of the model's objective, oldest first (the ``changes/`` documents)."""
    from alignment_drift.integrations.mlflow.store import client

    mlflow_client = client(settings)
    experiment = mlflow_client.get_experiment_by_name(f"alignment-drift/{model}")
    if experiment is None:
        return []
    found = mlflow_client.search_runs(
        [experiment.experiment_id], filter_string="tags.kind = 'objective'", max_results=1
    )
    if not found:
        return []
    run_id = found[0].info.run_id
    paths = sorted(a.path for a in mlflow_client.list_artifacts(run_id, "changes"))
    return [_load(settings, run_id, path) for path in paths]
