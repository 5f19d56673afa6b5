"""Black-box shift detection on a model's output scores."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .detector import ColumnDrift, DriftDetector, _check_real
from .multiple_testing import CorrectionMethod


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
