"""The selection evidence of a feedback loop on a large batch: a seeded sample re-scored, the same answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.core.verdict import Selection
from alignment_drift.pipeline.steps.benchmarks import SELECTION_MAX_ROWS, _selection


class _ScoresToxicity:
    """A binary model whose P(unsafe) is the row's toxicity; it records how many rows it was asked to score."""

    classes_ = np.array([0, 1])

    def __init__(self) -> None:
        self.scored: list[int] = []

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        self.scored.append(len(x))
        p = x["toxicity"].to_numpy(dtype=float)
        return np.column_stack([1 - p, p])


def _night(spec: Any, rows: int, seed: int) -> tuple[pd.DataFrame, float]:
    """A logged night whose deployed model blocks less than the reference on one row in 20; the true change."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.random(rows) for name in spec.columns.feature_names})  # the model reads one
    score = frame["toxicity"].to_numpy().copy()
    score[::20] = 0.0  # logged as "safe" (shown) whatever the reference would have decided
    frame[spec.columns.score] = score
    threshold = spec.retraining.training.decision_threshold
    reference_shown = frame["toxicity"].to_numpy() < threshold
    return frame, float((score < threshold).mean() - reference_shown.mean())


@pytest.mark.parametrize("rows", [5_000, 1_000_000], ids=["small", "1M"])
def test_a_large_batch_is_compared_on_a_seeded_sample_with_the_same_answer(content_spec: Any, rows: int) -> None:
    frame, change = _night(content_spec, rows, seed=rows)
    model = _ScoresToxicity()
    out = _selection(content_spec, frame, SimpleNamespace(proxy=None), model)
    assert out is not None
    compared = min(rows, SELECTION_MAX_ROWS)
    assert model.scored == [compared] and out["rows"] == compared and out["batch_rows"] == rows
    selection = Selection(**out)
    if rows <= SELECTION_MAX_ROWS:  # every item compared: the exact change
        assert selection.change == pytest.approx(change, abs=1e-12)
    else:  # paired items: the difference's standard error is at most sqrt(0.05 / compared) (one item in 20 differs)
        assert abs(selection.change - change) < 4 * (0.05 / compared) ** 0.5
        assert change > 0.02 and selection.p_value() < 1e-6
    again = _selection(content_spec, frame, SimpleNamespace(proxy=None), _ScoresToxicity())
    assert again == out  # the sample is seeded: the same night gives the same evidence


def test_a_check_recorded_before_the_sample_still_reads() -> None:
    old = {
        "deployed_exposure_rate": 0.6,
        "reference_model_exposure_rate": 0.5,
        "rows": 1_000,
        "proxy_on_exposed_share": None,
    }
    assert Selection(**old).batch_rows is None and Selection(**old).change == pytest.approx(0.1)
