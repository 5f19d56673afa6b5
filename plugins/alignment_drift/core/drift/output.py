"""Black-box shift detection on a model's outputs, per task.

Which outputs are tested follows the spec's task (:func:`output_columns`):

- ``binary``: the score (numeric) and the 0/1 decision (categorical);
- ``multiclass``: the predicted class's distribution (categorical) and the
  per-class probability columns (``columns.class_scores``, numeric; else the
  ``score`` column, P(predicted class), when the log has one);
- ``regression``: the predicted value (numeric).

:func:`output_frame` lays a :class:`~alignment_drift.core.scoring.ModelOutput`
out as those columns (to profile a reference scored by a model), and
:func:`model_output_drift` tests two outputs against each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alignment_drift.core.scoring import ModelOutput, class_index
from alignment_drift.core.spec import AlignmentSpec

from .detector import DriftDetector, _check_real
from .multiple_testing import CorrectionMethod
from .result import ColumnDrift, DriftResult

__all__ = ["model_output_drift", "output_columns", "output_drift", "output_frame"]


def output_columns(spec: AlignmentSpec) -> tuple[list[str], list[str]]:
    """The prediction-log columns of the model's outputs that drift tests: ``(numeric, categorical)``.

    The pipeline's output detector and the reference profile use these in
    place of ``[columns.score]`` and ``[columns.prediction]``.
    """
    roles = spec.columns
    if spec.task == "regression":
        return [roles.prediction], []
    if spec.task == "binary":
        assert roles.score is not None  # the spec refuses a binary task without its score column
        return [roles.score], [roles.prediction]
    if roles.class_scores:
        return list(roles.class_scores.values()), [roles.prediction]
    return ([roles.score] if roles.score else []), [roles.prediction]


def output_frame(spec: AlignmentSpec, output: ModelOutput) -> pd.DataFrame:
    """``output`` as the prediction log's output columns, named by the spec (every column of :func:`output_columns`).

    Raises
    ------
    ValueError
        When a multiclass output lacks a class that ``columns.class_scores`` names.
    """
    roles = spec.columns
    if spec.task == "regression":
        return pd.DataFrame({roles.prediction: np.asarray(output.prediction, dtype=float)})
    if spec.task == "binary":
        assert roles.score is not None
        return pd.DataFrame({roles.score: output.score, roles.prediction: output.prediction})
    frame = pd.DataFrame({roles.prediction: output.prediction})
    if roles.score and output.score is not None:
        frame[roles.score] = output.score
    if roles.class_scores:
        if output.proba is None or output.classes is None:
            raise ValueError("The multiclass output has no class probabilities for columns.class_scores.")
        where = class_index(list(roles.class_scores), output.classes)
        unknown = [c for c, i in zip(roles.class_scores, where, strict=True) if i >= len(output.classes)]
        if unknown:
            raise ValueError(
                f"columns.class_scores names class(es) {unknown} the model does not have (its classes are "
                f"{list(output.classes)}). Fix class_scores in the spec."
            )
        for column, i in zip(roles.class_scores.values(), where.astype(int), strict=True):
            frame[column] = output.proba[:, i]
    return frame


def model_output_drift(spec: AlignmentSpec, reference: ModelOutput, current: ModelOutput) -> DriftResult:
    """Test whether the model's outputs on ``current`` rows shifted from those on ``reference`` rows.

    The columns are :func:`output_columns` of the spec; the tests, the
    correction and the effect floors are the spec's drift policy (numeric
    outputs use ``output_effect_floor``).
    """
    numeric, categorical = output_columns(spec)
    policy = spec.drift
    detector = DriftDetector(
        output_frame(spec, reference),
        numeric=numeric,
        categorical=categorical,
        alpha=policy.alpha,
        correction=policy.correction,
        numeric_effect_floor=policy.output_effect_floor,
        categorical_effect_floor=policy.categorical_effect_floor,
        missing_effect_floor=policy.missing_effect_floor,
        categorical_test=policy.categorical_test,
        bins=policy.profile_bins,
        max_categories=policy.max_categories,
    )
    return detector.test(output_frame(spec, current))


def _scores(name: str, value: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The '{name}' parameter must be an array of float scores. "
            f"Got {type(value).__name__} that cannot be converted instead."
        ) from exc
    if arr.ndim != 1:
        raise ValueError(
            f"The '{name}' parameter must be 1-D. Got an array of shape "
            f"{arr.shape} instead; pass e.g. predict_proba(X)[:, 1] for a binary "
            "model or predict_proba(X).max(axis=1) for a multiclass one."
        )
    return arr


def output_drift(
    reference_scores: Sequence[float] | np.ndarray,
    current_scores: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    effect_floor: float = 0.1,
    missing_effect_floor: float = 0.02,
    correction: CorrectionMethod = "bh",
) -> ColumnDrift:
    """Test whether a model's output scores have shifted.

    A shift in the score distribution (e.g. ``predict_proba`` outputs) is a
    label-free signal that the inputs moved in a way the model reacts to.

    Parameters
    ----------
    reference_scores : array-like of float, shape (n_reference,)
        Scores on the reference data. NaN/inf count as missing.
    current_scores : array-like of float, shape (n_current,)
        Scores on the current batch.
    alpha : float, default=0.05
        Level for the adjusted p-values, in (0, 1).
    effect_floor : float, default=0.1
        Smallest Wasserstein/IQR effect counted as drift, in [0, inf).
    missing_effect_floor : float, default=0.02
        Smallest change in the missing-score rate counted as drift.
    correction : {"bh", "holm", "bonferroni"}, default="bh"
        Correction over the KS and missing-rate p-values.

    Returns
    -------
    ColumnDrift
        ``name="score"``, ``kind="numeric"``, ``test="ks"``,
        ``effect_metric="wasserstein_iqr"``.
    """
    # alpha, correction and missing_effect_floor are checked by DriftDetector.
    _check_real("effect_floor", effect_floor, 0.0, math.inf, "[0, inf)")
    reference = pd.DataFrame({"score": _scores("reference_scores", reference_scores)})
    current = pd.DataFrame({"score": _scores("current_scores", current_scores)})
    detector = DriftDetector(
        reference,
        numeric=["score"],
        alpha=alpha,
        correction=correction,
        numeric_effect_floor=effect_floor,
        missing_effect_floor=missing_effect_floor,
    )
    return detector.test(current).columns[0]
