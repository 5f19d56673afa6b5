"""Exposure is declared, not assumed: which rows a model's own output exposes, per rule and task."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from alignment_drift.core.benchmarks import Scored
from alignment_drift.core.drift.output import output_columns, output_frame
from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.exposure import exposed, reference_exposure_rate
from alignment_drift.core.scoring import ModelOutput
from alignment_drift.core.spec import Exposure


def _rule(spec: Any, **rule: Any) -> Any:
    return spec.model_copy(update={"exposure": Exposure(**rule)})


def test_the_binary_default_is_todays_rule_exposed_below_the_threshold(fitted: dict[str, Any]) -> None:
    b = fitted["binary"]
    out = b.score(b.audit)
    shown = exposed(b.spec, out)
    assert shown is not None
    assert np.array_equal(shown, out.score < 0.5)
    assert np.array_equal(shown, out.prediction == 0)  # what Scored.exposed() assumed before
    rows = Scored.from_output(b.audit, b.spec, out)
    assert len(rows.exposed()) == int(shown.sum())
    legacy = Scored.from_frame(b.audit, b.spec.columns, score=out.score, threshold=0.5)
    assert np.array_equal(legacy.exposed().target, rows.exposed().target)


@pytest.mark.parametrize(
    ("task", "rule", "expected"),
    [
        pytest.param(
            "binary", {"rule": "above_threshold", "threshold": 0.3}, lambda o: o.score >= 0.3, id="binary-above"
        ),
        pytest.param(
            "binary", {"rule": "below_threshold", "threshold": 0.2}, lambda o: o.score < 0.2, id="binary-below"
        ),
        pytest.param(
            "multiclass",
            {"rule": "class_in", "classes": [0, "1"]},
            lambda o: np.isin(o.prediction.astype(int), [0, 1]),
            id="multiclass-class-in",
        ),
        pytest.param(
            "regression",
            {"rule": "below_threshold", "threshold": 150.0},
            lambda o: o.prediction < 150.0,
            id="regression-below",
        ),
        pytest.param(
            "regression",
            {"rule": "above_threshold", "threshold": 150.0},
            lambda o: o.prediction >= 150.0,
            id="regression-above",
        ),
    ],
)
def test_each_rule_exposes_what_it_declares(task: str, rule: dict, expected: Any, fitted: dict[str, Any]) -> None:
    f = fitted[task]
    spec = _rule(f.spec, **rule)
    out = f.score(f.audit)
    shown = exposed(spec, out)
    assert shown is not None and shown.dtype == bool
    assert np.array_equal(shown, expected(out))
    assert 0 < shown.sum() < len(shown)
    rows = Scored.from_output(f.audit, spec, out)
    assert len(rows.exposed()) == int(shown.sum())
    # the reference's rate, from the profile of the outputs it logged, is the same share
    numeric, categorical = output_columns(spec)
    profile = ReferenceProfile.fit(output_frame(spec, out), numeric=numeric, categorical=categorical)
    assert reference_exposure_rate(spec, profile) == pytest.approx(shown.mean())


def test_no_exposure_effect_means_none_and_every_row_counts(fitted: dict[str, Any]) -> None:
    for f in fitted.values():
        spec = _rule(f.spec, rule="none")
        out = f.score(f.audit)
        assert exposed(spec, out) is None
        numeric, categorical = output_columns(spec)
        profile = ReferenceProfile.fit(output_frame(spec, out), numeric=numeric, categorical=categorical)
        assert reference_exposure_rate(spec, profile) is None
        rows = Scored.from_output(f.audit, spec, out)
        assert len(rows.exposed()) == len(rows)
    assert exposed(fitted["multiclass"].spec, fitted["multiclass"].score(fitted["multiclass"].audit)) is None


def test_a_missing_output_is_not_exposed(fitted: dict[str, Any]) -> None:
    b = fitted["binary"]
    out = b.score(b.audit.head(4))
    assert out.score is not None
    holed = replace(out, score=np.array([np.nan, 0.1, 0.9, np.nan]))
    assert exposed(b.spec, holed).tolist() == [False, True, False, False]
    with pytest.raises(ValueError, match="no score"):
        exposed(b.spec, ModelOutput(prediction=out.prediction, score=None, proba=None, classes=None))
