"""The owner's training entrypoint: called with the spec's params, checked before fitting, errors name the field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.core.entrypoint import EntrypointError, build_from_entrypoint, fit_entrypoint
from alignment_drift.core.spec import Training


def test_the_entrypoint_gets_the_params_and_its_estimator_is_fitted() -> None:
    training = Training(entrypoint="tests.byom.custom_steps:content_classifier", params={"max_iter": 7})
    unfitted = build_from_entrypoint(training)
    assert unfitted.steps[-1][1].max_iter == 7
    from alignment_drift.demo.simulate import FEATURES

    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {
            **{c: rng.random(200) for c in ("toxicity", "sensationalism", "report_rate", "author_reputation")},
            "text_length": rng.integers(10, 500, 200),
            "category": rng.choice(["news", "sports"], 200),
            "source_type": rng.choice(["verified", "new_account"], 200),
        }
    )[list(FEATURES)]
    y = (x["toxicity"] > 0.5).astype(int).to_numpy()
    fitted = fit_entrypoint(x, y, training)
    assert fitted.predict_proba(x).shape == (200, 2)
    assert fitted is not build_from_entrypoint(training)  # a new estimator every time


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({"entrypoint": "tests.byom.no_such_module:build"}, "module 'tests.byom.no_such_module' cannot be imported"),
        ({"entrypoint": "tests.byom.custom_steps:missing"}, "has no callable 'missing'"),
        (
            {"entrypoint": "tests.byom.custom_steps:content_classifier", "params": {"depth": 3}},
            "cannot be called with retraining.training.params ['depth']",
        ),
        ({"entrypoint": "tests.byom.custom_steps:fitted_classifier"}, "returned a fitted LogisticRegression"),
        ({"entrypoint": "tests.byom.custom_steps:not_an_estimator"}, "returned a dict, which has no fit method"),
        ({}, "is not set"),
    ],
    ids=["import", "attribute", "signature", "fitted", "not-an-estimator", "unset"],
)
def test_a_bad_entrypoint_is_refused_naming_the_field(training: dict[str, Any], message: str) -> None:
    with pytest.raises(EntrypointError) as caught:
        build_from_entrypoint(Training(**training))
    assert "retraining.training.entrypoint" in str(caught.value) and message in str(caught.value)


def test_too_few_labelled_rows_are_refused_before_the_owners_code_runs() -> None:
    training = Training(entrypoint="tests.byom.no_such_module:build")
    with pytest.raises(ValueError, match="at least 10 labelled rows"):
        fit_entrypoint(pd.DataFrame({"x": [1.0, 2.0]}), np.array([0, 1]), training)
