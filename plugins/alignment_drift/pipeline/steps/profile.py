"""``partitions`` and ``profile_partition``: the batch's files in groups, each group's drift statistics.

A large batch is never read whole by one task: :func:`plan` packs its files
into groups of at most ``settings.group_rows`` rows (from the Parquet footers,
no data read; a bigger Parquet file is cut into runs of its row groups, one
group each), :func:`profile_group` (one task per group) fits the group's
mergeable batch-side statistics — the summaries a reference profile holds, for
the columns the drift step tests — reading only those columns, one record
batch at a time, and writes them to a small Parquet file beside the night's
evidence; the drift step merges them with :func:`merge_partials`. A small
batch is simply one group: every batch takes this one path.

Category and missing counts merge exactly. A numeric summary is exact while a
column has at most :data:`DRIFT_BINS` distinct values in the batch (so a batch
of up to that many rows gives the same drift results as reading it whole);
beyond, its CDF error is tracked and bounded (see
:mod:`alignment_drift.core.drift.sketch`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from alignment_drift.core.drift.output import output_columns
from alignment_drift.core.drift.profile import DRIFT_BINS, DRIFT_MAX_CATEGORIES, ReferenceProfile
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.evidence import evidence_dir
from alignment_drift.integrations.sources.connections import ConnectionResolver
from alignment_drift.integrations.sources.partitions import plan_groups, read_chunks
from alignment_drift.integrations.sources.stream import read_ahead
from alignment_drift.pipeline.night import Group, Partial, Pulled, Validation
from alignment_drift.settings import Settings

__all__ = [
    "DRIFT_BINS",
    "DRIFT_MAX_CATEGORIES",
    "PROFILE_CHUNK_ROWS",
    "drift_columns",
    "merge_partials",
    "plan",
    "profile_group",
]

#: Rows of a group profiled at a time: a chunk's decoded columns and their pandas frame are what a
#: group's task holds (about 0.5 GB for 1M rows of 33 columns, a quarter of that here); large enough
#: that a chunk's columns are profiled in threads (``PARALLEL_MIN_ROWS``). The next chunk is read while
#: one is profiled.
PROFILE_CHUNK_ROWS = 250_000


def drift_columns(spec: AlignmentSpec) -> tuple[list[str], list[str]]:
    """``(numeric, categorical)``: the columns the drift step reads from a batch.

    The tested features and the model's outputs (by task: see
    :func:`~alignment_drift.core.drift.output.output_columns`); plus the exposure
    flag (its rate) and the model version (which version scored the batch) when declared.
    """
    roles = spec.columns
    out_numeric, out_categorical = output_columns(spec)
    numeric = [*roles.numeric, *out_numeric] + ([roles.exposure] if roles.exposure else [])
    categorical = [*roles.categorical, *out_categorical] + ([roles.model_version] if roles.model_version else [])
    return list(dict.fromkeys(numeric)), list(dict.fromkeys(categorical))


def plan(
    settings: Settings, pulled: Pulled, validation: Validation, *, connections: ConnectionResolver | None = None
) -> list[Group]:
    """The groups of the batch's files, one task each; one ``skip`` group when the batch is not to be used.

    Never empty: an empty map would skip the drift step and the rest of the night.
    """
    if not validation.valid:
        return [Group(index=0, skip=True)]
    groups = plan_groups(pulled.batch(), max_rows=settings.group_rows, connections=connections)
    return [Group(**g) for g in groups] or [Group(index=0, skip=True)]


def profile_group(
    spec: AlignmentSpec,
    settings: Settings,
    pulled: Pulled,
    group: Group,
    *,
    connections: ConnectionResolver | None = None,
) -> Partial:
    """Fit the batch-side drift statistics of one group of files and write them beside the night's evidence.

    Returns
    -------
    Partial
        The partial profile's path (``uri``), its rows and files; ``skipped`` for a ``skip`` group.
    """
    if group.skip:
        return Partial(index=group.index, skipped=True)
    numeric, categorical = drift_columns(spec)
    chunks = read_ahead(
        read_chunks(
            pulled.batch(),
            group.files,
            [*numeric, *categorical],
            connections,
            rows=PROFILE_CHUNK_ROWS,
            row_groups=group.row_groups,
        )
    )
    first = next(chunks, None)
    if first is None:
        raise ValueError(f"Group {group.index} of {pulled.uri} has no rows to profile.")
    present = set(first.columns)
    profile = ReferenceProfile.fit_chunks(
        _prepend(first, chunks),
        numeric=[c for c in numeric if c in present],
        categorical=[c for c in categorical if c in present],
        bins=DRIFT_BINS,
        max_categories=DRIFT_MAX_CATEGORIES,
        reservoir_rows=0,  # a batch's rows for the joint tests are read by the drift step, not kept here
    )
    start, end = pulled.interval.bounds()
    folder = evidence_dir(settings, spec.model, start, end) / "partials"
    path = profile.save(folder / f"group-{group.index:05d}.parquet")
    return Partial(index=group.index, uri=str(path), rows=profile.n_rows, files=len(group.files))


def _prepend(first: pd.DataFrame, rest: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def merge_partials(partials: Iterable[Partial]) -> ReferenceProfile | None:
    """Merge the partial profiles written by :func:`profile_group`, in group order, as a balanced tree.

    Memory holds ``log2(groups)`` profiles at a time. None when every group was skipped.
    """
    ordered = sorted((p for p in partials if not p.skipped and p.uri), key=lambda p: p.index)
    if not ordered:
        return None
    stack: list[tuple[int, ReferenceProfile]] = []
    for partial in ordered:
        size, part = 1, ReferenceProfile.load(Path(str(partial.uri)))
        while stack and stack[-1][0] == size:
            size, part = size * 2, stack.pop()[1].merge(part)
        stack.append((size, part))
    profile = stack.pop()[1]
    while stack:
        profile = stack.pop()[1].merge(profile)
    return profile
