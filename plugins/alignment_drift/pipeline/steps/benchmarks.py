"""``benchmarks``: the spec's safety benchmarks, on the fixed audit set and on the night's rows.

The deployed version is re-scored on the audit set; the batch's logged
decisions are evaluated where its labels are known (with the late labels
arrived so far joined by id). Baselines the reference did not record (kinds
that need the model) are the reference version's own values on the audit set.
Also the selection evidence of a feedback loop: the deployed model's exposure
rate against the reference version's on the same items (at most
:data:`SELECTION_MAX_ROWS` of them, a seeded uniform sample of a larger batch).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.core.benchmarks import Scored, run_benchmarks
from alignment_drift.core.drift.output import output_columns
from alignment_drift.core.exposure import exposed
from alignment_drift.core.labels import join_labels
from alignment_drift.core.scoring import ModelOutput, logged_output, score_model
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.mlflow import registry
from alignment_drift.integrations.sources import read_batch
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.integrations.sources.labels import arrived_labels, label_columns
from alignment_drift.integrations.sources.partitions import batch_rows, read_columns
from alignment_drift.pipeline.night import BenchmarkResults, Pulled, Validation
from alignment_drift.pipeline.steps.drift import deployed_info
from alignment_drift.settings import Settings

__all__ = ["BENCHMARK_MAX_ROWS", "SELECTION_MAX_ROWS", "benchmarks", "join_arrived"]

#: Rows of the batch the benchmarks read at most: a larger batch is read as a seeded uniform sample of this size.
BENCHMARK_MAX_ROWS = 1_000_000
#: Items on which the selection evidence compares the deployed model with the reference version at most: the
#: reference version re-scores them, so a larger batch is compared on a seeded uniform sample of this size.
#: The exposure rates' difference is then known within sqrt(1 / 100,000) = 0.003 (its standard error at
#: most: each item's difference is -1, 0 or 1), a tenth of the verdict's default minimum change (0.03).
SELECTION_MAX_ROWS = 100_000
_SELECTION_SEED = 20_260_101


def _declared_columns(spec: AlignmentSpec) -> list[str]:
    roles = spec.columns
    out_numeric, out_categorical = output_columns(spec)
    named: list[str | None] = [roles.id, roles.timestamp, *roles.feature_names, *out_numeric, *out_categorical]
    named += [roles.score, roles.target, roles.proxy, roles.exposure, roles.model_version, *roles.segments]
    if roles.interval is not None:
        named += [roles.interval.lower, roles.interval.upper]
    return list(dict.fromkeys(c for c in named if c))


def _read_bounded(spec: AlignmentSpec, pulled: Pulled, connections: ConnectionResolver | None) -> pd.DataFrame:
    """The batch: whole up to :data:`BENCHMARK_MAX_ROWS` rows, else the spec's columns as a seeded sample."""
    batch = pulled.batch()
    rows = batch_rows(batch, connections=connections) if batch.format == "parquet" else None
    if rows is None or rows <= BENCHMARK_MAX_ROWS:
        return read_batch(batch, connections=connections)
    return read_columns(batch, _declared_columns(spec), max_rows=BENCHMARK_MAX_ROWS, connections=connections)[0]


def _logged_versions(spec: AlignmentSpec, frame: pd.DataFrame) -> dict[str, int]:
    column = spec.columns.model_version
    if not column or column not in frame.columns:
        return {}
    return {str(k): int(v) for k, v in frame[column].dropna().astype(str).value_counts().items()}


def join_arrived(
    spec: AlignmentSpec,
    settings: Settings,
    frame: pd.DataFrame,
    pulled: Pulled,
    *,
    as_of: dt.datetime | None = None,
    connections: ConnectionResolver | None = None,
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The night's rows with the labels arrived by ``as_of`` (default now) joined; and what was joined.

    Returns the frame unchanged and None when the spec has no ``labels`` section or nothing has arrived.
    """
    if spec.labels is None:
        return frame, None
    night_start, night_end = pulled.interval.bounds()
    labels, ends = arrived_labels(
        spec, settings, night_start, night_end, as_of=as_of or dt.datetime.now(dt.UTC), connections=connections
    )
    if labels is None:
        return frame, None
    joined = join_labels(frame, labels, id_column=spec.columns.id, columns=label_columns(spec))
    if joined.matched == 0:
        return frame, None
    return joined.frame, {"as_of": max(ends), "arrivals": len(ends), **joined.to_dict()}


def _missing_baselines(
    spec: AlignmentSpec,
    settings: Settings,
    audit: pd.DataFrame,
    model: Any,
    known: dict[str, Any],
    selected: Sequence[Any],
) -> dict[str, float | None]:
    """Baselines the promotion did not record (kinds that need the model, or a batch).

    They are the reference version's own values on the fixed audit set (batch
    benchmarks evaluated on the audit set too): deterministic, so the same as
    if recorded at promotion.
    """
    missing = [b for b in selected if known.get(b.name) is None and b.kind != "proxy_target_gap"]
    if not missing:
        return {}
    scored = Scored.from_output(audit, spec, _score(spec, model, audit))
    results = run_benchmarks(missing, audit=scored, batch=scored, model=model, probes_dir=settings.specs_dir)
    return {r.name: r.value for r in results}


def _score(spec: AlignmentSpec, model: Any, frame: pd.DataFrame) -> ModelOutput:
    """``model``'s output on ``frame`` as the spec's task reads it."""
    return score_model(
        model,
        frame,
        task=spec.task,
        features=spec.columns.feature_names,
        threshold=spec.retraining.training.decision_threshold,
        positive=spec.columns.positive_class,
    )


def _selection(spec: AlignmentSpec, frame: pd.DataFrame, scored: Scored, reference_model: Any) -> dict[str, Any] | None:
    """Who selects tonight's exposed items: the deployed model vs what the reference version would expose.

    And where the proxy feedback is observed (only on exposed items means
    the labels the platform learns from are chosen by the model itself).
    None when the spec's exposure rule says the model exposes nothing.
    """
    roles = spec.columns
    compared = frame
    if len(frame) > SELECTION_MAX_ROWS:
        rng = np.random.default_rng(_SELECTION_SEED)
        compared = frame.iloc[np.sort(rng.choice(len(frame), SELECTION_MAX_ROWS, replace=False))]
    deployed = exposed(spec, logged_output(spec, compared))
    reference = exposed(spec, _score(spec, reference_model, compared)) if len(compared) else None
    if deployed is None or (len(compared) and reference is None):
        return None
    out: dict[str, Any] = {
        "deployed_exposure_rate": float(deployed.mean()) if len(compared) else None,
        "reference_model_exposure_rate": float(reference.mean()) if reference is not None and len(compared) else None,
        "rows": len(compared),
        "batch_rows": len(frame),
        "proxy_on_exposed_share": None,
    }
    if scored.proxy is not None and roles.exposure and roles.exposure in frame.columns:
        observed = ~np.isnan(scored.proxy)
        if observed.any():
            out["proxy_on_exposed_share"] = float((frame[roles.exposure].to_numpy(float)[observed] == 1).mean())
    return out


def benchmarks(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: Pulled,
    validation: Validation,
    *,
    labels_as_of: dt.datetime | None = None,
    only: Sequence[str] | None = None,
    connections: ConnectionResolver | None = None,
) -> BenchmarkResults:
    """The spec's safety benchmarks: the deployed version on the audit set, and the batch's logged decisions.

    With a ``labels`` section in the spec, the labels that have arrived for
    the night by ``labels_as_of`` (default now) are joined to its rows first;
    ``labels`` in the result says which. ``only`` restricts the run to the
    named benchmarks.
    """
    if not validation.valid:
        return BenchmarkResults(skipped=True)
    frame = _read_bounded(spec, pulled, connections)
    deployed = deployed_info(spec, settings, _logged_versions(spec, frame))
    reference = registry.load_reference(settings, spec.model, deployed)
    frame, labels_info = join_arrived(spec, settings, frame, pulled, as_of=labels_as_of, connections=connections)
    selected = [b for b in spec.benchmarks if only is None or b.name in only]
    audit = pd.read_parquet(settings.resolve_data(spec.reference.audit_set))
    model = registry.load_model(settings, spec.model, deployed.version)
    audit_scored = Scored.from_output(audit, spec, _score(spec, model, audit))
    batch_scored = Scored.from_output(frame, spec, logged_output(spec, frame), logged=True)
    same = reference.version == deployed.version
    reference_model = model if same else registry.load_model(settings, spec.model, reference.version)
    baselines = dict(reference.baselines)
    baselines.update(_missing_baselines(spec, settings, audit, reference_model, baselines, selected))
    results = run_benchmarks(
        selected,
        audit=audit_scored,
        batch=batch_scored,
        baselines=baselines,
        model=model,
        probes_dir=settings.specs_dir,
    )
    return BenchmarkResults(
        skipped=False,
        model_version=deployed.version,
        reference_version=reference.version,
        results=[r.to_dict() for r in results],
        selection=_selection(spec, frame, batch_scored, reference_model),
        labels=labels_info,
    )
