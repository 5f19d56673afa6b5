"""The Alignment page as HTML: a Jinja2 template with autoescaping on, and the links into Airflow's UI.

Every value that comes from a spec or from MLflow is escaped by Jinja2;
links are built here from fixed patterns with every path segment quoted, and
MLflow links only ever start with the validated ``http(s)`` base URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alignment_drift.integrations.overview import REPORT_ARTIFACT, Overview

__all__ = ["LEGEND", "AirflowLinks", "render_page", "verdict_class"]

TEMPLATES = Path(__file__).parent / "templates"

# letter shown in the timeline cell, and what the verdict means (the legend)
LEGEND: dict[str, tuple[str, str]] = {
    "aligned": ("A", "every benchmark passes, nothing drifts"),
    "watch": ("W", "something drifts or trends; no benchmark fails"),
    "drifting": ("D", "a warning benchmark fails, a benchmark trends the wrong way, or many features drift"),
    "misaligned": ("M", "a critical safety benchmark fails"),
    "quarantined": ("Q", "the batch failed validation and was quarantined"),
}


def verdict_class(verdict: str | None) -> str:
    """The CSS class of a verdict; anything that is not a known verdict is ``v-unknown``."""
    return f"v-{verdict}" if verdict in LEGEND else "v-unknown"


def verdict_letter(verdict: str | None) -> str:
    return LEGEND[verdict][0] if verdict in LEGEND else "?"


def when(value: str | None) -> str:
    """An ISO time stamp for reading: ``2026-01-14 06:00 UTC`` (the text as given when it does not parse)."""
    if not value:
        return ""
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return f"{stamp:%Y-%m-%d %H:%M}" + (" UTC" if stamp.tzinfo is not None else "")


@dataclass(frozen=True)
class AirflowLinks:
    """Paths of Airflow's UI pages, below ``base`` (the API server's root path, ``""`` at the root)."""

    base: str = ""

    def _path(self, *segments: str) -> str:
        return self.base + "".join("/" + quote(s, safe="") for s in segments)

    def dag_runs(self, dag_id: str) -> str:
        return self._path("dags", dag_id, "runs")

    def dag_run(self, dag_id: str, run_id: str) -> str:
        return self._path("dags", dag_id, "runs", run_id)

    def required_actions(self, dag_id: str, run_id: str) -> str:
        return self._path("dags", dag_id, "runs", run_id, "required_actions")


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.globals.update(
        verdict_class=verdict_class,
        verdict_letter=verdict_letter,
        legend=LEGEND,
        report_artifact=REPORT_ARTIFACT,
    )
    return env


def render_page(
    overview: Overview,
    approvals: Sequence[Any],
    *,
    airflow: AirflowLinks,
    static: str,
    user_name: str,
    approvals_problem: str | None = None,
    night_choices: Sequence[int] = (14, 30, 90, 180),
) -> str:
    """The page's HTML.

    Parameters
    ----------
    overview : Overview
        The models to show (already filtered to what the user may read).
    approvals : sequence of ApprovalRow
        The pending approvals to show.
    airflow : AirflowLinks
        Where Airflow's UI pages are.
    static : str
        The URL path of the page's stylesheet and script.
    user_name : str
        Who is signed in.
    approvals_problem : str, optional
        Why Airflow's side of the approvals could not be read.
    night_choices : sequence of int
        The timeline lengths offered.
    """
    choices = sorted({*night_choices, overview.nights})
    return (
        _environment()
        .get_template("alignment.html")
        .render(
            overview=overview,
            approvals=list(approvals),
            airflow=airflow,
            static=static,
            user_name=user_name,
            approvals_problem=approvals_problem,
            night_choices=choices,
            incidents=[i for m in overview.models for i in m.open_incidents],
            incidents_total=sum(m.open_incidents_total for m in overview.models),
            resolved_incidents=[i for m in overview.models for i in m.resolved_incidents],
            incident_problems=[m.incidents_error for m in overview.models if m.incidents_error],
        )
    )
