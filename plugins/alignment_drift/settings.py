"""Where things live: folders and the MLflow store, from the environment with embedded defaults.

Every location has a default below the project home (``ALIGNMENT_DRIFT_HOME``,
or the folder the DAG file passes in), so ``make demo`` needs no set-up; in
production each is overridden by its environment variable.

| variable | default |
|---|---|
| ``ALIGNMENT_DRIFT_HOME`` | the current directory (the DAG factory passes the project root) |
| ``ALIGNMENT_DRIFT_SPECS_DIR`` | ``<home>/specs`` |
| ``ALIGNMENT_DRIFT_EXPECTATIONS_DIR`` | ``<home>/expectations`` |
| ``ALIGNMENT_DRIFT_DATA_DIR`` | ``<home>/data`` |
| ``ALIGNMENT_DRIFT_QUARANTINE_DIR`` | ``<data>/quarantine`` |
| ``ALIGNMENT_DRIFT_SOURCE_ROOTS`` | none: folders besides the data root where an absolute |
|  | ``files`` source path may point (``os.pathsep``-separated, e.g. ``/mnt/logs:/srv/exports``) |
| ``MLFLOW_TRACKING_URI`` | ``sqlite:///<home>/.mlflow/mlflow.db`` |
| ``ALIGNMENT_DRIFT_ARTIFACT_ROOT`` | ``<home>/.mlflow/artifacts`` (used when experiments are created); |
|  | with a tracking server (``http(s)://``), the server's own default |
| ``ALIGNMENT_DRIFT_GROUP_ROWS`` | 5,000,000: rows of a batch profiled by one task (one group) |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from alignment_drift.core.redaction import register_uri_secrets

__all__ = ["Settings"]

# a URI scheme of two or more characters (one letter followed by ':' is a Windows drive)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
_SERVER_SCHEMES = ("http://", "https://", "databricks")
#: Rows of a batch profiled by one task: a batch of more is split into groups of files (one task each).
DEFAULT_GROUP_ROWS = 5_000_000


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"The environment variable {name} must be a whole number >= 1. Got {value!r} instead.")
    return number


def _switch(name: str, *, default: bool) -> bool:
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"The environment variable {name} must be 1 or 0 (true or false). Got {value!r} instead.")


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _roots(name: str) -> tuple[Path, ...]:
    """Absolute folders listed in an ``os.pathsep``-separated variable (empty entries ignored)."""
    roots = []
    for entry in (os.environ.get(name) or "").split(os.pathsep):
        if not entry.strip():
            continue
        path = Path(entry.strip()).expanduser()
        if not path.is_absolute() or path.resolve() == Path(path.anchor):
            raise ValueError(
                f"The environment variable {name} lists {entry!r}, which is not an absolute folder other than "
                f"the file system root. Fix: list absolute folders separated by {os.pathsep!r}, e.g. /mnt/logs."
            )
        roots.append(path.resolve())
    return tuple(roots)


@dataclass(frozen=True)
class Settings:
    """Resolved locations of specs, suites, data, quarantine and the MLflow store."""

    home: Path
    specs_dir: Path
    expectations_dir: Path
    data_dir: Path
    quarantine_dir: Path
    tracking_uri: str
    artifact_root: str
    group_rows: int = DEFAULT_GROUP_ROWS
    source_roots: tuple[Path, ...] = ()
    #: Render each night's GX Data Docs (``ALIGNMENT_DRIFT_GX_DATA_DOCS=0`` turns them off; the result is kept).
    data_docs: bool = True

    @classmethod
    def from_env(cls, home: Path | str | None = None) -> Settings:
        """Resolve from the environment; ``home`` is the default root when ``ALIGNMENT_DRIFT_HOME`` is unset."""
        root = _path("ALIGNMENT_DRIFT_HOME", Path(home).resolve() if home else Path.cwd().resolve())
        data = _path("ALIGNMENT_DRIFT_DATA_DIR", root / "data")
        tracking = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / '.mlflow' / 'mlflow.db'}"
        artifacts = os.environ.get("ALIGNMENT_DRIFT_ARTIFACT_ROOT") or ""
        if not artifacts and not tracking.startswith(_SERVER_SCHEMES):
            artifacts = (root / ".mlflow" / "artifacts").as_uri()
        # with a tracking server and no artifact root, the server's own default (its --artifacts-destination)
        # applies: a local folder would differ on every worker
        if artifacts and not _URI.match(artifacts):  # a plain path; a URI (s3://, mlflow-artifacts:/) is kept
            artifacts = Path(artifacts).resolve().as_uri()
        # a password in either is masked wherever it could be written or logged from now on
        register_uri_secrets(tracking)
        register_uri_secrets(artifacts)
        return cls(
            home=root,
            specs_dir=_path("ALIGNMENT_DRIFT_SPECS_DIR", root / "specs"),
            expectations_dir=_path("ALIGNMENT_DRIFT_EXPECTATIONS_DIR", root / "expectations"),
            data_dir=data,
            quarantine_dir=_path("ALIGNMENT_DRIFT_QUARANTINE_DIR", data / "quarantine"),
            tracking_uri=tracking,
            artifact_root=artifacts,
            group_rows=_positive_int("ALIGNMENT_DRIFT_GROUP_ROWS", DEFAULT_GROUP_ROWS),
            source_roots=_roots("ALIGNMENT_DRIFT_SOURCE_ROOTS"),
            data_docs=_switch("ALIGNMENT_DRIFT_GX_DATA_DOCS", default=True),
        )

    @property
    def allowed_roots(self) -> tuple[Path, ...]:
        """Folders a ``files`` source may read below: the data root, then ``ALIGNMENT_DRIFT_SOURCE_ROOTS``."""
        return (self.data_dir, *self.source_roots)

    def resolve_data(self, relative: str) -> Path:
        """A path of the spec, relative to the data root, that may not escape it."""
        candidate = Path(relative)
        path = (candidate if candidate.is_absolute() else self.data_dir / candidate).resolve()
        if not candidate.is_absolute() and not path.is_relative_to(self.data_dir):
            raise ValueError(
                f"The path {relative!r} resolves outside the data root {self.data_dir}; "
                "spec paths must stay below ALIGNMENT_DRIFT_DATA_DIR (remove any '..')."
            )
        return path

    def ensure_local_store(self) -> None:
        """Create the folders a local (sqlite/file) MLflow store needs."""
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if self.artifact_root.startswith("file://"):
            Path(self.artifact_root.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
