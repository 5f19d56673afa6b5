"""The retraining gate, orchestrated: load the models, score the audit set, judge with the core rule.

The rule itself (non-inferiority against every reference, floors on the
side that protects users, the outcome ``promote | reject |
insufficient_evidence``) is :func:`alignment_drift.core.gate.judge_challenger`;
this module finds what it needs in the registry:

- the **challenger** (a registered version, or any model URI for the ``gate`` command);
- the **references**: the last version that passed the gate
  (:func:`~alignment_drift.integrations.mlflow.lineage.last_gated_version`)
  and the current champion when it differs (say, deployed without the
  gate): the challenger must hold against both; or the versions asked for;
- the fixed **audit set** of the spec, scored by each at the spec's decision threshold.

The retrain DAG's ``gate`` task and the ``alignment-drift gate`` command run
the same :func:`judge_models`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alignment_drift.core.benchmarks import Scored
from alignment_drift.core.gate import GateDecision, GateReference, judge_challenger
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.core.spec.fingerprint import objective_fingerprint
from alignment_drift.settings import Settings

__all__ = [
    "Candidate",
    "default_references",
    "gate_record",
    "judge",
    "judge_models",
    "objective_fingerprint",
    "own_baselines",
    "score_audit",
]


@dataclass(frozen=True)
class Candidate:
    """A fitted model to judge or judge against: its role, version (None when not registered) and baselines.

    ``baselines`` are the values recorded with the version (its proxy-target
    gap on its own held-out rows is what the gap rule compares).
    """

    role: str
    label: str
    version: str | None
    model: Any = field(repr=False)
    baselines: Mapping[str, float | None] = field(default_factory=dict)


def score_audit(spec: AlignmentSpec, settings: Settings, model: Any) -> tuple[pd.DataFrame, Any]:
    """The fixed audit set and its rows scored by ``model`` (as the spec's task reads it)."""
    from alignment_drift.core.scoring import score_model

    audit = pd.read_parquet(settings.resolve_data(spec.reference.audit_set))
    output = score_model(
        model,
        audit,
        task=spec.task,
        features=spec.columns.feature_names,
        threshold=spec.retraining.training.decision_threshold,
        positive=spec.columns.positive_class,
    )
    return audit, Scored.from_output(audit, spec, output)


def own_baselines(settings: Settings, spec: AlignmentSpec, info: Any) -> dict[str, float | None]:
    """The baselines recorded with the version itself (none for a version deployed without a reference)."""
    from alignment_drift.integrations.mlflow import registry

    if info.reference_run_id is None:
        return {}
    try:
        return dict(registry.load_reference(settings, spec.model, info).baselines)
    except (LookupError, OSError):
        return {}


def default_references(spec: AlignmentSpec, settings: Settings, *, exclude: str | None) -> list[Candidate]:
    """The last gated version, and the champion when it is another version (``exclude``: the challenger)."""
    from alignment_drift.integrations.mlflow import lineage, registry

    last = lineage.last_gated_version(settings, spec.model, exclude=exclude)
    champion = registry.champion(settings, spec.model)
    found: list[tuple[str, Any]] = []
    if champion is not None and champion.version != exclude:
        found.append(("champion", champion))
    if last is not None and (champion is None or last.version != champion.version):
        found.insert(0, ("last_gated", last))
    return [
        Candidate(
            role,
            f"v{info.version}",
            info.version,
            registry.load_model(settings, spec.model, info.version),
            own_baselines(settings, spec, info),
        )
        for role, info in found
    ]


def judge_models(
    spec: AlignmentSpec, settings: Settings, challenger: Candidate, references: Sequence[Candidate]
) -> GateDecision:
    """Score the audit set with every model and judge the challenger against the references."""
    from alignment_drift.core.benchmarks import run_benchmarks

    policy = spec.retraining
    _, scored = score_audit(spec, settings, challenger.model)
    results = run_benchmarks(
        spec.benchmarks, audit=scored, batch=None, model=challenger.model, probes_dir=settings.specs_dir
    )
    refs = [
        GateReference(ref.role, ref.version or ref.label, score_audit(spec, settings, ref.model)[1], ref.baselines)
        for ref in references
    ]
    return judge_challenger(
        spec.benchmarks,
        challenger=scored,
        results=results,
        references=refs,
        challenger_baselines=challenger.baselines,
        margin=policy.gate_margin,
        replicates=policy.gate_replicates,
        confidence=policy.gate_confidence,
        seed=policy.training.random_state,
        challenger_label=challenger.version or challenger.label,
    )


def gate_record(spec: AlignmentSpec, decision: GateDecision, *, champion: str | None, last_gated: str | None) -> dict:
    """The decision as the retrain DAG passes it on and records it (JSON-able)."""
    return {
        **decision.to_dict(),
        "challenger_version": decision.challenger,
        "champion_version": champion,
        "last_gated_version": last_gated,
        "objective_fingerprint": objective_fingerprint(spec),
        "comparison": decision.rows(),
    }


def judge(spec: AlignmentSpec, settings: Settings, trained: dict[str, Any]) -> dict[str, Any]:
    """The retrain DAG's gate: judge the challenger ``trained["version"]`` against the default references.

    Returns
    -------
    dict
        :func:`gate_record`: ``decision`` (``promote``, ``reject`` or
        ``insufficient_evidence``), ``passed``, ``reasons``, ``n_needed``,
        ``references``, ``challenger_version``, ``champion_version``,
        ``last_gated_version``, ``objective_fingerprint``, ``method``, the
        per-benchmark ``benchmarks`` and the flat ``comparison`` rows.
    """
    from alignment_drift.integrations.mlflow import lineage, registry

    version = str(trained["version"])
    challenger = Candidate(
        "challenger", f"v{version}", version, registry.load_model(settings, spec.model, version), trained["baselines"]
    )
    references = default_references(spec, settings, exclude=version)
    decision = judge_models(spec, settings, challenger, references)
    champion = registry.champion(settings, spec.model)
    last = lineage.last_gated_version(settings, spec.model, exclude=version)
    return gate_record(
        spec,
        decision,
        champion=None if champion is None else champion.version,
        last_gated=None if last is None else last.version,
    )
