"""Airflow's REST API (v2), over HTTP: asset events created from outside a task (the command line's requests).

Configured by the environment, never by a spec:

| variable | meaning |
|---|---|
| ``ALIGNMENT_DRIFT_AIRFLOW_API_URL`` | the api-server, e.g. ``http://airflow.internal:8080`` |
| ``ALIGNMENT_DRIFT_AIRFLOW_TOKEN`` | a bearer token, or |
| ``ALIGNMENT_DRIFT_AIRFLOW_USERNAME`` / ``_PASSWORD`` | a user, exchanged for a token at ``/auth/token`` |

No Airflow import: this is a plain HTTP client (``httpx``). Credentials never
appear in a message: errors name the server and the status only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alignment_drift.core.redaction import register_secret, register_uri_secrets, without_credentials

__all__ = ["AirflowApi", "AirflowApiError"]

_TIMEOUT = 20.0


class AirflowApiError(RuntimeError):
    """The Airflow API refused or could not be reached (the message names the server, never a credential)."""


def _safe(url: str) -> str:
    """``url`` without user info, query or fragment."""
    parts = urlsplit(without_credentials(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class AirflowApi:
    """Where Airflow's API is and how to authenticate (``repr`` hides the secrets)."""

    url: str
    token: str | None = None
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"AirflowApi(url={_safe(self.url)!r})"

    @classmethod
    def from_env(cls) -> AirflowApi | None:
        """The API configured by the environment, or None when ``ALIGNMENT_DRIFT_AIRFLOW_API_URL`` is unset."""
        url = os.environ.get("ALIGNMENT_DRIFT_AIRFLOW_API_URL", "").strip()
        if not url:
            return None
        if urlsplit(url).scheme not in ("http", "https"):
            raise AirflowApiError(
                f"ALIGNMENT_DRIFT_AIRFLOW_API_URL must be an http(s) URL; got {_safe(url)!r}. "
                "Fix: e.g. http://127.0.0.1:8080."
            )
        api = cls(
            url=url.rstrip("/"),
            token=os.environ.get("ALIGNMENT_DRIFT_AIRFLOW_TOKEN") or None,
            username=os.environ.get("ALIGNMENT_DRIFT_AIRFLOW_USERNAME") or None,
            password=os.environ.get("ALIGNMENT_DRIFT_AIRFLOW_PASSWORD") or None,
        )
        for secret in (api.token, api.password):
            register_secret(secret)  # masked wherever an error or a log line might quote it
        register_uri_secrets(url)
        return api

    def _client(self) -> Any:
        import httpx

        return httpx.Client(base_url=self.url, timeout=_TIMEOUT)

    def _bearer(self, http: Any) -> str:
        if self.token:
            return self.token
        if not self.username or self.password is None:
            raise AirflowApiError(
                f"The Airflow API at {_safe(self.url)} needs credentials. Fix: set ALIGNMENT_DRIFT_AIRFLOW_TOKEN, "
                "or ALIGNMENT_DRIFT_AIRFLOW_USERNAME and ALIGNMENT_DRIFT_AIRFLOW_PASSWORD."
            )
        response = self._call(http, "POST", "/auth/token", json={"username": self.username, "password": self.password})
        return str(response.json()["access_token"])

    def _call(self, http: Any, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise AirflowApiError(
                f"The Airflow API at {_safe(self.url)} could not be reached ({type(error).__name__})."
            ) from None
        if response.status_code >= 400:
            raise AirflowApiError(
                f"The Airflow API at {_safe(self.url)} answered {response.status_code} to {method} {path}."
            )
        return response

    def create_asset_event(self, uri: str, extra: dict[str, Any]) -> int:
        """Create an event of the asset with ``uri`` carrying ``extra``; return the event's id.

        Raises
        ------
        AirflowApiError
            When the API cannot be reached, refuses the credentials, or knows no asset with that URI
            (the monitor DAG, which declares it, has not been parsed yet).
        """
        with self._client() as http:
            headers = {"Authorization": f"Bearer {self._bearer(http)}"}
            found = self._call(http, "GET", "/api/v2/assets", params={"uri_pattern": uri}, headers=headers).json()
            ids = [a["id"] for a in found.get("assets", []) if a.get("uri") == uri]
            if not ids:
                raise AirflowApiError(
                    f"The Airflow at {_safe(self.url)} has no asset {uri}. Fix: let it parse the model's DAGs first."
                )
            body = {"asset_id": ids[0], "extra": extra}
            created = self._call(http, "POST", "/api/v2/assets/events", json=body, headers=headers).json()
            return int(created["id"])
