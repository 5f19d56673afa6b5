"""The reference of a model version: held-out rows it scored, their profile, and its benchmark baselines.

One construction for every way a version arrives: a challenger the retrain
DAG trained, a version the owner's training DAG registered
(``retraining.mode: external``) and an adopted model (``alignment-drift
adopt``). Scoring goes through :func:`alignment_drift.core.scoring.score_model`, by the spec's task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.pipeline.gate import score_audit
from alignment_drift.settings import Settings

__all__ = ["VersionReference", "audit_baselines", "reference_profile", "split_holdout", "version_reference"]


def reference_profile(spec: AlignmentSpec, frame: pd.DataFrame) -> Any:
    """The reference profile of a version: its features and its outputs on held-out rows (by task)."""
    from alignment_drift.core.drift.output import output_columns
    from alignment_drift.core.drift.profile import ReferenceProfile

    roles = spec.columns
    out_numeric, out_categorical = output_columns(spec)
    return ReferenceProfile.fit(
        frame,
        numeric=[*roles.numeric, *out_numeric],
        categorical=[*roles.categorical, *out_categorical],
        bins=spec.drift.profile_bins,
        max_categories=spec.drift.max_categories,
    )


def _holdout_split(n: int, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random(n) < fraction


def split_holdout(spec: AlignmentSpec, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows a version learns from and the ``reference.holdout_fraction`` held out for its reference (seeded)."""
    holdout = _holdout_split(len(data), spec.reference.holdout_fraction, spec.retraining.training.random_state)
    return data[~holdout].reset_index(drop=True), data[holdout].reset_index(drop=True)


@dataclass(frozen=True)
class VersionReference:
    """What a version is compared against: held-out rows it scored (a sample), their profile, its baselines."""

    frame: pd.DataFrame
    profile: Any
    baselines: dict[str, float | None]
    decision_threshold: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": len(self.frame),
            "profile_rows": int(self.profile.n_rows),
            "baselines": dict(self.baselines),
            "decision_threshold": self.decision_threshold,
            "notes": list(self.notes),
        }


def audit_baselines(
    spec: AlignmentSpec, settings: Settings, model: Any, held_out: pd.DataFrame
) -> tuple[dict[str, float | None], tuple[str, ...]]:
    """A version's benchmark baselines: every benchmark on the audit set, and the proxy–target gap on held-out rows."""
    from alignment_drift.core.benchmarks import Scored, proxy_target_gap, run_benchmarks
    from alignment_drift.core.scoring import logged_output

    _, audit_scored = score_audit(spec, settings, model)
    baselines = {
        r.name: r.value
        for r in run_benchmarks(
            spec.benchmarks, audit=audit_scored, batch=None, model=model, probes_dir=settings.specs_dir
        )
    }
    gaps = [b for b in spec.benchmarks if b.kind == "proxy_target_gap"]  # binary specs only
    if gaps:
        held_scored = Scored.from_output(held_out, spec, logged_output(spec, held_out))
        for bench in gaps:
            baselines[bench.name], _, _ = proxy_target_gap(held_scored.exposed(), min_rows=bench.min_rows)
    return baselines, ()


def version_reference(spec: AlignmentSpec, settings: Settings, model: Any, held_out: pd.DataFrame) -> VersionReference:
    """The reference of a version: ``held_out`` rows scored by ``model``, their profile, and its baselines.

    The same for a challenger the retrain DAG trained, a version the owner's
    training DAG registered (``retraining.mode: external``) and an adopted
    model. The profile covers every held-out row; the kept row sample is capped
    at ``reference.max_rows``.
    """
    from alignment_drift.core.drift.output import output_frame
    from alignment_drift.core.scoring import score_model

    roles = spec.columns
    threshold = spec.retraining.training.decision_threshold
    ref = held_out.copy()
    out = score_model(
        model, ref, task=spec.task, features=roles.feature_names, threshold=threshold, positive=roles.positive_class
    )
    outputs = output_frame(spec, out)
    for name in outputs.columns:
        ref[str(name)] = outputs[name].to_numpy()
    profile = reference_profile(spec, ref)
    ref = ref.iloc[: spec.reference.max_rows].copy()
    baselines, notes = audit_baselines(spec, settings, model, ref)
    return VersionReference(ref, profile, baselines, threshold, notes)
