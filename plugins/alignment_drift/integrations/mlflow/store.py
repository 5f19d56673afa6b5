"""The MLflow client and the experiment of each monitored model.

One experiment per monitored model, named ``alignment-drift/<model>``, with
its artifacts under ``<artifact_root>/<model>`` so that Airflow workers with
any working directory write to the same place (with a tracking server and no
artifact root, where the server puts them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from alignment_drift.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["client", "experiment_id", "in_run", "log_table", "quiet_mlflow"]


def quiet_mlflow() -> None:
    """Turn off MLflow's telemetry, git/environment probing and run-URL printing; keep its HTTP retries short."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_TRACKING_INSECURE_TLS", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow prints "View run ... at: <tracking URI>" on stdout, credentials included; our records link the run
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # alignment-drift retries writes itself, bounded (see spool.py); MLflow's own default (7 retries,
    # backoff factor 2) would hold a task for minutes against a server that is down.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


@lru_cache(maxsize=8)
def _client(tracking_uri: str) -> MlflowClient:
    quiet_mlflow()
    from mlflow import MlflowClient

    from alignment_drift.integrations.known_warnings import known_warnings

    with known_warnings("opening the MLflow tracking store"):  # MLflow's SQL store: SQLAlchemy's noload notice
        return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def client(settings: Settings) -> MlflowClient:
    """The (cached) MLflow client of the settings' tracking store, creating a local store's folders."""
    settings.ensure_local_store()
    return _client(settings.tracking_uri)


# MLflow's UI opens an experiment on the view its kind names; without it a new experiment opens on the
# GenAI traces overview, which is empty for a scikit-learn model.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def experiment_id(settings: Settings, model: str) -> str:
    """The id of the model's experiment, created on first use (safe when two tasks race to create it)."""
    from mlflow.exceptions import MlflowException

    name = f"alignment-drift/{model}"
    mlflow_client = client(settings)
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(found.experiment_id)
        if EXPERIMENT_KIND[0] not in (found.tags or {}):
            # an experiment made by an earlier release: it gets its kind once
            mlflow_client.set_experiment_tag(found.experiment_id, *EXPERIMENT_KIND)
        return str(found.experiment_id)
    try:
        return str(
            mlflow_client.create_experiment(
                name,
                artifact_location=f"{settings.artifact_root.rstrip('/')}/{model}" if settings.artifact_root else None,
                tags={"model": model, "managed_by": "alignment-drift", EXPERIMENT_KIND[0]: EXPERIMENT_KIND[1]},
            )
        )
    except MlflowException:
        again = mlflow_client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)


@contextlib.contextmanager
def in_run(settings: Settings, run_id: str) -> Iterator[Any]:
    """MLflow's fluent API inside an existing run (to log a model or dataset inputs into it).

    Points the fluent API at the settings' store and at the run's own
    experiment first: code that ran earlier in the same process (an owner's
    training task under ``dag.test()``, a notebook) may have set another
    active experiment, and MLflow refuses to resume a run outside it.
    """
    import mlflow

    mlflow_client = client(settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    mlflow.set_experiment(experiment_id=mlflow_client.get_run(run_id).info.experiment_id)
    with mlflow.start_run(run_id=run_id) as run:
        yield run


def log_table(mlflow_client: MlflowClient, run_id: str, table: Any, artifact_file: str) -> None:
    """Log a DataFrame as an MLflow table, its text columns handed over as objects.

    MLflow looks for images among the object columns (``select_dtypes("object")``), which pandas 3
    deprecates for its own text columns: given as objects, the table is logged without that warning.
    """
    import pandas as pd

    text = {name: object for name, dtype in table.dtypes.items() if isinstance(dtype, pd.StringDtype)}
    mlflow_client.log_table(run_id, data=table.astype(text) if text else table, artifact_file=artifact_file)
