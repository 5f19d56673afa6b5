"""The reference reservoir: a bounded uniform sample of a profile's rows, and the seeds that redraw from it.

A :class:`~alignment_drift.core.drift.profile.ReferenceProfile` holds per-column
statistics, which is all the per-column tests need; the joint tests (domain
classifier, MMD) need rows. A :class:`Reservoir` keeps at most ``capacity``
rows of the declared columns, a uniform random sample of every row profiled:

- each row gets a key, uniform on [0, 1), and the reservoir keeps the
  ``capacity`` rows with the smallest keys, so every set of ``capacity`` rows
  is equally likely to be kept (a sample without replacement);
- the keys of a chunk of rows come from a generator seeded by
  ``random_state`` and a digest of the chunk's content, so the same rows in
  the same chunks give the same reservoir, and different chunks draw
  independent keys with no numbering to coordinate;
- merging keeps the ``capacity`` smallest keys of both reservoirs (the smaller
  capacity of the two), which is exactly the reservoir one pass over all the
  rows would keep with those keys: partitions profiled apart merge into a
  uniform sample of the whole.

Numeric columns are kept as float (see :func:`~alignment_drift.core.drift.columns.as_float`;
NaN and ±inf stay), categorical ones as strings (``str`` dtype, NaN when missing), as the
profile and the joint tests compare them.

:func:`seed_from` turns any identity of a night (the data interval's start, a
digest of the batch from :func:`content_digest`) into the per-night seed with
which the joint tests redraw their reference subsample.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from alignment_drift.core.drift.columns import arrow_indices, arrow_numpy, arrow_valid, as_float

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_RESERVOIR_ROWS",
    "RESERVOIR_ROWS",
    "Reservoir",
    "arrow_digest",
    "content_digest",
    "load_reservoir",
    "reservoir_arrays",
    "seed_from",
]

_KEY_COLUMN = "reservoir_key"
_ROW_PREFIX = "reservoir:"

#: Reference rows a profile keeps by default.
RESERVOIR_ROWS = 10_000
#: The largest reservoir a profile may keep (about 8 MB per numeric column).
MAX_RESERVOIR_ROWS = 1_000_000


def content_digest(frame: pd.DataFrame, columns: Sequence[str]) -> bytes:
    """A SHA-256 digest of ``columns`` of ``frame`` (names, order and values; not the index)."""
    digest = hashlib.sha256("\x1f".join(map(str, columns)).encode())
    if len(frame) and len(columns):
        import pandas as pd

        digest.update(pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy().tobytes())
    return digest.digest()


def arrow_digest(data: pa.RecordBatch | pa.Table, columns: Sequence[str]) -> bytes:
    """A SHA-256 digest of ``columns`` of Arrow data (names, order and values), read from the Arrow buffers.

    Integer and float columns are digested as float64 (nulls as NaN), string columns by their validity, offsets
    and bytes; any other type through pandas' hash. The same values give the same digest however the data is
    chunked or sliced. (It is not :func:`content_digest` of the same rows as a pandas frame.)
    """
    digest = hashlib.sha256("\x1f".join(map(str, columns)).encode())
    if not len(data):
        return digest.digest()
    for name in columns:
        column = data.column(name)
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            digest.update(arrow_numpy(column, pa.float64(), np.nan).tobytes())
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            text = column.cast(pa.large_string())
            start, size = text.offset, len(text)
            _, offsets, body = text.buffers()
            if text.null_count:
                digest.update(arrow_valid(text).tobytes())
            ends = np.frombuffer(offsets, np.int64, count=start + size + 1)[start:]
            digest.update((ends - ends[0]).tobytes())
            digest.update(memoryview(body)[ends[0] : ends[-1]] if body is not None else b"")
        else:
            import pandas as pd

            digest.update(pd.util.hash_pandas_object(column.to_pandas(), index=False).to_numpy().tobytes())
    return digest.digest()


def seed_from(identity: bytes | str) -> int:
    """A seed in ``[0, 2**32 - 1]`` from any identity (the first 4 bytes of its SHA-256).

    Examples
    --------
    >>> seed_from("2026-01-05T00:00:00+00:00") == seed_from("2026-01-05T00:00:00+00:00")
    True
    """
    raw = identity.encode() if isinstance(identity, str) else identity
    return int.from_bytes(hashlib.sha256(raw).digest()[:4], "big")


def _check_count(name: str, value: object, high: int) -> int:
    number = int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None
    if number is None or not 0 <= number <= high:
        raise ValueError(f"The '{name}' parameter must be an int in [0, {high}]. Got {value!r} instead.")
    return number


@dataclass(frozen=True, eq=False)
class Reservoir:
    """At most ``capacity`` profiled rows, a uniform sample, with their keys (see the module docstring).

    Attributes
    ----------
    rows : pandas.DataFrame
        The kept rows, numeric columns as float64 and categorical ones as ``str`` (NaN when missing), in ascending
        key order.
    keys : ndarray of float, shape (len(rows),)
        Each row's key, ascending.
    numeric, categorical : tuple of str
        The columns kept.
    capacity : int
        The most rows kept.
    seen : int
        The rows sampled from.
    """

    rows: pd.DataFrame
    keys: np.ndarray
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    capacity: int
    seen: int

    @classmethod
    def sample(
        cls,
        frame: pd.DataFrame | pa.RecordBatch | pa.Table,
        *,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        capacity: int = RESERVOIR_ROWS,
        random_state: int = 0,
    ) -> Reservoir:
        """The reservoir of ``frame``'s rows (one chunk); merge chunks' reservoirs with :meth:`merge`.

        ``frame`` may be Arrow data (a streamed Parquet chunk): its keys are seeded by :func:`arrow_digest`
        and only the kept rows are converted, as the same rows of a pandas frame would be.

        Examples
        --------
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"x": np.arange(1000.0), "c": ["a", "b"] * 500})
        >>> kept = Reservoir.sample(frame, numeric=["x"], categorical=["c"], capacity=100)
        >>> len(kept.rows), kept.seen, bool(np.all(np.diff(kept.keys) > 0))
        (100, 1000, True)
        """
        import pandas as pd

        capacity = _check_count("capacity", capacity, MAX_RESERVOIR_ROWS)
        random_state = _check_count("random_state", random_state, 2**32 - 1)
        numeric, categorical = tuple(numeric), tuple(categorical)
        arrow = isinstance(frame, (pa.RecordBatch, pa.Table))
        source: Any = frame  # a pandas frame or Arrow data
        names = (*numeric, *categorical)
        digested = arrow_digest(source, names) if arrow else content_digest(source, names)
        digest = np.frombuffer(digested[:16], dtype=np.uint32)
        keys = np.random.default_rng([random_state, *digest.tolist()]).random(len(frame))
        if len(frame) > capacity:
            chosen = np.argpartition(keys, capacity - 1)[:capacity] if capacity else np.empty(0, dtype=np.intp)
        else:
            chosen = np.arange(len(frame))
        chosen = chosen[np.argsort(keys[chosen], kind="stable")]
        if arrow:  # only the kept rows are converted
            picked = source.select(list(names)).take(arrow_indices(chosen)).to_pandas(split_blocks=True)
        else:
            picked = source.iloc[chosen]
        rows: dict[str, Any] = {name: as_float(picked[name]) for name in numeric}
        for name in categorical:
            raw = picked[name].astype(object)
            rows[name] = pd.Series([None if pd.isna(v) else str(v) for v in raw], dtype="str", index=None)
        table = pd.DataFrame(rows, columns=[*numeric, *categorical], index=pd.RangeIndex(len(chosen)))
        return cls(table, keys[chosen], numeric, categorical, capacity, len(frame))

    def merge(self, other: Reservoir) -> Reservoir:
        """The reservoir of both reservoirs' rows: the ``min(capacity)`` smallest keys of the two."""
        if (self.numeric, self.categorical) != (other.numeric, other.categorical):
            raise ValueError(
                f"Cannot merge reservoirs of different columns: {list(self.numeric)} + {list(self.categorical)} "
                f"and {list(other.numeric)} + {list(other.categorical)}; fit both with the same column lists."
            )
        import pandas as pd

        capacity = min(self.capacity, other.capacity)
        keys = np.concatenate([self.keys, other.keys])
        order = np.argsort(keys, kind="stable")[:capacity]
        rows = pd.concat([self.rows, other.rows], ignore_index=True).iloc[order].reset_index(drop=True)
        return Reservoir(rows, keys[order], self.numeric, self.categorical, capacity, self.seen + other.seen)


def reservoir_arrays(kept: Reservoir) -> dict[str, pa.Array]:
    """The reservoir as Arrow arrays of a profile file: its keys, then one ``reservoir:<column>`` per column."""
    arrays = {_KEY_COLUMN: pa.array(kept.keys, pa.float64())}
    for name in kept.numeric:
        arrays[_ROW_PREFIX + name] = pa.array(kept.rows[name].to_numpy(np.float64), pa.float64())
    for name in kept.categorical:
        arrays[_ROW_PREFIX + name] = pa.array(kept.rows[name].astype(object), pa.string(), from_pandas=True)
    return arrays


def load_reservoir(table: pa.Table, info: dict[str, Any]) -> Reservoir:
    """The reservoir of a profile file written with :func:`reservoir_arrays` (``info``: its metadata)."""
    import pandas as pd

    size = int(info["rows"])
    numeric, categorical = tuple(info["numeric"]), tuple(info["categorical"])
    rows: dict[str, Any] = {
        n: table.column(_ROW_PREFIX + n).slice(0, size).to_numpy(zero_copy_only=False) for n in numeric
    }
    for name in categorical:
        rows[name] = pd.Series(table.column(_ROW_PREFIX + name).slice(0, size).to_pylist(), dtype="str")
    frame = pd.DataFrame(rows, columns=[*numeric, *categorical], index=pd.RangeIndex(size))
    keys = table.column(_KEY_COLUMN).slice(0, size).to_numpy()
    return Reservoir(frame, keys, numeric, categorical, int(info["capacity"]), int(info["seen"]))
