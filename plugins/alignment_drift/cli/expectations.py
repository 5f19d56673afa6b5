"""``alignment-drift expectations SPEC``: generate the prediction-log suite from the spec's roles and reference."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, read_spec, write_output


def _tolerance(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1; got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1; got {value}")
    return number


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "expectations",
        help="generate the prediction-log expectation suite from a spec's column roles and reference data",
        description="Generate a Great Expectations suite (JSON) for the spec's prediction log: schema, types, "
        "null shares, numeric ranges and category sets learned from the reference data, row count, id uniqueness, "
        "timestamps. The result is a starting point: review it and keep it under expectations/.",
    )
    parser.add_argument("spec", type=Path, help="the alignment spec (YAML)")
    parser.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="reference data (parquet or CSV); default: the spec's reference.training_data",
    )
    parser.add_argument("--output", type=Path, default=None, help="write the suite here (default: stdout)")
    parser.add_argument(
        "--tolerance",
        type=_tolerance,
        default=0.1,
        help="slack on null shares, ranges and category coverage, 0..1 (default 0.1)",
    )
    parser.set_defaults(handler=run)


def _read_reference(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise UsageError(
            f"the reference data {path} does not exist. Fix: pass --reference PATH, or create the spec's "
            "reference.training_data below the data root (ALIGNMENT_DRIFT_DATA_DIR)."
        )
    try:
        return pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except Exception as error:
        raise UsageError(
            f"the reference data {path} cannot be read ({type(error).__name__}: {error}). "
            "Fix: pass a parquet or CSV file with the prediction log's feature columns."
        ) from None


def run(args: argparse.Namespace) -> int:
    from alignment_drift.integrations.expectations import generate_suite
    from alignment_drift.settings import Settings

    spec = read_spec(args.spec)
    settings = Settings.from_env()
    if args.reference is not None:
        reference_path = args.reference
    else:
        try:
            reference_path = settings.resolve_data(spec.reference.training_data)
        except ValueError as error:
            raise UsageError(f"{error} Fix: correct reference.training_data or pass --reference PATH.") from None
    reference = _read_reference(reference_path)
    try:
        suite = generate_suite(spec, reference, tolerance=args.tolerance, reference_name=str(reference_path))
    except ValueError as error:
        raise UsageError(str(error)) from None
    write_output(json.dumps(suite, indent=2) + "\n", args.output)
    return EXIT_OK
