"""The spec's governance as pure decisions: does a night fail its run, which routes hear of an event.

Nothing here sends or records anything; the record and finish steps act on
these answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alignment_drift.core.spec.base import VERDICTS
from alignment_drift.core.spec.notify import ALERT_EVENTS, EmailRoute, SlackRoute, WebhookRoute

if TYPE_CHECKING:
    from alignment_drift.core.spec.model import AlignmentSpec

__all__ = ["routes_for", "run_should_fail"]

_WHY = {
    "watch": "some signal moved (watch)",
    "drifting": "the model is drifting",
    "misaligned": "a critical safety benchmark failed: the model no longer does what its spec intends",
    "quarantined": "the batch failed validation and was quarantined, so the night was not evaluated "
    "(fix the batch, then 'alignment-drift release-quarantine' and rerun the night)",
}


def run_should_fail(
    spec: AlignmentSpec, verdict: str, *, incident_id: str | None = None, mlflow_run_id: str | None = None
) -> str | None:
    """The message to fail the night's run with when ``governance.fail_run_on`` lists ``verdict``, else None.

    The night is recorded before the run fails: failing only makes the run red in Airflow (and
    Airflow's own failure callbacks fire) instead of a green run that hides a misaligned model.

    Parameters
    ----------
    spec : AlignmentSpec
        The model's spec.
    verdict : str
        The night's verdict, one of ``aligned``, ``watch``, ``drifting``, ``misaligned``, ``quarantined``.
    incident_id, mlflow_run_id : str, optional
        Named in the message when given.

    Raises
    ------
    ValueError
        When ``verdict`` is not a verdict.

    Examples
    --------
    >>> import types
    >>> spec = types.SimpleNamespace(model="m", governance=types.SimpleNamespace(fail_run_on=["misaligned"]))
    >>> run_should_fail(spec, "aligned") is None
    True
    >>> run_should_fail(spec, "misaligned").startswith("m was misaligned")
    True
    """
    if verdict not in VERDICTS:
        raise ValueError(f"The 'verdict' parameter must be one of {list(VERDICTS)}. Got {verdict!r} instead.")
    listed = list(spec.governance.fail_run_on)
    if verdict not in listed:
        return None
    where = []
    if incident_id:
        where.append(f"incident {incident_id}")
    if mlflow_run_id:
        where.append(f"MLflow run {mlflow_run_id}")
    recorded = f" The night is recorded ({', '.join(where)})." if where else " The night is recorded."
    return (
        f"{spec.model} was {verdict}: {_WHY[verdict]}.{recorded} This run fails because "
        f"governance.fail_run_on is {listed}; see the night's report, and acknowledge the incident with "
        f"'alignment-drift incident ack'. To keep such runs green, remove {verdict!r} from governance.fail_run_on."
    )


def routes_for(spec: AlignmentSpec, event: str) -> list[EmailRoute | SlackRoute | WebhookRoute]:
    """The spec's ``governance.notify`` routes that listen for ``event``, in the spec's order.

    Raises
    ------
    ValueError
        When ``event`` is not an alert event.
    """
    if event not in ALERT_EVENTS:
        raise ValueError(f"The 'event' parameter must be one of {list(ALERT_EVENTS)}. Got {event!r} instead.")
    return [route for route in spec.governance.notify if event in route.on]
