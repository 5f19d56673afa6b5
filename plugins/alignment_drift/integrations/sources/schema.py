"""The columns of a batch as it was read: each column's name and type, in MLflow's type names.

Taken from the rows validation already holds (the dtypes, plus a look at
the first values of a text column), so describing a batch never reads it
again. The names are those of MLflow's ``mlflow.types.DataType``
(``boolean``, ``integer``, ``long``, ``float``, ``double``, ``string``,
``binary``, ``datetime``), which is how a check run's dataset input shows
its schema.

Examples
--------
>>> import pandas as pd
>>> stamps = pd.to_datetime(["2026-01-01"], utc=True)
>>> frame = pd.DataFrame({"id": ["a"], "n": [1], "x": [0.5], "ok": [True], "ts": stamps})
>>> [(c["name"], c["type"]) for c in batch_columns(frame)]
[('id', 'string'), ('n', 'long'), ('x', 'double'), ('ok', 'boolean'), ('ts', 'datetime')]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["batch_columns", "column_type"]

#: Values of a text column looked at to tell strings from bytes.
SAMPLE = 100
_INFERRED = {
    "string": "string",
    "empty": "string",
    "bytes": "binary",
    "boolean": "boolean",
    "integer": "long",
    "floating": "double",
    "mixed-integer-float": "double",
    "decimal": "double",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
}


def column_type(series: pd.Series) -> str:
    """The MLflow type name of one column (``string`` for text and anything without a closer type)."""
    dtype = series.dtype
    size = int(getattr(dtype, "itemsize", 8))  # numpy's and pandas' nullable numeric types have one
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer" if size <= 4 and not pd.api.types.is_unsigned_integer_dtype(dtype) else "long"
    if pd.api.types.is_float_dtype(dtype):
        return "float" if size <= 4 else "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(pd.Series(dtype.categories))
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "string"
    return _INFERRED.get(pd.api.types.infer_dtype(series.head(SAMPLE), skipna=True), "string")


def batch_columns(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``[{"name": ..., "type": ...}, ...]`` of the frame's columns, in their order."""
    return [{"name": str(name), "type": column_type(frame.iloc[:, i])} for i, name in enumerate(frame.columns)]
