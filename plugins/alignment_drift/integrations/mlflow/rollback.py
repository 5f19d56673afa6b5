"""Rollback: restore the previous champion, record why; nothing is deleted from the registry.

The version under alias ``previous`` becomes ``champion`` again and the one it
replaces takes alias ``previous`` (so a second rollback undoes the first).
Recorded as: version tags ``rolled_back``, ``rollback_reason``,
``rolled_back_at``, ``rolled_back_by`` on the replaced version and
``restored_by_rollback``, ``rollback_reason`` on the restored one; the
registered-model tag ``last_rollback`` (``<from> -> <to>: <reason>``); and an
MLflow run of ``kind`` ``rollback`` in the model's experiment (tags
``model``, ``from_version``, ``to_version``, ``rollback_reason``,
``rolled_back_by`` and, when run by Airflow, ``airflow_dag_id``/``airflow_run_id``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from alignment_drift.integrations.mlflow import registry
from alignment_drift.integrations.mlflow.store import client, experiment_id
from alignment_drift.settings import Settings

__all__ = ["RollbackResult", "rollback"]


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did."""

    model: str
    from_version: str
    to_version: str
    reason: str
    mlflow_run_id: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rollback(
    settings: Settings, model: str, *, reason: str, actor: str = "", tags: dict[str, str] | None = None
) -> RollbackResult:
    """Make the ``previous`` version champion again and record the rollback.

    Parameters
    ----------
    model : str
        The registered model.
    reason : str
        Why (required, recorded on both versions, the model and the run).
    actor : str
        Who asked (a user name, or the Airflow run).
    tags : dict, optional
        More tags for the rollback run (e.g. the Airflow ids).

    Raises
    ------
    ValueError
        When ``reason`` is empty, or the model has no ``champion`` or no ``previous`` version.
    """
    if not reason.strip():
        raise ValueError("A rollback needs a reason; it is recorded. Fix: pass --reason 'why the champion is unfit'.")
    current = registry.champion(settings, model)
    previous = registry.champion(settings, model, alias="previous")
    if current is None or previous is None:
        raise ValueError(
            f"Model {model!r} has no {'champion' if current is None else 'previous'} version, so there is "
            "nothing to roll back to. A rollback needs two promotions (aliases champion and previous)."
        )
    if current.version == previous.version:
        raise ValueError(f"Model {model!r}: aliases champion and previous both point at version {current.version}.")
    at = dt.datetime.now(dt.UTC).isoformat()
    mlflow_client = client(settings)
    mlflow_client.set_registered_model_alias(model, "champion", previous.version)
    mlflow_client.set_registered_model_alias(model, "previous", current.version)
    if previous.reference_run_id is not None:
        mlflow_client.set_registered_model_tag(model, "baseline_version", previous.version)
    registry.set_version_tags(
        settings,
        model,
        current.version,
        {"rolled_back": "true", "rollback_reason": reason[:5000], "rolled_back_at": at, "rolled_back_by": actor},
    )
    registry.set_version_tags(
        settings, model, previous.version, {"restored_by_rollback": at, "rollback_reason": reason[:5000]}
    )
    mlflow_client.set_registered_model_tag(
        model, "last_rollback", f"{current.version} -> {previous.version}: {reason}"[:5000]
    )
    run = mlflow_client.create_run(
        experiment_id(settings, model),
        run_name=f"rollback {current.version} -> {previous.version}",
        tags={
            "kind": "rollback",
            "model": model,
            "from_version": current.version,
            "to_version": previous.version,
            "model_version": previous.version,
            "rollback_reason": reason[:5000],
            "rolled_back_by": actor,
            **(tags or {}),
        },
    )
    mlflow_client.set_terminated(run.info.run_id, "FINISHED")
    return RollbackResult(model, current.version, previous.version, reason, run.info.run_id, at)
