"""``alignment-drift profile REFERENCE -o PROFILE``: fit a reference profile once, for every later drift test."""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignment_drift.cli.common import EXIT_OK, UsageError, positive_int

if TYPE_CHECKING:
    import pandas as pd


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def column_kinds(frame: pd.DataFrame, *, columns: list[str], categorical: list[str]) -> tuple[list[str], list[str]]:
    """Numeric and categorical columns: declared ones, else inferred (strings and categories are categorical)."""
    import pandas as pd  # imported when a command runs, not to build the parser (``--help`` stays fast)

    names = columns or list(frame.columns)
    absent = [c for c in [*names, *categorical] if c not in frame.columns]
    if absent:
        raise UsageError(f"columns {absent} are not in the data; available: {list(frame.columns)[:30]}.")
    numeric, cats = [], []
    for name in names:
        dtype = frame[name].dtype
        is_text = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        if name in categorical or is_text or isinstance(dtype, pd.CategoricalDtype):
            cats.append(name)
        else:
            numeric.append(name)
    return numeric, cats


def register(verbs: Any) -> None:
    parser = verbs.add_parser("profile", help="fit a reference profile (parquet + JSON metadata, mergeable)")
    parser.add_argument("reference", help="parquet or CSV file, or a folder or glob of parquet partitions")
    parser.add_argument("-o", "--output", type=Path, required=True, help="profile file to write (.parquet)")
    parser.add_argument("--columns", help="comma-separated columns to profile (default: all)")
    parser.add_argument("--categorical", help="comma-separated columns to treat as categorical")
    parser.add_argument("--bins", type=positive_int, default=4096, help="numeric summary size (default 4096)")
    parser.add_argument("--max-categories", type=positive_int, default=200, help="categories kept per column")
    parser.add_argument("--chunk-rows", type=positive_int, default=250_000, help="rows read at a time")
    parser.add_argument(
        "--reservoir-rows",
        type=int,
        default=10_000,
        help="reference rows kept, a uniform sample, for the joint tests of `drift PROFILE CURRENT` (default 10000; "
        "0 keeps none)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from alignment_drift.core.drift.profile import ReferenceProfile
    from alignment_drift.core.drift.reservoir import MAX_RESERVOIR_ROWS
    from alignment_drift.integrations.sources.stream import read_ahead
    from alignment_drift.integrations.tables import TableError, iter_batches
    from alignment_drift.progress import Progress

    columns, categorical = split_list(args.columns), split_list(args.categorical)
    if not 0 <= args.reservoir_rows <= MAX_RESERVOIR_ROWS:
        raise UsageError(f"--reservoir-rows must be in [0, {MAX_RESERVOIR_ROWS}]. Got {args.reservoir_rows} instead.")
    began = time.perf_counter()
    try:
        chunks = read_ahead(iter_batches(args.reference, columns=columns or None, rows=args.chunk_rows))
        first = next(chunks, None)
        if first is None or first.empty:
            raise UsageError(f"{args.reference}: the reference has no rows.")
        numeric, cats = column_kinds(first, columns=columns, categorical=categorical)

        progress = Progress(f"profiling {args.reference}", unit="rows")

        def all_chunks() -> Iterator[pd.DataFrame]:
            for chunk in itertools.chain([first], chunks):
                yield chunk
                progress.update(len(chunk))

        profile = ReferenceProfile.fit_chunks(
            all_chunks(),
            numeric=numeric,
            categorical=cats,
            bins=args.bins,
            max_categories=args.max_categories,
            reservoir_rows=args.reservoir_rows,
        )
    except TableError as error:
        raise UsageError(str(error)) from None
    except ValueError as error:
        raise UsageError(str(error)) from None
    progress.close()
    profile.save(args.output)
    worst = max((c.summary.error_bound for c in profile.columns.values() if c.summary is not None), default=0.0)
    print(
        f"profiled {profile.n_rows} rows, {len(numeric)} numeric and {len(cats)} categorical columns "
        f"in {time.perf_counter() - began:.1f} s -> {args.output} (largest CDF error bound {worst:.2g}; "
        f"{len(profile.reservoir.rows) if profile.reservoir is not None else 0} reference rows kept)",
        file=sys.stderr,
    )
    return EXIT_OK
