"""The deployment policies of a spec, enforced after a night is recorded.

Two checks, both called by the nightly ``record`` step after the check is written:

- :func:`check_deployment` (``governance.on_ungated``): is the deployed
  version gated (passed the gate, or adopted explicitly)? If not:
  ``notify`` returns the finding for the notifier; ``hold`` keeps it serving,
  marks it ``held`` and opens an approval request (a review, shown on the
  Approvals page); ``rollback`` moves ``champion`` back to the last safe
  gated version.
- :func:`act_on_verdict` (``governance.on_misaligned``): on a ``misaligned``
  night, ``notify``, ``rollback`` (to the last safe gated version) or
  ``require_approval`` (keep serving, open a review).

Both are idempotent for a night: a rerun finds the review already open or
the champion already moved and does nothing more. A rollback never restores
a version that is not safe (see :mod:`alignment_drift.integrations.mlflow.lineage`);
when there is none, the action falls back to ``notify`` and says so. What
was done is returned, logged and, given ``check_run_id``, tagged on the
night's check run (``policy.on_ungated``, ``policy.on_misaligned``, their findings and
``..._rolled_back_to``, empty unless the champion moved).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["DeploymentCheck", "PolicyAction", "act_on_verdict", "check_deployment", "decide_review"]

_LOG = logging.getLogger(__name__)

Action = Literal["none", "notify", "hold", "rollback", "require_approval"]


@dataclass(frozen=True)
class DeploymentCheck:
    """Whether the deployed version may serve, and what ``governance.on_ungated`` did about it.

    ``gated``: it passed the gate or was adopted; ``accepted``: not gated but
    a human approved it through a review. ``action`` is what was done
    (``none`` when gated or accepted, else ``notify``, ``hold`` or
    ``rollback``); ``finding`` the sentence for the notifier.
    """

    model: str
    version: str
    gated: bool
    accepted: bool
    last_gated_version: str | None
    policy: str
    action: Action
    finding: str
    rolled_back_to: str | None = None
    review_run_id: str | None = None
    rollback_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PolicyAction:
    """What ``governance.on_misaligned`` did about a night (``none`` unless the night was misaligned)."""

    model: str
    version: str | None
    verdict: str
    night: str
    policy: str
    action: Action
    finding: str
    rolled_back_to: str | None = None
    review_run_id: str | None = None
    rollback_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tag_check_run(settings: Settings, run_id: str | None, tags: Mapping[str, str | None]) -> None:
    if not run_id:
        return
    from alignment_drift.integrations.mlflow.store import client

    mlflow_client = client(settings)
    for key, value in tags.items():
        mlflow_client.set_tag(run_id, key, "" if value is None else str(value)[:5000])


def _roll_back(
    model: str, settings: Settings, *, current: str, reason: str, actor: str
) -> tuple[str | None, str | None]:
    """Move ``champion`` to the last safe gated version; (None, None) when there is none."""
    from alignment_drift.integrations.mlflow import lineage
    from alignment_drift.integrations.mlflow.rollback import rollback

    target = lineage.safe_rollback_target(settings, model, current=current)
    if target is None:
        return None, None
    done = rollback(settings, model, reason=reason, actor=actor, to_version=target.version, tags={"policy": actor})
    return done.to_version, done.mlflow_run_id


def check_deployment(
    spec: AlignmentSpec, settings: Settings, deployed_version: str, *, check_run_id: str | None = None
) -> DeploymentCheck:
    """Check that the deployed version is gated and apply ``governance.on_ungated`` when it is not.

    Parameters
    ----------
    spec : AlignmentSpec
        The model's spec (its ``governance.on_ungated``).
    settings : Settings
        Where the registry is.
    deployed_version : str
        The version that served the night (the check's ``model_version``).
    check_run_id : str, optional
        The night's check run, tagged with what was found and done.

    Returns
    -------
    DeploymentCheck
    """
    from alignment_drift.integrations.mlflow import lineage, registry

    version = str(deployed_version)
    policy = spec.governance.on_ungated
    info = registry.version_info(settings, spec.model, version)
    last = lineage.last_gated_version(settings, spec.model)
    last_version = None if last is None else last.version
    gated, accepted = lineage.is_gated(info), lineage.accepted_by_review(info)
    base = DeploymentCheck(spec.model, version, gated, accepted, last_version, policy, "none", "")
    if gated or accepted:
        how = "passed the gate" if info.tags.get("gate") == "passed" else "was adopted"
        if not gated:
            how = f"was approved by a review ({info.tags.get('review_decided_by', '')})"
        result = replace(base, action="none", finding=f"{spec.model} v{version} {how}.")
    else:
        since = f"the last gated version is v{last_version}" if last_version else "no version passed the gate yet"
        finding = f"{spec.model} v{version} serves without having passed the gate ({since})."
        champion = registry.champion(settings, spec.model)
        if policy != "notify" and champion is not None and champion.version != version:
            result = replace(base, action="none", finding=f"{finding} The champion is already v{champion.version}.")
        elif policy == "rollback":
            to, run = _roll_back(
                spec.model,
                settings,
                current=version,
                reason=f"governance.on_ungated=rollback: {finding}",
                actor="policy:on_ungated",
            )
            if to is None:
                result = replace(base, action="notify", finding=f"{finding} No safe gated version to roll back to.")
            else:
                result = replace(
                    base,
                    action="rollback",
                    finding=f"{finding} Rolled back to v{to}.",
                    rolled_back_to=to,
                    rollback_run_id=run,
                )
        elif policy == "hold":
            review, opened = lineage.open_review(
                settings, spec.model, version, trigger="ungated", reason=finding, reference_version=last_version
            )
            note = "Held; approval requested" if opened else "Held; approval still pending"
            result = replace(base, action="hold", finding=f"{finding} {note}.", review_run_id=review)
        else:
            result = replace(base, action="notify", finding=finding)
    if result.action != "none":
        _LOG.warning("on_ungated=%s: %s", policy, result.finding)
    _tag_check_run(
        settings,
        check_run_id,
        {
            "deployment_gated": "true" if gated else "false",
            "last_gated_version": last_version,
            "policy.on_ungated": result.action,
            "policy.on_ungated_finding": result.finding,
            "policy.on_ungated_rolled_back_to": result.rolled_back_to,
        },
    )
    return result


def _field(check: Mapping[str, Any], key: str) -> Any:
    if key == "night":
        interval = check.get("data_interval") or {}
        return interval.get("start") if isinstance(interval, Mapping) else None
    return check.get(key)


def act_on_verdict(
    spec: AlignmentSpec, settings: Settings, check: Mapping[str, Any], *, check_run_id: str | None = None
) -> PolicyAction:
    """Apply ``governance.on_misaligned`` to a recorded night.

    Parameters
    ----------
    check : mapping
        The night's check as recorded (``check.json``, or the night model
        dumped to JSON): ``model_version``, ``verdict``,
        ``data_interval.start`` and, when present, ``reasons``.
    check_run_id : str, optional
        The night's check run, tagged with what was done.

    Returns
    -------
    PolicyAction
        ``action`` ``none`` unless the night is ``misaligned``; otherwise
        ``notify``, ``rollback`` (``rolled_back_to``) or ``require_approval``
        (``review_run_id``). A rollback with no safe version to go to falls
        back to ``notify`` and says so.
    """
    from alignment_drift.integrations.mlflow import lineage, registry

    policy = spec.governance.on_misaligned
    verdict = str(_field(check, "verdict") or "")
    version = _field(check, "model_version")
    version = None if version in (None, "") else str(version)
    night = str(_field(check, "night") or "")
    base = PolicyAction(spec.model, version, verdict, night, policy, "none", "")
    if verdict != "misaligned":
        return base
    why = "; ".join(str(r) for r in (check.get("reasons") or [])[:5])
    finding = f"{spec.model} v{version} was misaligned on the night of {night[:10]}" + (f": {why}" if why else ".")
    champion = registry.champion(settings, spec.model)
    if version is None or (policy != "notify" and (champion is None or champion.version != version)):
        now = "no champion" if champion is None else f"v{champion.version}"
        result = replace(base, action="notify", finding=f"{finding} The champion is now {now}; nothing moved.")
    elif policy == "rollback":
        to, run = _roll_back(
            spec.model,
            settings,
            current=version,
            reason=f"governance.on_misaligned=rollback: {finding}",
            actor="policy:on_misaligned",
        )
        if to is None:
            result = replace(base, action="notify", finding=f"{finding} No safe gated version to roll back to.")
        else:
            result = replace(
                base,
                action="rollback",
                finding=f"{finding} Rolled back to v{to}.",
                rolled_back_to=to,
                rollback_run_id=run,
            )
    elif policy == "require_approval":
        last = lineage.last_gated_version(settings, spec.model, exclude=version)
        review, opened = lineage.open_review(
            settings,
            spec.model,
            version,
            trigger="misaligned",
            reason=finding,
            reference_version=None if last is None else last.version,
            tags={"data_interval_start": night},
        )
        note = "Approval to keep serving it requested" if opened else "Approval still pending"
        result = replace(base, action="require_approval", finding=f"{finding} {note}.", review_run_id=review)
    else:
        result = replace(base, action="notify", finding=finding)
    _LOG.warning("on_misaligned=%s: %s", policy, result.finding)
    _tag_check_run(
        settings,
        check_run_id,
        {
            "policy.on_misaligned": result.action,
            "policy.on_misaligned_finding": result.finding,
            "policy.on_misaligned_rolled_back_to": result.rolled_back_to,
        },
    )
    return result


def decide_review(
    settings: Settings, model: str, version: str, *, approve: bool, decided_by: str, why: str
) -> dict[str, Any]:
    """Apply a human decision on a held version's review (what ``alignment-drift review`` runs).

    Approve: the version keeps serving and is no longer held (it counts as
    accepted, not as gated). Reject: ``champion`` rolls back to the last safe
    gated version (when it still serves this version).

    Returns
    -------
    dict
        ``review_run_id``, ``approved``, ``rolled_back_to`` and ``rollback_run_id``.

    Raises
    ------
    ValueError
        When ``decided_by`` or ``why`` is empty, or the version has no open review.
    """
    from alignment_drift.integrations.mlflow import lineage, registry

    if not decided_by.strip() or not why.strip():
        raise ValueError("A review decision needs who decided and why; both are recorded. Fix: pass --reason '...'.")
    run_id = lineage.close_review(settings, model, str(version), approved=approve, by=decided_by, why=why)
    if run_id is None:
        raise ValueError(
            f"Version {version} of {model!r} has no open review (version tag review=pending). Reviews are opened "
            "by governance.on_ungated: hold and governance.on_misaligned: require_approval."
        )
    to = rollback_run = None
    champion = registry.champion(settings, model)
    if not approve and champion is not None and champion.version == str(version):
        to, rollback_run = _roll_back(
            model, settings, current=str(version), reason=f"review rejected by {decided_by}: {why}", actor=decided_by
        )
    return {"review_run_id": run_id, "approved": approve, "rolled_back_to": to, "rollback_run_id": rollback_run}
