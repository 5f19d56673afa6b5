"""The measuring steps of one check, as plain functions over JSON-able values and paths.

The monitor DAG runs each step as a task, passing the small dicts these
functions return through XCom; the command line runs the same functions in
one process. No step imports Airflow. Getting the batch in (pull, validate,
quarantine) is :mod:`alignment_drift.pipeline.ingest`.

(drift || benchmarks) -> decide -> record
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.incidents import INCIDENT_VERDICTS
from alignment_drift.pipeline.ingest import evidence_dir, read_pulled
from alignment_drift.settings import Settings

__all__ = ["CHECK_SCHEMA", "benchmarks", "decide", "drift", "record", "retrain_due"]

CHECK_SCHEMA = "alignment-drift/check@1"


def _deployed_version(spec: AlignmentSpec, settings: Settings, frame: pd.DataFrame) -> str:
    """The version that scored the batch: the log's model_version column, else the current champion."""
    from alignment_drift.integrations.mlflow import registry

    column = spec.columns.model_version
    if column and column in frame.columns and frame[column].notna().any():
        return str(frame[column].astype(str).mode().iloc[0])
    champion = registry.champion(settings, spec.model)
    if champion is None:
        raise LookupError(f"Model {spec.model!r} has no champion; train one with the retrain DAG first.")
    return champion.version


#: Rows of the batch the benchmarks read at most: a larger batch is read as a seeded uniform sample of this size.
BENCHMARK_MAX_ROWS = 1_000_000


def _declared_columns(spec: AlignmentSpec) -> list[str]:
    roles = spec.columns
    named = [roles.id, roles.timestamp, *roles.feature_names, roles.prediction, roles.score, roles.target]
    named += [roles.proxy, roles.exposure, roles.model_version, *roles.segments]
    return list(dict.fromkeys(c for c in named if c))


def _read_bounded(spec: AlignmentSpec, pulled: dict[str, Any]) -> pd.DataFrame:
    """The batch for the benchmarks: whole up to :data:`BENCHMARK_MAX_ROWS` rows, else the spec's columns sampled."""
    from alignment_drift.pipeline.partitions import batch_rows, read_columns

    rows = batch_rows(pulled) if pulled.get("format") == "parquet" else None
    if rows is None or rows <= BENCHMARK_MAX_ROWS:
        return read_pulled(pulled)
    return read_columns(pulled, _declared_columns(spec), max_rows=BENCHMARK_MAX_ROWS)[0]


def _context(
    spec: AlignmentSpec, settings: Settings, pulled: dict[str, Any], *, bounded: bool = False
) -> tuple[pd.DataFrame, Any, Any]:
    from alignment_drift.integrations.mlflow import registry

    frame = _read_bounded(spec, pulled) if bounded else read_pulled(pulled)
    version = _deployed_version(spec, settings, frame)
    deployed = registry.version_info(settings, spec.model, version)
    return frame, deployed, registry.load_reference(settings, spec.model, deployed)


def drift(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: dict[str, Any],
    validation: dict[str, Any],
    *,
    partials: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Input drift of every feature and output drift of scores and decisions, against the reference profile.

    Also the joint (multivariate) tests and the model's exposure rate. The
    night's families — input columns, model outputs, joint tests — share
    ``alpha`` by Bonferroni, and each is corrected inside (BH by default), so
    a drift-free night raises any drift signal with probability at most ``alpha``.

    With ``partials`` (the per-group profiles of
    :func:`alignment_drift.pipeline.partitions.profile_group`) the batch is
    never read whole: they are merged and tested as the batch's profile, and
    the joint tests (when on) run on a bounded row sample.
    """
    if validation["status"] != "valid":
        return {"skipped": True}
    if partials is not None:
        return _drift_merged(spec, settings, pulled, partials)
    frame, deployed, reference = _context(spec, settings, pulled)
    roles = spec.columns
    input_detector, output_detector, family_alpha, joint = _detectors(spec, reference.profile)
    inputs, outputs = input_detector.test(frame), output_detector.test(frame)
    out: dict[str, Any] = {
        "skipped": False,
        "model_version": deployed.version,
        "reference_version": reference.version,
        "drift": inputs.to_dict(),
        "output_drift": outputs.to_dict(),
        "multivariate": _multivariate(spec, reference.frame, frame, family_alpha) if joint else {},
        "exposure": None,
    }
    if roles.exposure and roles.exposure in frame.columns:
        score = reference.profile.columns[roles.score].summary
        assert score is not None
        # the reference exposes what it scores below the threshold: F(threshold-)
        below = float(score.weights[score.values < reference.decision_threshold].sum()) / max(score.n, 1)
        exposed = frame[roles.exposure].dropna().to_numpy(float)
        out["exposure"] = _exposure(below, reference.profile.n_rows, exposed)
    return out


def _detectors(spec: AlignmentSpec, profile: Any) -> tuple[Any, Any, float, bool]:
    """The night's input and output detectors on the reference profile, the families' alpha, whether joint tests run.

    The night's families — input columns, model outputs, joint tests — share
    ``alpha`` by Bonferroni; each is corrected inside (BH by default).
    """
    from alignment_drift.core.drift import DriftDetector

    policy, roles = spec.drift, spec.columns
    joint = policy.multivariate.domain_classifier or policy.multivariate.mmd
    family_alpha = policy.alpha / (3 if joint else 2)
    common = {
        "alpha": family_alpha,
        "correction": policy.correction,
        "categorical_test": policy.categorical_test,
        "missing_effect_floor": policy.missing_effect_floor,
    }
    inputs = DriftDetector(
        profile,
        numeric=roles.numeric,
        categorical=roles.categorical,
        numeric_effect_floor=policy.numeric_effect_floor,
        categorical_effect_floor=policy.categorical_effect_floor,
        **common,
    )
    outputs = DriftDetector(
        profile,
        numeric=[roles.score],
        categorical=[roles.prediction],
        numeric_effect_floor=policy.output_effect_floor,
        categorical_effect_floor=policy.categorical_effect_floor,
        **common,
    )
    return inputs, outputs, family_alpha, joint


def _drift_merged(
    spec: AlignmentSpec, settings: Settings, pulled: dict[str, Any], partials: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """:func:`drift` on the merged per-group profiles of a batch (same tests, same result shape)."""
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline.partitions import merge_partials, read_columns

    batch = merge_partials(partials)
    if batch is None:
        raise ValueError(f"No group of {pulled['uri']} was profiled; the drift step has nothing to test.")
    policy, roles = spec.drift, spec.columns
    version_counts = batch.columns[roles.model_version].counts if roles.model_version in batch.columns else {}
    if version_counts:
        version = min(version_counts, key=lambda v: (-version_counts[v], v))  # the mode, ties to the smallest
    else:
        champion = registry.champion(settings, spec.model)
        if champion is None:
            raise LookupError(f"Model {spec.model!r} has no champion; train one with the retrain DAG first.")
        version = champion.version
    deployed = registry.version_info(settings, spec.model, version)
    reference = registry.load_reference(settings, spec.model, deployed)
    input_detector, output_detector, family_alpha, joint = _detectors(spec, reference.profile)
    inputs, outputs = input_detector.test_profile(batch), output_detector.test_profile(batch)
    multivariate: dict[str, Any] = {}
    if joint:
        bound = max(policy.multivariate.max_rows, policy.multivariate.mmd_max_rows)
        sample, _ = read_columns(pulled, roles.feature_names, max_rows=bound)
        multivariate = _multivariate(spec, reference.frame, sample, family_alpha)
    out: dict[str, Any] = {
        "skipped": False,
        "model_version": deployed.version,
        "reference_version": reference.version,
        "drift": inputs.to_dict(),
        "output_drift": outputs.to_dict(),
        "multivariate": multivariate,
        "exposure": None,
        "partitions": {"groups": len(partials), "rows": batch.n_rows},
    }
    exposed = batch.columns.get(roles.exposure) if roles.exposure else None
    if exposed is not None and exposed.summary is not None:
        score = reference.profile.columns[roles.score].summary
        assert score is not None
        below = float(score.weights[score.values < reference.decision_threshold].sum()) / max(score.n, 1)
        total = float(np.dot(exposed.summary.values, exposed.summary.weights))  # 0/1 values: exact
        out["exposure"] = _exposure_counts(below, reference.profile.n_rows, total, exposed.summary.n)
    return out


def _multivariate(spec: AlignmentSpec, reference: pd.DataFrame, batch: pd.DataFrame, alpha: float) -> dict[str, Any]:
    """The spec's joint tests on the reference's row sample and the batch, Bonferroni-split ``alpha``."""
    from alignment_drift.core.drift.multivariate import DomainClassifierDrift, MMDDrift

    policy, roles = spec.drift.multivariate, spec.columns
    tests = [name for name, on in (("domain_classifier", policy.domain_classifier), ("mmd", policy.mmd)) if on]
    common = {"numeric": roles.numeric, "categorical": roles.categorical, "alpha": alpha / max(len(tests), 1)}
    out: dict[str, Any] = {}
    if policy.domain_classifier:
        classifier = DomainClassifierDrift(reference, max_rows=policy.max_rows, n_folds=policy.folds, **common)  # type: ignore[arg-type]
        out["domain_classifier"] = classifier.test(batch).to_dict()
    if policy.mmd:
        mmd = MMDDrift(reference, max_rows=policy.mmd_max_rows, permutations=policy.permutations, **common)  # type: ignore[arg-type]
        out["mmd"] = mmd.test(batch).to_dict()
    return out


def _exposure(ref_rate: float, n_ref: int, exposed: np.ndarray) -> dict[str, Any]:
    return _exposure_counts(ref_rate, n_ref, float(exposed.sum()), len(exposed))


def _exposure_counts(ref_rate: float, n_ref: int, total: float, n: int) -> dict[str, Any]:
    """The exposure rate test from the batch's exposed count ``total`` out of ``n`` rows."""
    cur_rate = total / n if n else float("nan")
    pooled = (ref_rate * n_ref + total) / (n_ref + n) if n else 0.0
    se = float(np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / max(n, 1))))
    p = 1.0 if se == 0 or not np.isfinite(cur_rate) else float(2 * stats.norm.sf(abs(cur_rate - ref_rate) / se))
    return {"reference_rate": ref_rate, "current_rate": cur_rate, "p_value": p}


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
    from alignment_drift.core.benchmarks import Scored, run_benchmarks

    missing = [b for b in selected if known.get(b.name) is None and b.kind != "proxy_target_gap"]
    if not missing:
        return {}
    threshold = spec.retraining.training.decision_threshold
    scored = Scored.from_frame(
        audit, spec.columns, score=model.predict_proba(audit[spec.columns.feature_names])[:, 1], threshold=threshold
    )
    results = run_benchmarks(missing, audit=scored, batch=scored, model=model, probes_dir=settings.specs_dir)
    return {r.name: r.value for r in results}


def _selection(spec: AlignmentSpec, frame: pd.DataFrame, scored: Any, reference_model: Any) -> dict[str, Any]:
    """Who selects tonight's exposed items: the deployed model vs what the reference version would expose.

    And where the proxy feedback is observed (only on exposed items means
    the labels the platform learns from are chosen by the model itself).
    """
    roles = spec.columns
    threshold = spec.retraining.training.decision_threshold
    reference_score = reference_model.predict_proba(frame[roles.feature_names])[:, 1]
    out: dict[str, Any] = {
        "deployed_exposure_rate": float((scored.score < threshold).mean()) if len(scored.score) else None,
        "reference_model_exposure_rate": float((reference_score < threshold).mean()) if len(frame) else None,
        "rows": len(frame),
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
    pulled: dict[str, Any],
    validation: dict[str, Any],
    *,
    labels_as_of: dt.datetime | None = None,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The spec's safety benchmarks: the deployed version on the audit set, and the batch's logged decisions.

    Baselines missing from the reference (kinds the promotion could not
    evaluate without the model) are the reference version's values on the
    audit set. Also returns ``selection``: the deployed model's exposure rate
    against the reference version's on the same items (feedback-loop evidence).

    With a ``labels`` section in the spec, the labels that have arrived for
    the night by ``labels_as_of`` (default now) are joined to its rows first
    (see :mod:`alignment_drift.pipeline.labels`); ``labels`` in the result
    says which. ``only`` restricts the run to the named benchmarks.
    """
    from alignment_drift.core.benchmarks import Scored, run_benchmarks
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline.labels import join_arrived

    if validation["status"] != "valid":
        return {"skipped": True}
    frame, deployed, reference = _context(spec, settings, pulled, bounded=True)
    frame, labels_info = join_arrived(spec, settings, frame, pulled, as_of=labels_as_of)
    selected = [b for b in spec.benchmarks if only is None or b.name in only]
    audit = pd.read_parquet(settings.resolve_data(spec.reference.audit_set))
    model = registry.load_model(settings, spec.model, deployed.version)
    threshold = spec.retraining.training.decision_threshold
    audit_scored = Scored.from_frame(
        audit, spec.columns, score=model.predict_proba(audit[spec.columns.feature_names])[:, 1], threshold=threshold
    )
    batch_scored = Scored.from_frame(
        frame, spec.columns, score=frame[spec.columns.score].to_numpy(float), threshold=threshold
    )
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
    return {
        "skipped": False,
        "model_version": deployed.version,
        "reference_version": reference.version,
        "results": [r.to_dict() for r in results],
        "selection": _selection(spec, frame, batch_scored, reference_model),
        "labels": labels_info,
    }


def decide(
    spec: AlignmentSpec,
    pulled: dict[str, Any],
    validation: dict[str, Any],
    drift_out: dict[str, Any],
    bench_out: dict[str, Any],
    trend_out: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Combine the signals into the check: verdict, reasons and attribution (JSON, schema ``check@1``)."""
    from alignment_drift.core.benchmarks import BenchmarkResult
    from alignment_drift.core.verdict import Exposure, Selection
    from alignment_drift.core.verdict import decide as decide_verdict

    check: dict[str, Any] = {
        "schema": CHECK_SCHEMA,
        "model": spec.model,
        "data_interval": pulled["interval"],
        "source": {"uri": pulled["uri"], "sha256": pulled.get("sha256"), "rows": validation.get("rows", 0)},
        "validation": validation.get("validation"),
        "quarantine": validation.get("quarantine"),
        "model_version": None,
        "reference_version": None,
        "drift": None,
        "output_drift": None,
        "multivariate": None,
        "exposure": None,
        "benchmarks": [],
        "trends": None,
    }
    if validation["status"] != "valid":
        result = decide_verdict(
            rules=spec.verdict,
            drifted_features=[],
            n_features=0,
            output_drift=False,
            benchmarks=[],
            quarantine_reason=validation["reason"],
        )
    else:
        results = [BenchmarkResult(**r) for r in bench_out["results"]]
        drifted = [c["name"] for c in drift_out["drift"]["columns"] if c["drift"] or c["missing_drift"]]
        exposure = drift_out.get("exposure")
        multivariate = drift_out.get("multivariate") or {}
        trends = [] if not trend_out or trend_out.get("skipped") else trend_out["results"]
        check.update(
            model_version=bench_out["model_version"],
            reference_version=bench_out["reference_version"],
            drift=drift_out["drift"],
            output_drift=drift_out["output_drift"],
            multivariate=multivariate,
            exposure=exposure,
            benchmarks=bench_out["results"],
            trends=trend_out,
        )
        result = decide_verdict(
            rules=spec.verdict,
            drifted_features=drifted,
            n_features=len(spec.columns.features),
            output_drift=bool(drift_out["output_drift"]["drift"]),
            benchmarks=results,
            model_changed=bench_out["model_version"] != bench_out["reference_version"],
            exposure=None if exposure is None else Exposure(**exposure),
            alpha=spec.drift.alpha,
            trend_alarms=[t for t in trends if t["alarm"]],
            multivariate_drift=[name for name, test in multivariate.items() if test["drift"]],
            selection=Selection(**bench_out["selection"]) if bench_out.get("selection") else None,
        )
        check["selection"] = bench_out.get("selection")
        check["labels"] = bench_out.get("labels")
    check.update(
        verdict=result.verdict,
        verdict_code=result.code,
        reasons=list(result.reasons),
        attribution=[a.to_dict() for a in result.attribution],
    )
    return check


def retrain_due(spec: AlignmentSpec, settings: Settings, check: dict[str, Any]) -> tuple[bool, bool, str]:
    """Whether this check should request retraining, whether it was coalesced into an earlier request, and why."""
    from alignment_drift.integrations.mlflow.checks import list_checks

    verdict = check["verdict"]
    policy = spec.retraining
    if verdict not in policy.trigger_verdicts:
        return False, False, f"verdict {verdict} is not a trigger verdict ({', '.join(policy.trigger_verdicts)})"
    start = dt.datetime.fromisoformat(check["data_interval"]["start"])
    if policy.cooldown_days:
        since = (start - dt.timedelta(days=policy.cooldown_days)).isoformat()
        earlier = [
            r
            for r in list_checks(settings, spec.model, since=since, until=start.isoformat())
            if r.data.tags.get("retrain_requested") == "true"
        ]
        if earlier:
            last = earlier[-1].data.tags["data_interval_start"][:10]
            return (
                False,
                True,
                (
                    f"verdict {verdict}, but a retrain was already requested on {last}, within the "
                    f"{policy.cooldown_days}-day cooldown: coalesced into that request"
                ),
            )
    return True, False, f"verdict {verdict}: " + "; ".join(check["reasons"][:3])


def record(
    spec: AlignmentSpec,
    settings: Settings,
    check: dict[str, Any],
    *,
    dag_id: str = "",
    run_id: str = "",
    retrain: tuple[bool, bool, str] | None = None,
) -> dict[str, Any]:
    """Record the check in MLflow (one run per night, idempotent) with the retraining decision.

    ``retrain`` — ``(due, coalesced, reason)`` — replaces the decision of
    :func:`retrain_due` (the labels step decides it over a wider window).

    Returns
    -------
    dict
        ``mlflow_run_id``, ``verdict``, ``retrain_due``, ``retrain_reason``.
    """
    from alignment_drift.integrations.mlflow.checks import record_check
    from alignment_drift.integrations.mlflow.spool import is_transient

    try:
        due, coalesced, reason = retrain if retrain is not None else retrain_due(spec, settings, check)
    except Exception as error:
        if not is_transient(error):
            raise
        # the cooldown cannot be read: keep the check (it is spooled below) and decide on the task's retry
        due, coalesced = False, False
        reason = f"retraining not decided yet: the tracking server could not be reached ({type(error).__name__})"
    check = {**check, "action": {"retrain_requested": due, "retrain_coalesced": coalesced, "retrain_reason": reason}}
    start, end = (dt.datetime.fromisoformat(check["data_interval"][k]) for k in ("start", "end"))
    evidence = evidence_dir(settings, spec, start, end)
    artifacts: dict[str, Any] = {"check.json": check}
    validation_file = evidence / "validation.json"
    if validation_file.exists():
        artifacts["validation/gx_result.json"] = json.loads(validation_file.read_text())
    if check.get("drift"):
        artifacts["drift/columns.json"] = check["drift"]["columns"]
    tags = {
        "model_version": check.get("model_version") or "",
        "reference_version": check.get("reference_version") or "",
        "verdict": check["verdict"],
        "attribution": ",".join(a["source"] for a in check["attribution"]),
        "retrain_requested": "true" if due else "false",
        "retrain_reason": reason[:5000],
        "retrain_coalesced": "true" if coalesced else "false",
        "source_uri": check["source"]["uri"],
        "source_sha256": check["source"].get("sha256") or "",
        "airflow_dag_id": dag_id,
        "airflow_run_id": run_id,
    }
    if check.get("labels"):
        tags["labels_as_of"] = check["labels"]["as_of"]
    params = {
        "alpha": spec.drift.alpha,
        "correction": spec.drift.correction,
        "numeric_effect_floor": spec.drift.numeric_effect_floor,
        "categorical_effect_floor": spec.drift.categorical_effect_floor,
        "expectations": spec.expectations,
    }
    mlflow_run = record_check(settings, check, tags=tags, params=params, artifacts=artifacts)
    out = {"mlflow_run_id": mlflow_run, "verdict": check["verdict"], "retrain_due": due, "retrain_reason": reason}
    report = _publish_report(spec, settings, check, mlflow_run, evidence=evidence, dag_id=dag_id, run_id=run_id)
    if report is not None:
        out["report"] = report
    if check["verdict"] in INCIDENT_VERDICTS:
        out["incident"] = _raise_incident(spec, settings, check, mlflow_run, report_path=report)
    return out


def _publish_report(
    spec: AlignmentSpec,
    settings: Settings,
    check: dict[str, Any],
    mlflow_run: str,
    *,
    evidence: Any,
    dag_id: str,
    run_id: str,
) -> str | None:
    """The check's HTML report: logged with its run, written to the evidence folder and beside the incident.

    The check is recorded before: a report that fails is logged and left out, never raised.
    Returns the report's path (beside the incident when one is raised), or None when it failed.
    """
    import logging

    from alignment_drift.integrations.incidents import incident_stem, incidents_dir
    from alignment_drift.integrations.reports.publish import publish_report

    paths = [evidence / "report.html"]
    if check["verdict"] in INCIDENT_VERDICTS:
        # beside <incidents>/<model>/<date>.json and .md, named as write_incident names them
        paths.append(incidents_dir(settings) / spec.model / f"{incident_stem(check['data_interval'])}.html")
    try:
        published = publish_report(
            spec,
            settings,
            check,
            mlflow_run_id=mlflow_run,
            dag_id=dag_id,
            airflow_run_id=run_id,
            paths=paths,
        )
    except Exception:
        logging.getLogger(__name__).exception(
            "The report of %s's check of %s could not be built; the check is recorded in MLflow run %s.",
            spec.model,
            check["data_interval"]["start"],
            mlflow_run,
        )
        return None
    return published["paths"][-1]


def _raise_incident(
    spec: AlignmentSpec, settings: Settings, check: dict[str, Any], run_id: str, *, report_path: str | None = None
) -> str:
    """Log the incident with the check run (``incident.json``, ``incident.md``) and write it to the sink folder."""
    from alignment_drift.integrations.incidents import build_incident, incident_markdown, write_incident
    from alignment_drift.integrations.mlflow.store import client

    incident = build_incident(
        check, mlflow_run_id=run_id, tracking_uri=settings.tracking_uri, approval=spec.governance.approval
    )
    incident["links"]["report_path"] = report_path
    mlflow_client = client(settings)
    mlflow_client.log_dict(run_id, incident, "incident.json")
    mlflow_client.log_text(run_id, incident_markdown(incident), "incident.md")
    json_path, _ = write_incident(settings, incident)
    return str(json_path)
