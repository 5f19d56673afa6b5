"""``alignment-drift init --model-uri URI --reference DATA --target COLUMN``: a first spec for an existing model.

Reads the registered model (its MLflow signature, else ``feature_names_in_``;
its classes) and the reference data, and writes, after checking the spec
loads:

- ``specs/<model>.yaml`` (or ``--out``): columns, task, benchmarks with
  thresholds from the model's audit-set performance, drift policy, a files
  source template, retraining and governance;
- ``<data root>/<model>/reference.parquet`` and ``audit.parquet``: the
  reference rows split into the training data and a fixed audit set (unless
  ``--audit`` gives one);
- ``expectations/<model>_predictions.json``: a starting expectation suite.

Then it prints what to review. Nothing is overwritten without ``--force``.
Exit codes: 0 written; 2 bad input (with the reason on stderr).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, to_json, write_output

SCHEMA = "alignment-drift/init@1"
MAX_BYTES = 2 * 1024**3
MAX_ROWS = 5_000_000
MAX_COLUMNS = 5_000


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0.05 and 0.5; got {value!r}") from None
    if not 0.05 <= number <= 0.5:
        raise argparse.ArgumentTypeError(f"must be between 0.05 and 0.5; got {value}")
    return number


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "init",
        help="write a first alignment spec, data split and expectation suite for a model already in MLflow",
        description="Read a registered scikit-learn model and its reference data; write a valid spec (features, "
        "task, benchmarks with thresholds from the model's audit-set performance, drift policy, a files source "
        "template), the reference and audit files below the data root and an expectation suite; print what to "
        "review. Then run 'alignment-drift adopt'.",
    )
    parser.add_argument("--model-uri", required=True, help="models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN/PATH")
    parser.add_argument("--reference", type=Path, required=True, help="labelled reference data (parquet or CSV)")
    parser.add_argument("--target", required=True, help="the label column of the reference data")
    parser.add_argument("--task", choices=("binary", "multiclass", "regression"), default=None, help="override")
    parser.add_argument("--name", default=None, help="the spec's model name (default: from the registered model)")
    parser.add_argument("--out", type=Path, default=None, help="the spec file (default: <specs>/<name>.yaml)")
    parser.add_argument("--audit", type=Path, default=None, help="a fixed audit set (default: split off the reference)")
    parser.add_argument("--audit-fraction", type=_fraction, default=0.3, help="share split off as the audit set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    parser.add_argument("--id", dest="id_column", default="prediction_id", help="the prediction log's id column")
    parser.add_argument("--timestamp", default="timestamp", help="the prediction log's timestamp column")
    parser.add_argument("--start-date", default=None, help="first night to check, YYYY-MM-DD (default: today)")
    parser.add_argument(
        "--trust", action="append", default=[], metavar="TYPE", help="a custom class the model holds (repeatable)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing spec, data split or suite")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


def _read(path: Path, what: str) -> Any:
    """A bounded read of a parquet or CSV file: a regular file, at most MAX_BYTES, MAX_ROWS and MAX_COLUMNS."""
    from alignment_drift.integrations.tables import TableError, read_table

    resolved = path.expanduser().resolve()
    if not resolved.is_file():
        raise UsageError(f"{what} {path} is not a file. Fix: pass a parquet or CSV file.")
    size = resolved.stat().st_size
    if size > MAX_BYTES:
        raise UsageError(f"{what} {path} is {size / 1024**3:.1f} GiB; at most {MAX_BYTES // 1024**3} GiB are read.")
    try:
        frame = read_table(str(resolved))
    except TableError as error:
        raise UsageError(str(error)) from None
    if len(frame) > MAX_ROWS or frame.shape[1] > MAX_COLUMNS:
        raise UsageError(
            f"{what} {path} has {len(frame)} rows and {frame.shape[1]} columns; at most {MAX_ROWS} rows and "
            f"{MAX_COLUMNS} columns. Fix: pass a sample of the reference data."
        )
    if frame.empty:
        raise UsageError(f"{what} {path} has no rows.")
    return frame


def _start_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--start-date must be YYYY-MM-DD; got {value!r}.") from None


def run(args: argparse.Namespace) -> int:
    from alignment_drift.core.spec import SpecError, load_spec
    from alignment_drift.core.spec.model import _MODEL_NAME
    from alignment_drift.integrations.expectations import generate_suite
    from alignment_drift.integrations.mlflow.models import (
        ModelLoadError,
        ModelUriError,
        load_from_registry,
        parse_model_uri,
    )
    from alignment_drift.integrations.scaffold import ScaffoldError, model_name, plan_spec, render_spec
    from alignment_drift.settings import Settings

    settings = Settings.from_env()
    try:
        ref = parse_model_uri(args.model_uri)
        name = args.name or (model_name(ref.name) if ref.name else None)
        if name is None:
            raise UsageError(f"--name is required with a runs:/ URI ({args.model_uri}): it names the spec's model.")
        if not _MODEL_NAME.match(name):
            raise UsageError(f"--name {name!r}: lower-case letters, digits and '_', starting with a letter.")
        loaded = load_from_registry(settings, args.model_uri, trusted_types=tuple(args.trust))
    except (ModelUriError, ModelLoadError) as error:
        raise UsageError(str(error)) from None
    out = (args.out or settings.specs_dir / f"{name}.yaml").expanduser().resolve()
    if out.name != f"{name}.yaml":
        raise UsageError(f"--out must be named {name}.yaml (a spec's file name is its model name); got {out.name}.")
    try:
        training_path = settings.resolve_data(f"{name}/reference.parquet")
        audit_path = settings.resolve_data(f"{name}/audit.parquet")
    except ValueError as error:
        raise UsageError(str(error)) from None
    suite_path = settings.expectations_dir / f"{name}_predictions.json"
    existing = [p for p in (out, training_path, audit_path, suite_path) if p.exists() or p.is_symlink()]
    if existing and not args.force:
        raise UsageError(f"{', '.join(map(str, existing))} already exist(s). Fix: pass --force to overwrite.")
    reference = _read(args.reference, "--reference")
    audit = _read(args.audit, "--audit") if args.audit else None
    try:
        plan = plan_spec(
            loaded.model,
            loaded.inputs,
            reference,
            name=name,
            target=args.target,
            task=args.task,
            audit=audit,
            audit_fraction=args.audit_fraction,
            seed=args.seed,
            id_column=args.id_column,
            timestamp_column=args.timestamp,
            start_date=_start_date(args.start_date),
            trusted_types=tuple(args.trust),
            inputs_from=loaded.inputs_from,
        )
    except ScaffoldError as error:
        raise UsageError(str(error)) from None
    text = render_spec(plan, model_uri=args.model_uri)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / out.name
        candidate.write_text(text, encoding="utf-8")
        try:
            spec = load_spec(candidate)
        except SpecError as error:
            raise UsageError(f"the spec written for this model does not validate (please report it): {error}") from None
    suite = generate_suite(spec, plan.scored_reference, reference_name=str(training_path))
    training_path.parent.mkdir(parents=True, exist_ok=True)
    plan.training.to_parquet(training_path, index=False)
    plan.audit.to_parquet(audit_path, index=False)
    suite_path.parent.mkdir(parents=True, exist_ok=True)
    suite_path.write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)
    written = {
        "spec": str(out),
        "training_data": str(training_path),
        "audit_set": str(audit_path),
        "suite": str(suite_path),
    }
    if args.format == "json":
        write_output(to_json({"schema": SCHEMA, **plan.to_dict(), "written": written}), None)
        return EXIT_OK
    lines = [
        f"wrote {out}",
        f"      {training_path} ({len(plan.training)} rows)",
        f"      {audit_path} ({len(plan.audit)} rows)",
        f"      {suite_path} ({len(suite['expectations'])} expectations)",
        "review:",
        *(f"  - {note}" for note in plan.review),
        f"next:  alignment-drift adopt {out} --model-uri {args.model_uri}",
    ]
    write_output("\n".join(lines), None)
    return EXIT_OK
