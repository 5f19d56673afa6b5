"""``alignment-drift adopt SPEC --model-uri URI``: make an existing registered model the champion of a spec.

No retraining: the model (any scikit-learn estimator or Pipeline, taken only
from the MLflow registry) becomes the spec's champion with a reference fitted
on the spec's reference data and its benchmark baselines on the audit set.
Adopting the same model again changes nothing.

Exit codes: 0 adopted; 2 bad input (URI not found, not a scikit-learn model,
features or task that do not match the spec), with the reason on stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, read_spec, to_json, write_output

SCHEMA = "alignment-drift/adopt@1"


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "adopt",
        help="make an existing registered model the champion of a spec (reference and baselines, no retraining)",
        description="Adopt the model at --model-uri (models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN_ID/PATH) "
        "as the champion of the spec's registered model: a new version pointing at the same artifacts when it is "
        "another registered model, its reference profile from the spec's reference data, its benchmark baselines "
        "on the audit set, alias 'champion' (the old champion keeps 'previous'). Idempotent.",
    )
    parser.add_argument("spec", type=Path, help="the alignment spec (YAML)")
    parser.add_argument("--model-uri", required=True, help="models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN/PATH")
    parser.add_argument("--reason", default="", help="why this model is adopted (recorded on the version)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--output", type=Path, default=None)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from alignment_drift.pipeline.adopt import AdoptError, adopt
    from alignment_drift.settings import Settings

    if len(args.reason) > 5000:
        raise UsageError(f"--reason is {len(args.reason)} characters long; at most 5000 are recorded.")
    spec = read_spec(args.spec)
    try:
        result = adopt(spec, Settings.from_env(), args.model_uri, reason=args.reason)
    except AdoptError as error:
        raise UsageError(f"cannot adopt {args.model_uri} for {spec.model}: {error}") from None
    if args.format == "json":
        text = to_json({"schema": SCHEMA, **result.to_dict()})
    else:
        made = "registered as new version" if result.created else "is version"
        lines = [
            f"{result.model}: {result.adopted_from} {made} {result.version} ({result.task}, saved with "
            f"{result.serialization}), now champion"
            + (f" (previous champion: version {result.previous_champion})" if result.previous_champion else ""),
            f"  reference and baselines: MLflow run {result.reference_run_id}",
        ]
        lines += [f"  baseline {name} = {value:.4g}" for name, value in result.baselines.items() if value is not None]
        lines += [f"  note: {note}" for note in result.notes]
        text = "\n".join(lines)
    write_output(text, args.output)
    return EXIT_OK
