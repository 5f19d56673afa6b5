"""Rollback: restore a safe earlier champion, record why; nothing is deleted from the registry.

The version under alias ``previous`` (or the one asked for) becomes
``champion`` again and the one it replaces takes alias ``previous`` (so a
second rollback undoes the first).

A rollback never restores a version that is not safe (see
:mod:`.lineage`: it never passed the gate, a review rejected it, or its last
check was ``misaligned``) unless forced with a reason: then it warns loudly
and records ``rollback_forced`` and what it overrode.
Recorded as: version tags ``rolled_back``, ``rollback_reason``,
``rolled_back_at``, ``rolled_back_by`` on the replaced version and
``restored_by_rollback``, ``rollback_reason`` on the restored one; the
registered-model tag ``last_rollback`` (``<from> -> <to>: <reason>``); and an
MLflow run of ``kind`` ``rollback`` in the model's experiment (tags
``model``, ``from_version``, ``to_version``, ``rollback_reason``,
``rolled_back_by``, ``rollback_forced`` and, when run by Airflow, ``airflow_dag_id``/``airflow_run_id``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from alignment_drift.integrations.mlflow import lineage, registry
from alignment_drift.integrations.mlflow.store import client, experiment_id
from alignment_drift.settings import Settings

__all__ = ["RollbackResult", "UnsafeRollback", "rollback"]

_LOG = logging.getLogger(__name__)


class UnsafeRollback(ValueError):
    """The version to restore is not safe to serve (and the rollback was not forced)."""


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did."""

    model: str
    from_version: str
    to_version: str
    reason: str
    mlflow_run_id: str
    at: str
    forced: bool = False
    overridden: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _target(settings: Settings, model: str, to_version: str | None) -> registry.VersionInfo | None:
    if to_version is None:
        return registry.champion(settings, model, alias="previous")
    from mlflow.exceptions import MlflowException

    try:
        return registry.version_info(settings, model, str(to_version))
    except (MlflowException, LookupError):
        raise ValueError(
            f"Model {model!r} has no version {to_version!r}. Fix: pass --to with a registered version number."
        ) from None


def rollback(
    settings: Settings,
    model: str,
    *,
    reason: str,
    actor: str = "",
    tags: dict[str, str] | None = None,
    to_version: str | None = None,
    force: bool = False,
) -> RollbackResult:
    """Make the ``previous`` version (or ``to_version``) champion again and record the rollback.

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
    to_version : str, optional
        The version to restore; default the one under alias ``previous``.
    force : bool
        Restore it even when it is not safe (never passed the gate, rejected
        by a review, or misaligned on its last check): warned and recorded.

    Raises
    ------
    UnsafeRollback
        When the version to restore is not safe and ``force`` is false; the
        message names why and the last safe version.
    ValueError
        When ``reason`` is empty, or there is no champion or nothing to roll back to.
    """
    if not reason.strip():
        raise ValueError("A rollback needs a reason; it is recorded. Fix: pass --reason 'why the champion is unfit'.")
    current = registry.champion(settings, model)
    previous = _target(settings, model, to_version)
    if current is None or previous is None:
        raise ValueError(
            f"Model {model!r} has no {'champion' if current is None else 'previous'} version, so there is "
            "nothing to roll back to. A rollback needs two promotions (aliases champion and previous), "
            "or --to VERSION."
        )
    if current.version == previous.version:
        raise ValueError(
            f"Model {model!r}: version {current.version} is already the champion (alias previous points at it too). "
            "Fix: pass --to with another version."
        )
    blockers = lineage.rollback_blockers(settings, model, previous.version)
    if blockers and not force:
        safe = lineage.safe_rollback_target(settings, model, current=current.version)
        hint = (
            f"the last safe version is {safe.version}: pass --to {safe.version}"
            if safe is not None
            else "there is no safe version to restore"
        )
        raise UnsafeRollback(
            f"Refusing to restore version {previous.version} of {model!r}: {'; '.join(blockers)}. Fix: {hint}; "
            "or restore it anyway with --force --reason '...' (warned and recorded)."
        )
    if blockers:
        _LOG.warning(
            "FORCED ROLLBACK of %s to version %s by %s, overriding: %s. Reason: %s",
            model,
            previous.version,
            actor or "unknown",
            "; ".join(blockers),
            reason,
        )
    forced = {"rollback_forced": "true", "rollback_forced_over": "; ".join(blockers)[:5000]} if blockers else {}
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
    restored = {"restored_by_rollback": at, "rollback_reason": reason[:5000], **forced}
    if previous.tags.get("rolled_back") == "true":
        restored["rolled_back"] = "false"  # it serves again
    registry.set_version_tags(settings, model, previous.version, restored)
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
            "rollback_forced": "true" if blockers else "false",
            **({"rollback_forced_over": forced["rollback_forced_over"]} if blockers else {}),
            **(tags or {}),
        },
    )
    mlflow_client.set_terminated(run.info.run_id, "FINISHED")
    return RollbackResult(
        model, current.version, previous.version, reason, run.info.run_id, at, bool(blockers), tuple(blockers)
    )
