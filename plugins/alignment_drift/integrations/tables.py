"""Reading tables given on the command line: parquet, CSV, or a folder or glob of parquet partitions."""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alignment_drift.integrations.sources.stream import READ_BUFFER_BYTES, iter_parquet, parquet_file

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["TableError", "iter_batches", "read_table", "resolve_inputs"]


class TableError(ValueError):
    """A table argument that cannot be read: the message names it and says what is accepted."""


def resolve_inputs(spec: str) -> list[Path]:
    """The files behind a path, a folder (its ``*.parquet`` files, recursively) or a glob."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise TableError(
                f"{spec}: the folder holds no .parquet files. Pass a parquet or CSV file, or a folder of parquet."
            )
        return files
    if path.is_file():
        return [path]
    matches = sorted(Path(m) for m in glob.glob(spec, recursive=True) if Path(m).is_file())
    if not matches:
        raise TableError(f"{spec}: no such file, folder or glob match. Check the path.")
    return matches


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() in (".csv", ".tsv", ".txt") or path.name.lower().endswith((".csv.gz", ".csv.zst"))


def _check_columns(spec: str, available: Sequence[str], wanted: Sequence[str] | None) -> None:
    absent = [c for c in wanted or () if c not in available]
    if absent:
        raise TableError(f"{spec}: columns {absent} are not in the data; available: {list(available)[:30]}.")


def read_table(spec: str, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a whole table (all files behind ``spec``), keeping only ``columns`` when given."""
    import pandas as pd
    import pyarrow.dataset as ds

    files = resolve_inputs(spec)
    try:
        if all(_is_csv(f) for f in files):
            _check_columns(spec, pd.read_csv(files[0], nrows=0).columns.tolist(), columns)
            frames = [pd.read_csv(f, usecols=list(columns) if columns else None) for f in files]
            return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        if any(_is_csv(f) for f in files):
            raise TableError(f"{spec}: mixes CSV and parquet files; pass one kind.")
        dataset = ds.dataset([str(f) for f in files], format="parquet")
        _check_columns(spec, dataset.schema.names, columns)
        unbuffered = ds.ParquetFragmentScanOptions(
            pre_buffer=False, use_buffered_stream=True, buffer_size=READ_BUFFER_BYTES
        )
        return dataset.to_table(columns=columns, fragment_scan_options=unbuffered).to_pandas()
    except TableError:
        raise
    except (ValueError, OSError, KeyError) as error:
        raise TableError(f"{spec}: cannot be read as a table ({type(error).__name__}: {error}).") from None


def iter_batches(
    spec: str, *, columns: Sequence[str] | None = None, rows: int = 250_000, arrow: bool = False
) -> Iterator[pd.DataFrame | pa.RecordBatch]:
    """Stream a table in chunks of about ``rows`` rows (parquet: record batches file by file; CSV: chunks).

    ``arrow``: Parquet chunks stay Arrow record batches (no pandas conversion); CSV chunks are pandas frames
    either way.

    Memory holds one chunk: each parquet file is read with its own reader,
    without the read-ahead of a dataset scan and without pre-buffering its row
    groups (see :mod:`~alignment_drift.integrations.sources.stream`; measured in
    ``bench/stream.py``: flat peak memory from 1M to 20M rows).
    """
    files = resolve_inputs(spec)
    try:
        if all(_is_csv(f) for f in files):
            import pandas as pd

            _check_columns(spec, pd.read_csv(files[0], nrows=0).columns.tolist(), columns)
            for f in files:
                yield from pd.read_csv(f, usecols=list(columns) if columns else None, chunksize=rows)
            return
        if any(_is_csv(f) for f in files):
            raise TableError(f"{spec}: mixes CSV and parquet files; pass one kind.")
        for f in files:
            reader = parquet_file(f)
            _check_columns(str(f), reader.schema_arrow.names, columns)
            yield from iter_parquet(reader, columns=list(columns) if columns else None, rows=rows, arrow=arrow)
    except TableError:
        raise
    except (ValueError, OSError, KeyError) as error:
        raise TableError(f"{spec}: cannot be read as a table ({type(error).__name__}: {error}).") from None
