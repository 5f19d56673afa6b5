"""``drift``: the batch's merged profile against the deployed version's reference profile.

Input drift of every feature and output drift of scores and decisions, the
joint (multivariate) tests on a bounded row sample, and the model's exposure
rate. The night's families — input columns, model outputs, joint tests — share
``alpha`` by the check's alpha budget
(:func:`~alignment_drift.core.drift.budget.alpha_budget`, ``docs/drift.md``),
and each is corrected inside (BH by default), so a drift-free night raises any
drift signal with probability at most ``alpha``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alignment_drift.core.drift import DriftDetector
from alignment_drift.core.drift.budget import AlphaBudget, alpha_budget
from alignment_drift.core.drift.multivariate import DomainClassifierDrift, MMDDrift
from alignment_drift.core.drift.output import output_columns
from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.drift.reservoir import seed_from
from alignment_drift.core.drift.result import DriftResult as Tested
from alignment_drift.core.exposure import reference_exposure_rate
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.evidence import evidence_dir
from alignment_drift.integrations.mlflow import registry
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.integrations.sources.partitions import read_columns
from alignment_drift.pipeline.night import DriftResult, Partial, Pulled, Validation
from alignment_drift.pipeline.steps.profile import merge_partials
from alignment_drift.settings import Settings

__all__ = [
    "BATCH_PROFILE",
    "NightDrift",
    "deployed_info",
    "deployed_version",
    "detectors",
    "drift",
    "night_drift",
    "night_seed",
]

#: The merged batch profile, kept in the night's evidence folder for the report.
BATCH_PROFILE = "batch_profile.parquet"


def deployed_version(spec: AlignmentSpec, settings: Settings, counts: dict[str, int]) -> str:
    """The version that scored the batch: the mode of its logged versions (ties to the smallest), else the champion.

    Raises
    ------
    LookupError
        When the batch logs no version and the model has no champion.
    """
    if counts:
        return min(counts, key=lambda v: (-counts[v], v))
    champion = registry.champion(settings, spec.model)
    if champion is None:
        raise LookupError(
            f"Model {spec.model!r} has no champion. Fix: adopt the model you already have "
            f"('alignment-drift adopt {spec.model}.yaml --model-uri models:/<name>/<version>') "
            "or train one with the retrain DAG."
        )
    return champion.version


def deployed_info(spec: AlignmentSpec, settings: Settings, counts: dict[str, int]) -> registry.VersionInfo:
    """The registry's record of the version that scored the batch (see :func:`deployed_version`).

    Raises
    ------
    LookupError
        When the batch logs a version the registry does not have, or none and there is no champion.
    """
    version = deployed_version(spec, settings, counts)
    if not (version.isascii() and version.isdigit()):  # a registry version is a whole number
        shown = version if len(version) <= 60 else version[:59] + "…"
        raise LookupError(
            f"the batch was scored by version {shown!r} of {spec.model!r}, which is not a version number (the "
            f"MLflow registry numbers versions 1, 2, ...). Fix: log the registered version in the batch's "
            f"{spec.columns.model_version} column."
        )
    try:
        return registry.version_info(settings, spec.model, version)
    except LookupError:
        raise LookupError(
            f"the batch was scored by version {version} of {spec.model!r}, which is not registered in the MLflow "
            f"registry. Fix: register that version, or check the batch's {spec.columns.model_version} column."
        ) from None


def detectors(spec: AlignmentSpec, profile: ReferenceProfile) -> tuple[DriftDetector, DriftDetector, AlphaBudget, bool]:
    """The night's input and output detectors on the reference profile, the alpha budget, whether joint tests run.

    The night's families — input columns, model outputs, joint tests — share
    ``alpha`` by the alpha budget (Bonferroni, then the joint family split
    between its tests); each is corrected inside (BH by default).
    """
    policy, roles = spec.drift, spec.columns
    joint_tests = [
        name
        for name, on in (("domain_classifier", policy.multivariate.domain_classifier), ("mmd", policy.multivariate.mmd))
        if on
    ]
    joint = bool(joint_tests)
    budget = alpha_budget(
        policy.alpha, ["inputs", "outputs", "joint"] if joint else ["inputs", "outputs"], joint_tests=joint_tests
    )
    common: dict[str, Any] = {
        "correction": policy.correction,
        "categorical_test": policy.categorical_test,
        "missing_effect_floor": policy.missing_effect_floor,
    }
    inputs = DriftDetector(
        profile,
        numeric=roles.numeric,
        categorical=roles.categorical,
        alpha=budget.families["inputs"],
        numeric_effect_floor=policy.numeric_effect_floor,
        categorical_effect_floor=policy.categorical_effect_floor,
        **common,
    )
    out_numeric, out_categorical = output_columns(spec)
    outputs = DriftDetector(
        profile,
        numeric=out_numeric,
        categorical=out_categorical,
        alpha=budget.families["outputs"],
        numeric_effect_floor=policy.output_effect_floor,
        categorical_effect_floor=policy.categorical_effect_floor,
        **common,
    )
    return inputs, outputs, budget, joint


def drift(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: Pulled,
    validation: Validation,
    partials: Sequence[Partial],
    *,
    connections: ConnectionResolver | None = None,
) -> DriftResult:
    """Test the batch's merged group profiles against the deployed version's reference profile.

    The batch is never read whole: the groups' profiles (see
    :mod:`~alignment_drift.pipeline.steps.profile`) are merged and tested as
    the batch's profile, and the joint tests (when on) run on a bounded row
    sample. The merged profile is kept beside the night's evidence
    (``profile_uri``) for the report.
    """
    if not validation.valid:
        return DriftResult(skipped=True)
    batch = merge_partials(partials)
    if batch is None:
        raise ValueError(f"No group of {pulled.uri} was profiled; the drift step has nothing to test.")
    policy, roles = spec.drift, spec.columns
    counts = batch.columns[roles.model_version].counts if roles.model_version in batch.columns else {}
    deployed = deployed_info(spec, settings, counts or {})
    reference = registry.load_reference(settings, spec.model, deployed)

    def sample() -> pd.DataFrame:
        bound = max(policy.multivariate.max_rows, policy.multivariate.mmd_max_rows)
        rows, _ = read_columns(pulled.batch(), roles.feature_names, max_rows=bound, connections=connections)
        return rows

    tested = night_drift(spec, reference.profile, reference.frame, batch, sample, seed=night_seed(pulled))
    exposure = None
    exposed = batch.columns.get(roles.exposure) if roles.exposure else None
    # what the reference version exposed, by the spec's exposure rule (None: the model exposes nothing)
    threshold = reference.decision_threshold if spec.task == "binary" else None
    reference_rate = reference_exposure_rate(spec, reference.profile, threshold=threshold)
    if exposed is not None and exposed.summary is not None and reference_rate is not None:
        total = float(np.dot(exposed.summary.values, exposed.summary.weights))  # 0/1 values: exact
        exposure = exposure_test(reference_rate, reference.profile.n_rows, total, exposed.summary.n)
    start, end = pulled.interval.bounds()
    kept = batch.save(evidence_dir(settings, spec.model, start, end) / BATCH_PROFILE)
    return DriftResult(
        skipped=False,
        model_version=deployed.version,
        reference_version=reference.version,
        drift=tested.inputs.to_dict(),
        output_drift=tested.outputs.to_dict(),
        multivariate=tested.multivariate,
        exposure=exposure,
        partitions={"groups": len(partials), "rows": batch.n_rows},
        profile_uri=str(kept),
    )


def night_seed(pulled: Pulled) -> int:
    """The night's seed for the joint tests: a hash of its data interval's start (a rerun of the night repeats it)."""
    return seed_from(pulled.interval.bounds()[0].isoformat())


@dataclass(frozen=True)
class NightDrift:
    """The night's drift tests: the alpha budget they shared, the column families and the joint tests."""

    budget: AlphaBudget
    inputs: Tested
    outputs: Tested
    multivariate: dict[str, Any]

    @property
    def drift(self) -> bool:
        """Whether any family raised a drift signal (the event whose chance the budget bounds by ``alpha``)."""
        joint = any(isinstance(t, dict) and t.get("drift") for t in self.multivariate.values())
        return bool(self.inputs.drift or self.outputs.drift or joint)


def night_drift(
    spec: AlignmentSpec,
    profile: ReferenceProfile,
    reference_rows: pd.DataFrame,
    batch: ReferenceProfile,
    sample: Callable[[], pd.DataFrame],
    *,
    seed: int,
) -> NightDrift:
    """The night's drift tests on the batch's merged profile, without reading or writing anything.

    The input and output columns are tested on ``batch`` against ``profile``
    and, when the spec runs joint tests, ``sample()`` (the batch's bounded row
    sample, read only then) against ``reference_rows``, redrawn for ``seed``;
    every family at its level in the spec's alpha budget. The monitor's drift
    step and the calibration benchmark (``bench/calibration.py``) both test
    through here.
    """
    input_detector, output_detector, budget, joint = detectors(spec, profile)
    inputs, outputs = input_detector.test_profile(batch), output_detector.test_profile(batch)
    multivariate = _multivariate(spec, reference_rows, sample(), budget.joint_tests, seed=seed) if joint else {}
    return NightDrift(budget=budget, inputs=inputs, outputs=outputs, multivariate=multivariate)


def _multivariate(
    spec: AlignmentSpec, reference: pd.DataFrame, batch: pd.DataFrame, alphas: dict[str, float], *, seed: int
) -> dict[str, Any]:
    """The spec's joint tests on the reference's rows and the batch, each at its level in the alpha budget.

    The reference subsample is redrawn each night for ``seed`` (:func:`night_seed`), so a drift-free night's
    false alarm is not the same unlucky draw repeated every night.
    """
    policy, roles = spec.drift.multivariate, spec.columns
    common: dict[str, Any] = {"numeric": roles.numeric, "categorical": roles.categorical}
    out: dict[str, Any] = {}
    if policy.domain_classifier:
        classifier = DomainClassifierDrift(
            reference, max_rows=policy.max_rows, n_folds=policy.folds, alpha=alphas["domain_classifier"], **common
        )
        out["domain_classifier"] = classifier.test(batch, seed=seed).to_dict()
    if policy.mmd:
        mmd = MMDDrift(
            reference, max_rows=policy.mmd_max_rows, permutations=policy.permutations, alpha=alphas["mmd"], **common
        )
        out["mmd"] = mmd.test(batch, seed=seed).to_dict()
    return out


def exposure_test(ref_rate: float, n_ref: int, total: float, n: int) -> dict[str, Any]:
    """The two-proportion test of the batch's exposure rate (``total`` of ``n`` rows) against the reference's."""
    cur_rate = total / n if n else float("nan")
    pooled = (ref_rate * n_ref + total) / (n_ref + n) if n else 0.0
    se = float(np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / max(n, 1))))
    p = 1.0 if se == 0 or not np.isfinite(cur_rate) else float(2 * stats.norm.sf(abs(cur_rate - ref_rate) / se))
    return {"reference_rate": ref_rate, "current_rate": cur_rate, "p_value": p}
