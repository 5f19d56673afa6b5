"""A batch's columns as read, in MLflow's type names (the check run's dataset schema), from dtypes alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.integrations.sources.schema import batch_columns, column_type


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(np.array([1, 2], dtype="int64"), "long", id="int64"),
        pytest.param(np.array([1, 2], dtype="int32"), "integer", id="int32"),
        pytest.param(pd.array([1, None], dtype="Int32"), "integer", id="nullable-int32"),
        pytest.param(np.array([1, 2], dtype="uint32"), "long", id="uint32"),
        pytest.param(np.array([0.5, np.nan]), "double", id="float64-with-missing"),
        pytest.param(np.array([0.5, 1.5], dtype="float32"), "float", id="float32"),
        pytest.param([True, False], "boolean", id="bool"),
        pytest.param(pd.array([True, None], dtype="boolean"), "boolean", id="nullable-bool"),
        pytest.param(pd.to_datetime(["2026-01-01", None], utc=True), "datetime", id="tz-aware-timestamps"),
        pytest.param(["a", None], "string", id="text"),
        pytest.param(pd.Categorical(["a", "b"]), "string", id="categorical-text"),
        pytest.param([b"\x00", b"\x01"], "binary", id="bytes"),
        pytest.param([None, None], "string", id="all-missing"),
        pytest.param([1, "x"], "string", id="mixed"),
    ],
)
def test_column_type(values: Any, expected: str) -> None:
    assert column_type(pd.Series(values)) == expected


def test_columns_keep_their_order_and_duplicated_names() -> None:
    frame = pd.DataFrame([[1, "a", 0.5]], columns=["n", "n", "x"])
    assert batch_columns(frame) == [
        {"name": "n", "type": "long"},
        {"name": "n", "type": "string"},
        {"name": "x", "type": "double"},
    ]
