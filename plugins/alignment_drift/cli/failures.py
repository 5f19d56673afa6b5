"""Every failure of a verb as a short message on stderr and a documented exit code, never a traceback.

:func:`classify` maps an exception to a :class:`Failure` (exit code, message
naming the problem and the fix: one line, except a spec's list of problems) by the exception's class and module
names, so it imports none of the libraries it recognises: an MLflow error
can only reach it once MLflow is imported.

Exit codes (also in ``alignment-drift --help`` and the README):

====  =====================================================================================
0     done
1     the answer is no, as asked: ``--fail-on`` / ``--fail-on-drift`` met, the gate does not promote
2     bad input: usage, spec, date, a value in the batch, a model or version that does not exist
3     data or file error: a batch or file cannot be read or written (unreadable, permission, disk full)
4     a service is unreachable or refuses access: the MLflow tracking server, a database, an object
      store, the Airflow API (a night's record that could not be written is kept in the spool)
70    internal error (a bug): rerun with ``--debug`` for the traceback and report it
130   interrupted (Ctrl-C)
====  =====================================================================================
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

from alignment_drift.cli.common import EXIT_BAD_INPUT, UsageError

__all__ = [
    "EXIT_CODES",
    "EXIT_DATA",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_UNAVAILABLE",
    "Failure",
    "classify",
    "exit_code_table",
    "masked",
    "one_line",
]

EXIT_DATA, EXIT_UNAVAILABLE, EXIT_INTERNAL, EXIT_INTERRUPTED = 3, 4, 70, 130

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "done"),
    (1, "the answer is no, as asked (--fail-on, --fail-on-drift met; the gate does not promote)"),
    (2, "bad input: usage, spec, date, a value in the batch, a model or version that does not exist"),
    (3, "data or file error: a batch or file cannot be read or written (unreadable, permission, disk full)"),
    (4, "a service is unreachable or refuses access: MLflow tracking server, database, object store, Airflow API"),
    (70, "internal error (a bug): rerun with --debug for the traceback and report it"),
    (130, "interrupted"),
)

_MAX_MESSAGE = 600
_BUG = "This is a bug: rerun with --debug for the traceback and report it."
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")

# MLflow error codes: the server refused access, the request cannot be right, or it may pass
_MLFLOW_DENIED = {"PERMISSION_DENIED", "UNAUTHENTICATED"}
_MLFLOW_BAD_INPUT = {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST"}
_MLFLOW_TRANSIENT = {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED"}

# classes that mean a service cannot be reached (matched by module prefix and class name along the MRO)
_UNREACHABLE = (
    ("requests.", "ConnectionError"),
    ("requests.", "Timeout"),
    ("urllib3.", "HTTPError"),
    ("httpx", "TransportError"),
    ("sqlalchemy.", "OperationalError"),
    ("sqlalchemy.", "InterfaceError"),
    ("psycopg2", "OperationalError"),
    ("botocore.", "EndpointConnectionError"),
    ("botocore.", "NoCredentialsError"),
    ("botocore.", "ClientError"),
    ("aiohttp", "ClientError"),
)
_BAD_QUERY = (("sqlalchemy.", "ProgrammingError"), ("sqlalchemy.", "DataError"), ("psycopg2", "ProgrammingError"))
_DATA = (
    ("pyarrow", "ArrowException"),
    ("pandas.", "ParserError"),
    ("pandas.", "EmptyDataError"),
    ("great_expectations", "GreatExpectationsError"),
    ("great_expectations", "GreatExpectationsValidationError"),
)


@dataclass(frozen=True)
class Failure:
    """How a failed verb ends: its exit code and the one line printed on stderr."""

    code: int
    message: str


def masked(text: str) -> str:
    """``text`` with the user and password of any URI in it replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", str(text)).strip()


def one_line(text: str) -> str:
    """A library's message on one line, any password in a URI masked, at most ~600 characters."""
    line = masked(" ".join(str(text).split()))
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"


def _own(error: BaseException) -> str:
    """An alignment-drift message as written (a spec error lists its problems one a line), masked."""
    return masked(str(error)) or type(error).__name__


def _names(error: BaseException) -> list[tuple[str, str]]:
    return [(cls.__module__, cls.__name__) for cls in type(error).__mro__]


def _is(error: BaseException, patterns: tuple[tuple[str, str], ...]) -> bool:
    names = _names(error)
    return any(module.startswith(prefix) and name == wanted for module, name in names for prefix, wanted in patterns)


def _ours(error: BaseException) -> bool:
    """Raised by alignment-drift itself (its messages name the problem and the fix)."""
    return type(error).__module__.startswith("alignment_drift.")


def _what(error: BaseException) -> str:
    text = one_line(str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _os_error(error: OSError) -> Failure:
    name = f" {error.filename!s}" if error.filename else ""
    reason = error.strerror or _what(error)
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "give the user running alignment-drift access to it, or point the setting at a writable place"
    elif error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free space on that disk (or move ALIGNMENT_DRIFT_DATA_DIR / _QUARANTINE_DIR), then rerun"
    elif error.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
        fix = "check the path (the spec's source, --batch, the ALIGNMENT_DRIFT_*_DIR settings)"
    else:
        fix = "check the file and the disk, then rerun"
    return Failure(EXIT_DATA, one_line(f"cannot read or write{name}: {reason}. Fix: {fix}."))


def _mlflow(error: BaseException) -> Failure | None:
    code = str(getattr(error, "error_code", "") or "")
    text = one_line(getattr(error, "message", None) or str(error))
    if code in _MLFLOW_DENIED:
        return Failure(
            EXIT_UNAVAILABLE,
            f"the MLflow tracking server refused access ({code}): {text} Fix: check the credentials "
            "(MLFLOW_TRACKING_USERNAME / _PASSWORD or _TOKEN) and the user's permissions on the experiment.",
        )
    if code in _MLFLOW_BAD_INPUT:
        return Failure(EXIT_BAD_INPUT, f"MLflow refused the request ({code}): {text}")
    if code in _MLFLOW_TRANSIENT or "API request to" in text:
        return Failure(
            EXIT_UNAVAILABLE,
            f"the MLflow tracking store cannot be reached: {text} Fix: start the server or correct "
            "MLFLOW_TRACKING_URI, then rerun.",
        )
    return None


def _our_code(error: BaseException) -> int:
    """The exit code of an error alignment-drift raised: by its kind, or by the library error it wraps."""
    name = type(error).__name__
    cause = error.__cause__
    if name in ("RecordSpooled", "AirflowApiError", "NotificationFailed") or isinstance(
        error, ConnectionError | TimeoutError
    ):
        return EXIT_UNAVAILABLE
    if cause is not None and classify(cause).code == EXIT_UNAVAILABLE:
        return EXIT_UNAVAILABLE
    if isinstance(error, ValueError | LookupError) or name == "SourceError":
        return EXIT_BAD_INPUT
    if name == "QuarantineError" or isinstance(error, OSError):
        return EXIT_DATA
    return EXIT_INTERNAL


def classify(error: BaseException) -> Failure:
    """The exit code and one-line message for ``error`` (see the module's table).

    Examples
    --------
    >>> classify(PermissionError(13, "Permission denied", "/data/night.parquet")).code
    3
    >>> classify(KeyError("x")).code
    70
    """
    if isinstance(error, KeyboardInterrupt):
        return Failure(EXIT_INTERRUPTED, "interrupted; nothing more was done (a rerun of the night is safe).")
    if isinstance(error, UsageError):
        return Failure(EXIT_BAD_INPUT, _own(error))
    if _ours(error):
        code = _our_code(error)
        return Failure(code, _own(error) if code != EXIT_INTERNAL else f"internal error: {_own(error)} {_BUG}")
    if _is(error, (("mlflow", "MlflowException"),)):
        found = _mlflow(error)
        if found is not None:
            return found
    if _is(error, _BAD_QUERY):
        return Failure(
            EXIT_BAD_INPUT,
            f"the database refused the query: {_what(error)} Fix: correct the spec's source.query.",
        )
    if _is(error, _UNREACHABLE) or isinstance(error, ConnectionError | TimeoutError):
        return Failure(
            EXIT_UNAVAILABLE,
            f"a service cannot be reached or refused access: {_what(error)} Fix: check that it runs and the "
            "address and credentials (MLFLOW_TRACKING_URI, the Airflow connection), then rerun.",
        )
    if isinstance(error, OSError):
        return _os_error(error)
    if _is(error, _DATA) or isinstance(error, UnicodeError):
        return Failure(
            EXIT_DATA,
            f"the data could not be read or validated: {_what(error)} Fix: check the batch's format and encoding.",
        )
    if isinstance(error, MemoryError):
        return Failure(EXIT_DATA, "out of memory. Fix: check a smaller batch, or give the process more memory.")
    return Failure(
        EXIT_INTERNAL,
        f"internal error: {_what(error)} {_BUG}",
    )


def exit_code_table() -> str:
    """The exit codes as ``--help`` lists them."""
    return "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)
