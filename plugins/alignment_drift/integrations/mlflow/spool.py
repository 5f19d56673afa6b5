"""Writes that survive a tracking server that is down: bounded retries, then a local spool, then replay.

A write to MLflow is retried with exponential backoff (``ALIGNMENT_DRIFT_MLFLOW_TRIES``
tries, default 5, waiting ``ALIGNMENT_DRIFT_MLFLOW_BACKOFF`` seconds, default 2,
doubling: 2 + 4 + 8 + 16 = 30 s in all). A check that still cannot be written
is kept on local disk, one JSON file per pending record (schema
``alignment-drift/spool@1``) in ``ALIGNMENT_DRIFT_SPOOL_DIR`` (default
``<data>/_spool/``), written atomically (temporary file + rename), and the
task raises :class:`RecordSpooled` so Airflow retries it. The next writer
that reaches the server replays every pending record first; replay is
idempotent because a check run is keyed by (model, data interval).

A spool file never holds a credential: its payload is redacted
(:func:`~alignment_drift.core.redaction.redact`) and it names its tracking
store by ``tracking_store``, the tracking URI with its user info masked.
Replay needs nothing more: it writes to the store of the replaying process's
own settings (whose ``MLFLOW_TRACKING_URI`` carries the credentials), and a
record is replayed only into the store it names. A rotated password thus
keeps pending records replayable. Files of an older version that hold the
raw ``tracking_uri`` are rewritten without it when first read.

Only transient failures are retried and spooled (the server unreachable,
timing out or answering 5xx, a locked SQLite store); a request the server
rejects (a bad parameter) raises at once, because retrying cannot fix it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from alignment_drift.core.redaction import redact, redact_text, redact_uri
from alignment_drift.settings import Settings

__all__ = [
    "SPOOL_SCHEMA",
    "RecordSpooled",
    "RetryPolicy",
    "is_transient",
    "pending",
    "retrying",
    "spool_dir",
    "spool_record",
    "tracking_store",
]

SPOOL_SCHEMA = "alignment-drift/spool@1"
_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_TRANSIENT_CODES = {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED"}


class RecordSpooled(RuntimeError):
    """The tracking server could not be reached: the record is kept in the spool and will be replayed.

    Its message is redacted: the error it quotes may name the server with its credentials.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a write to MLflow is retried.

    Parameters
    ----------
    tries : int
        Attempts in all (>= 1).
    backoff : float
        Seconds before the second attempt; doubled before each further one.
    """

    tries: int = 5
    backoff: float = 2.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """``ALIGNMENT_DRIFT_MLFLOW_TRIES`` and ``ALIGNMENT_DRIFT_MLFLOW_BACKOFF``, validated."""
        raw_tries = os.environ.get("ALIGNMENT_DRIFT_MLFLOW_TRIES", "5")
        raw_backoff = os.environ.get("ALIGNMENT_DRIFT_MLFLOW_BACKOFF", "2")
        try:
            tries, backoff = int(raw_tries), float(raw_backoff)
        except ValueError:
            raise ValueError(
                "ALIGNMENT_DRIFT_MLFLOW_TRIES must be a whole number >= 1 and ALIGNMENT_DRIFT_MLFLOW_BACKOFF "
                f"seconds >= 0. Got {raw_tries!r} and {raw_backoff!r} instead."
            ) from None
        if tries < 1 or backoff < 0:
            raise ValueError(
                f"ALIGNMENT_DRIFT_MLFLOW_TRIES must be >= 1 and ALIGNMENT_DRIFT_MLFLOW_BACKOFF >= 0. "
                f"Got {tries} and {backoff} instead."
            )
        return cls(tries=tries, backoff=backoff)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` may go away by waiting: the server unreachable, overloaded or locked."""
    from mlflow.exceptions import MlflowException

    if isinstance(error, MlflowException):
        return error.error_code in _TRANSIENT_CODES or "API request to" in str(error)
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    name = type(error).__name__
    return name in {"ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "OperationalError"}


def retrying(fn: Callable[[], _T], *, what: str, policy: RetryPolicy | None = None) -> _T:
    """Call ``fn``, retrying transient failures with exponential backoff; re-raise the last one.

    Parameters
    ----------
    fn : callable
        The write; it must be safe to repeat (idempotent).
    what : str
        What is written, for the log.
    policy : RetryPolicy, optional
        Defaults to :meth:`RetryPolicy.from_env`.
    """
    policy = policy or RetryPolicy.from_env()
    delay = policy.backoff
    for attempt in range(1, policy.tries + 1):
        try:
            return fn()
        except Exception as error:
            if not is_transient(error) or attempt == policy.tries:
                raise
            _LOG.warning(
                "MLflow write of %s failed (try %d/%d): %s; retrying in %.1fs",
                what,
                attempt,
                policy.tries,
                error,
                delay,
            )
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def spool_dir(settings: Settings) -> Path:
    """``ALIGNMENT_DRIFT_SPOOL_DIR``, default ``<data>/_spool``."""
    value = os.environ.get("ALIGNMENT_DRIFT_SPOOL_DIR")
    return Path(value).expanduser().resolve() if value else settings.data_dir / "_spool"


def spool_record(settings: Settings, kind: str, key: str, payload: dict[str, Any]) -> Path:
    """Keep a record that could not be written, atomically, one file per (kind, key); a newer one replaces it.

    Returns
    -------
    Path
        The spool file.
    """
    folder = spool_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "schema": SPOOL_SCHEMA,
        "kind": kind,
        "key": key,
        "tracking_store": tracking_store(settings),
        "spooled_at": dt.datetime.now(dt.UTC).isoformat(),
        "payload": redact(payload),
    }
    path = folder / f"{kind}__{_UNSAFE.sub('_', key)}.json"
    _write_atomic(folder, path, document)
    return path


def tracking_store(settings: Settings) -> str:
    """The identity of the tracking store a spooled record belongs to: its URI with credentials masked."""
    return redact_uri(settings.tracking_uri)


def _write_atomic(folder: Path, path: Path, document: dict[str, Any]) -> None:
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, default=str)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pending(settings: Settings, kind: str) -> list[tuple[Path, dict[str, Any]]]:
    """The spooled records of ``kind`` for this tracking store, oldest first (unreadable files are skipped, logged)."""
    folder = spool_dir(settings)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob(f"{kind}__*.json"), key=lambda p: p.stat().st_mtime):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            _LOG.error("Spool file %s is unreadable (%s); left in place for inspection.", path, error)
            continue
        if document.get("schema") != SPOOL_SCHEMA:
            continue
        if "tracking_uri" in document and document["tracking_uri"] == settings.tracking_uri:
            # written by an older version with the raw URI: keep the record, drop the credential from disk
            document = {k: v for k, v in document.items() if k != "tracking_uri"}
            document.update(tracking_store=tracking_store(settings), payload=redact(document.get("payload")))
            _write_atomic(folder, path, document)
        if document.get("tracking_store") == tracking_store(settings):
            out.append((path, document))
    return out
