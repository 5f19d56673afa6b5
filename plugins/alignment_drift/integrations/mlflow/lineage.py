"""Which versions of a model may serve: gated versions, their last verdicts, safe rollback targets, reviews.

A version is **gated** when it passed the gate and nothing took that back:
version tag ``gate = passed`` (set by the retrain DAG's decide step, with
``gate_run_id``, the retrain run holding the decision) and an ``approval``
that is not ``pending``, ``rejected`` or ``timed_out``; or when it was adopted
explicitly (tag ``adopted = true``). The **last gated version** is the
highest-numbered gated version that was not rolled back (tag
``rolled_back``), unless it serves again as champion.

A version is a **safe** rollback target when it is gated and its last
check's verdict (the check run of the latest night it served, tag
``model_version``) was not ``misaligned``.

A **review** is an approval request for a serving version that needs a human
decision (held because it is ungated, or on a misaligned night): an MLflow
run of ``kind`` ``deployment_review`` tagged ``approval = pending``, shown on
the Approvals page beside the retrain runs waiting for approval; the version
is tagged ``held = true``, ``review = pending`` and ``review_run_id``. A
review never touches the version's gate or approval tags; a version whose
review was rejected is not a safe rollback target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from alignment_drift.integrations.mlflow import registry
from alignment_drift.integrations.mlflow.registry import VersionInfo
from alignment_drift.integrations.mlflow.store import client, experiment_id
from alignment_drift.settings import Settings

__all__ = [
    "NOT_APPROVED",
    "accepted_by_review",
    "close_review",
    "is_gated",
    "last_gated_version",
    "last_verdict",
    "open_review",
    "rollback_blockers",
    "safe_rollback_target",
    "versions",
]

NOT_APPROVED = frozenset({"pending", "rejected", "timed_out"})
REVIEW_KIND = "deployment_review"


def is_gated(info: VersionInfo) -> bool:
    """Whether a version passed the gate (and its approval, when one was asked) or was adopted explicitly."""
    tags = info.tags
    if tags.get("adopted") == "true":
        return True
    return tags.get("gate") == "passed" and tags.get("approval", "") not in NOT_APPROVED


def versions(settings: Settings, model: str) -> list[VersionInfo]:
    """Every registered version of ``model``, highest number first (empty when the model is not registered)."""
    from mlflow.exceptions import MlflowException

    try:
        found = client(settings).search_model_versions(f"name = '{model}'", max_results=10_000)
    except MlflowException:
        return []
    infos = [VersionInfo(model=model, version=str(v.version), run_id=v.run_id, tags=dict(v.tags or {})) for v in found]
    return sorted(infos, key=lambda v: int(v.version), reverse=True)


def last_gated_version(settings: Settings, model: str, *, exclude: str | None = None) -> VersionInfo | None:
    """The highest-numbered gated version not rolled back (the champion counts even if once rolled back)."""
    champion = registry.champion(settings, model)
    for info in versions(settings, model):
        if info.version == exclude or not is_gated(info):
            continue
        if info.tags.get("rolled_back") == "true" and (champion is None or champion.version != info.version):
            continue
        return info
    return None


def last_verdict(settings: Settings, model: str, version: str) -> tuple[str, str] | None:
    """The verdict and interval start of the latest recorded night served by ``version``, or None."""
    runs = client(settings).search_runs(
        [experiment_id(settings, model)],
        filter_string=f"tags.kind = 'check' and tags.model_version = '{version}'",
        order_by=["metrics.data_interval_start_ts DESC"],
        max_results=1,
    )
    if not runs:
        return None
    tags = runs[0].data.tags
    return tags.get("verdict", ""), tags.get("data_interval_start", "")


def rollback_blockers(settings: Settings, model: str, version: str) -> list[str]:
    """Why ``version`` is not a safe version to serve again (empty when it is safe)."""
    info = registry.version_info(settings, model, version)
    blockers = []
    if not is_gated(info):
        gate = info.tags.get("gate", "")
        approval = info.tags.get("approval", "")
        how = f"gate={gate}" if gate else "it was deployed without the gate"
        if gate == "passed" and approval in NOT_APPROVED:
            how = f"gate=passed but approval={approval}"
        blockers.append(f"version {version} never passed the gate ({how})")
    if info.tags.get("review") == "rejected":
        blockers.append(f"version {version} was rejected by a review ({info.tags.get('review_decided_by', '')})")
    last = last_verdict(settings, model, version)
    if last is not None and last[0] == "misaligned":
        blockers.append(f"version {version} was misaligned on its last check (night of {last[1][:10]})")
    return blockers


def safe_rollback_target(settings: Settings, model: str, *, current: str | None) -> VersionInfo | None:
    """The highest-numbered gated version, other than ``current``, not rolled back and not misaligned last."""
    for info in versions(settings, model):
        if info.version == current or not is_gated(info) or info.tags.get("rolled_back") == "true":
            continue
        if info.tags.get("review") == "rejected":
            continue
        last = last_verdict(settings, model, info.version)
        if last is None or last[0] != "misaligned":
            return info
    return None


def open_review(
    settings: Settings,
    model: str,
    version: str,
    *,
    trigger: str,
    reason: str,
    reference_version: str | None,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, bool]:
    """Hold a serving version and open an approval request for it (idempotent: one open review per version).

    Returns
    -------
    tuple
        The review run's id, and whether it was opened now (False: one was already pending).
    """
    info = registry.version_info(settings, model, version)
    existing = info.tags.get("review_run_id")
    if existing and info.tags.get("review") == "pending":
        return existing, False
    at = dt.datetime.now(dt.UTC).isoformat()
    mlflow_client = client(settings)
    run = mlflow_client.create_run(
        experiment_id(settings, model),
        run_name=f"review v{version} ({trigger})",
        tags={
            "kind": REVIEW_KIND,
            "model": model,
            "approval": "pending",
            "review_trigger": trigger,
            "review_reason": reason[:5000],
            "retrain_reason": reason[:5000],  # what the Approvals page shows as the reason
            "challenger_version": version,
            "champion_version": reference_version or "",
            "model_version": version,
            **dict(tags or {}),
        },
    )
    registry.set_version_tags(
        settings,
        model,
        version,
        {
            "held": "true",
            "held_at": at,
            "held_reason": reason[:5000],
            "review": "pending",
            "review_run_id": run.info.run_id,
        },
    )
    return run.info.run_id, True


def close_review(settings: Settings, model: str, version: str, *, approved: bool, by: str, why: str) -> str | None:
    """Record a human decision on a version's open review; returns the review run's id (None when none was open)."""
    info = registry.version_info(settings, model, version)
    run_id = info.tags.get("review_run_id")
    if not run_id or info.tags.get("review") != "pending":
        return None
    decision = "approved" if approved else "rejected"
    at = dt.datetime.now(dt.UTC).isoformat()
    registry.set_version_tags(
        settings,
        model,
        version,
        {
            "held": "false" if approved else "true",
            "review": decision,
            "review_decided_by": by,
            "review_decided_at": at,
            "review_decision_reason": why[:5000],
        },
    )
    mlflow_client = client(settings)
    for key, value in {"approval": decision, "decided_by": by, "approval_reason": why[:5000]}.items():
        mlflow_client.set_tag(run_id, key, value)
    mlflow_client.set_terminated(run_id, "FINISHED")
    return run_id


def accepted_by_review(info: VersionInfo) -> bool:
    """Whether a human approved serving this version through a review."""
    return info.tags.get("review") == "approved"
