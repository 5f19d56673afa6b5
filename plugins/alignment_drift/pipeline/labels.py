"""Late labels: re-evaluate the recorded nights an arrival of labels completes, and update their records.

The labels DAG runs :func:`apply` once per arrival interval: it finds the
recorded nights (within ``max_delay_days``) whose rows the arrival labels,
re-runs their label-dependent benchmarks (those that read the night's rows)
with every label arrived by then (the benchmarks step joins them), judges the
recorded check again with those benchmarks (:func:`~alignment_drift.pipeline.steps.verdict.judge`:
every other signal is the recorded one), and records it in place (tag
``labels_as_of``; never a second run). Reading arrivals is
:mod:`alignment_drift.integrations.sources.labels`.

A labels batch that cannot be read or joined (no id column, no label column,
labels other than 0/1) is quarantined with its bytes intact, like a bad
prediction-log batch, and nothing is updated from it.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from alignment_drift.core.benchmarks import reads_batch
from alignment_drift.core.labels import LabelsError
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.mlflow.checks import list_checks
from alignment_drift.integrations.mlflow.spool import retrying
from alignment_drift.integrations.mlflow.store import client
from alignment_drift.integrations.sources import read_batch
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.integrations.sources.labels import quarantine_arrival, read_arrival
from alignment_drift.pipeline.night import Check, RetrainDecision, Validation
from alignment_drift.pipeline.steps.benchmarks import benchmarks
from alignment_drift.pipeline.steps.pull import pull
from alignment_drift.pipeline.steps.record import record, retrain_due
from alignment_drift.pipeline.steps.verdict import judge
from alignment_drift.settings import Settings

__all__ = ["LABELS_SCHEMA", "apply"]

LABELS_SCHEMA = "alignment-drift/labels-update@1"


def apply(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    connections: ConnectionResolver | None = None,
) -> dict[str, Any]:
    """Apply one arrival's labels: re-evaluate and update every recorded night they label.

    Returns
    -------
    dict
        ``schema``, ``status`` (``none``: nothing arrived, ``applied``, or
        ``quarantined`` with the ``reason`` and ``quarantine`` record), the
        ``arrival`` interval, ``rows`` in the batch, ``nights`` updated (each
        with its run id, verdict before and after, and the retrain decision)
        and ``skipped`` nights with why; ``retrain`` is the first updated night
        that newly requests retraining, or None.
    """
    if spec.labels is None:
        raise ValueError(f"The spec of {spec.model!r} has no labels section; there are no late labels to apply.")
    arrival = {"start": start.isoformat(), "end": end.isoformat()}
    out: dict[str, Any] = {"schema": LABELS_SCHEMA, "model": spec.model, "arrival": arrival}
    out.update(nights=[], skipped=[], retrain=None)
    try:
        described, labels = read_arrival(spec, settings, start=start, end=end, connections=connections)
    except LabelsError as error:
        kept = quarantine_arrival(spec, settings, start, end, str(error), connections)
        return {**out, "status": "quarantined", "reason": str(error), "quarantine": kept}
    if labels is None:
        return {**out, "status": "none", "reason": f"no labels arrived at {described['uri']}"}
    ids = set(labels[spec.columns.id].astype(str))
    since = start - dt.timedelta(days=spec.labels.max_delay_days)
    out.update(status="applied", uri=described["uri"], rows=len(labels))
    for run in list_checks(settings, spec.model, since=since.isoformat(), until=end.isoformat()):
        night = _update_night(spec, settings, run, ids, end, connections)
        (out["nights"] if "run_id" in night else out["skipped"]).append(night)
        if out["retrain"] is None and night.get("retrain_due"):
            out["retrain"] = night
    return out


def _update_night(
    spec: AlignmentSpec,
    settings: Settings,
    run: Any,
    ids: set[str],
    as_of: dt.datetime,
    connections: ConnectionResolver | None,
) -> dict[str, Any]:
    tags = run.data.tags
    night = {"night": tags["data_interval_start"]}
    if tags.get("verdict") == "quarantined":
        return {**night, "why": "the night was quarantined: its batch was not used"}
    if tags.get("labels_as_of", "") >= as_of.isoformat():
        return {**night, "why": f"already has the labels arrived by {tags['labels_as_of']}"}
    start, end = (dt.datetime.fromisoformat(tags[k]) for k in ("data_interval_start", "data_interval_end"))
    pulled = pull(spec, settings, start=start, end=end, connections=connections)
    frame = read_batch(pulled.batch(), connections=connections)
    if not frame[spec.columns.id].astype(str).isin(ids).any():
        return {**night, "why": "none of its rows is labelled by this arrival"}
    check = Check.from_document(_recorded_check(settings, run.info.run_id))
    names = [b.name for b in spec.benchmarks if reads_batch(b)]
    valid = Validation(status="valid", rows=int(check.source.get("rows") or 0), validation=check.validation)
    fresh = benchmarks(spec, settings, pulled, valid, labels_as_of=as_of, only=names, connections=connections)
    by_name = {r["name"]: r for r in fresh.results}
    results = [by_name.get(r["name"], r) for r in check.benchmarks]
    updated = judge(spec, check.model_copy(update={"benchmarks": results, "labels": fresh.labels, "action": None}))
    decision = _retrain_decision(spec, settings, updated, tags)
    recorded = record(
        spec,
        settings,
        updated,
        dag_id=tags.get("airflow_dag_id", ""),
        run_id=tags.get("airflow_run_id", ""),
        retrain=decision,
    )
    newly = decision.due and tags.get("retrain_requested") != "true"
    return {
        **night,
        "run_id": recorded.mlflow_run_id,
        "verdict_before": tags.get("verdict"),
        "verdict": updated.verdict,
        "labels": updated.labels,
        "retrain_due": newly,
        "retrain_reason": decision.reason,
        "data_interval": updated.data_interval.model_dump(),
    }


def _recorded_check(settings: Settings, run_id: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = retrying(
            lambda: client(settings).download_artifacts(run_id, "check.json", tmp), what=f"check.json of run {run_id}"
        )
        return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _retrain_decision(spec: AlignmentSpec, settings: Settings, check: Check, tags: dict[str, str]) -> RetrainDecision:
    """Whether the updated night requests retraining: as the monitor decides, and not again when it already did.

    A night that newly reaches a trigger verdict is coalesced into any request
    made since its own interval started (a later night may have asked already).
    """
    if tags.get("retrain_requested") == "true":
        return RetrainDecision(due=True, reason=tags.get("retrain_reason", ""))
    decision = retrain_due(spec, settings, check)
    if not decision.due:
        return decision
    later = [
        r
        for r in list_checks(settings, spec.model, since=check.data_interval.start)
        if r.data.tags.get("retrain_requested") == "true"
    ]
    if later:
        day = later[0].data.tags["data_interval_start"][:10]
        return RetrainDecision(
            due=False,
            coalesced=True,
            reason=f"verdict {check.verdict} after late labels, coalesced into the request of {day}",
        )
    return RetrainDecision(due=True, reason=f"after late labels: {decision.reason}")
