"""Reference profiles: fitted once, saved without pickle, merged across partitions.

A :class:`ReferenceProfile` holds, per column, what the drift tests need:

- numeric: a :class:`~alignment_drift.core.drift.sketch.QuantileSummary` of the
  finite values (exact up to ``bins`` distinct values, otherwise with a tracked
  CDF error bound), the missing count (NaN, None and ±inf), and the interquartile
  range and standard deviation used to scale effect sizes;
- categorical: the count of every category (values as strings), folding the
  rarest into ``__other__`` beyond ``max_categories``, and the missing count.

File format (``alignment-drift/profile@1``): one Parquet file with one row per
summary point or category — columns ``column`` (str), ``kind`` (``numeric`` |
``categorical``), ``value`` (float64, numeric points), ``category`` (str),
``weight`` (int64) — and a JSON document in the Parquet key-value metadata
under ``alignment_drift.profile``: schema, row count, and per column its kind,
missing count, rank error, IQR and std. No pickle, readable by any Parquet tool.

A profile may also carry a :class:`~alignment_drift.core.drift.reservoir.Reservoir`
of reference rows for the joint tests (10,000 by default). It is stored in the
same file, side by side with the summary rows: a ``reservoir_key`` (float64)
column and one ``reservoir:<column>`` column per profiled column (float64 or
str), the shorter part padded with nulls, and a ``reservoir`` entry in the
metadata (rows, capacity, rows seen, column kinds). A file without it (written
before reservoirs, or with ``reservoir_rows=0``) loads with ``reservoir=None``;
readers that predate reservoirs select summary rows by ``column`` and so skip
the padding.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from alignment_drift.core.drift.columns import (
    OTHER,
    arrow_indices,
    arrow_numpy,
    category_counts,
    fold,
    numeric_values,
)
from alignment_drift.core.drift.reservoir import (
    MAX_RESERVOIR_ROWS,
    RESERVOIR_ROWS,
    Reservoir,
    _check_count,
    load_reservoir,
    reservoir_arrays,
)
from alignment_drift.core.drift.sketch import QuantileSummary

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMN_THREADS",
    "DRIFT_BINS",
    "DRIFT_MAX_CATEGORIES",
    "OTHER",
    "PROFILE_SCHEMA",
    "ColumnProfile",
    "ReferenceProfile",
    "column_workers",
]

PROFILE_SCHEMA = "alignment-drift/profile@1"
#: Points of a batch-side numeric summary (exact up to this many distinct values): the drift step's and the
#: ``drift`` command's profile of a batch.
DRIFT_BINS = 65_536
#: Categories kept per batch-side column (more fold into ``__other__``).
DRIFT_MAX_CATEGORIES = 10_000
#: A frame of at least this many rows has its columns (and its reservoir) profiled in threads, side by side.
PARALLEL_MIN_ROWS = 50_000
#: At most this many threads work on one frame's columns (fewer on a machine with fewer cores).
COLUMN_THREADS = 4
_META_KEY = b"alignment_drift.profile"
#: The columns of a profile file that hold the column statistics (the rest, if any, hold the reservoir).
_SUMMARY_COLUMNS = ("column", "kind", "value", "category", "weight")


def column_workers() -> int:
    """Threads for one frame's columns: :data:`COLUMN_THREADS`, or the machine's cores when it has fewer."""
    return max(1, min(COLUMN_THREADS, os.cpu_count() or 1))


@dataclass(frozen=True)
class ColumnProfile:
    """The profile of one column."""

    name: str
    kind: Literal["numeric", "categorical"]
    n: int
    missing: int
    summary: QuantileSummary | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def present(self) -> int:
        return self.n - self.missing

    @property
    def missing_rate(self) -> float:
        return self.missing / self.n if self.n else 0.0

    def scale(self) -> tuple[float, str]:
        """The numeric effect scale: the IQR, else the std, else 1 — and a note when a fallback was used."""
        s = self.summary
        if s is None or s.n == 0:
            return 1.0, "no reference values; effect scaled by 1.0"
        q1, q3 = s.quantiles(np.array([0.25, 0.75]))
        if q3 > q1:
            return float(q3 - q1), ""
        mean = float(np.average(s.values, weights=s.weights))
        std = float(np.sqrt(np.average((s.values - mean) ** 2, weights=s.weights)))
        if std > 0:
            return std, "reference IQR is 0; effect scaled by reference std"
        return 1.0, "reference is constant; effect scaled by 1.0"

    def merge(self, other: ColumnProfile, *, bins: int, max_categories: int) -> ColumnProfile:
        if (other.name, other.kind) != (self.name, self.kind):
            raise ValueError(f"Cannot merge profiles of {self.name!r} ({self.kind}) and {other.name!r} ({other.kind}).")
        n, missing = self.n + other.n, self.missing + other.missing
        if self.kind == "numeric":
            assert self.summary is not None and other.summary is not None
            return replace(self, n=n, missing=missing, summary=self.summary.merge(other.summary, capacity=bins))
        counts = dict(self.counts)
        for key, value in other.counts.items():
            counts[key] = counts.get(key, 0) + value
        return replace(self, n=n, missing=missing, counts=fold(counts, max_categories))


@dataclass(frozen=True)
class ReferenceProfile:
    """Fitted, mergeable statistics of reference data, column by column, and a reservoir of its rows (or None)."""

    columns: dict[str, ColumnProfile]
    n_rows: int
    bins: int = 4096
    max_categories: int = 200
    reservoir: Reservoir | None = None

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame | pa.RecordBatch | pa.Table,
        *,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        bins: int = 4096,
        max_categories: int = 200,
        reservoir_rows: int = RESERVOIR_ROWS,
        random_state: int = 0,
    ) -> ReferenceProfile:
        """Profile the given columns of ``frame``, keeping a reservoir of up to ``reservoir_rows`` of its rows.

        ``reservoir_rows=0`` keeps none (``reservoir`` is None; the joint tests then cannot run from the profile).
        ``random_state`` seeds the reservoir's keys (see :mod:`~alignment_drift.core.drift.reservoir`).
        ``frame`` may be Arrow data (a record batch or table, as a Parquet file streams): its integer, float and
        string columns are profiled without pandas, to the same profile as the frame pandas would convert it to.

        Examples
        --------
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
        >>> profile = ReferenceProfile.fit(frame, numeric=["x"], categorical=["c"])
        >>> profile.columns["c"].counts, profile.columns["x"].summary.exact
        ({'a': 50, 'b': 50}, True)
        """
        if bins < 2:
            raise ValueError(f"The 'bins' parameter must be >= 2. Got {bins} instead.")
        if max_categories < 2:
            raise ValueError(f"The 'max_categories' parameter must be >= 2. Got {max_categories} instead.")
        _check_count("reservoir_rows", reservoir_rows, MAX_RESERVOIR_ROWS)
        arrow = isinstance(frame, (pa.RecordBatch, pa.Table))
        source: Any = frame  # a pandas frame, or Arrow data read column by column
        names = source.schema.names if arrow else source.columns
        missing_cols = [c for c in (*numeric, *categorical) if c not in names]
        if missing_cols:
            raise ValueError(f"Columns {missing_cols} are not in the reference data; fix the column names.")

        def reservoir() -> Reservoir | None:
            if not reservoir_rows:
                return None
            return Reservoir.sample(
                source, numeric=numeric, categorical=categorical, capacity=reservoir_rows, random_state=random_state
            )

        def numeric_column(name: str) -> ColumnProfile:
            values, missing = numeric_values(source.column(name) if arrow else source[name])
            summary = QuantileSummary.fit(values, capacity=bins)
            return ColumnProfile(name, "numeric", len(frame), missing, summary=summary)

        def categorical_column(name: str) -> ColumnProfile:
            counts, missing = category_counts(source.column(name) if arrow else source[name])
            return ColumnProfile(name, "categorical", len(frame), missing, counts=fold(counts, max_categories))

        columns: dict[str, ColumnProfile] = {}
        if len(frame) >= PARALLEL_MIN_ROWS and len(numeric) + len(categorical) + bool(reservoir_rows) > 1:
            # sorts, hashing and counting release the GIL: the parts of a large chunk are computed side by side
            with ThreadPoolExecutor(max_workers=column_workers()) as pool:
                sampled = pool.submit(reservoir)
                parts = [pool.submit(numeric_column, name) for name in numeric]
                parts += [pool.submit(categorical_column, name) for name in categorical]
                columns.update((part.name, part) for part in (future.result() for future in parts))
                kept = sampled.result()
        else:
            kept = reservoir()
            columns.update((name, numeric_column(name)) for name in numeric)
            columns.update((name, categorical_column(name)) for name in categorical)
        return cls(columns, len(frame), bins, max_categories, kept)

    @classmethod
    def fit_chunks(cls, chunks: Iterable[pd.DataFrame | pa.RecordBatch | pa.Table], **kwargs: Any) -> ReferenceProfile:
        """Fit chunk by chunk (e.g. parquet row groups) and merge as a balanced tree.

        Memory holds one chunk plus ``log2(chunks)`` profiles: a binary counter
        merges two profiles whenever they cover the same number of chunks, so
        the summaries' error bound grows with ``log2`` of the chunk count.
        """
        stack: list[tuple[int, ReferenceProfile]] = []
        for chunk in chunks:
            size, part = 1, cls.fit(chunk, **kwargs)
            while stack and stack[-1][0] == size:
                size, part = size * 2, stack.pop()[1].merge(part)
            stack.append((size, part))
        if not stack:
            raise ValueError("No chunks to profile: the reference is empty.")
        profile = stack.pop()[1]
        while stack:
            profile = stack.pop()[1].merge(profile)
        return profile

    def merge(self, other: ReferenceProfile) -> ReferenceProfile:
        """The profile of both references' rows (numeric errors add; see :mod:`sketch`).

        The reservoirs merge into a uniform sample of both (the smaller capacity); when either profile has none,
        the merged profile has none.
        """
        if set(self.columns) != set(other.columns):
            raise ValueError(
                f"Profiles cover different columns: {sorted(set(self.columns) ^ set(other.columns))}; "
                "fit both with the same column lists."
            )
        bins, max_categories = min(self.bins, other.bins), min(self.max_categories, other.max_categories)

        def merge_column(name: str) -> ColumnProfile:
            return self.columns[name].merge(other.columns[name], bins=bins, max_categories=max_categories)

        points = sum(c.summary.values.size for c in self.columns.values() if c.summary is not None)
        if points >= PARALLEL_MIN_ROWS and len(self.columns) > 1:  # large summaries: merged side by side
            with ThreadPoolExecutor(max_workers=column_workers()) as pool:
                merged = dict(zip(self.columns, pool.map(merge_column, self.columns), strict=True))
        else:
            merged = {name: merge_column(name) for name in self.columns}
        kept = None
        if self.reservoir is not None and other.reservoir is not None:
            kept = self.reservoir.merge(other.reservoir)
        return ReferenceProfile(merged, self.n_rows + other.n_rows, bins, max_categories, kept)

    def save(self, path: Path | str) -> Path:
        """Write the profile as one Parquet file with JSON metadata (format ``alignment-drift/profile@1``)."""
        path = Path(path)
        meta: dict[str, Any] = {
            "schema": PROFILE_SCHEMA,
            "n_rows": self.n_rows,
            "bins": self.bins,
            "max_categories": self.max_categories,
            "columns": {},
        }
        # one row per summary point or category, the columns one after the other; built from numpy / Arrow
        # arrays (a 30-column batch profile has about 2M rows: Python lists took most of a save)
        codes, kinds, values, categories, weights = [], [], [], [], []
        for i, col in enumerate(self.columns.values()):
            info: dict[str, Any] = {"kind": col.kind, "n": col.n, "missing": col.missing}
            if col.kind == "numeric":
                assert col.summary is not None
                k = col.summary.values.size
                values.append(pa.array(col.summary.values, pa.float64()))
                categories.append(pa.nulls(k, pa.string()))
                weights.append(pa.array(np.asarray(col.summary.weights, np.int64), pa.int64()))
                info["rank_error"] = col.summary.rank_error
                info["scale"], info["scale_note"] = col.scale()
            else:
                k = len(col.counts)
                values.append(pa.nulls(k, pa.float64()))
                categories.append(pa.array(list(col.counts), pa.string()))
                weights.append(pa.array(list(col.counts.values()), pa.int64()))
            codes.append(np.full(k, i, np.int32))
            kinds.append(np.full(k, 0 if col.kind == "numeric" else 1, np.int32))
            meta["columns"][col.name] = info

        def labels(indices: list[np.ndarray], names: list[str]) -> pa.Array:
            joined = np.concatenate(indices) if indices else np.zeros(0, np.int32)
            return pa.DictionaryArray.from_arrays(pa.array(joined), pa.array(names, pa.string())).cast(pa.string())

        arrays = {
            "column": labels(codes, list(self.columns)),
            "kind": labels(kinds, ["numeric", "categorical"]),
            "value": pa.concat_arrays(values) if values else pa.array([], pa.float64()),
            "category": pa.concat_arrays(categories) if categories else pa.array([], pa.string()),
            "weight": pa.concat_arrays(weights) if weights else pa.array([], pa.int64()),
        }
        if self.reservoir is not None:
            arrays |= reservoir_arrays(self.reservoir)
            meta["reservoir"] = {
                "rows": len(self.reservoir.rows),
                "capacity": self.reservoir.capacity,
                "seen": self.reservoir.seen,
                "numeric": list(self.reservoir.numeric),
                "categorical": list(self.reservoir.categorical),
            }
        size = max(len(a) for a in arrays.values())
        padded = {k: pa.concat_arrays([a, pa.nulls(size - len(a), a.type)]) for k, a in arrays.items()}
        table = pa.table(padded).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
        path.parent.mkdir(parents=True, exist_ok=True)
        floats = [n for n, t in zip(table.column_names, table.schema.types, strict=True) if t == pa.float64()]
        # zstd, and byte-stream-split floats (dictionaries for strings only): about a third smaller with a reservoir
        strings = [n for n in table.column_names if n not in floats]
        pq.write_table(table, path, compression="zstd", use_dictionary=strings, use_byte_stream_split=floats)
        return path

    @classmethod
    def load(cls, path: Path | str, *, reservoir: bool = True) -> ReferenceProfile:
        """Read a profile written by :meth:`save`; a wrong file says what it is and what was expected.

        ``reservoir=False`` reads the column statistics alone (``reservoir`` is None; nothing of the reservoir is
        read or converted), for a caller that runs no joint tests.
        """
        path = Path(path)
        try:
            with pq.ParquetFile(path) as source:
                names = None if reservoir else [c for c in _SUMMARY_COLUMNS if c in source.schema_arrow.names]
                table = source.read(columns=names)
        except (OSError, pa.ArrowInvalid) as error:
            raise ValueError(f"{path} is not a readable profile (Parquet expected): {error}") from None
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise ValueError(f"{path} is a Parquet file but not an alignment-drift profile (no profile metadata).")
        meta = json.loads(raw)
        if meta.get("schema") != PROFILE_SCHEMA:
            raise ValueError(
                f"{path} has profile schema {meta.get('schema')!r}; this version reads {PROFILE_SCHEMA!r}."
            )
        rows_of = _rows_by_column(table.column("column"))
        values = arrow_numpy(table.column("value"), pa.float64(), np.nan)
        weights = arrow_numpy(table.column("weight"), pa.int64(), 0)
        category = table.column("category")
        columns: dict[str, ColumnProfile] = {}
        for name, info in meta["columns"].items():
            rows = rows_of.get(name, np.zeros(0, np.int64))
            if info["kind"] == "numeric":
                summary = QuantileSummary(values[rows], weights[rows].astype(np.int64), int(info["rank_error"]))
                columns[name] = ColumnProfile(name, "numeric", info["n"], info["missing"], summary=summary)
            else:
                names = [str(c) for c in category.take(arrow_indices(rows)).to_pylist()]
                counts = dict(zip(names, weights[rows].astype(int).tolist(), strict=True))
                columns[name] = ColumnProfile(name, "categorical", info["n"], info["missing"], counts=counts)
        kept = load_reservoir(table, meta["reservoir"]) if reservoir and "reservoir" in meta else None
        return cls(columns, int(meta["n_rows"]), int(meta["bins"]), int(meta["max_categories"]), kept)


def _rows_by_column(column: pa.ChunkedArray) -> dict[str, np.ndarray]:
    """The row positions of each column name in a profile file's ``column`` array, in file order.

    One dictionary encoding and one stable sort of its codes (linear on the runs :meth:`ReferenceProfile.save`
    writes), not a comparison of every row per column.
    """
    encoded = pc.dictionary_encode(column).combine_chunks()
    codes = arrow_numpy(encoded.indices, pa.int64(), -1)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes[codes >= 0], minlength=len(encoded.dictionary))
    starts = int((codes < 0).sum()) + np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    return {
        str(name): order[start : start + count]
        for name, start, count in zip(encoded.dictionary.to_pylist(), starts, counts, strict=True)
    }
