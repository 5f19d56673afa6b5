"""The Airflow plugin, registered through the ``airflow.plugins`` entry point."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin


def verdict_badge(verdict: str) -> str:
    """A short label for a verdict, usable in templates as ``{{ macros.alignment_drift.verdict_badge(v) }}``."""
    marks = {
        "aligned": "OK",
        "watch": "WATCH",
        "drifting": "DRIFT",
        "misaligned": "MISALIGNED",
        "quarantined": "QUARANTINED",
    }
    return marks.get(verdict, verdict.upper())


class AlignmentDriftPlugin(AirflowPlugin):
    """Registers alignment-drift's macros with Airflow."""

    name = "alignment_drift"
    macros: ClassVar[list[Any]] = [verdict_badge]
