"""docker/: the compose file, its .env.example and the Dockerfile, checked by parsing (no Docker engine here).

Commands are checked against the installed command lines themselves (Airflow's
argparse parser, which is what ``airflow <command> --help`` prints, and the
``mlflow server`` click command), and the environment variable names against
the contract the native integration harness uses
(``tests/integration/topology/env.py``), so the compose file and the natively
tested topology cannot drift apart. ``make test-integration`` runs that same
topology as real processes.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.topology import env as contract

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"

AIRFLOW_SERVICES = tuple(contract.AIRFLOW_COMMANDS)
ONE_SHOT = ("airflow-init", "minio-init")
SERVICES = ("postgres", "redis", "minio", "mlflow", *ONE_SHOT, *AIRFLOW_SERVICES)
LONG_RUNNING = tuple(s for s in SERVICES if s not in ONE_SHOT)
# Images that are pulled, each pinned to a released tag (never "latest", never a bare major).
PINNED = {
    "postgres": r"postgres:16\.\d+",
    "redis": r"redis:7\.2(\.\d+)?-bookworm",
    "minio": r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ",
    "minio-init": r"minio/mc:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ",
}
MLFLOW_IMAGE = "ghcr.io/mlflow/mlflow:v3.17.2"
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_parser() -> Any:
    from airflow.cli.cli_parser import get_parser

    return get_parser()


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    """pyproject.toml's [project] table."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return dict(tomllib.load(file)["project"])


def _locked(name: str) -> str:
    """The version of ``name`` in constraints/latest.txt (what make install and CI install)."""
    text = (ROOT / "constraints" / "latest.txt").read_text()
    (version,) = re.findall(rf"^{re.escape(name)}==([\d.]+)$", text, flags=re.MULTILINE)
    return version


def _argv(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _parses(parser: Any, argv: list[str]) -> None:
    """Airflow's own parser accepts ``argv`` (a wrong command or flag exits 2 with the help text)."""
    try:
        parser.parse_args(argv)
    except SystemExit as error:  # pragma: no cover - the failure path
        pytest.fail(f"`airflow {' '.join(argv)}` is not an Airflow 3 command (exit {error.code})")


def _needs_celery(argv: list[str]) -> None:
    if argv and argv[0] == "celery":
        pytest.importorskip("airflow.providers.celery", reason="the celery extra is installed by make test-integration")


def _dockerfile_lines() -> list[str]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


# ---------------------------------------------------------------------------------------------- services


def test_every_service_of_the_topology_is_defined(services: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(services), sorted(set(SERVICES) - set(services))


@pytest.mark.parametrize("name", SERVICES)
def test_every_image_is_pinned_or_built_from_the_dockerfile(services: dict[str, Any], name: str) -> None:
    service = services[name]
    if "build" in service:
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, service["build"]
        tag = service["image"].rsplit(":", 1)[-1]
        assert tag not in ("latest", service["image"]), service["image"]
    elif name == "mlflow":
        assert service["image"] == MLFLOW_IMAGE
    else:
        assert name in PINNED, f"{name} uses {service.get('image')!r}: build it or add a pinned image"
        assert re.fullmatch(PINNED[name], service["image"]), service["image"]


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_run_the_contract_commands_of_the_installed_cli(
    services: dict[str, Any], airflow_parser: Any, name: str
) -> None:
    argv = _argv(services[name]["command"])
    assert tuple(argv) == contract.AIRFLOW_COMMANDS[name]
    _needs_celery(argv)
    _parses(airflow_parser, argv)


def test_airflow_init_migrates_the_metadata_db_with_real_commands(
    services: dict[str, Any], airflow_parser: Any
) -> None:
    init = services["airflow-init"]
    script = "\n".join(_argv(init["command"]))
    commands = [shlex.split(ln.strip())[1:] for ln in script.splitlines() if ln.strip().startswith("airflow ")]
    assert list(contract.AIRFLOW_INIT_COMMAND) in commands, commands
    for argv in commands:
        _parses(airflow_parser, argv)
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in script


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_health_check(services: dict[str, Any], name: str) -> None:
    check = services[name].get("healthcheck") or {}
    assert check.get("test"), f"{name} has no health check"
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert services[name].get("restart") == "always", name


@pytest.mark.parametrize("name", ("airflow-apiserver", "airflow-scheduler", "mlflow"))
def test_http_health_checks_ask_the_contract_paths(services: dict[str, Any], name: str) -> None:
    test = services[name]["healthcheck"]["test"]
    url = next(part for part in test if str(part).startswith("http"))
    assert url.endswith(contract.HEALTH_PATHS[name]), url


@pytest.mark.parametrize("name", sorted(contract.JOB_TYPES))
def test_job_health_checks_are_real_airflow_jobs_checks(
    services: dict[str, Any], airflow_parser: Any, name: str
) -> None:
    argv = shlex.split(services[name]["healthcheck"]["test"][1])
    assert argv[:2] == ["airflow", "jobs"]
    assert argv[argv.index("--job-type") + 1] == contract.JOB_TYPES[name]
    _parses(airflow_parser, [a.replace("$${HOSTNAME}", "worker-1") for a in argv[1:]])


def test_the_worker_health_check_pings_its_own_celery_node(services: dict[str, Any]) -> None:
    argv = shlex.split(services["airflow-worker"]["healthcheck"]["test"][1])
    assert argv == contract.worker_ping("$${HOSTNAME}")
    pytest.importorskip("airflow.providers.celery", reason="the celery extra is installed by make test-integration")
    import importlib

    module, attribute = contract.CELERY_APP.rsplit(".", 1)
    assert hasattr(importlib.import_module(module), attribute)


def test_dependencies_wait_for_health_or_completion(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, rule in depends.items():
            expected = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert rule == {"condition": expected}, (name, target, rule)
    for name in ("airflow-init", *AIRFLOW_SERVICES):
        assert {"postgres", "redis", "mlflow"} <= set(services[name]["depends_on"]), name
    for name in AIRFLOW_SERVICES:
        assert "airflow-init" in services[name]["depends_on"], name
    assert "airflow-apiserver" in services["airflow-worker"]["depends_on"]
    assert set(services["mlflow"]["depends_on"]) == {"postgres", "minio-init"}


# ---------------------------------------------------------------------------------------------- MLflow


def test_mlflow_server_uses_postgres_and_s3_artifacts_with_real_flags(services: dict[str, Any]) -> None:
    from mlflow.cli import cli

    argv = _argv(services["mlflow"]["command"])
    assert argv[:2] == ["mlflow", "server"]
    flags = [a for a in argv[2:] if a.startswith("--")]
    assert tuple(flags) == contract.MLFLOW_SERVER_FLAGS
    server = cli.commands["server"]
    known = {opt for param in server.params for opt in (*param.opts, *param.secondary_opts)}
    assert set(flags) <= known, set(flags) - known
    server.make_context("server", argv[2:])  # click validates every option and value (raises on a bad one)
    value = {flag: argv[argv.index(flag) + 1] for flag in flags if flag != "--serve-artifacts"}
    assert value["--backend-store-uri"].startswith("postgresql+psycopg2://")
    assert value["--artifacts-destination"].startswith("s3://${MLFLOW_ARTIFACTS_BUCKET")
    env = services["mlflow"]["environment"]
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "${S3_ENDPOINT_URL:-http://minio:9000}"
    init = "\n".join(_argv(services["minio-init"]["command"]))
    assert "mc mb --ignore-existing" in init and "$$MLFLOW_ARTIFACTS_BUCKET" in init


# ---------------------------------------------------------------------------------------------- environment


def test_airflow_environment_names_are_the_native_harness_contract(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    names = set(contract.AIRFLOW_ENV + contract.TASK_ENV)
    assert set(compose["x-airflow-common"]["environment"]) == names
    for name in ("airflow-init", *AIRFLOW_SERVICES):
        extra = set(services[name]["environment"]) - names
        allowed = set(contract.INIT_ONLY_ENV if name == "airflow-init" else contract.CONTAINER_ONLY_ENV)
        assert extra <= allowed, (name, extra)
        assert names <= set(services[name]["environment"]), name
    assert set(services["mlflow"]["environment"]) == set(contract.MLFLOW_SERVER_ENV)


def test_the_native_harness_sets_exactly_the_contract_names(tmp_path: Path) -> None:
    from tests.integration.topology.services import Topology

    topology = Topology(ROOT, tmp_path, specs_dir=tmp_path / "specs", data_dir=tmp_path / "data")
    airflow_env = topology.airflow_env()
    names = set(contract.AIRFLOW_ENV + contract.TASK_ENV)
    assert names <= set(airflow_env)
    managed = {k for k in airflow_env if k.startswith(("AIRFLOW", "ALIGNMENT_DRIFT_", "MLFLOW_", "AWS_", "GX_"))}
    assert managed == names | set(contract.HOST_ONLY_ENV), managed ^ (names | set(contract.HOST_ONLY_ENV))
    mlflow_env = topology.mlflow_env()
    managed = {k for k in mlflow_env if k.startswith(("AIRFLOW", "ALIGNMENT_DRIFT_", "MLFLOW_", "AWS_", "GX_"))}
    assert managed == set(contract.MLFLOW_SERVER_ENV)
    flags = [a for a in topology.mlflow_argv() if a.startswith("--")]
    assert tuple(flags) == contract.MLFLOW_SERVER_FLAGS


def test_celery_executor_reaches_the_api_server_redis_and_postgres(compose: dict[str, Any]) -> None:
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__API__PORT"] == "8080"
    assert env["AIRFLOW__CELERY__BROKER_URL"].endswith("redis://redis:6379/0}")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["MLFLOW_TRACKING_URI"] == "${MLFLOW_TRACKING_URI:-http://mlflow:5000}"
    assert env["ALIGNMENT_DRIFT_ARTIFACT_ROOT"].endswith("mlflow-artifacts:/alignment-drift}")


def _env_example() -> dict[str, tuple[str, str]]:
    """VAR -> (value, the comment block above it) of docker/.env.example."""
    out: dict[str, tuple[str, str]] = {}
    comments: list[str] = []
    after_variable = False
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.startswith("#"):
            comments = [*(comments if not after_variable else []), line]
            after_variable = False
        elif "=" in line:  # a variable shares the comment block above it with its neighbours
            name, value = line.split("=", 1)
            out[name] = (value, "\n".join(comments))
            after_variable = True
        else:
            comments, after_variable = [], False
    return out


def test_every_variable_of_the_compose_file_is_documented_in_env_example() -> None:
    used = set(VARIABLE.findall(COMPOSE.read_text()))
    documented = _env_example()
    assert used == set(documented), {"undocumented": used - set(documented), "unused": set(documented) - used}
    for name, (_, comment) in documented.items():
        assert comment.strip(), f"{name} has no comment in .env.example"


def test_no_secret_is_hard_coded_and_demo_defaults_are_marked(services: dict[str, Any]) -> None:
    secret = re.compile(r"PASSWORD|SECRET|FERNET|JWT")
    text = COMPOSE.read_text()
    for match in re.finditer(r"\$\{([A-Z0-9_]+)(:[-?])?", text):
        if secret.search(match.group(1)):
            assert match.group(2) == ":?", f"{match.group(1)} must be required from .env (use ${{VAR:?...}})"
    for name, (value, comment) in _env_example().items():
        if secret.search(name) or name == "S3_ACCESS_KEY_ID":
            assert "local-demo" in value or "LOCAL-DEMO" in comment, f"{name}: mark the demo default as such"
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            if secret.search(key) and not key.endswith("_FILE"):
                assert "${" in str(value), f"{key} is hard-coded"


def test_postgres_init_script_creates_the_airflow_and_mlflow_databases(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    mount = next(v for v in postgres["volumes"] if "/docker-entrypoint-initdb.d/" in v)
    script = DOCKER / mount.split(":")[0].removeprefix("./")
    text = script.read_text()
    assert script.stat().st_mode & 0o111, f"{script} must be executable"
    for variable in ("AIRFLOW_DB_NAME", "AIRFLOW_DB_USER", "MLFLOW_DB_NAME", "MLFLOW_DB_USER"):
        assert f"${variable}" in text and variable in postgres["environment"], variable
    assert text.count("CREATE DATABASE") == 2


# ---------------------------------------------------------------------------------------------- Dockerfile


def test_dockerfile_extends_the_official_airflow_image_of_the_locked_version(project: dict[str, Any]) -> None:
    from packaging.requirements import Requirement

    lines = _dockerfile_lines()
    (base,) = [ln.split()[1] for ln in lines if ln.upper().startswith("FROM ")]
    airflow = _locked("apache-airflow")
    (requirement,) = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "apache-airflow"]
    assert airflow in requirement.specifier, (airflow, str(requirement))
    python = re.search(r">=(3\.\d+)", project["requires-python"]).group(1)  # type: ignore[union-attr]
    assert base == f"apache/airflow:{airflow}-python{python}"


def test_dockerfile_installs_the_package_with_its_production_extras(project: dict[str, Any]) -> None:
    lines = _dockerfile_lines()
    (install,) = [ln for ln in lines if ln.startswith("RUN pip install")]
    extras = set(re.search(r"\.\[([a-z0-9,]+)\]", install).group(1).split(","))  # type: ignore[union-attr]
    assert extras == {"postgres", "celery", "s3"}
    assert extras <= set(project["optional-dependencies"])
    assert re.search(r"apache-airflow==([\d.]+)", install).group(1) == _locked("apache-airflow")  # type: ignore[union-attr]
    copied = {ln.split()[-2].rstrip("/") for ln in lines if ln.startswith("COPY")}
    assert {"specs", "expectations", "dags", "plugins"} <= copied, copied
    assert [ln for ln in lines if ln.startswith("USER ")][-1] == "USER airflow", "the image must not run as root"
