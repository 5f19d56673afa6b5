"""Output drift per task: which outputs are tested, and that a real shift in what the model sees is found."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from alignment_drift.core.drift import model_output_drift, output_columns, output_frame
from alignment_drift.core.spec import ColumnRoles


def test_output_columns_per_task(fitted: dict[str, Any], root: Any) -> None:
    from alignment_drift.core.spec import load_spec

    demo = load_spec(root / "specs" / "content_safety.yaml")
    assert output_columns(demo) == (["score"], ["prediction"])  # what the monitor tests today
    assert output_columns(fitted["multiclass"].spec) == ([f"p_{k}" for k in range(10)], ["prediction"])
    assert output_columns(fitted["regression"].spec) == (["prediction"], [])
    bare = fitted["multiclass"].spec.model_copy(
        update={"columns": fitted["multiclass"].spec.columns.model_copy(update={"class_scores": None})}
    )
    assert output_columns(bare) == ([], ["prediction"])


def test_output_frame_lays_out_the_spec_columns_in_class_order(fitted: dict[str, Any]) -> None:
    m = fitted["multiclass"]
    reversed_scores = {k: f"p_{k}" for k in reversed(range(10))}
    spec = m.spec.model_copy(update={"columns": m.spec.columns.model_copy(update={"class_scores": reversed_scores})})
    out = m.score(m.audit)
    frame = output_frame(spec, out)
    assert out.proba is not None
    np.testing.assert_allclose(frame["p_3"], out.proba[:, 3])
    assert set(frame.columns) == {"prediction", *reversed_scores.values()}
    wrong = m.spec.columns.model_copy(update={"class_scores": {0: "p_0", 42: "p_42"}})
    with pytest.raises(ValueError, match=r"class\(es\) \[42\] the model does not have"):
        output_frame(m.spec.model_copy(update={"columns": wrong}), out)
    assert isinstance(m.spec.columns, ColumnRoles)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_no_drift_between_halves_of_the_same_rows_and_drift_after_a_real_shift(task: str, fitted: dict) -> None:
    f = fitted[task]
    rows = f.train
    half = len(rows) // 2
    same = model_output_drift(f.spec, f.score(rows.iloc[:half]), f.score(rows.iloc[half:]))
    assert not same.drift, same.to_dict()
    # the batch sees only part of the population: the first classes (multiclass), the positive class
    # (binary), the heaviest patients (regression): the model's outputs must move
    if task == "regression":
        shifted = rows[rows["bmi"] > rows["bmi"].quantile(0.6)]
    else:
        shifted = rows[rows["target"].isin([0, 1, 2] if task == "multiclass" else [0])]
    moved = model_output_drift(f.spec, f.score(rows.iloc[:half]), f.score(shifted))
    assert moved.drift
    numeric, categorical = output_columns(f.spec)
    assert {c.name for c in moved.columns} == {*numeric, *categorical}
