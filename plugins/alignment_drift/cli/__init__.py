"""The ``alignment-drift`` command: one module per verb, each with ``register(verbs)`` and ``run(args)``.

Every failure ends as one line on stderr and an exit code from the table in
:mod:`alignment_drift.cli.failures` (0 done; 1 the answer is no, as asked; 2 bad
input; 3 data or file error; 4 a service unreachable; 70 internal error; 130
interrupted), never a traceback unless ``--debug`` is given. While a verb runs,
only its result goes to stdout; logs and libraries' output go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

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


# how long a Ctrl-C may go unheard before it is delivered again
_REDELIVER_AFTER_S = 0.5


@contextlib.contextmanager
def _ctrl_c_is_heard() -> Iterator[threading.Event]:
    """Make Ctrl-C stop the verb even when Python swallows its ``KeyboardInterrupt``.

    A ``KeyboardInterrupt`` raised while a weakref callback or a ``__del__``
    runs (an import's module-lock callback, say) is printed as "Exception
    ignored" and the program goes on, so an interrupted night would finish.
    While the verb runs, SIGINT raises as usual and, until the ``except`` in
    :func:`main` has heard it, is sent again every half second; the swallowed
    one is not printed (no traceback: the user sees the one-line message once
    the signal is heard). Nothing is changed when SIGINT is not Python's
    default (a runner that ignores it), or off the main thread.
    """
    heard = threading.Event()
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield heard
        return

    def again() -> None:
        if not heard.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    def on_sigint(signum: int, frame: Any) -> None:
        if not heard.is_set():
            timer = threading.Timer(_REDELIVER_AFTER_S, again)
            timer.daemon = True
            timer.start()
        raise KeyboardInterrupt

    previous_hook = sys.unraisablehook

    def unraisable(info: Any) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt) and not heard.is_set():
            return  # swallowed by Python; delivered again by the timer above
        previous_hook(info)

    signal.signal(signal.SIGINT, on_sigint)
    sys.unraisablehook = unraisable
    try:
        yield heard
    finally:
        heard.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = previous_hook


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (see ``alignment-drift --help``)."""
    with _ctrl_c_is_heard() as heard:
        try:
            args = _parser().parse_args(argv)
        except KeyboardInterrupt as error:  # the verbs' modules were still loading
            heard.set()
            words = sys.argv[1:] if argv is None else list(argv)
            verb = next((w for w in words if w in VERBS), None)
            return _failed(argparse.Namespace(verb=verb, debug="--debug" in words), error)
        try:
            return _run(args)
        except (Exception, KeyboardInterrupt) as error:
            heard.set()
            return _failed(args, error)


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "own_stdout", False):  # the demo sends Airflow's output to a log file itself
        return int(args.handler(args))
    with results_only_on_stdout():
        return int(args.handler(args))


def _failed(args: argparse.Namespace, error: BaseException) -> int:
    failure = classify(error)
    if args.debug:
        traceback.print_exception(error, file=sys.stderr)
    prefix = f"alignment-drift {args.verb}" if args.verb else "alignment-drift"
    print(f"{prefix}: {redact_text(failure.message)}", file=sys.stderr, flush=True)
    return failure.code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
