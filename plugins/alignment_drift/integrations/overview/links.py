"""Links into MLflow's UI (``redact_uri`` is :func:`alignment_drift.core.redaction.redact_uri`)."""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit, urlunsplit

from alignment_drift.core.redaction import redact_uri, without_credentials
from alignment_drift.settings import Settings

__all__ = ["REPORT_ARTIFACT", "mlflow_ui_url", "redact_uri", "run_url"]

#: The check run's artifact that holds the nightly report.
REPORT_ARTIFACT = "report.html"


def _without_credentials(url: str) -> str:
    parts = urlsplit(without_credentials(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def mlflow_ui_url(settings: Settings) -> str | None:
    """The base URL of MLflow's web UI, or ``None`` when there is none to link to.

    ``ALIGNMENT_DRIFT_MLFLOW_UI_URL`` when set; otherwise the tracking URI when
    it is an ``http(s)`` server (credentials removed); otherwise ``None``.

    Raises
    ------
    ValueError
        When ``ALIGNMENT_DRIFT_MLFLOW_UI_URL`` is not an ``http(s)`` URL.

    Examples
    --------
    >>> import dataclasses
    >>> base = Settings.from_env("/srv/alignment")
    >>> mlflow_ui_url(dataclasses.replace(base, tracking_uri="http://user:pw@mlflow:5000/"))
    'http://mlflow:5000'
    >>> mlflow_ui_url(dataclasses.replace(base, tracking_uri="sqlite:////srv/mlflow.db")) is None
    True
    """
    value = os.environ.get("ALIGNMENT_DRIFT_MLFLOW_UI_URL", "").strip()
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "The 'ALIGNMENT_DRIFT_MLFLOW_UI_URL' environment variable must be an http(s) URL "
                f"(e.g. https://mlflow.example.com). Got {value!r} instead; fix or unset it."
            )
        return _without_credentials(value)
    parts = urlsplit(settings.tracking_uri)
    if parts.scheme in ("http", "https") and parts.hostname:
        return _without_credentials(settings.tracking_uri)
    return None


def run_url(ui: str | None, experiment_id: str, run_id: str, artifact: str | None = None) -> str | None:
    if ui is None:
        return None
    url = f"{ui}/#/experiments/{quote(experiment_id, safe='')}/runs/{quote(run_id, safe='')}"
    return url if artifact is None else f"{url}/artifactPath/{quote(artifact)}"
