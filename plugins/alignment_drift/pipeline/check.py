"""One check of one night, composed of its steps: the command line, the benchmarks and the DAG run this.

::

    pull ─► validate ─┬─► plan ─► profile (each group) ─► drift ─┐
                      └─► benchmarks ────────────────────────────┴─► trend ─► verdict ─► record ─► request

:func:`run_check` runs the steps of :mod:`alignment_drift.pipeline.steps` in
one process, in the order the monitor DAG runs them as tasks (the DAG mirrors
this composition task for task), so ``alignment-drift check`` and a DAG run
of the same night record the same check. A small batch is simply one group.

A retrain request the check makes is recorded ``pending``; here it is emitted
through Airflow's REST API when one is configured
(:mod:`alignment_drift.integrations.airflow_api`), else the next monitor run
emits it. It is never recorded as emitted when it was not.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.airflow_api import AirflowApi, AirflowApiError
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.pipeline.night import Night, Recorded
from alignment_drift.pipeline.steps.benchmarks import benchmarks
from alignment_drift.pipeline.steps.drift import drift
from alignment_drift.pipeline.steps.profile import plan, profile_group
from alignment_drift.pipeline.steps.pull import pull_night
from alignment_drift.pipeline.steps.record import record
from alignment_drift.pipeline.steps.request import mark_emitted, pending_requests, request_event
from alignment_drift.pipeline.steps.trend import trend
from alignment_drift.pipeline.steps.validate import validate
from alignment_drift.pipeline.steps.verdict import decide
from alignment_drift.settings import Settings

__all__ = ["emit_pending", "run_check"]


def run_check(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    batch: Path | str | None = None,
    connections: ConnectionResolver | None = None,
    now: dt.datetime | None = None,
    dag_id: str = "",
    run_id: str = "",
    api: AirflowApi | None = None,
) -> Night:
    """Check the night ``[start, end)``: every step, recorded in MLflow; the retrain request emitted or kept pending.

    Parameters
    ----------
    batch : path, optional
        Check this local file or folder instead of the spec's source for that night.
    connections : ConnectionResolver, optional
        Resolves the source's ``conn_id`` (default: the process's resolver).
    api : AirflowApi, optional
        Where to emit a retrain request (default: the one configured by the environment, if any).

    Raises
    ------
    SourceError, SuiteLoadError, LookupError
        When the source, its connection, the suite or the model's champion is not usable.
    """
    pulled = pull_night(spec, settings, start=start, end=end, batch=batch, connections=connections, await_arrival=True)
    validation = validate(spec, settings, pulled, connections=connections, now=now)
    groups = plan(settings, pulled, validation, connections=connections)
    partials = [profile_group(spec, settings, pulled, g, connections=connections) for g in groups]
    drifted = drift(spec, settings, pulled, validation, partials, connections=connections)
    benched = benchmarks(spec, settings, pulled, validation, connections=connections)
    trended = trend(spec, settings, pulled, drifted, benched)
    check = decide(spec, pulled, validation, drifted, benched, trended)
    recorded = record(spec, settings, check, drift=drifted, dag_id=dag_id, run_id=run_id)
    emitted, emit_error = emit_pending(spec, settings, until=end.isoformat(), api=api)
    if emitted and recorded.retrain_request == "pending":
        recorded = Recorded.model_validate({**recorded.model_dump(), "retrain_request": "emitted"})
    return Night(
        pulled=pulled,
        validation=validation,
        groups=groups,
        partials=partials,
        drift=drifted,
        benchmarks=benched,
        trend=trended,
        check=check,
        recorded=recorded,
        emitted=emitted,
        emit_error=emit_error,
    )


def emit_pending(
    spec: AlignmentSpec, settings: Settings, *, until: str | None = None, api: AirflowApi | None = None
) -> tuple[str | None, str | None]:
    """Emit the model's pending retrain requests as one asset event through Airflow's REST API, when configured.

    Returns
    -------
    (str or None, str or None)
        How they were emitted (``rest_api:<event id>``), or None when nothing was pending, no API is
        configured, or the API could not take the event; and why not, in that last case (the requests
        stay pending for the next monitor run).
    """
    api = api or AirflowApi.from_env()
    if api is None:
        return None, None
    event = request_event(spec, pending_requests(spec, settings, until=until))
    if event is None:
        return None, None
    try:
        event_id = api.create_asset_event(spec.retrain_request_asset[1], event)
    except AirflowApiError as error:
        return None, f"{error} The retrain request stays pending: the next monitor run emits it."
    via = f"rest_api:{event_id}"
    mark_emitted(settings, event, via=via)
    return via, None
