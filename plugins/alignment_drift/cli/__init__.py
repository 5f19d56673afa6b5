"""The ``alignment-drift`` command: one module per verb, each with ``register(verbs)`` and ``run(args)``.

Every failure ends as one line on stderr and an exit code from the table in
:mod:`alignment_drift.cli.failures` (0 done; 1 the answer is no, as asked; 2 bad
input; 3 data or file error; 4 a service unreachable; 70 internal error; 130
interrupted), never a traceback unless ``--debug`` is given. While a verb runs,
only its result goes to stdout; logs and libraries' output go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from alignment_drift import __version__
from alignment_drift.cli.common import results_only_on_stdout
from alignment_drift.cli.failures import classify, exit_code_table
from alignment_drift.core.redaction import redact_text

__all__ = ["main"]

# verb modules under alignment_drift.cli, in the order `--help` lists them
VERBS = (
    "demo",
    "init",
    "spec",
    "profile",
    "drift",
    "check",
    "report",
    "expectations",
    "release-quarantine",
    "compare",
    "adopt",
    "gate",
    "rollback",
    "review",
    "incident",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alignment-drift",
        description="Keep deployed scikit-learn models aligned: nightly checks, drift, "
        "safety benchmarks, gated retraining.",
        epilog=exit_code_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"alignment-drift {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on a failure, print the traceback as well as the one-line message"
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name in VERBS:
        module = importlib.import_module(f"alignment_drift.cli.{name.replace('-', '_')}")
        module.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (see ``alignment-drift --help``)."""
    args = _parser().parse_args(argv)
    try:
        if getattr(args, "own_stdout", False):  # the demo sends Airflow's output to a log file itself
            return int(args.handler(args))
        with results_only_on_stdout():
            return int(args.handler(args))
    except (Exception, KeyboardInterrupt) as error:
        failure = classify(error)
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"alignment-drift {args.verb}: {redact_text(failure.message)}", file=sys.stderr, flush=True)
        return failure.code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
