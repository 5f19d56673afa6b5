"""A column's values as the profiles and tests take them, from pandas or from Arrow.

Numeric columns become their finite float values and a missing count; categorical ones their counts (keys
as strings, in order of first appearance) and a missing count. An Arrow column of integers, floats or
strings is handled by Arrow and numpy alone, to the same result as the pandas column ``to_pandas`` would
give (any other Arrow type goes through pandas), so a Parquet batch can be summarised without importing
pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OTHER",
    "arrow_indices",
    "arrow_numpy",
    "arrow_valid",
    "as_float",
    "category_counts",
    "fold",
    "is_arrow",
    "numeric_values",
]

#: The category the rarest ones fold into beyond a profile's ``max_categories``.
OTHER = "__other__"


def is_arrow(column: Any) -> bool:
    """Whether ``column`` is Arrow data (an array or a chunked array), not a pandas column."""
    return isinstance(column, (pa.Array, pa.ChunkedArray))


def arrow_valid(array: pa.Array) -> np.ndarray:
    """Which entries of ``array`` are not null, as a numpy bool array, read from its validity bitmap."""
    if not array.null_count:
        return np.ones(len(array), bool)
    start, bits = array.offset, np.frombuffer(array.buffers()[0], np.uint8)
    return np.unpackbits(bits, count=start + len(array), bitorder="little")[start:].astype(bool)


def arrow_numpy(array: pa.Array | pa.ChunkedArray, kind: pa.DataType, fill: float) -> np.ndarray:
    """An Arrow column cast to ``kind`` (float64 or int64) as numpy, nulls replaced by ``fill``.

    Read from the Arrow buffers: pyarrow's own conversion of an array with nulls imports pandas.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(kind, safe=False)
    dtype = np.float64 if kind == pa.float64() else np.int64
    if len(array) == 0:
        return np.empty(0, dtype)
    start = array.offset
    values = np.frombuffer(array.buffers()[1], dtype, count=start + len(array))[start:]
    return np.where(arrow_valid(array), values, fill) if array.null_count else values


def arrow_indices(positions: np.ndarray) -> pa.Array:
    """Row positions as an Arrow int64 array for ``take``, built from their buffer (``pa.array`` on a numpy
    array imports pandas)."""
    positions = np.ascontiguousarray(positions, np.int64)
    return pa.Array.from_buffers(pa.int64(), positions.size, [None, pa.py_buffer(positions)])


def as_float(series: pd.Series) -> np.ndarray:
    """Cast a column declared numeric to float.

    bool becomes 0/1, datetimes become seconds since the epoch (UTC),
    timedeltas become seconds; missing values become NaN.

    Parameters
    ----------
    series : pandas.Series
        The column.

    Returns
    -------
    ndarray of float, shape (n,)

    Raises
    ------
    ValueError
        If the values cannot be cast to float.
    """
    import pandas as pd  # here, not at import: a profile's column tests need no pandas

    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = series.to_numpy(dtype="datetime64[ns]")
        seconds = stamps.astype(np.int64).astype(float) / 1e9
        seconds[np.isnat(stamps)] = np.nan
        return seconds
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return series.dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
    try:
        numeric = pd.to_numeric(series, errors="raise")
        return numeric.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Column {series.name!r} is declared numeric but cannot be cast to "
            f"float ({exc}). List it under 'categorical' instead."
        ) from exc


def numeric_values(series: pd.Series | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """The finite float values of a column (bools as 0/1, datetimes as UTC seconds) and its missing count.

    An Arrow column of integers or floats is cast directly (nulls become NaN, as pandas converts them); any
    other Arrow type goes through pandas, so both give the same values.
    """
    if is_arrow(series):
        kind = series.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return numeric_values(series.to_pandas())
        values = arrow_numpy(series, pa.float64(), np.nan)
    elif series.dtype == np.float64 or series.dtype == np.int64:
        values = series.to_numpy(dtype=np.float64, copy=False)  # no copy for float64 columns
    else:
        values = as_float(series)
    finite = np.isfinite(values)
    missing = int(values.size - np.count_nonzero(finite))
    return (values if missing == 0 else values[finite]), missing


def category_counts(series: pd.Series | pa.Array | pa.ChunkedArray) -> tuple[dict[str, int], int]:
    """Each category's count (keys as strings, in order of first appearance) and the missing count.

    An Arrow string column is counted by Arrow (the same keys and order as pandas); any other Arrow type goes
    through pandas.
    """
    if is_arrow(series):
        if not (pa.types.is_string(series.type) or pa.types.is_large_string(series.type)):
            return category_counts(series.to_pandas())
        counted = pc.value_counts(series)
        keys, values = counted.field("values").to_pylist(), counted.field("counts").to_pylist()
        return {k: v for k, v in zip(keys, values, strict=True) if k is not None}, int(series.null_count)
    missing = int(series.isna().sum())
    counts: dict[str, int] = {}
    for key, value in series.value_counts(sort=False, dropna=True).items():
        if value:  # distinct raw values may map to one string ("1" and 1)
            counts[str(key)] = counts.get(str(key), 0) + int(value)
    return counts, missing


def fold(counts: dict[str, int], limit: int) -> dict[str, int]:
    """``counts`` with at most ``limit`` categories: the rarest folded into :data:`OTHER`."""
    if len(counts) <= limit:
        return counts
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[: limit - 1])
    kept[OTHER] = kept.get(OTHER, 0) + sum(v for _, v in ranked[limit - 1 :])
    return kept
