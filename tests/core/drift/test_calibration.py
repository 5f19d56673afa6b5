"""No-shift false-alarm rate of DriftDetector on realistic data with rare missingness and rare categories.

Every p-value is a claim: with no shift, the detector must flag at most ``alpha`` of the batches (BH controls
the family-wise error under the global null), at every batch size, with the effect floors at their defaults and
at 0. 17 columns (12 numeric of assorted shapes, 5 categorical with rare levels, ``tests/realistic_data.py``),
0.5 % of every column missing, a 5,000-row reference drawn afresh with each batch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.realistic_data import CATEGORICAL, NUMERIC, realistic_frame

from alignment_drift.core.drift import DriftDetector, DriftResult

ALPHA = 0.05


def _significant(result: DriftResult) -> bool:
    """The flag with every effect floor at 0: any test of the family whose adjusted p-value reaches alpha."""
    return any(
        (c.in_family and c.p_adjusted <= result.alpha) or (c.missing_in_family and c.missing_p_adjusted <= result.alpha)
        for c in result.columns
    )


def test_the_floor_zero_flag_is_what_a_detector_with_zero_floors_raises() -> None:
    rng = np.random.default_rng(3)
    zero = {"numeric_effect_floor": 0.0, "categorical_effect_floor": 0.0, "missing_effect_floor": 0.0}
    for _ in range(6):
        reference, batch = realistic_frame(2_000, rng, missing=0.02), realistic_frame(300, rng, missing=0.05)
        default = DriftDetector(reference, numeric=NUMERIC, categorical=CATEGORICAL, alpha=ALPHA)
        floors_zero = DriftDetector(default.profile, numeric=NUMERIC, categorical=CATEGORICAL, alpha=ALPHA, **zero)
        assert floors_zero.test(batch).drift is _significant(default.test(batch))


@pytest.mark.slow
@pytest.mark.parametrize("n", [100, 1_000])
def test_no_shift_false_alarm_rate_is_at_most_alpha(n: int) -> None:
    """400 batches: measured 0.0375 / 0.0375 (n = 100, default floors / floors 0) and 0.0125 / 0.040 (n = 1,000)."""
    rng = np.random.default_rng(2_000 + n)
    reps = 400
    flagged = significant = 0
    for _ in range(reps):
        reference, batch = realistic_frame(5_000, rng), realistic_frame(n, rng)
        result = DriftDetector(reference, numeric=NUMERIC, categorical=CATEGORICAL, alpha=ALPHA).test(batch)
        flagged += result.drift
        significant += _significant(result)
    bound = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / reps)  # 3 Monte-Carlo standard errors: 0.083
    print(f"n={n}: default floors {flagged / reps:.4f}, floors 0 {significant / reps:.4f} (bound {bound:.4f})")
    assert flagged / reps <= bound
    assert significant / reps <= bound
