"""The production topology as real processes on loopback: what docker/docker-compose.yaml runs in containers.

:class:`Topology` creates two temporary PostgreSQL databases on the machine's
server (Airflow metadata and Celery results, MLflow's backend store), claims an
empty Redis database index for the Celery broker, and starts, each in its own
process group with its output in ``<workdir>/logs/<service>.log``:

- an S3-protocol server (moto, standing in for MinIO) holding MLflow's artifacts,
- ``mlflow server`` on PostgreSQL with ``--artifacts-destination s3://mlflow/artifacts``,
- ``airflow db migrate`` (compose: airflow-init), then ``airflow api-server``,
  ``scheduler``, ``dag-processor``, ``triggerer`` and one ``celery worker``
  (CeleryExecutor), every one on free loopback ports.

Every start waits, bounded, for the service's health check (the compose file's
own: HTTP health paths, ``airflow jobs check``, ``celery inspect ping``); a
service that exits or stays unhealthy raises :class:`ServiceError` naming it
with the tail of its log. :meth:`Topology.stop` stops everything (process
groups and their descendants, SIGTERM then SIGKILL), drops the databases and
empties the Redis index, also after a failed start.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from tests.integration.topology import env as contract

__all__ = ["PG_ADMIN_URL", "REDIS_HOST", "Service", "ServiceError", "Topology", "free_port"]

PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
PG_SERVER = "postgres@127.0.0.1:5432"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BIN = Path(sys.executable).parent
S3_KEY, S3_SECRET, S3_REGION = "testing-key", "testing-secret", "us-east-1"
MLFLOW_BUCKET, DATA_BUCKET = "mlflow", "prediction-logs"
ADMIN = "admin"


class ServiceError(RuntimeError):
    """A service of the topology failed to start, stay up or stop."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(taken: set[int] | None = None) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, below the kernel's ephemeral range.

    Services start a minute or more after their ports are chosen; a port from the
    ephemeral range could meanwhile become the local end of some client connection.
    """
    low, _ = _ephemeral_range()
    for port in random.sample(range(max(1024, low - 12000), low), 200):
        if taken and port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ServiceError(f"No free TCP port found on 127.0.0.1 below {low}.")


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def http_ok(url: str, timeout: float = 3.0) -> bool:
    """Whether ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def command_ok(argv: Sequence[str], env: dict[str, str], timeout: float = 60.0) -> bool:
    """Whether a health-check command exits 0 within ``timeout``."""
    try:
        done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


class Service:
    """One long-running service: a real process in its own process group, its output in a log file.

    Parameters
    ----------
    name : str
        The compose service name (used in every error message).
    argv : sequence of str
        The command.
    env : dict
        The whole environment of the process.
    log : Path
        Where stdout and stderr go (appended across restarts).
    health : callable
        Returns True once the service is healthy.
    cwd : Path
        The working directory.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        log: Path,
        health: Callable[[], bool],
        cwd: Path,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log = log
        self.health = health
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def launch(self) -> None:
        """Start the process (not waiting for health)."""
        if self.running():
            raise ServiceError(f"{self.name} is already running (pid {self.pid}).")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.log.open("ab")
        self._out.write(f"\n==== {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
        self._out.flush()
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_healthy(self, timeout: float, interval: float = 1.0) -> float:
        """Wait until the health check passes; return the seconds waited.

        Raises
        ------
        ServiceError
            When the process exits first or the check does not pass within ``timeout``.
        """
        began = time.monotonic()
        deadline = began + timeout
        while True:
            if not self.running():
                code = self.proc.returncode if self.proc is not None else None
                raise ServiceError(
                    f"{self.name} exited with {code} before it was healthy. Last lines of {self.log}:\n{tail(self.log)}"
                )
            if self.health():
                return time.monotonic() - began
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{self.name} was not healthy within {timeout:.0f} s. Last lines of {self.log}:\n{tail(self.log)}"
                )
            time.sleep(interval)

    def start(self, timeout: float) -> float:
        self.launch()
        return self.wait_healthy(timeout)

    def _tree(self) -> list[Any]:
        import psutil

        if self.proc is None:
            return []
        try:
            parent = psutil.Process(self.proc.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _signal(self, sig: int, tree: list[Any]) -> None:
        import psutil

        assert self.proc is not None
        group = self.proc.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
        for process in tree:  # descendants that left the group (a process that started its own session)
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
                if os.getpgid(process.pid) != group:
                    process.send_signal(sig)

    def _reap(self, tree: list[Any], timeout: float) -> bool:
        import psutil

        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        _, alive = psutil.wait_procs(tree, timeout=max(1.0, timeout / 4))
        return not alive

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the process group and its descendants; SIGKILL what is left after ``timeout``."""
        if self.proc is None:
            return
        tree = self._tree()
        if self.proc.poll() is None or tree:
            self._signal(signal.SIGTERM, tree)
            if not self._reap(tree, timeout):
                self._signal(signal.SIGKILL, self._tree() or tree)
                self._reap(tree, 10.0)
        self._close()

    def kill(self) -> list[int]:
        """SIGKILL the process group and every descendant at once (a lost container); return the pids."""
        if self.proc is None:
            return []
        tree = self._tree()
        self._signal(signal.SIGKILL, tree)
        self._reap(tree, 10.0)
        self._close()
        return [p.pid for p in tree]

    def _close(self) -> None:
        if self._out is not None:
            self._out.write(f"==== {time.strftime('%H:%M:%S')} stopped\n".encode())
            self._out.close()
            self._out = None
        self.proc = None


class Topology:
    """The production topology on this machine: PostgreSQL, Redis, S3, mlflow server and Airflow on Celery.

    Parameters
    ----------
    root : Path
        The repository (its ``dags/`` and ``expectations/`` are used as they are).
    workdir : Path
        A temporary folder: Airflow home, logs, data.
    specs_dir : Path
        The alignment specs the DAG file builds DAGs from.
    data_dir : Path
        ``ALIGNMENT_DRIFT_DATA_DIR`` (prediction logs, evidence, quarantine, spool).
    worker_concurrency : int
        Task slots of the Celery worker.
    heartbeat_timeout : int
        Seconds without a task heartbeat after which the scheduler fails (and retries) a task.
    """

    def __init__(
        self,
        root: Path,
        workdir: Path,
        *,
        specs_dir: Path,
        data_dir: Path,
        worker_concurrency: int = 2,
        heartbeat_timeout: int = 60,
    ) -> None:
        self.root = root
        self.workdir = workdir
        self.specs_dir = specs_dir
        self.data_dir = data_dir
        self.logs = workdir / "logs"
        self.home = workdir / "airflow"
        self.run = uuid.uuid4().hex[:10]
        self.airflow_db = f"ad_it_{self.run}_airflow"
        self.mlflow_db = f"ad_it_{self.run}_mlflow"
        self.redis_db: int | None = None
        self.ports: dict[str, int] = {}
        for name in ("api", "scheduler_health", "worker_logs", "trigger_logs", "mlflow", "s3"):
            self.ports[name] = free_port(set(self.ports.values()))
        self.password = secrets.token_urlsafe(16)
        self.worker_concurrency = worker_concurrency
        self.heartbeat_timeout = heartbeat_timeout
        self.hostname = socket.gethostname()
        self.services: dict[str, Service] = {}
        self._databases: list[str] = []
        self._engine: Any = None
        self._token: tuple[str, float] | None = None
        self.timings: dict[str, float] = {}

    # ---------------------------------------------------------------- addresses and environments
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['mlflow']}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def db_url(self, name: str, scheme: str = "postgresql+psycopg2") -> str:
        return f"{scheme}://{PG_SERVER}/{name}"

    def _base_env(self) -> dict[str, str]:
        """The inherited environment without any Airflow, alignment-drift, MLflow or AWS setting of the caller."""
        drop = ("AIRFLOW_", "AIRFLOW__", "ALIGNMENT_DRIFT_", "MLFLOW_", "AWS_", "GX_")
        base = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"
        base["PYTHONUNBUFFERED"] = "1"
        return base

    def airflow_env(self) -> dict[str, str]:
        """The environment of every Airflow process: exactly the contract's names, plus AIRFLOW_HOME."""
        from cryptography.fernet import Fernet

        if not hasattr(self, "_secrets"):
            self._secrets = {
                "fernet": Fernet.generate_key().decode(),
                "jwt": secrets.token_urlsafe(64),
                "api": secrets.token_urlsafe(32),
            }
        api = self.ports["api"]
        values = {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__CORE__FERNET_KEY": self._secrets["fernet"],
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.root / "dags"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__PARALLELISM": str(2 * self.worker_concurrency),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url(self.airflow_db),
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": self.db_url(self.airflow_db, "db+postgresql"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api),
            "AIRFLOW__API__SECRET_KEY": self._secrets["api"],
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["jwt"],
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.ports["scheduler_health"]),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout),
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "180",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports["worker_logs"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["trigger_logs"]),
            **self.task_env(),
        }
        host = {"AIRFLOW_HOME": str(self.home)}
        assert set(host) == set(contract.HOST_ONLY_ENV)
        return {**self._base_env(), **host, **contract.airflow_process_env(values)}

    def task_env(self) -> dict[str, str]:
        """What the tasks read (alignment-drift and the MLflow client), as the contract names it."""
        connection = {
            "conn_type": "aws",
            "login": S3_KEY,
            "password": S3_SECRET,
            "extra": {"endpoint_url": self.s3_url, "region_name": S3_REGION},
        }
        return {
            "ALIGNMENT_DRIFT_HOME": str(self.root),
            "ALIGNMENT_DRIFT_SPECS_DIR": str(self.specs_dir),
            "ALIGNMENT_DRIFT_EXPECTATIONS_DIR": str(self.root / "expectations"),
            "ALIGNMENT_DRIFT_DATA_DIR": str(self.data_dir),
            "ALIGNMENT_DRIFT_SPOOL_DIR": str(self.spool_dir),
            "ALIGNMENT_DRIFT_ARTIFACT_ROOT": "mlflow-artifacts:/alignment-drift",
            "ALIGNMENT_DRIFT_MLFLOW_TRIES": "3",
            "ALIGNMENT_DRIFT_MLFLOW_BACKOFF": "0.5",
            "MLFLOW_TRACKING_URI": self.mlflow_url,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "GX_ANALYTICS_ENABLED": "false",
            "AIRFLOW_CONN_PREDICTION_LOGS": json.dumps(connection),
        }

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "_spool"

    def mlflow_env(self) -> dict[str, str]:
        values = {
            "MLFLOW_S3_ENDPOINT_URL": self.s3_url,
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": S3_REGION,
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        return {**self._base_env(), **contract.mlflow_server_env(values)}

    def mlflow_argv(self) -> list[str]:
        port = self.ports["mlflow"]
        values = {
            "--backend-store-uri": self.db_url(self.mlflow_db),
            "--artifacts-destination": f"s3://{MLFLOW_BUCKET}/artifacts",
            "--host": "127.0.0.1",
            "--port": str(port),
            "--workers": "1",
            "--allowed-hosts": f"127.0.0.1:{port},localhost:{port}",
        }
        argv = [str(BIN / "mlflow"), "server"]
        for flag in contract.MLFLOW_SERVER_FLAGS:
            argv += [flag] if flag == "--serve-artifacts" else [flag, values[flag]]
        return argv

    # ---------------------------------------------------------------- the shared backing services
    def _create_databases(self) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for name in (self.airflow_db, self.mlflow_db):
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                    self._databases.append(name)
        except sa.exc.OperationalError as error:
            raise ServiceError(
                f"postgres: cannot create the run's databases on {PG_SERVER} ({error}). "
                "Fix: start the machine's PostgreSQL (trust auth for user postgres on 127.0.0.1:5432)."
            ) from error
        finally:
            engine.dispose()

    def _drop_databases(self) -> list[str]:
        import sqlalchemy as sa

        problems = []
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for name in list(self._databases):
                    try:
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        self._databases.remove(name)
                    except sa.exc.SQLAlchemyError as error:
                        problems.append(f"postgres: could not drop {name}: {error}")
        finally:
            engine.dispose()
        return problems

    def _claim_redis_db(self) -> None:
        import redis

        try:
            for index in random.sample(range(1, 16), 15):
                client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index, socket_timeout=5)
                if client.dbsize() == 0 and client.set("alignment-drift-integration", self.run, nx=True):
                    self.redis_db = index
                    return
        except redis.RedisError as error:
            raise ServiceError(
                f"redis: {REDIS_HOST}:{REDIS_PORT} is not usable ({error}). Fix: start the machine's Redis."
            ) from error
        raise ServiceError("redis: no empty database index (1-15) is free for this run's Celery broker.")

    def _release_redis_db(self) -> None:
        import redis

        if self.redis_db is not None:
            with contextlib.suppress(redis.RedisError):
                redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.redis_db, socket_timeout=5).flushdb()
            self.redis_db = None

    def s3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name=S3_REGION,
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
        )

    def _s3_healthy(self) -> bool:
        try:
            self.s3_client().list_buckets()
        except Exception:
            return False
        return True

    # ---------------------------------------------------------------- Airflow
    def airflow(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` command with the topology's environment (logged to ``logs/airflow-cli.log``)."""
        done = subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.airflow_env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        with (self.logs / "airflow-cli.log").open("a") as log:
            log.write(f"==== airflow {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}\n")
        return done

    def _airflow_service(self, name: str, health: Callable[[], bool]) -> Service:
        return Service(
            name,
            [str(BIN / "airflow"), *contract.AIRFLOW_COMMANDS[name]],
            env=self.airflow_env(),
            log=self.logs / f"{name}.log",
            health=health,
            cwd=self.workdir,
        )

    def _job_alive(self, name: str) -> Callable[[], bool]:
        argv = [str(BIN / "airflow"), "jobs", "check", "--job-type", contract.JOB_TYPES[name], "--local"]
        return lambda: command_ok(argv, self.airflow_env())

    def _worker_alive(self) -> bool:
        argv = contract.worker_ping(self.hostname)
        return command_ok([str(BIN / argv[0]), *argv[1:]], self.airflow_env(), timeout=30)

    def _build_services(self) -> None:
        self.services["s3"] = Service(
            "s3",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.ports["s3"])],
            env=self._base_env(),
            log=self.logs / "s3.log",
            health=self._s3_healthy,
            cwd=self.workdir,
        )
        self.services["mlflow"] = Service(
            "mlflow",
            self.mlflow_argv(),
            env=self.mlflow_env(),
            log=self.logs / "mlflow.log",
            health=lambda: http_ok(self.mlflow_url + contract.HEALTH_PATHS["mlflow"]),
            cwd=self.workdir,
        )
        health: dict[str, Callable[[], bool]] = {
            "airflow-apiserver": lambda: http_ok(self.api_url + contract.HEALTH_PATHS["airflow-apiserver"]),
            "airflow-scheduler": lambda: http_ok(
                f"http://127.0.0.1:{self.ports['scheduler_health']}{contract.HEALTH_PATHS['airflow-scheduler']}"
            ),
            "airflow-dag-processor": self._job_alive("airflow-dag-processor"),
            "airflow-triggerer": self._job_alive("airflow-triggerer"),
            "airflow-worker": self._worker_alive,
        }
        for name in contract.AIRFLOW_COMMANDS:
            self.services[name] = self._airflow_service(name, health[name])

    def start(self) -> None:
        """Start everything, in dependency order, each bounded by its health wait; stop all on failure."""
        began = time.monotonic()
        try:
            self.logs.mkdir(parents=True, exist_ok=True)
            self.home.mkdir(parents=True, exist_ok=True)
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            (self.home / "passwords.json").write_text(json.dumps({ADMIN: self.password}))
            self._create_databases()
            self._claim_redis_db()
            self._build_services()
            self.timings["s3"] = self.services["s3"].start(timeout=60)
            s3 = self.s3_client()
            for bucket in (MLFLOW_BUCKET, DATA_BUCKET):
                s3.create_bucket(Bucket=bucket)
            self.services["mlflow"].launch()
            t0 = time.monotonic()
            migrate = self.airflow(*contract.AIRFLOW_INIT_COMMAND, timeout=600)
            if migrate.returncode != 0:
                raise ServiceError(
                    f"airflow-init (airflow db migrate) exited with {migrate.returncode}:\n"
                    f"{(migrate.stdout + migrate.stderr)[-3000:]}"
                )
            self.timings["airflow-init"] = time.monotonic() - t0
            self.timings["mlflow"] = self.services["mlflow"].wait_healthy(timeout=180)
            for name in contract.AIRFLOW_COMMANDS:
                self.services[name].launch()
            for name in contract.AIRFLOW_COMMANDS:
                self.timings[name] = self.services[name].wait_healthy(timeout=240, interval=2.0)
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - began

    def stop(self) -> list[str]:
        """Stop every service (reverse order), drop the databases, empty the Redis index; return problems."""
        problems: list[str] = []
        for name in reversed(list(self.services)):
            try:
                self.services[name].stop(timeout=30)
            except Exception as error:
                problems.append(f"{name}: {error}")
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        try:
            problems += self._drop_databases()
        except Exception as error:
            problems.append(f"postgres: {error}")
        self._release_redis_db()
        return problems

    def __enter__(self) -> Topology:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- faults
    def kill_worker(self) -> list[int]:
        """SIGKILL the Celery worker and every process under it (its running tasks die with it)."""
        return self.services["airflow-worker"].kill()

    def start_worker(self, timeout: float = 180.0) -> float:
        """Start a new Celery worker with the same command and wait until it answers a ping."""
        return self.services["airflow-worker"].start(timeout)

    def restart(self, name: str, timeout: float = 180.0) -> float:
        """Stop a service gracefully (SIGTERM) and start it again; return the seconds until it is healthy."""
        service = self.services[name]
        service.stop(timeout=60)
        return service.start(timeout)

    def stop_mlflow(self) -> None:
        """Stop the tracking server and wait until its port refuses connections."""
        self.services["mlflow"].stop(timeout=20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ports["mlflow"]), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.2)
        raise ServiceError(f"mlflow: port {self.ports['mlflow']} still accepts connections after the stop.")

    def start_mlflow(self, timeout: float = 120.0) -> float:
        return self.services["mlflow"].start(timeout)

    # ---------------------------------------------------------------- the REST API and the metadata DB
    def token(self) -> str:
        if self._token is None or self._token[1] < time.monotonic():
            body = json.dumps({"username": ADMIN, "password": self.password}).encode()
            request = urllib.request.Request(
                f"{self.api_url}/auth/token", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                self._token = (json.loads(response.read())["access_token"], time.monotonic() + 600)
        return self._token[0]

    def api(self, method: str, path: str, body: Any = None, *, timeout: float = 60.0) -> Any:
        """Call Airflow's REST API (``/api/v2``) as the admin user; raise with the answer on an error."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}/api/v2{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise ServiceError(
                f"airflow-apiserver: {method} {path} answered {error.code}: {error.read()[:2000]!r}"
            ) from error
        return json.loads(payload) if payload else None

    def sql(self, query: str, **params: Any) -> list[Any]:
        """Rows of a read-only query on the Airflow metadata DB."""
        import sqlalchemy as sa

        if self._engine is None:
            self._engine = sa.create_engine(self.db_url(self.airflow_db), pool_pre_ping=True)
        with self._engine.connect() as conn:
            return list(conn.execute(sa.text(query), params))

    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        """Poll ``condition`` until it returns a truthy value; raise naming ``what`` and the service logs."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            for name, service in self.services.items():
                if service.proc is not None and not service.running():
                    raise ServiceError(
                        f"{name} exited while waiting for {what}. Last lines of {service.log}:\n{tail(service.log)}"
                    )
            if time.monotonic() > deadline:
                raise ServiceError(f"Timed out after {timeout:.0f} s waiting for {what}. {self.log_hint()}")
            time.sleep(interval)

    def log_hint(self) -> str:
        return f"Service logs: {self.logs}; task logs: {self.home / 'logs'}."

    def task_logs(self) -> Iterator[Path]:
        yield from sorted((self.home / "logs").rglob("*.log"))

    def keep_logs(self, target: Path) -> None:
        """Copy the service and task logs somewhere that outlives the run (e.g. a CI artifact folder)."""
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.logs, target / "services", dirs_exist_ok=True)
        if (self.home / "logs").is_dir():
            shutil.copytree(self.home / "logs", target / "tasks", dirs_exist_ok=True)
