"""What every verb of the command shares: exit codes, the usage error, output helpers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alignment_drift.core.redaction import redact, redact_text

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "UsageError", "positive_int", "write_output"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


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


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (a file) or to stdout, credentials masked."""
    text = redact_text(text)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


def to_json(payload: dict[str, Any]) -> str:
    """JSON as every verb prints it: indented, with a ``schema`` key first, credentials masked."""
    return json.dumps(redact(payload), indent=2, default=str)
