"""Which rows a model's own output exposes, by the spec's declared rule (never assumed).

The feedback-loop evidence compares the share of tonight's items the deployed
model exposes with the share the reference version would expose, and with
the reference's own rate; both come from here. ``None`` means the model has
no exposure effect (rule ``none``): then no feedback loop is attributed from
exposure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from alignment_drift.core.scoring import ModelOutput, label_matches
from alignment_drift.core.spec import AlignmentSpec, label_key

if TYPE_CHECKING:
    from alignment_drift.core.drift.profile import ReferenceProfile

__all__ = ["exposed", "exposure_threshold", "reference_exposure_rate"]


def exposure_threshold(spec: AlignmentSpec) -> float | None:
    """The threshold of a ``below_threshold``/``above_threshold`` rule: declared, else the decision threshold."""
    rule = spec.exposure
    if rule.rule not in ("below_threshold", "above_threshold"):
        return None
    if rule.threshold is not None:
        return rule.threshold
    return spec.retraining.training.decision_threshold if spec.task == "binary" else None


def _output_values(spec: AlignmentSpec, output: ModelOutput) -> np.ndarray:
    if spec.task == "binary":
        if output.score is None:
            raise ValueError("The binary output has no score; the exposure rule compares P(positive) to a threshold.")
        return np.asarray(output.score, dtype=float)
    return np.asarray(output.prediction, dtype=float)


def exposed(spec: AlignmentSpec, output: ModelOutput) -> np.ndarray | None:
    """The rows ``output`` exposes under ``spec.exposure`` (bool array), or None when the model exposes nothing.

    The binary default (``below_threshold`` at the decision threshold) is
    "exposed when P(positive) < threshold": a safety classifier shows what it
    does not block. Rows with a missing output (NaN score or prediction) are
    not exposed.
    """
    rule = spec.exposure
    if rule.rule == "none":
        return None
    if rule.rule == "class_in":
        keys = {label_key(c) for c in rule.classes}
        return label_matches(output.prediction, keys) == 1.0
    threshold = exposure_threshold(spec)
    if threshold is None:
        raise ValueError(f"The exposure rule {rule.rule!r} of a {spec.task} spec needs exposure.threshold.")
    values = _output_values(spec, output)
    with np.errstate(invalid="ignore"):
        return values < threshold if rule.rule == "below_threshold" else values >= threshold


def reference_exposure_rate(
    spec: AlignmentSpec, profile: ReferenceProfile, *, threshold: float | None = None
) -> float | None:
    """The share of the reference's rows its model exposed, from the reference profile of its outputs.

    ``threshold`` overrides the rule's (the monitor passes the reference
    version's own decision threshold for a binary spec). None when the rule is
    ``none`` or the profile lacks the output column.
    """
    rule, roles = spec.exposure, spec.columns
    if rule.rule == "none":
        return None
    if rule.rule == "class_in":
        column = profile.columns.get(roles.prediction)
        if column is None or not column.counts:
            return None
        keys = {label_key(c) for c in rule.classes}
        total = sum(column.counts.values())
        return sum(v for k, v in column.counts.items() if label_key(k) in keys) / max(total, 1)
    name = roles.score if spec.task == "binary" else roles.prediction
    column = profile.columns.get(name) if name else None
    summary = None if column is None else column.summary
    cut = exposure_threshold(spec) if threshold is None else threshold
    if summary is None or cut is None:
        return None
    below = float(summary.weights[summary.values < cut].sum()) / max(summary.n, 1)
    return below if rule.rule == "below_threshold" else 1.0 - below
