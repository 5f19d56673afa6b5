"""What every source kind shares: the batch record, errors, path templates, containment, parsing.

A :class:`Batch` says where one night's prediction log is (a file, a folder
of partitions, the files a glob matches, a SQL snapshot) and lists its member
files relative to ``path``; it is JSON-able (it travels through XCom) and
never holds credentials.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import stat
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any

from alignment_drift.integrations.sources.stream import READ_BUFFER_BYTES

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GLOB_CHARS",
    "Batch",
    "BatchReadError",
    "RemoteFile",
    "SourceError",
    "inside",
    "member_key",
    "normalise_types",
    "open_regular",
    "parse_frame",
    "render_path",
    "static_root",
]

GLOB_CHARS = frozenset("*?[")
LAYOUTS = ("file", "folder", "glob", "missing", "refused")


class BatchReadError(ValueError):
    """The batch exists but its bytes cannot be read as the spec's format (the batch is quarantined)."""


class SourceError(RuntimeError):
    """The source itself cannot be reached or is misconfigured (the task fails and is retried; nothing to keep)."""


@dataclass(frozen=True)
class Batch:
    """Where one night's prediction log is.

    Attributes
    ----------
    kind : str
        The spec's source kind: ``files``, ``object_store`` or ``sql``.
    uri : str
        ``file://``, ``s3://`` ... of the batch (for ``sql``: of the snapshot written at pull).
    path : str
        Local path, or the file system path of an object store (no protocol).
        For a glob it is the folder the pattern's wildcards start below.
    format : str
        ``parquet`` or ``csv``.
    layout : str
        ``file``, ``folder`` (of partitions), ``glob``, ``missing`` or ``refused``.
    files : tuple of str
        Member files, POSIX paths relative to ``path`` (a ``file`` batch: its own name).
    bytes : int
        Total size of the members.
    refused : str or None
        Why the batch may not be read (it escapes its root); it is quarantined unread.
    protocol : str
        fsspec protocol of ``path`` (``file``, ``s3``, ``gs`` ...).
    conn_id : str or None
        Airflow connection the credentials come from (resolved again where the batch is read).
    read : dict
        Parsing hints: ``timestamp`` (column to parse from CSV text) and ``text`` (columns kept as strings).
    origin : dict
        What produced the batch, e.g. the path template, or the SQL connection, query digest and chunk count.
    """

    kind: str
    uri: str
    path: str
    format: str
    layout: str
    files: tuple[str, ...] = ()
    bytes: int = 0
    refused: str | None = None
    protocol: str = "file"
    conn_id: str | None = None
    read: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}; got {self.layout!r}. Fix: use a known layout.")
        if self.format not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv'; got {self.format!r}. Fix: set source.format.")

    @property
    def exists(self) -> bool:
        """True when the batch has bytes to read (not missing, not refused)."""
        return self.layout in ("file", "folder", "glob")

    def member_paths(self) -> list[str]:
        """Full paths of the members, in fingerprint order."""
        if self.layout == "file":
            return [self.path]
        join = os.path.join if self.protocol == "file" else posixpath.join
        return [join(self.path, rel) for rel in self.files]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (``exists`` included, for readers of older pulls)."""
        out = asdict(self)
        out["files"] = list(self.files)
        out["exists"] = self.exists
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batch:
        """Rebuild a batch from :meth:`to_dict` output (extra keys, e.g. ``sha256``, are ignored)."""
        names = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in names}
        values["files"] = tuple(values.get("files") or ())
        if "layout" not in values:  # a pull recorded before layouts existed
            values["layout"] = "file" if data.get("exists") else "missing"
            values["kind"] = values.get("kind", "files")
            if values["layout"] == "file" and not values["files"]:
                values["files"] = (os.path.basename(data["path"]),)
        return cls(**values)


@dataclass(frozen=True)
class RemoteFile:
    """A member file in an object store: what quarantine streams its bytes from."""

    fs: Any
    path: str

    def open(self) -> IO[bytes]:
        """Open the object for binary reading."""
        return self.fs.open(self.path, "rb")

    def __str__(self) -> str:
        return str(self.fs.unstrip_protocol(self.path))


def render_path(template: str, *, model: str, start: dt.datetime, end: dt.datetime) -> str:
    """Fill a path template with the data interval: ``{date}``, ``{start}``, ``{end}``, ``{model}``."""
    try:
        return template.format(
            date=start.strftime("%Y-%m-%d"), start=start.isoformat(), end=end.isoformat(), model=model
        )
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"The source path {template!r} cannot be filled ({error}); "
            "allowed fields: {date}, {start}, {end}, {model}. Fix: correct the template in the spec."
        ) from None


def static_root(template: str, *, sep: str = "/") -> str:
    """The folder part of a template before its first field or wildcard: the root it may not leave."""
    cut = len(template)
    for i, char in enumerate(template):
        if char == "{" or char in GLOB_CHARS:
            cut = i
            break
    head = template[:cut]
    return head if head.endswith(sep) or cut == len(template) else head.rsplit(sep, 1)[0] + sep


def inside(path: str, root: str, *, posix: bool = False) -> bool:
    """Whether ``path`` is ``root`` or below it, compared lexically (normalise and resolve first)."""
    mod = posixpath if posix else os.path
    try:
        return mod.commonpath([path, root]) == mod.normpath(root)
    except ValueError:  # one absolute and one relative, or different drives
        return False


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a local file for binary reading, refusing anything but a regular file before a byte is read.

    The file is opened without blocking (a named pipe with no writer would wait
    forever) and checked on the open descriptor, so a path swapped for a pipe or
    a device after it was listed is caught too.

    Raises
    ------
    OSError
        When the file cannot be opened, or is not a regular file (``EINVAL``, naming what it is).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(22, f"{os.fspath(path)} is not a regular file (mode {stat.filemode(mode)}); it was not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def member_key(rel: str) -> tuple[str, ...]:
    """Sort key of a member path: by path components, the order in which batches are fingerprinted."""
    return tuple(rel.split("/"))


def parse_frame(
    opener: Callable[[str], IO[bytes]],
    members: Iterable[tuple[str, str]],
    *,
    fmt: str,
    read: dict[str, Any],
) -> pd.DataFrame:
    """Parse member files into one DataFrame, raising :class:`BatchReadError` when any is not valid.

    Every file is read on its own (a folder is not handed to a dataset reader,
    which could skip a corrupt part); ``key=value`` folders of a partitioned
    layout become text columns unless the files carry that column themselves.

    Parameters
    ----------
    opener : callable
        Opens a member path for binary reading.
    members : iterable of (str, str)
        ``(relative path, full path)`` of the files to read, in order.
    fmt : str
        ``parquet`` or ``csv``.
    read : dict
        ``timestamp``: column parsed from ISO text (CSV); ``text``: columns kept as strings (CSV).
    """
    import pandas as pd

    rel = ""
    try:
        frames = []
        for rel, path in members:
            frame = _parse_one(opener, path, fmt, read)
            for part in rel.split("/")[:-1]:
                key, eq, value = part.partition("=")
                if eq and key and key not in frame.columns:
                    frame[key] = value
            frames.append(frame)
        if not frames:
            raise BatchReadError("the batch folder has no data files")
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    except BatchReadError:
        raise
    except Exception as error:  # every parser error of every format means: not a readable batch
        where = f" ({rel})" if rel else ""
        raise BatchReadError(f"not a readable {fmt} batch{where}: {type(error).__name__}: {_short(error)}") from error
    return normalise_types(frame, read.get("timestamp"))


def normalise_types(frame: pd.DataFrame, timestamp: str | None) -> pd.DataFrame:
    """Give columns the types a plain writer would: dictionary-encoded columns decoded, the timestamp in UTC.

    Arrow and Spark writers dictionary-encode string columns; pandas reads them as
    categoricals, which a suite's "type is str" expectation would reject although
    the values are strings. ``large_string``/``string_view`` already read as
    strings and every timestamp unit (s, ms, us, ns) as datetimes.
    """
    import pandas as pd

    for name in frame.columns[[isinstance(t, pd.CategoricalDtype) for t in frame.dtypes]]:
        frame[name] = _decoded(frame[name])
    return _normalise_timestamp(frame, timestamp)


def _decoded(series: pd.Series) -> pd.Series:
    import pandas as pd

    values = series.cat.categories
    if pd.api.types.is_integer_dtype(values.dtype) and series.isna().any():
        return series.astype("float64")  # as Arrow reads a plain integer column with nulls
    try:
        return series.astype(values.dtype)
    except (TypeError, ValueError):
        return series.astype(object)


def _parse_one(opener: Callable[[str], IO[bytes]], path: str, fmt: str, read: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    with opener(path) as handle:
        if fmt == "parquet":  # whole, but without pre-buffering every row group first (see stream.py)
            return pd.read_parquet(handle, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
        text = {c: str for c in read.get("text", [])}
        frame = pd.read_csv(handle, encoding="utf-8-sig", dtype=text, encoding_errors="strict")
    column = read.get("timestamp")
    if column and column in frame.columns and not pd.api.types.is_datetime64_any_dtype(frame[column]):
        try:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        except (ValueError, TypeError):
            pass  # left as text: the suite's type expectation names the column
    return frame


def _normalise_timestamp(frame: pd.DataFrame, column: str | None) -> pd.DataFrame:
    """Express a tz-aware timestamp column in UTC (a naive one is left for the suite to reject)."""
    import pandas as pd

    if column and column in frame.columns and isinstance(frame[column].dtype, pd.DatetimeTZDtype):
        frame[column] = frame[column].dt.tz_convert("UTC")
    return frame


def _short(error: BaseException, limit: int = 300) -> str:
    text = str(error).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"
