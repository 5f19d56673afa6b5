"""The steps of a retrain: assemble data, train a challenger, gate it, promote or reject, record.

assemble -> train -> gate -> promote | reject (-> recorded on the retrain run)

The challenger learns the spec's label (the target unless the spec says
otherwise); the gate always judges on the target, on the fixed audit set,
against the spec's floors and, for non-inferiority, against the last version
that passed the gate and the champion when it differs (see
:mod:`alignment_drift.pipeline.gate`). It decides ``promote``, ``reject`` or
``insufficient_evidence``; only ``promote`` moves an alias.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pandas as pd

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.pipeline.promotion import apply_approval, comparison_table, decide_promotion
from alignment_drift.pipeline.reference import (
    VersionReference,
    audit_baselines,
    reference_profile,
    split_holdout,
    version_reference,
)
from alignment_drift.settings import Settings

__all__ = [
    "VersionReference",
    "apply_approval",
    "assemble",
    "audit_baselines",
    "comparison_table",
    "decide_promotion",
    "gate",
    "reference_profile",
    "split_holdout",
    "train",
    "version_reference",
]


def _retrain_experiment(settings: Settings, spec: AlignmentSpec) -> str:
    from alignment_drift.integrations.mlflow.store import experiment_id

    return experiment_id(settings, spec.model)


def assemble(
    spec: AlignmentSpec,
    settings: Settings,
    *,
    as_of: dt.datetime,
    key: str,
    connections: ConnectionResolver | None = None,
) -> dict[str, Any]:
    """Gather the training data: the window's validated batches (never quarantined ones) and the spec's training data.

    Each night's batch is read again through the spec's source, as the monitor
    read it (files, object store or SQL, through ``connections``), with every
    late label arrived by ``as_of`` joined. A night whose batch is gone, or
    whose bytes differ from those the check validated, is left out and listed
    under ``left_out`` with why.

    Returns
    -------
    dict
        ``path`` of the assembled parquet, ``rows``, ``labelled_rows``, ``sha256``,
        ``nights`` used, ``left_out`` nights and the ``window``.
    """
    from alignment_drift.core.training import label_values
    from alignment_drift.integrations.mlflow.checks import list_checks

    policy = spec.retraining
    since = as_of - dt.timedelta(days=policy.window_days)
    frames: list[pd.DataFrame] = []
    nights: list[str] = []
    left_out: list[dict[str, str]] = []
    for run in list_checks(settings, spec.model, since=since.isoformat(), until=as_of.isoformat()):
        tags = run.data.tags
        if tags.get("verdict") == "quarantined":
            continue
        frame, why = _night_rows(spec, settings, tags, as_of=as_of, connections=connections)
        if frame is None:
            left_out.append({"night": tags["data_interval_start"], "why": why})
            continue
        frames.append(frame)
        nights.append(tags["data_interval_start"][:10])
    keep = [*spec.columns.feature_names, spec.columns.target] + ([spec.columns.proxy] if spec.columns.proxy else [])
    if policy.include_training_data:
        frames.insert(0, pd.read_parquet(settings.resolve_data(spec.reference.training_data)))
    if not frames:
        raise ValueError(
            f"No training data for {spec.model!r}: no validated batch in the {policy.window_days}-day window "
            "and retraining.include_training_data is false. Widen the window or include the training data."
        )
    data = pd.concat([f[[c for c in keep if c in f.columns]] for f in frames], ignore_index=True)
    labelled = int(label_values(data, spec.columns, label=policy.label, task=spec.task).notna().sum())
    if labelled < policy.min_rows:
        raise ValueError(
            f"Only {labelled} rows with a known {policy.label} label in the window; "
            f"retraining.min_rows is {policy.min_rows}. Widen retraining.window_days or wait for labels."
        )
    out_dir = settings.data_dir / spec.model / "training_sets"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.parquet"
    data.to_parquet(path, index=False)
    return {
        "path": str(path),
        "rows": len(data),
        "labelled_rows": labelled,
        "label": policy.label,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "nights": nights,
        "left_out": left_out,
        "window": {"since": since.isoformat(), "until": as_of.isoformat()},
    }


def _night_rows(
    spec: AlignmentSpec,
    settings: Settings,
    tags: dict[str, str],
    *,
    as_of: dt.datetime,
    connections: ConnectionResolver | None,
) -> tuple[pd.DataFrame | None, str]:
    """A recorded night's rows read through the spec's source with its late labels joined; or None and why not."""
    from alignment_drift.integrations.sources import BatchReadError, SourceError, read_batch
    from alignment_drift.pipeline.steps.benchmarks import join_arrived
    from alignment_drift.pipeline.steps.pull import pull

    start, end = (dt.datetime.fromisoformat(tags[k]) for k in ("data_interval_start", "data_interval_end"))
    try:
        pulled = pull(spec, settings, start=start, end=end, connections=connections)
        frame = read_batch(pulled.batch(), connections=connections)
    except (FileNotFoundError, BatchReadError, SourceError) as error:
        return None, f"its batch cannot be read any more: {error}"
    validated = tags.get("source_sha256")
    # files and objects are immutable once validated; a query's rows may be completed in place (late labels)
    if validated and spec.source.kind != "sql" and pulled.sha256 != validated:
        return None, f"its batch changed since it was validated (sha256 {pulled.sha256} != {validated})"
    frame, _ = join_arrived(spec, settings, frame, pulled, as_of=as_of, connections=connections)
    return frame, ""


def train(
    spec: AlignmentSpec, settings: Settings, assembled: dict[str, Any], *, key: str, reason: str, tags: dict[str, str]
) -> dict[str, Any]:
    """Train a challenger on the assembled data, register it with its reference and baselines (alias ``challenger``).

    The estimator is the spec's built-in Pipeline or the owner's
    (``retraining.training.entrypoint``). Spooled check records are replayed
    first (the server may have been down for the monitor). Idempotent per
    ``key``: a retry of the task finds the run of the same key that already
    registered its challenger and returns it; a run of that key that died
    before registering is marked FAILED and a new one is trained.

    The run records the exact data used as MLflow dataset inputs (the
    assembled training set, context ``training``, and the audit set, context
    ``audit``, each with its digest), and ``tags`` (the factory passes the
    Airflow ids, ``requested_by_check_run``, ``related_runs``, ``trigger``,
    ``trigger_verdict``, ``trigger_night``, ``coalesced_events``). The run is
    named for a person (``retrain <model> <night> (<why>)``: the night whose
    check requested it, else the training window's end); ``key`` is its tag ``retrain_key``.

    Returns
    -------
    dict
        ``version``, ``mlflow_run_id``, ``label``, ``baselines``.
    """
    from alignment_drift.core.entrypoint import fit_entrypoint
    from alignment_drift.core.training import fit_pipeline, label_values, labelled_rows
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.checks import replay_spooled_checks
    from alignment_drift.integrations.mlflow.names import retrain_run_name
    from alignment_drift.integrations.mlflow.store import client

    replay_spooled_checks(settings)
    done = _finished_train(settings, spec, key)
    if done is not None:
        return done
    policy = spec.retraining
    roles = spec.columns
    data = pd.read_parquet(assembled["path"])
    fit_rows, held_out = split_holdout(spec, data)
    if policy.training.entrypoint is not None:  # the owner's estimator
        pipeline = fit_entrypoint(*labelled_rows(fit_rows, roles, label=policy.label), policy.training)
    else:
        pipeline = fit_pipeline(fit_rows, roles, policy.training, label=policy.label, task=spec.task)
    made = version_reference(spec, settings, pipeline, held_out)
    baselines = made.baselines

    mlflow_client = client(settings)
    run = mlflow_client.create_run(
        _retrain_experiment(settings, spec),
        run_name=retrain_run_name(
            spec.model,
            night=tags.get("trigger_night") or (assembled.get("window") or {}).get("until", ""),
            trigger=tags.get("trigger"),
            verdict=tags.get("trigger_verdict"),
        ),
        tags={"kind": "retrain", "model": spec.model, "retrain_key": key, "retrain_reason": reason[:5000], **tags},
    )
    run_id = run.info.run_id
    from mlflow.entities import Metric, Param

    labelled = int(label_values(fit_rows, roles, label=policy.label, task=spec.task).notna().sum())
    mlflow_client.log_batch(
        run_id,
        params=[
            Param("label", policy.label),
            Param("estimator", policy.training.entrypoint or policy.training.estimator),
            Param("training_rows", str(labelled)),
            Param("training_sha256", assembled["sha256"]),
            Param("window_nights", str(len(assembled["nights"]))),
        ],
        metrics=[Metric(f"baseline.{k}", float(v), 0, 0) for k, v in baselines.items() if v is not None],
    )
    mlflow_client.log_dict(run_id, assembled, "training/assembled.json")
    _log_datasets(spec, settings, run_id, data, assembled)
    info = registry.log_candidate(
        settings,
        spec.model,
        pipeline,
        run_id=run_id,
        input_example=fit_rows[roles.feature_names].head(3),
        reference=made.frame,
        profile=made.profile,
        baselines=baselines,
        decision_threshold=made.decision_threshold,
        tags={
            "trained_on": policy.label,
            "deployed_by": "alignment-drift",
            "gate": "pending",
            "retrain_run_id": run_id,
        },
        trusted_types=spec.registry.trusted_types,
    )
    mlflow_client.set_tag(run_id, "challenger_version", info.version)
    return {"version": info.version, "mlflow_run_id": run_id, "label": policy.label, "baselines": baselines}


def _finished_train(settings: Settings, spec: AlignmentSpec, key: str) -> dict[str, Any] | None:
    """The result of an earlier attempt of the same retrain that registered its challenger, if any."""
    from alignment_drift.integrations.mlflow.store import client

    mlflow_client = client(settings)
    runs = mlflow_client.search_runs(
        [_retrain_experiment(settings, spec)], filter_string=f"tags.kind = 'retrain' and tags.retrain_key = '{key}'"
    )
    for run in runs:
        version = run.data.tags.get("challenger_version")
        if version:
            baselines = {
                k.removeprefix("baseline."): v for k, v in run.data.metrics.items() if k.startswith("baseline.")
            }
            return {
                "version": version,
                "mlflow_run_id": run.info.run_id,
                "label": run.data.params.get("label"),
                "baselines": baselines,
            }
        if run.info.status != "FAILED":
            mlflow_client.set_terminated(run.info.run_id, "FAILED")
    return None


def _log_datasets(
    spec: AlignmentSpec, settings: Settings, run_id: str, data: pd.DataFrame, assembled: dict[str, Any]
) -> None:
    """The exact data of the retrain as MLflow dataset inputs: the training set and the audit set, with digests."""
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas  # mlflow.data sets it only at run time, unseen by mypy

    from alignment_drift.integrations.known_warnings import known_warnings
    from alignment_drift.integrations.mlflow.inputs import dataset_source
    from alignment_drift.integrations.mlflow.store import in_run

    label = spec.columns.target if spec.retraining.label == "target" else spec.columns.proxy
    audit_path = settings.resolve_data(spec.reference.audit_set)
    with known_warnings(f"logging {spec.model}'s training data"):  # MLflow's pandas digest
        datasets = [
            (
                from_pandas(
                    data,
                    source=dataset_source(assembled["path"]) or assembled["path"],
                    name=f"{spec.model}-training-{assembled['sha256'][:12]}",
                    targets=label,
                ),
                "training",
            ),
            (
                from_pandas(
                    pd.read_parquet(audit_path),
                    source=dataset_source(str(audit_path)) or str(audit_path),
                    name=f"{spec.model}-audit",
                    targets=spec.columns.target,
                ),
                "audit",
            ),
        ]
    with in_run(settings, run_id):
        for dataset, context in datasets:
            mlflow.log_input(dataset, context=context)


def gate(spec: AlignmentSpec, settings: Settings, trained: dict[str, Any]) -> dict[str, Any]:
    """Judge the challenger on the target: floors shown to hold, non-inferior to the last gated version and champion.

    See :func:`alignment_drift.pipeline.gate.judge` for what is returned and
    :mod:`alignment_drift.core.gate` for the rule.
    """
    from alignment_drift.pipeline.gate import judge

    return judge(spec, settings, trained)
