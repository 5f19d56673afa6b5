"""The monitor's drift step takes its levels from the one alpha budget (``core/drift/budget.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.core.drift import ReferenceProfile
from alignment_drift.core.drift.output import output_columns
from alignment_drift.pipeline.steps.drift import detectors


def _profile(spec: Any) -> ReferenceProfile:
    rng = np.random.default_rng(0)
    roles = spec.columns
    out_numeric, out_categorical = output_columns(spec)
    frame = pd.DataFrame(
        {
            **{c: rng.normal(size=200) for c in [*roles.numeric, *out_numeric]},
            **{c: rng.choice(["a", "b"], 200).astype(object) for c in [*roles.categorical, *out_categorical]},
        }
    )
    return ReferenceProfile.fit(
        frame, numeric=[*roles.numeric, *out_numeric], categorical=[*roles.categorical, *out_categorical]
    )


@pytest.mark.parametrize(
    ("domain_classifier", "mmd", "families", "joint_tests"),
    [
        pytest.param(True, True, {"inputs": 0.04 / 3, "outputs": 0.04 / 3, "joint": 0.04 / 3}, 2, id="both-joint"),
        pytest.param(False, True, {"inputs": 0.04 / 3, "outputs": 0.04 / 3, "joint": 0.04 / 3}, 1, id="mmd-only"),
        pytest.param(False, False, {"inputs": 0.02, "outputs": 0.02}, 0, id="no-joint"),
    ],
)
def test_the_monitor_splits_alpha_by_the_budget(
    content_spec: Any, domain_classifier: bool, mmd: bool, families: dict[str, float], joint_tests: int
) -> None:
    joint = {"domain_classifier": domain_classifier, "mmd": mmd}
    multivariate = content_spec.drift.multivariate.model_copy(update=joint)
    drift = content_spec.drift.model_copy(update={"alpha": 0.04, "multivariate": multivariate})
    spec = content_spec.model_copy(update={"drift": drift})
    inputs, outputs, budget, joint = detectors(spec, _profile(spec))
    assert budget.families == pytest.approx(families)
    assert inputs.alpha == pytest.approx(families["inputs"]) and outputs.alpha == pytest.approx(families["outputs"])
    assert joint is bool(joint_tests)
    assert len(budget.joint_tests) == joint_tests
    assert sum(budget.joint_tests.values()) == pytest.approx(families.get("joint", 0.0))
    assert sum(budget.families.values()) == pytest.approx(0.04)
