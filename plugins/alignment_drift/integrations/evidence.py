"""Where one night's evidence files live until they are recorded: ``<data>/_checks/<model>/<interval>/``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alignment_drift.integrations.quarantine import interval_key
from alignment_drift.settings import Settings

__all__ = ["evidence_dir"]


def evidence_dir(settings: Settings, model: str, start: dt.datetime, end: dt.datetime) -> Path:
    """The folder holding one interval's evidence (validation result, partial profiles, report), created.

    Named by :func:`~alignment_drift.integrations.quarantine.interval_key`, so
    sub-daily intervals of one day never share a folder. The evidence holds rows
    of production data, so the folders created here are owner-only (``0700``).
    """
    path = settings.data_dir
    for part in ("_checks", model, interval_key(start, end)):
        path = path / part
        if not path.is_dir():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
