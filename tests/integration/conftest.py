"""A real ``mlflow server`` process on loopback: sqlite backend and file artifacts in a temporary folder.

The server can be stopped (the process terminated) and started again on the
same store, to show what alignment-drift does while the tracking server is down.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

MLFLOW = Path(sys.executable).with_name("mlflow")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MlflowServer:
    """``mlflow server`` on 127.0.0.1:<free port> over a sqlite store that outlives the process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.artifacts = (folder / "artifacts").as_uri()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        log = open(self.folder / "server.log", "ab")
        self.proc = subprocess.Popen(
            [
                str(MLFLOW),
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.folder / 'mlflow.db'}",
                "--default-artifact-root",
                self.artifacts,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited with {self.proc.returncode}: "
                    f"{(self.folder / 'server.log').read_text()[-2000:]}"
                )
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.uri}/health", timeout=1) as resp:
                if resp.status == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer /health within {timeout} s")
            time.sleep(0.25)

    def stop(self) -> None:
        """Terminate the server process (and its gunicorn/uvicorn worker) and wait until the port is closed."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.2)
        raise RuntimeError(f"port {self.port} still accepts connections after the server was stopped")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_settings(mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Settings on the server, a spool of the test's own and short retries (the server is stopped on purpose)."""
    from alignment_drift.settings import Settings

    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_TRIES", "3")
    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_BACKOFF", "0.2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPOOL_DIR", str(tmp_path / "spool"))
    return dataclasses.replace(
        Settings.from_env(), tracking_uri=mlflow_server.uri, artifact_root=mlflow_server.artifacts, data_dir=tmp_path
    )
