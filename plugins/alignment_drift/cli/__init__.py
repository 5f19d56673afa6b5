"""The ``alignment-drift`` command: one module per verb, each with ``register(verbs)`` and ``run(args)``.

Exit codes: 0 success; 1 a failure the user asked to fail on (drift found
with ``--fail-on-drift``, a check that is not aligned with ``--fail-on``, a
challenger the ``gate`` does not promote);
2 bad input, with a message on stderr naming the problem and the fix.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from alignment_drift import __version__
from alignment_drift.cli.common import EXIT_BAD_INPUT, UsageError
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
    )
    parser.add_argument("--version", action="version", version=f"alignment-drift {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name in VERBS:
        module = importlib.import_module(f"alignment_drift.cli.{name.replace('-', '_')}")
        module.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as error:
        print(f"alignment-drift {args.verb}: {redact_text(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
