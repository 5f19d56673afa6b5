"""The Airflow plugin, registered through the ``airflow.plugins`` entry point."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from alignment_drift.airflow.ui import URL_PREFIX, create_app


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
    """Registers alignment-drift's macros and the "Alignment" page (a FastAPI app shown in Airflow's navigation)."""

    name = "alignment_drift"
    # AirflowPlugin declares these as instance attributes (``macros: list[Any] = []``), so a ClassVar here
    # would contradict the base class; they are read, never mutated.
    macros: list[Any] = [verdict_badge]  # noqa: RUF012
    fastapi_apps: list[Any] = [  # noqa: RUF012
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "alignment-drift: Alignment"}
    ]
    # shown inside Airflow's UI at /plugin/alignment; href is relative to Airflow's base URL
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Alignment",
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "category": "browse",
            "url_route": "alignment",
        }
    ]
