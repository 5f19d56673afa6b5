"""The steps of a retrain: assemble data, train a challenger, gate it, promote or reject, record.

assemble -> train -> gate -> promote | reject (-> recorded on the retrain run)

The challenger learns the spec's label (the target unless the spec says
otherwise); the gate always judges on the target, on the fixed audit set,
against the spec's floors and against the champion.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["assemble", "decide_promotion", "gate", "reference_profile", "train"]


def _retrain_experiment(settings: Settings, spec: AlignmentSpec) -> str:
    from alignment_drift.integrations.mlflow.store import experiment_id

    return experiment_id(settings, spec.model)


def assemble(spec: AlignmentSpec, settings: Settings, *, as_of: dt.datetime, key: str) -> dict[str, Any]:
    """Gather the training data: the window's validated batches (never quarantined ones) and the spec's training data.

    Returns
    -------
    dict
        ``path`` of the assembled parquet, ``rows``, ``labelled_rows``, ``sha256``,
        ``nights`` used and the ``window``.
    """
    from alignment_drift.core.training import label_values
    from alignment_drift.integrations.mlflow.checks import list_checks

    policy = spec.retraining
    since = as_of - dt.timedelta(days=policy.window_days)
    frames: list[pd.DataFrame] = []
    nights: list[str] = []
    for run in list_checks(settings, spec.model, since=since.isoformat(), until=as_of.isoformat()):
        tags = run.data.tags
        if tags.get("verdict") == "quarantined" or not tags.get("source_uri", "").startswith("file://"):
            continue
        path = tags["source_uri"].removeprefix("file://")
        try:
            frames.append(pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path))
        except FileNotFoundError:
            continue
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
    labelled = int(label_values(data, spec.columns, label=policy.label).notna().sum())
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
        "window": {"since": since.isoformat(), "until": as_of.isoformat()},
    }


def reference_profile(spec: AlignmentSpec, frame: pd.DataFrame) -> Any:
    """The reference profile of a version: its features, its scores and its decisions on held-out rows."""
    from alignment_drift.core.drift.profile import ReferenceProfile

    roles = spec.columns
    return ReferenceProfile.fit(
        frame,
        numeric=[*roles.numeric, roles.score],
        categorical=[*roles.categorical, roles.prediction],
        bins=spec.drift.profile_bins,
        max_categories=spec.drift.max_categories,
    )


def _holdout_split(n: int, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random(n) < fraction


def _score_audit(spec: AlignmentSpec, settings: Settings, model: Any) -> Any:
    from alignment_drift.core.benchmarks import Scored

    audit = pd.read_parquet(settings.resolve_data(spec.reference.audit_set))
    scores = model.predict_proba(audit[spec.columns.feature_names])[:, 1]
    return audit, Scored.from_frame(
        audit, spec.columns, score=scores, threshold=spec.retraining.training.decision_threshold
    )


def train(
    spec: AlignmentSpec, settings: Settings, assembled: dict[str, Any], *, key: str, reason: str, tags: dict[str, str]
) -> dict[str, Any]:
    """Train a challenger on the assembled data, register it with its reference and baselines (alias ``challenger``).

    Returns
    -------
    dict
        ``version``, ``mlflow_run_id``, ``label``, ``baselines``.
    """
    from alignment_drift.core.benchmarks import Scored, proxy_target_gap, run_benchmarks
    from alignment_drift.core.training import fit_pipeline, label_values
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client

    policy = spec.retraining
    roles = spec.columns
    data = pd.read_parquet(assembled["path"])
    holdout = _holdout_split(len(data), spec.reference.holdout_fraction, policy.training.random_state)
    fit_rows = data[~holdout].reset_index(drop=True)
    pipeline = fit_pipeline(fit_rows, roles, policy.training, label=policy.label)

    threshold = policy.training.decision_threshold
    ref = data[holdout].reset_index(drop=True)
    ref[roles.score] = pipeline.predict_proba(ref[roles.feature_names])[:, 1]
    ref[roles.prediction] = (ref[roles.score] >= threshold).astype("int64")
    profile = reference_profile(spec, ref)
    ref = ref.iloc[: spec.reference.max_rows].copy()
    _, audit_scored = _score_audit(spec, settings, pipeline)
    baselines = {r.name: r.value for r in run_benchmarks(spec.benchmarks, audit=audit_scored, batch=None)}
    holdout_scored = Scored.from_frame(ref, roles, score=ref[roles.score].to_numpy(float), threshold=threshold)
    for bench in spec.benchmarks:
        if bench.kind == "proxy_target_gap":
            baselines[bench.name], _, _ = proxy_target_gap(holdout_scored.exposed(), min_rows=bench.min_rows)

    mlflow_client = client(settings)
    run = mlflow_client.create_run(
        _retrain_experiment(settings, spec),
        run_name=f"retrain {key}",
        tags={"kind": "retrain", "model": spec.model, "retrain_key": key, "retrain_reason": reason[:5000], **tags},
    )
    run_id = run.info.run_id
    from mlflow.entities import Metric, Param

    labelled = int(label_values(fit_rows, roles, label=policy.label).notna().sum())
    mlflow_client.log_batch(
        run_id,
        params=[
            Param("label", policy.label),
            Param("estimator", policy.training.estimator),
            Param("training_rows", str(labelled)),
            Param("training_sha256", assembled["sha256"]),
            Param("window_nights", str(len(assembled["nights"]))),
        ],
        metrics=[Metric(f"baseline.{k}", float(v), 0, 0) for k, v in baselines.items() if v is not None],
    )
    mlflow_client.log_dict(run_id, assembled, "training/assembled.json")
    info = registry.log_candidate(
        settings,
        spec.model,
        pipeline,
        run_id=run_id,
        input_example=fit_rows[roles.feature_names].head(3),
        reference=ref,
        profile=profile,
        baselines=baselines,
        decision_threshold=threshold,
        tags={"trained_on": policy.label, "deployed_by": "alignment-drift", "gate": "pending"},
    )
    return {"version": info.version, "mlflow_run_id": run_id, "label": policy.label, "baselines": baselines}


def gate(spec: AlignmentSpec, settings: Settings, trained: dict[str, Any]) -> dict[str, Any]:
    """Judge the challenger on the target: every benchmark floor, and no regression against the champion.

    Returns
    -------
    dict
        ``passed``, ``reasons``, ``champion_version`` and a ``comparison``
        row per benchmark (challenger, champion, delta, status).
    """
    from alignment_drift.core.benchmarks import run_benchmarks
    from alignment_drift.integrations.mlflow import registry

    tolerance = spec.retraining.gate_tolerance
    challenger = registry.load_model(settings, spec.model, trained["version"])
    _, audit_scored = _score_audit(spec, settings, challenger)
    chall = run_benchmarks(spec.benchmarks, audit=audit_scored, batch=None)
    champion = registry.champion(settings, spec.model)
    champ_values: dict[str, float | None] = {}
    if champion is not None and champion.version != trained["version"]:
        _, champ_scored = _score_audit(spec, settings, registry.load_model(settings, spec.model, champion.version))
        champ_values = {r.name: r.value for r in run_benchmarks(spec.benchmarks, audit=champ_scored, batch=None)}
    reasons: list[str] = []
    comparison = []
    for result in chall:
        champ = champ_values.get(result.name)
        row: dict[str, Any] = {
            "benchmark": result.name,
            "challenger": result.value,
            "champion": champ,
            "delta": None if result.value is None or champ is None else result.value - champ,
            "floor": result.threshold,
            "status": result.status,
        }
        if result.kind == "proxy_target_gap":
            gap = trained["baselines"].get(result.name)
            row["challenger"] = gap
            row["status"] = "skipped" if gap is None else "pass"
            bench = next(b for b in spec.benchmarks if b.name == result.name)
            champion_gap = None if champion is None else _champion_baseline(settings, spec, champion, result.name)
            row["champion"] = champion_gap
            if gap is not None and champion_gap is not None and gap > champion_gap + bench.max_increase:  # type: ignore[union-attr]
                row["status"] = "fail"
                reasons.append(
                    f"{result.name}: challenger's proxy-target gap {gap:+.3f} exceeds the champion's "
                    f"{champion_gap:+.3f} by more than {bench.max_increase}"
                )  # type: ignore[union-attr]
        elif result.failed and result.severity == "critical":
            reasons.append(f"{result.name}: {result.detail}")
        elif row["delta"] is not None and row["delta"] < -tolerance:
            row["status"] = "fail"
            reasons.append(
                f"{result.name}: challenger {result.value:.3f} regresses against the champion {champ:.3f} "
                f"by more than the tolerance {tolerance}"
            )
        comparison.append(row)
    return {
        "passed": not reasons,
        "reasons": reasons,
        "champion_version": None if champion is None else champion.version,
        "challenger_version": trained["version"],
        "comparison": comparison,
    }


def _champion_baseline(settings: Settings, spec: AlignmentSpec, champion: Any, name: str) -> float | None:
    from alignment_drift.integrations.mlflow import registry

    try:
        value = registry.load_reference(settings, spec.model, champion).baselines.get(name)
    except LookupError:
        return None
    return None if value is None else float(value)


def decide_promotion(
    spec: AlignmentSpec, settings: Settings, trained: dict[str, Any], gated: dict[str, Any]
) -> dict[str, Any]:
    """Promote the challenger when the gate passed (and approval allows), else reject it; record the decision.

    Returns
    -------
    dict
        ``decision`` (``promoted``, ``rejected`` or ``awaiting_approval``),
        ``version``, ``previous_champion``.
    """
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client

    version = trained["version"]
    previous = gated["champion_version"]
    if not gated["passed"]:
        decision = "rejected"
        registry.set_version_tags(
            settings, spec.model, version, {"gate": "rejected", "gate_reasons": "; ".join(gated["reasons"])[:5000]}
        )
    elif spec.governance.approval == "required":
        decision = "awaiting_approval"
        registry.set_version_tags(settings, spec.model, version, {"gate": "passed", "approval": "pending"})
    else:
        decision = "promoted"
        registry.set_version_tags(settings, spec.model, version, {"gate": "passed"})
        previous = registry.promote(settings, spec.model, version, reason=f"gate passed against champion {previous}")
    mlflow_client = client(settings)
    run_id = trained["mlflow_run_id"]
    mlflow_client.log_dict(run_id, gated, "gate/comparison.json")
    mlflow_client.set_tag(run_id, "gate_decision", decision)
    mlflow_client.set_tag(run_id, "challenger_version", version)
    mlflow_client.set_tag(run_id, "champion_version", gated["champion_version"] or "")
    mlflow_client.set_terminated(run_id, "FINISHED")
    return {"decision": decision, "version": version, "previous_champion": previous, "reasons": gated["reasons"]}
