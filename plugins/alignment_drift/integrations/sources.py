"""Deployment data sources: where a night's prediction log is and how it is read.

The ``files`` source resolves the spec's path template for the data
interval below the data root (it may not escape it) and reads parquet or
CSV, a single file or a folder of parquet partitions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["Batch", "BatchReadError", "locate_batch", "read_batch"]


class BatchReadError(ValueError):
    """The batch exists but cannot be read as the spec's format."""


@dataclass(frozen=True)
class Batch:
    """Where one night's prediction log is."""

    uri: str
    path: str
    format: str
    exists: bool
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def render_path(template: str, *, model: str, start: dt.datetime, end: dt.datetime) -> str:
    """Fill a path template with the data interval: ``{date}``, ``{start}``, ``{end}``, ``{model}``."""
    try:
        return template.format(
            date=start.strftime("%Y-%m-%d"), start=start.isoformat(), end=end.isoformat(), model=model
        )
    except (KeyError, IndexError) as error:
        raise ValueError(
            f"The source path {template!r} uses an unknown field {error}; "
            "allowed: {date}, {start}, {end}, {model}."
        ) from None


def locate_batch(spec: AlignmentSpec, settings: Settings, *, start: dt.datetime, end: dt.datetime) -> Batch:
    """Resolve the night's batch location (it need not exist: a missing batch is quarantined, not lost)."""
    relative = render_path(spec.source.path, model=spec.model, start=start, end=end)
    path = settings.resolve_data(relative)
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    else:
        size = path.stat().st_size if path.exists() else 0
    return Batch(uri=path.as_uri(), path=str(path), format=spec.source.format, exists=path.exists(), bytes=size)


def read_batch(batch: Batch) -> pd.DataFrame:
    """Read the batch into a DataFrame.

    Raises
    ------
    FileNotFoundError
        When the batch does not exist.
    BatchReadError
        When its bytes are not valid for the declared format.
    """
    path = Path(batch.path)
    if not path.exists():
        raise FileNotFoundError(f"No batch at {path}: the source produced nothing for this interval.")
    try:
        if batch.format == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as error:
        raise BatchReadError(
            f"{path} is not a readable {batch.format} batch: {type(error).__name__}: {error}"
        ) from error
