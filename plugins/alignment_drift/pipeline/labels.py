"""Late labels: join the labels that arrive after a night back to it, and re-evaluate the nights they complete.

The spec's ``labels`` section names a source templated by the *arrival*
interval (``labels/{date}.parquet`` holds the labels that arrived that day),
each batch carrying the prediction log's id column and the target (and/or
proxy) column. Two steps use it:

- the monitor's benchmarks join every label arrived for the night so far
  (:func:`join_arrived`), so a rerun or a backfill of an old night uses them;
- the labels DAG runs :func:`apply` once per arrival interval: it finds the
  recorded nights (within ``max_delay_days``) whose rows the arrival labels,
  re-evaluates their label-dependent benchmarks (those that read the night's
  rows) with every label arrived by then, re-decides the verdict, and updates
  the night's MLflow run in place (tag ``labels_as_of``; never a second run).

A labels batch that cannot be read or joined (no id column, no label column,
labels other than 0/1) is quarantined with its bytes intact, like a bad
prediction-log batch, and nothing is updated from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from alignment_drift.core.labels import ARRIVAL_COLUMN, LabelsError, check_labels, join_labels
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.settings import Settings

__all__ = ["LABELS_SCHEMA", "apply", "arrival_intervals", "arrived_labels", "join_arrived", "read_arrival"]

LABELS_SCHEMA = "alignment-drift/labels-update@1"


def _label_columns(spec: AlignmentSpec) -> list[str]:
    roles = spec.columns
    return [roles.target] + ([roles.proxy] if roles.proxy else [])


def arrival_intervals(
    night_start: dt.datetime, night_end: dt.datetime, *, as_of: dt.datetime, max_delay_days: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The arrival intervals that can hold labels of a night: from the night itself, up to ``max_delay_days`` later.

    Only arrivals that have ended by ``as_of`` count (an arrival still under way is not complete).
    """
    length = night_end - night_start
    last = night_start + dt.timedelta(days=max_delay_days)
    out = []
    start = night_start
    while start <= last and start + length <= as_of:
        out.append((start, start + length))
        start += length
    return out


def read_arrival(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    start: dt.datetime,
    end: dt.datetime,
    connections: ConnectionResolver | None = None,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """One arrival's labels batch: its description (``Batch.to_dict()``) and its rows, or None when nothing arrived.

    Raises
    ------
    LabelsError
        When the batch exists but cannot be read or joined (refused path, unreadable bytes, bad columns or values).
    """
    from alignment_drift.integrations.quarantine import interval_key
    from alignment_drift.integrations.sources import BatchReadError, locate_batch, read_batch

    assert spec.labels is not None
    labels_spec = spec.model_copy(update={"source": spec.labels.source})
    workdir = None
    if spec.labels.source.kind == "sql":
        workdir = settings.data_dir / "_labels" / spec.model / interval_key(start, end)
        workdir.mkdir(parents=True, exist_ok=True)
    batch = locate_batch(labels_spec, settings, start=start, end=end, connections=connections, workdir=workdir)
    described = batch.to_dict()
    if batch.refused:
        raise LabelsError(f"The labels batch at {batch.uri} was refused: {batch.refused}")
    if not batch.exists:
        return described, None
    try:
        frame = read_batch(batch, connections=connections)
    except BatchReadError as error:
        raise LabelsError(f"The labels batch at {batch.uri} is unreadable: {error}") from None
    check_labels(frame, id_column=spec.columns.id, columns=_label_columns(spec), where=f"at {batch.uri}")
    return described, frame


def arrived_labels(
    spec: AlignmentSpec,
    settings: Settings,
    night_start: dt.datetime,
    night_end: dt.datetime,
    *,
    as_of: dt.datetime,
    connections: ConnectionResolver | None = None,
) -> tuple[pd.DataFrame | None, list[str]]:
    """Every label arrived for a night by ``as_of``, in arrival order, and the arrival ends read.

    An arrival whose batch is bad is skipped here (the labels DAG quarantines it).
    """
    assert spec.labels is not None
    frames, ends = [], []
    for start, end in arrival_intervals(night_start, night_end, as_of=as_of, max_delay_days=spec.labels.max_delay_days):
        try:
            _, frame = read_arrival(spec, settings, start=start, end=end, connections=connections)
        except LabelsError:
            continue
        if frame is None:
            continue
        keep = [c for c in (spec.columns.id, *_label_columns(spec)) if c in frame.columns]
        frames.append(frame[keep].assign(**{ARRIVAL_COLUMN: start.isoformat()}))
        ends.append(end.isoformat())
    if not frames:
        return None, []
    return pd.concat(frames, ignore_index=True), ends


def join_arrived(
    spec: AlignmentSpec,
    settings: Settings,
    frame: pd.DataFrame,
    pulled: dict[str, Any],
    *,
    as_of: dt.datetime | None = None,
    connections: ConnectionResolver | None = None,
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The night's rows with the labels arrived by ``as_of`` (default now) joined; and what was joined.

    Returns the frame unchanged and None when the spec has no ``labels`` section or nothing has arrived.
    """
    if spec.labels is None:
        return frame, None
    night_start, night_end = (dt.datetime.fromisoformat(pulled["interval"][k]) for k in ("start", "end"))
    labels, ends = arrived_labels(
        spec, settings, night_start, night_end, as_of=as_of or dt.datetime.now(dt.UTC), connections=connections
    )
    if labels is None:
        return frame, None
    joined = join_labels(frame, labels, id_column=spec.columns.id, columns=_label_columns(spec))
    if joined.matched == 0:
        return frame, None
    return joined.frame, {"as_of": max(ends), "arrivals": len(ends), **joined.to_dict()}


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
    from alignment_drift.integrations.mlflow.checks import list_checks

    if spec.labels is None:
        raise ValueError(f"The spec of {spec.model!r} has no labels section; there are no late labels to apply.")
    arrival = {"start": start.isoformat(), "end": end.isoformat()}
    out: dict[str, Any] = {"schema": LABELS_SCHEMA, "model": spec.model, "arrival": arrival}
    out.update(nights=[], skipped=[], retrain=None)
    try:
        described, labels = read_arrival(spec, settings, start=start, end=end, connections=connections)
    except LabelsError as error:
        kept = _quarantine(spec, settings, start, end, str(error), connections)
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
    from alignment_drift.core.benchmarks import reads_batch
    from alignment_drift.pipeline import ingest, monitor

    tags = run.data.tags
    night = {"night": tags["data_interval_start"]}
    if tags.get("verdict") == "quarantined":
        return {**night, "why": "the night was quarantined: its batch was not used"}
    if tags.get("labels_as_of", "") >= as_of.isoformat():
        return {**night, "why": f"already has the labels arrived by {tags['labels_as_of']}"}
    start, end = (dt.datetime.fromisoformat(tags[k]) for k in ("data_interval_start", "data_interval_end"))
    pulled = ingest.pull(spec, settings, start=start, end=end, connections=connections)
    frame = ingest.read_pulled(pulled, connections)
    if not frame[spec.columns.id].astype(str).isin(ids).any():
        return {**night, "why": "none of its rows is labelled by this arrival"}
    check = _recorded_check(settings, run.info.run_id)
    names = [b.name for b in spec.benchmarks if reads_batch(b)]
    fresh = monitor.benchmarks(spec, settings, pulled, {"status": "valid"}, labels_as_of=as_of, only=names)
    by_name = {r["name"]: r for r in fresh["results"]}
    results = [by_name.get(r["name"], r) for r in check["benchmarks"]]
    updated = _redecide(spec, check, {**fresh, "results": results})
    decision = _retrain_decision(spec, settings, updated, tags)
    recorded = monitor.record(
        spec,
        settings,
        updated,
        dag_id=tags.get("airflow_dag_id", ""),
        run_id=tags.get("airflow_run_id", ""),
        retrain=decision,
    )
    newly = decision[0] and tags.get("retrain_requested") != "true"
    return {
        **night,
        "run_id": recorded["mlflow_run_id"],
        "verdict_before": tags.get("verdict"),
        "verdict": updated["verdict"],
        "labels": updated["labels"],
        "retrain_due": newly,
        "retrain_reason": decision[2],
        "data_interval": updated["data_interval"],
    }


def _recorded_check(settings: Settings, run_id: str) -> dict[str, Any]:
    import json
    import tempfile
    from pathlib import Path

    from alignment_drift.integrations.mlflow.spool import retrying
    from alignment_drift.integrations.mlflow.store import client

    with tempfile.TemporaryDirectory() as tmp:
        path = retrying(
            lambda: client(settings).download_artifacts(run_id, "check.json", tmp), what=f"check.json of run {run_id}"
        )
        return json.loads(Path(path).read_text(encoding="utf-8"))


def _redecide(spec: AlignmentSpec, check: dict[str, Any], bench_out: dict[str, Any]) -> dict[str, Any]:
    """The night's check decided again with updated benchmarks; every other signal is the recorded one."""
    from alignment_drift.pipeline import monitor

    pulled = {"interval": check["data_interval"], "uri": check["source"]["uri"], "sha256": check["source"]["sha256"]}
    validation = {
        "status": "valid",
        "rows": check["source"]["rows"],
        "validation": check.get("validation"),
        "quarantine": None,
    }
    drift_out = {k: check.get(k) for k in ("drift", "output_drift", "multivariate", "exposure")}
    bench = {
        "results": bench_out["results"],
        "model_version": check["model_version"],
        "reference_version": check["reference_version"],
        "selection": check.get("selection"),
        "labels": bench_out.get("labels"),
    }
    return monitor.decide(spec, pulled, validation, drift_out, bench, check.get("trends"))


def _retrain_decision(
    spec: AlignmentSpec, settings: Settings, check: dict[str, Any], tags: dict[str, str]
) -> tuple[bool, bool, str]:
    """Whether the updated night requests retraining: as the monitor decides, and not again when it already did.

    A night that newly reaches a trigger verdict is coalesced into any request
    made since its own interval started (a later night may have asked already).
    """
    from alignment_drift.integrations.mlflow.checks import list_checks
    from alignment_drift.pipeline.monitor import retrain_due

    if tags.get("retrain_requested") == "true":
        return True, False, tags.get("retrain_reason", "")
    due, coalesced, reason = retrain_due(spec, settings, check)
    if not due:
        return due, coalesced, reason
    later = [
        r
        for r in list_checks(settings, spec.model, since=check["data_interval"]["start"])
        if r.data.tags.get("retrain_requested") == "true"
    ]
    if later:
        day = later[0].data.tags["data_interval_start"][:10]
        return False, True, f"verdict {check['verdict']} after late labels, coalesced into the request of {day}"
    return True, False, f"after late labels: {reason}"


def _quarantine(
    spec: AlignmentSpec,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    connections: ConnectionResolver | None,
) -> dict[str, Any] | None:
    """Quarantine a bad labels batch (bytes copied and verified) under ``<quarantine>/<model>/labels-<key>``."""
    from alignment_drift.integrations.quarantine import interval_key, quarantine_batch
    from alignment_drift.integrations.sources import Batch, batch_members, locate_batch

    assert spec.labels is not None
    labels_spec = spec.model_copy(update={"source": spec.labels.source})
    workdir = None
    if spec.labels.source.kind == "sql":
        workdir = settings.data_dir / "_labels" / spec.model / interval_key(start, end)
    batch: Batch = locate_batch(labels_spec, settings, start=start, end=end, connections=connections, workdir=workdir)
    if batch.refused or not batch.exists:
        return None  # nothing readable to keep: the reason says where it was
    record = quarantine_batch(
        batch.path if batch.protocol == "file" else batch.uri,
        quarantine_root=settings.quarantine_dir,
        model=spec.model,
        interval_start=f"labels-{interval_key(start, end)}",
        reason=reason,
        details={"kind": "labels", "batch": {k: batch.to_dict().get(k) for k in ("kind", "uri", "format", "layout")}},
        members=batch_members(batch, connections),
        data_interval={"start": start.isoformat(), "end": end.isoformat()},
        source_exists=True,
    )
    return record.to_dict()
