"""The environment contract of the production topology, read by both of its descriptions.

``docker/docker-compose.yaml`` describes the topology for containers; the native
harness (:mod:`tests.integration.topology.services`) runs the same topology as
processes on loopback. Both set exactly the variable names listed here on the
same services and start them with the same commands, and
``tests/docker/test_compose.py`` checks the compose file against this module,
so the two descriptions cannot drift apart. Values differ (service names in
compose, loopback ports natively); names and commands do not.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AIRFLOW_COMMANDS",
    "AIRFLOW_ENV",
    "AIRFLOW_INIT_COMMAND",
    "CELERY_APP",
    "CONTAINER_ONLY_ENV",
    "HEALTH_PATHS",
    "HOST_ONLY_ENV",
    "INIT_ONLY_ENV",
    "JOB_TYPES",
    "MLFLOW_SERVER_ENV",
    "MLFLOW_SERVER_FLAGS",
    "TASK_ENV",
    "airflow_process_env",
    "mlflow_server_env",
    "worker_ping",
]

# Airflow's own settings, shared by every Airflow service (compose: the x-airflow-common environment).
AIRFLOW_ENV: tuple[str, ...] = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
    "AIRFLOW__CORE__PARALLELISM",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
)

# What the tasks read: alignment-drift's locations and MLflow client settings (see settings.py and spool.py).
TASK_ENV: tuple[str, ...] = (
    "ALIGNMENT_DRIFT_HOME",
    "ALIGNMENT_DRIFT_SPECS_DIR",
    "ALIGNMENT_DRIFT_EXPECTATIONS_DIR",
    "ALIGNMENT_DRIFT_DATA_DIR",
    "ALIGNMENT_DRIFT_SPOOL_DIR",
    "ALIGNMENT_DRIFT_ARTIFACT_ROOT",
    "ALIGNMENT_DRIFT_MLFLOW_TRIES",
    "ALIGNMENT_DRIFT_MLFLOW_BACKOFF",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_DISABLE_TELEMETRY",
    "GX_ANALYTICS_ENABLED",
    "AIRFLOW_CONN_PREDICTION_LOGS",
)

# Set on a container only, with no meaning for a process on a host (the image's entrypoint reads them).
CONTAINER_ONLY_ENV: dict[str, str] = {
    "DUMB_INIT_SETSID": "the image's init sends SIGTERM to the worker only, for Celery's warm shutdown",
}

# Set on a native process only: the image defines it for a container.
HOST_ONLY_ENV: dict[str, str] = {"AIRFLOW_HOME": "the official image sets /opt/airflow"}

# Read by the one-shot airflow-init only: the admin login it writes to the passwords file of
# SimpleAuthManager (the native harness writes that file itself).
INIT_ONLY_ENV: dict[str, str] = {
    "ADMIN_USER": "the admin user name written to the passwords file",
    "ADMIN_PASSWORD": "the admin password written to the passwords file",
}

# The ``mlflow server`` service: its S3 client settings (the artifact store) and telemetry.
MLFLOW_SERVER_ENV: tuple[str, ...] = (
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "MLFLOW_DISABLE_TELEMETRY",
)

# ``mlflow server`` flags, in this order, each followed by its value except the bare ``--serve-artifacts``.
MLFLOW_SERVER_FLAGS: tuple[str, ...] = (
    "--backend-store-uri",
    "--artifacts-destination",
    "--serve-artifacts",
    "--host",
    "--port",
    "--workers",
    "--allowed-hosts",
)

# ``airflow <args>`` of each long-running Airflow service; ports and hosts come from AIRFLOW_ENV.
AIRFLOW_COMMANDS: dict[str, tuple[str, ...]] = {
    "airflow-apiserver": ("api-server",),
    "airflow-scheduler": ("scheduler",),
    "airflow-dag-processor": ("dag-processor",),
    "airflow-triggerer": ("triggerer",),
    "airflow-worker": ("celery", "worker"),
}

# The one-shot initialisation (compose: airflow-init), before any Airflow service starts.
AIRFLOW_INIT_COMMAND: tuple[str, ...] = ("db", "migrate")

# Health: HTTP paths answered with 200, and the job types ``airflow jobs check`` looks for.
HEALTH_PATHS: dict[str, str] = {
    "airflow-apiserver": "/api/v2/version",
    "airflow-scheduler": "/health",
    "mlflow": "/health",
}
JOB_TYPES: dict[str, str] = {"airflow-dag-processor": "DagProcessorJob", "airflow-triggerer": "TriggererJob"}

CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"


def worker_ping(hostname: str) -> list[str]:
    """The Celery worker's health check: ``celery inspect ping`` of one node."""
    return ["celery", "--app", CELERY_APP, "inspect", "ping", "-d", f"celery@{hostname}"]


def _exactly(values: Mapping[str, str], names: tuple[str, ...], what: str) -> dict[str, str]:
    missing = [n for n in names if n not in values]
    extra = [n for n in values if n not in names]
    if missing or extra:
        raise ValueError(
            f"The {what} environment must set exactly the contract's names (tests/integration/topology/env.py). "
            f"Missing {missing}, not in the contract {extra}. Fix: add the name to the contract and to "
            "docker/docker-compose.yaml, or stop setting it."
        )
    return {n: str(values[n]) for n in names}


def airflow_process_env(values: Mapping[str, str]) -> dict[str, str]:
    """The contract's Airflow and task variables from ``values``, refusing a missing or unknown name."""
    return _exactly(values, AIRFLOW_ENV + TASK_ENV, "Airflow services'")


def mlflow_server_env(values: Mapping[str, str]) -> dict[str, str]:
    """The contract's ``mlflow server`` variables from ``values``, refusing a missing or unknown name."""
    return _exactly(values, MLFLOW_SERVER_ENV, "mlflow server's")
