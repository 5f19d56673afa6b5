"""What every verb of the command shares: exit codes, the usage error, output helpers.

A verb writes its result to :func:`results` (the process's stdout). While it
runs, everything else written to stdout — log lines, libraries' prints — goes to
stderr (:func:`results_only_on_stdout`), so ``--format json`` is only JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from alignment_drift.core.redaction import redact, redact_text

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "UsageError",
    "positive_int",
    "read_spec",
    "results",
    "results_only_on_stdout",
    "write_output",
]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

_RESULTS: list[TextIO] = []


class UsageError(ValueError):
    """Bad input to the command: the message says what is wrong and how to fix it (exit code 2)."""


def positive_int(value: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {value}")
    return number


def read_spec(path: Path, *, fix: str = "") -> Any:
    """The alignment spec at ``path``; any failure to read it is a :class:`UsageError` naming the file and the fix.

    The loader turns every way a file can fail to read (encoding, nesting, size, YAML) into a
    :class:`~alignment_drift.core.spec.SpecError`.

    ``fix`` is appended to a spec's validation error (e.g. the verb's own way to name another spec).
    """
    from alignment_drift.core.spec import SpecError, load_spec

    try:
        return load_spec(path)
    except SpecError as error:
        raise UsageError(f"{error} {fix}".rstrip()) from None


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (a file) or to stdout, credentials masked."""
    text = redact_text(text)
    if output is None:
        results().write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        error.filename = error.filename or str(output)  # a failed write (disk full) names no file
        raise


def to_json(payload: dict[str, Any]) -> str:
    """JSON as every verb prints it: indented, with a ``schema`` key first, credentials masked."""
    return json.dumps(redact(payload), indent=2, default=str)


def results() -> TextIO:
    """The stream a verb writes its result to: stdout as it was when the command started."""
    return _RESULTS[-1] if _RESULTS else sys.stdout


def _fileno(stream: TextIO | None) -> int | None:
    try:
        return stream.fileno() if stream is not None else None
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def results_only_on_stdout() -> Iterator[TextIO]:
    """While the block runs, only :func:`results` reaches stdout; anything else written there goes to stderr.

    ``sys.stdout`` is pointed at stderr, and, when stdout is the process's own,
    so is file descriptor 1 (loggers that hold the original stream, C
    libraries, child processes); the result goes to a copy of the original
    descriptor. Yields that stream.
    """
    out, err = sys.stdout, sys.stderr
    fd = _fileno(out) if out is sys.__stdout__ else None
    err_fd = _fileno(sys.__stderr__)
    saved: int | None = None
    stream: TextIO = out
    if fd is not None and err_fd is not None:
        out.flush()
        saved = os.dup(fd)
        stream = open(os.dup(saved), "w", encoding=out.encoding, errors=out.errors, closefd=True)
        os.dup2(err_fd, fd)
    _RESULTS.append(stream)
    try:
        with contextlib.redirect_stdout(err):
            yield stream
    finally:
        _RESULTS.pop()
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
        if saved is not None and fd is not None:
            for held in (sys.__stdout__, err):
                if held is not None:
                    with contextlib.suppress(OSError, ValueError):
                        held.flush()
            os.dup2(saved, fd)
            os.close(saved)
            with contextlib.suppress(OSError):
                stream.close()
