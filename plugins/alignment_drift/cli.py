"""The ``alignment-drift`` command.

Exit codes: 0 success; 1 a failure the user asked to fail on (or the job
itself failed); 2 bad input, with a message on stderr naming the problem
and the fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from alignment_drift import __version__

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {value}")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alignment-drift",
        description="Keep deployed scikit-learn models aligned: nightly checks, drift, "
        "safety benchmarks, gated retraining.",
    )
    parser.add_argument("--version", action="version", version=f"alignment-drift {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    demo = verbs.add_parser("demo", help="run the simulated content-platform demo through the real DAGs")
    demo.add_argument("--nights", type=_positive, default=30, help="simulated nights (default 30)")
    demo.add_argument(
        "--scenario",
        default="engagement_feedback",
        help="engagement_feedback (default), stable, covariate_shift or model_update",
    )
    demo.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    demo.add_argument("--rows", type=_positive, default=2000, help="prediction-log rows a night (default 2000)")
    demo.add_argument(
        "--home", type=Path, default=None, help="project root with specs/ and expectations/ (default: cwd)"
    )

    spec = verbs.add_parser("spec", help="validate alignment specs")
    spec.add_argument("paths", nargs="+", type=Path, help="spec YAML files")
    spec.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def _spec(args: argparse.Namespace) -> int:
    from alignment_drift.core.spec import SpecError, load_spec

    results = []
    failed = False
    for path in args.paths:
        try:
            spec = load_spec(path)
            results.append({"path": str(path), "valid": True, "model": spec.model, "error": None})
        except SpecError as error:
            failed = True
            results.append({"path": str(path), "valid": False, "model": None, "error": str(error)})
    if args.format == "json":
        print(json.dumps({"schema": "alignment-drift/spec-validation@1", "specs": results}, indent=2))
    else:
        for item in results:
            if item["valid"]:
                print(f"ok       {item['path']} (model {item['model']})")
            else:
                print(item["error"], file=sys.stderr)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from alignment_drift.core.simulate import SCENARIOS
    from alignment_drift.demo import run_demo

    if args.scenario not in SCENARIOS:
        print(
            f"alignment-drift demo: unknown scenario {args.scenario!r}; choose one of {', '.join(SCENARIOS)}.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    run_demo(nights=args.nights, scenario=args.scenario, seed=args.seed, rows_per_night=args.rows, home=args.home)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    args = _parser().parse_args(argv)
    handlers = {"demo": _demo, "spec": _spec}
    return handlers[args.verb](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
