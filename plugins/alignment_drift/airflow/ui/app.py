"""The FastAPI app of the Alignment page, mounted by Airflow's API server at ``/alignment``.

Routes (every one needs an Airflow login, see :mod:`.auth`):

- ``GET /alignment/`` — the page (``?nights=`` 1 to 366, default 30);
- ``GET /alignment/api/overview`` — the same data as JSON (schema
  ``alignment-drift/overview@1`` plus ``approvals``);
- ``GET /alignment/static/{alignment.css,alignment.js}`` — the page's assets.

The data comes from MLflow through :mod:`alignment_drift.integrations.overview`
(the same integration code as the DAGs) and, for pending approvals, from
Airflow's metadata DB. Locations come from the environment as for the DAGs
(``ALIGNMENT_DRIFT_HOME``, ``ALIGNMENT_DRIFT_SPECS_DIR``, ``MLFLOW_TRACKING_URI``);
without ``ALIGNMENT_DRIFT_HOME`` the project home is the parent of Airflow's
DAGs folder, as the DAG file assumes.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from alignment_drift.airflow.ui.auth import (
    NotAuthenticated,
    authenticated_user,
    authorized_dag_ids,
    login_url,
    may_read_every_dag,
)

__all__ = ["URL_PREFIX", "create_app", "ui_settings"]

_LOG = logging.getLogger(__name__)

URL_PREFIX = "/alignment"
STATIC = Path(__file__).parent / "static"
_ASSETS = {"alignment.css": "text/css", "alignment.js": "text/javascript"}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)

User = Annotated[Any, Depends(authenticated_user)]
Nights = Annotated[int, Query(ge=1, le=366, description="How many of the latest checks make each timeline.")]


def ui_settings() -> Any:
    """The locations, from the environment; the project home defaults to the parent of Airflow's DAGs folder."""
    from airflow.configuration import conf

    from alignment_drift.settings import Settings

    folder = conf.get("core", "dags_folder", fallback="")
    return Settings.from_env(Path(folder).expanduser().resolve().parent if folder else None)


def _user_name(user: Any) -> str:
    try:
        return str(user.get_name())
    except Exception as error:  # the auth manager's user class is not ours; the page is shown all the same
        _LOG.warning("The signed-in user's name could not be read (%s: %s)", type(error).__name__, error)
        return "an Airflow user"


_MODEL_FILE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _problem_dag_id(path: str) -> str | None:
    """The monitor DAG a spec file that does not load would define (named after the file), if any."""
    stem = Path(path).stem
    return f"alignment_monitor__{stem}" if path.endswith(".yaml") and _MODEL_FILE.match(stem) else None


def _gather(user: Any, nights: int) -> tuple[Any, list[Any], str | None]:
    """The overview of the models the user may read, and the merged pending approvals.

    Spec problems are kept only when the user may read every DAG or the DAGs
    that spec names; the MLflow address and configuration problems only when
    the user may read every DAG or some listed model.
    """
    from alignment_drift.airflow.ui.approvals import merge_approvals, waiting_approvals
    from alignment_drift.integrations.overview import build_overview, monitored_specs

    settings = ui_settings()
    specs, problems = monitored_specs(settings)
    problem_dags = {p.path: _problem_dag_id(p.path) for p in problems}
    wanted = {s.monitor_dag_id for s in specs} | {s.retrain_dag_id for s in specs}
    allowed = authorized_dag_ids(user, wanted | {d for d in problem_dags.values() if d})
    every_dag = may_read_every_dag(user)
    visible = [s for s in specs if s.monitor_dag_id in allowed]
    shown_problems = [p for p in problems if every_dag or problem_dags[p.path] in allowed]
    overview = build_overview(settings, specs=visible, spec_problems=shown_problems, nights=nights)
    if not (every_dag or visible):
        overview = dataclasses.replace(overview, tracking_uri="", mlflow_ui_url=None, problems=())
    retrain_ids = {s.retrain_dag_id for s in visible if s.retrain_dag_id in allowed}
    overview = dataclasses.replace(
        overview,
        models=tuple(
            m if m.retrain_dag_id in retrain_ids else dataclasses.replace(m, pending_approvals=())
            for m in overview.models
        ),
    )
    pending = [p for m in overview.models for p in m.pending_approvals]
    problem = None
    try:
        waiting = waiting_approvals(retrain_ids)
    except Exception as error:  # the MLflow side is still shown
        _LOG.warning("Airflow's approval tasks could not be read: %s: %s", type(error).__name__, error)
        waiting = None
        problem = (
            None
            if not retrain_ids
            else (
                f"Airflow's metadata DB could not be read for the approval tasks ({type(error).__name__}: {error}). "
                "Pending approvals below are MLflow's record only."
            )[:2000]
        )
    return overview, merge_approvals(pending, waiting), problem


def _airflow_base(request: Request) -> str:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return root.removesuffix(URL_PREFIX)


def _secure(response: Response, *, cache: bool = False) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, max-age=300" if cache else "no-store"
    return response


def create_app() -> FastAPI:
    """The Alignment page's FastAPI app: every route needs an authenticated Airflow user."""
    app = FastAPI(
        title="alignment-drift: Alignment",
        description="Monitored models, their verdicts, open incidents and pending approvals.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(authenticated_user)],
    )

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, error: NotAuthenticated) -> Response:
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_page and not request.url.path.rstrip("/").endswith(("/api/overview", ".css", ".js")):
            return _secure(RedirectResponse(login_url(str(request.url)), status_code=303))
        return _secure(
            JSONResponse(
                {
                    "detail": f"{error.detail}. Sign in to Airflow, or send 'Authorization: Bearer <token>' "
                    "with a token from POST /auth/token."
                },
                status_code=error.status_code,
                headers={"WWW-Authenticate": "Bearer"},
            )
        )

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, user: User, nights: Nights = 30) -> Response:
        from alignment_drift.airflow.ui.render import AirflowLinks, render_page

        overview, approvals, problem = _gather(user, nights)
        root = str(request.scope.get("root_path", "")).rstrip("/")
        html = render_page(
            overview,
            approvals,
            airflow=AirflowLinks(_airflow_base(request)),
            static=f"{root}/static",
            user_name=_user_name(user),
            approvals_problem=problem,
        )
        return _secure(HTMLResponse(html))

    @app.get("/api/overview")
    def overview_json(user: User, nights: Nights = 30) -> Response:
        overview, approvals, problem = _gather(user, nights)
        body = {**overview.to_dict(), "approvals": [a.to_dict() for a in approvals], "approvals_problem": problem}
        return _secure(JSONResponse(body))

    @app.get("/static/{name}")
    def asset(name: str, user: User) -> Response:
        if name not in _ASSETS:
            raise HTTPException(status_code=404, detail=f"No asset {name!r}; the page has {sorted(_ASSETS)}.")
        return _secure(FileResponse(STATIC / name, media_type=_ASSETS[name]), cache=True)

    return app
