"""What the report reads from MLflow besides the check: the last nights' signals and the links to the runs.

History comes from the check runs themselves (:func:`~alignment_drift.integrations.mlflow.checks.list_checks`):
each night's logged metrics (the documented names, e.g. ``benchmark.<name>.value``
and ``.threshold``, ``drift.share``, ``trend.<signal>.alarm``) and its verdict tag.
Nothing is kept anywhere else, so a report rebuilt later shows the same nights.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from urllib.parse import quote

from alignment_drift.core.redaction import without_credentials
from alignment_drift.settings import Settings

__all__ = ["AIRFLOW_DEFAULT_URL", "MLFLOW_UI_DEFAULT_URL", "night_history", "run_links"]

AIRFLOW_DEFAULT_URL = "http://localhost:8080"
MLFLOW_UI_DEFAULT_URL = "http://127.0.0.1:5000"  # what `make mlflow-ui` serves for a local store


def night_history(
    settings: Settings, model: str, interval: dict[str, str], *, nights: int = 30
) -> list[dict[str, Any]]:
    """The last ``nights`` checks of ``model`` up to and including the one of ``interval``, oldest first.

    Parameters
    ----------
    settings : Settings
        Where the MLflow store is.
    model : str
        The monitored model.
    interval : dict
        The check's ``data_interval`` (``start``, ``end`` as ISO strings).
    nights : int, default=30
        How many checks at most, >= 1.

    Returns
    -------
    list of dict
        ``date`` (``YYYY-MM-DD`` of the interval start), ``start``, ``verdict`` and ``metrics``.
    """
    from alignment_drift.integrations.mlflow.checks import list_checks

    if not isinstance(nights, int) or isinstance(nights, bool) or nights < 1:
        raise ValueError(f"The 'nights' parameter must be an int >= 1. Got {nights!r} instead.")
    start = dt.datetime.fromisoformat(interval["start"])
    end = dt.datetime.fromisoformat(interval["end"])
    since = start - (end - start) * (nights - 1)
    runs = list_checks(settings, model, since=since.isoformat(), until=end.isoformat())[-nights:]
    return [
        {
            "date": run.data.tags.get("data_interval_start", "")[:10],
            "start": run.data.tags.get("data_interval_start", ""),
            "verdict": run.data.tags.get("verdict", ""),
            "metrics": dict(run.data.metrics),
        }
        for run in runs
    ]


def _mlflow_ui(tracking_uri: str) -> str:
    if tracking_uri.startswith(("http://", "https://")):
        return without_credentials(tracking_uri).rstrip("/")
    return MLFLOW_UI_DEFAULT_URL


def run_links(
    settings: Settings,
    *,
    experiment_id: str | None,
    mlflow_run_id: str | None,
    dag_id: str = "",
    airflow_run_id: str = "",
) -> dict[str, Any]:
    """Links to the check's MLflow run and Airflow run (None where there is no such run).

    The MLflow UI is the tracking server itself when it is one (``http(s)://``), else the local UI of
    ``make mlflow-ui``. Airflow's is ``AIRFLOW__API__BASE_URL`` when set, else ``http://localhost:8080``.
    """
    mlflow_url = None
    if experiment_id and mlflow_run_id:
        mlflow_url = f"{_mlflow_ui(settings.tracking_uri)}/#/experiments/{experiment_id}/runs/{mlflow_run_id}"
    airflow_url = None
    if dag_id and airflow_run_id:
        base = (os.environ.get("AIRFLOW__API__BASE_URL") or AIRFLOW_DEFAULT_URL).rstrip("/")
        airflow_url = f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(airflow_run_id, safe='')}"
    return {
        "mlflow_run_id": mlflow_run_id,
        "mlflow_run_uri": None if mlflow_run_id is None else f"runs:/{mlflow_run_id}",
        "mlflow_url": mlflow_url,
        "tracking_uri": without_credentials(settings.tracking_uri),
        "dag_id": dag_id or None,
        "airflow_run_id": airflow_run_id or None,
        "airflow_url": airflow_url,
    }
