"""Who may see the Alignment page: Airflow's own authentication and DAG permissions.

Airflow mounts a plugin's FastAPI app without its authentication, so the
app checks every request itself, with the API server's auth manager:

- **authentication**: Airflow's ``get_user`` resolves the user from an
  ``Authorization: Bearer <JWT>`` header (a token from ``POST /auth/token``)
  or from the ``_token`` cookie the Airflow UI sets at login. No valid token:
  the page redirects a browser to the auth manager's login page, every other
  request gets 401 (403 for an invalid token);
- **authorization**: a model is listed only when the user may read its
  monitor DAG, and its pending approvals only when the user may read its
  retrain DAG (the auth manager's ``filter_authorized_dag_ids``). Spec
  files that do not load are listed only to users who may read every DAG,
  or the DAGs that spec names; the MLflow address, and problems that quote
  configuration, only to users who may read every DAG or at least one of
  the listed models (:func:`may_read_every_dag`).

Airflow's security module is imported on the first request, not when the
plugin is loaded: plugins are imported by every task process too.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import Request

__all__ = ["NotAuthenticated", "authenticated_user", "authorized_dag_ids", "login_url", "may_read_every_dag"]


class NotAuthenticated(Exception):
    """The request carries no valid Airflow token (``status_code`` 401, or 403 for an invalid one)."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


async def authenticated_user(request: Request) -> Any:
    """FastAPI dependency: the Airflow user of the request, resolved exactly as Airflow's own API routes do.

    Raises
    ------
    NotAuthenticated
        Without a valid bearer token or ``_token`` cookie.
    """
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user
    from fastapi import HTTPException

    try:
        credentials = await bearer_scheme(request)
        # the OAuth2 token positionally: Airflow 3.3 renamed the parameter ``oauth_token`` to ``_oauth_token``
        return await get_user(request, None, credentials)
    except HTTPException as error:
        raise NotAuthenticated(error.status_code, str(error.detail)) from error


def authorized_dag_ids(user: Any, dag_ids: Collection[str]) -> set[str]:
    """The DAG ids among ``dag_ids`` the user may read, by the auth manager's rules."""
    if not dag_ids:
        return set()
    from airflow.api_fastapi.app import get_auth_manager

    return set(get_auth_manager().filter_authorized_dag_ids(dag_ids=set(dag_ids), user=user, method="GET"))


def may_read_every_dag(user: Any) -> bool:
    """Whether the auth manager lets the user read every DAG (its DAG permission without a DAG named)."""
    from airflow.api_fastapi.app import get_auth_manager

    return bool(get_auth_manager().is_authorized_dag(method="GET", user=user))


def login_url(next_url: str) -> str:
    """The auth manager's login page, coming back to ``next_url`` after login.

    Airflow 3.2's simple auth manager returns its login page without the
    ``next`` parameter; it is added here then, as later releases add it.
    """
    from urllib.parse import parse_qs, urlencode, urlsplit

    from airflow.api_fastapi.app import get_auth_manager

    url = get_auth_manager().get_url_login(next_url=next_url)
    if "next" in parse_qs(urlsplit(url).query):
        return url
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode({'next': next_url})}"
