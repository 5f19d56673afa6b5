"""Generate a prediction-log expectation suite from a spec's column roles and reference data.

The suite is a starting point, then owned by the user (``alignment-drift
expectations``). What it expects, and how severe a failure is:

- critical, from the roles: every role column exists (extra columns allowed); 1 to 10,000,000 rows;
  id not null and unique; timestamp not null and tz-aware; score (when the task has one) not null,
  float, in [0, 1]; prediction and exposure not null and in the reference's values (else {0, 1}); target
  and proxy in that set (null allowed: labels arrive for a sample). A regression's prediction, target
  and proxy are values, not classes: only numeric (the prediction not null).
- critical, learned from the reference: the type of the id, each feature and the model version;
  each feature's null share at most the reference's plus the tolerance (none if it had none);
  each numeric feature inside the reference's range widened by tolerance x its width (never
  below 0 if it never was, never outside [0, 1] if it never was) for 99 % of the rows.
- warning, learned from the reference: each categorical feature and segment in the reference's
  categories for (1 - tolerance) of the rows (new categories are drift, not broken data).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from alignment_drift.core.spec import AlignmentSpec

__all__ = ["MAX_ROWS", "RANGE_MOSTLY", "generate_suite"]

MAX_ROWS = 10_000_000
RANGE_MOSTLY = 0.99
FLOAT_TYPES = ["float64", "float32", "float", "Float64Dtype", "Float32Dtype"]
INT_TYPES = [
    "int64",
    "int32",
    "int16",
    "int8",
    "uint64",
    "uint32",
    "uint16",
    "uint8",
    "int",
    "Int64Dtype",
    "Int32Dtype",
    "Int16Dtype",
    "Int8Dtype",
    "UInt64Dtype",
    "UInt32Dtype",
    "UInt16Dtype",
    "UInt8Dtype",
]


def _exp(kind: str, severity: str = "critical", notes: str = "", **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs, "meta": {"notes": notes} if notes else {}, "severity": severity}


def _round(value: float) -> float | int:
    if float(value).is_integer():
        return int(value)
    return float(f"{value:.6g}")


def _type_expectation(column: str, series: pd.Series | None, default: str) -> dict[str, Any]:
    """The type a column must have: the reference's family of dtypes, else ``default``."""
    if series is None:
        return _exp("column_values_to_be_of_type", column=column, type_=default)
    if pd.api.types.is_bool_dtype(series):
        return _exp("column_values_to_be_in_type_list", column=column, type_list=["bool", "BooleanDtype"])
    if pd.api.types.is_integer_dtype(series):
        return _exp("column_values_to_be_in_type_list", column=column, type_list=INT_TYPES)
    if pd.api.types.is_float_dtype(series):
        return _exp("column_values_to_be_in_type_list", column=column, type_list=FLOAT_TYPES)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return _exp("column_values_to_be_of_type", column=column, type_="Timestamp")
    return _exp("column_values_to_be_of_type", column=column, type_="str")


def _nulls(column: str, series: pd.Series | None, tolerance: float) -> dict[str, Any]:
    rate = 0.0 if series is None else float(series.isna().mean())
    if rate == 0.0:
        return _exp("column_values_to_not_be_null", column=column)
    mostly = max(0.0, round(1.0 - rate - tolerance, 4))
    return _exp(
        "column_values_to_not_be_null",
        notes=f"{rate:.1%} missing in the reference; up to {rate:.1%} + {tolerance:.0%} tolerated.",
        column=column,
        mostly=mostly,
    )


def _range(column: str, series: pd.Series, tolerance: float) -> dict[str, Any] | None:
    values = pd.to_numeric(series, errors="coerce").dropna()
    values = values[values.map(math.isfinite)]
    if values.empty:
        return None
    low, high = float(values.min()), float(values.max())
    margin = tolerance * (high - low)
    lower, upper = low - margin, high + margin
    if low >= 0.0:
        lower = max(0.0, lower)
    if low >= 0.0 and high <= 1.0:
        upper = min(1.0, upper)
    if pd.api.types.is_integer_dtype(series):
        lower, upper = math.floor(lower), math.ceil(upper)
    return _exp(
        "column_values_to_be_between",
        notes=f"Reference range [{_round(low)}, {_round(high)}] widened by {tolerance:.0%} of its width; "
        f"{1 - RANGE_MOSTLY:.0%} of the rows may lie outside (tails).",
        column=column,
        min_value=_round(lower),
        max_value=_round(upper),
        mostly=RANGE_MOSTLY,
    )


def _numeric(column: str, notes: str) -> dict[str, Any]:
    return _exp("column_values_to_be_in_type_list", column=column, type_list=FLOAT_TYPES + INT_TYPES, notes=notes)


def _value_set(series: pd.Series | None, default: list[Any]) -> list[Any]:
    if series is None or series.dropna().empty:
        return default
    values = series.dropna().unique().tolist()
    values = [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]
    return sorted({v.item() if hasattr(v, "item") else v for v in values}, key=str)


def generate_suite(
    spec: AlignmentSpec,
    reference: pd.DataFrame,
    *,
    tolerance: float = 0.1,
    name: str | None = None,
    reference_name: str = "",
) -> dict[str, Any]:
    """Build the GX suite (as JSON-able dict) of a spec's prediction log.

    Parameters
    ----------
    spec : AlignmentSpec
        Gives the column roles.
    reference : pandas.DataFrame
        Data the suite learns types, null shares, ranges and categories from
        (the spec's ``reference.training_data``). Role columns it lacks get the roles' defaults.
    tolerance : float, default=0.1
        Slack in [0, 1]: added to null shares, to ranges (times their width), taken off category coverage.
    name : str, optional
        Suite name; default the spec's ``expectations``.
    reference_name : str, default=""
        Where the reference came from, recorded in the suite's meta.

    Returns
    -------
    dict
        ``{name, expectations, meta}`` in the GX 1.x layout, loadable by
        :func:`alignment_drift.integrations.gx.load_suite`.

    Raises
    ------
    ValueError
        If ``tolerance`` is outside [0, 1] or ``reference`` is empty.
    TypeError
        If ``reference`` is not a DataFrame.
    """
    if not isinstance(reference, pd.DataFrame):
        raise TypeError(f"reference must be a pandas DataFrame, got {type(reference).__name__}. Fix: read it first.")
    if reference.empty:
        raise ValueError("the reference data has no rows. Fix: point --reference at the model's training data.")
    if not isinstance(tolerance, int | float) or not 0.0 <= float(tolerance) <= 1.0:
        raise ValueError(f"tolerance must be between 0 and 1; got {tolerance!r}. Fix: e.g. --tolerance 0.1.")
    roles = spec.columns
    ref = {c: reference[c] for c in reference.columns}
    labels = [c for c in (roles.target, roles.proxy) if c]
    columns = [
        roles.id,
        roles.timestamp,
        *roles.feature_names,
        *roles.segments,
        roles.prediction,
        *labels,
        *[c for c in (roles.score, roles.exposure, roles.model_version) if c],
    ]
    out = [
        _exp(
            "table_columns_to_match_set",
            notes="Schema: every role column present; extra columns allowed.",
            column_set=list(dict.fromkeys(columns)),
            exact_match=False,
        ),
        _exp(
            "table_row_count_to_be_between",
            notes="An empty night or a runaway export is a pipeline fault.",
            min_value=1,
            max_value=MAX_ROWS,
        ),
        _exp("column_values_to_not_be_null", column=roles.id),
        _exp("column_values_to_be_unique", column=roles.id, notes="Duplicate ids: a double export or a bad join."),
        _type_expectation(roles.id, ref.get(roles.id), "str"),
        _exp("column_values_to_not_be_null", column=roles.timestamp),
        _exp(
            "column_values_to_be_of_type",
            column=roles.timestamp,
            type_="Timestamp",
            notes="Timestamp is a tz-aware pandas column; tz-naive timestamps fail.",
        ),
    ]
    for feature in roles.features:
        series = ref.get(feature.name)
        out.append(_nulls(feature.name, series, tolerance))
        if series is not None:
            out.append(_type_expectation(feature.name, series, "str"))
        if feature.kind == "numeric" and series is not None and (rng := _range(feature.name, series, tolerance)):
            out.append(rng)
    for column in [f.name for f in roles.features if f.kind == "categorical"] + list(roles.segments):
        if (series := ref.get(column)) is not None and not series.dropna().empty:
            out.append(
                _exp(
                    "column_values_to_be_in_set",
                    "warning",
                    column=column,
                    notes="New categories are a drift signal, not a data error.",
                    value_set=_value_set(series, []),
                    mostly=round(1.0 - tolerance, 4),
                )
            )
    if roles.score:
        out += [
            _exp("column_values_to_not_be_null", column=roles.score),
            _exp("column_values_to_be_in_type_list", column=roles.score, type_list=FLOAT_TYPES),
            _exp(
                "column_values_to_be_between",
                column=roles.score,
                min_value=0.0,
                max_value=1.0,
                notes="The score is a probability.",
            ),
        ]
    out.append(_exp("column_values_to_not_be_null", column=roles.prediction))
    if spec.task == "regression":
        # values, not classes: a number (how they move is output drift, not broken data)
        out.append(_numeric(roles.prediction, "The predicted value."))
        out += [_numeric(c, "A label; null where it is not known (yet).") for c in labels]
    else:
        out.append(
            _exp(
                "column_values_to_be_in_set",
                column=roles.prediction,
                value_set=_value_set(ref.get(roles.prediction), [0, 1]),
            )
        )
        for column in labels:
            out.append(
                _exp(
                    "column_values_to_be_in_set",
                    column=column,
                    value_set=_value_set(ref.get(column), [0, 1]),
                    notes="A label; null where it is not known (yet).",
                )
            )
    if roles.exposure:
        out.append(_exp("column_values_to_not_be_null", column=roles.exposure))
        out.append(
            _exp(
                "column_values_to_be_in_set",
                column=roles.exposure,
                value_set=_value_set(ref.get(roles.exposure), [0, 1]),
            )
        )
    if roles.model_version:
        out.append(_exp("column_values_to_not_be_null", column=roles.model_version))
        out.append(_type_expectation(roles.model_version, ref.get(roles.model_version), "str"))
    return {
        "name": name or spec.expectations,
        "expectations": out,
        "meta": {
            "description": f"Prediction log of {spec.model}, generated from the spec's column roles and reference "
            "data; edit it freely, it is yours now. Critical failures quarantine the batch; warnings are reported.",
            "generated_by": "alignment-drift expectations",
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "reference": reference_name,
            "reference_rows": len(reference),
            "tolerance": float(tolerance),
        },
    }
