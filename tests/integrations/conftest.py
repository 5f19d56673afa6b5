"""Real services for the source tests: a moto S3 server on loopback, and this machine's PostgreSQL.

The moto server is started once per session as its own process
(``python -m moto.server`` on 127.0.0.1 and a free port) and stopped after;
every test gets a bucket of its own. PostgreSQL is the machine's own
(127.0.0.1:5432, trust auth, database ``test``); every test gets a uniquely
named table, dropped afterwards. Airflow connections are given the way an
operator would give them: ``AIRFLOW_CONN_<ID>`` environment variables.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.pipeline.conftest import content_spec, valid_log, ws  # noqa: F401  (shared fixtures)

S3_CONN = "ad_test_s3"
PG_CONN = "ad_test_pg"
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a standalone moto S3 server (its own process, stopped after the session)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("moto server did not accept connections within 30 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def s3_connection(endpoint: str, **extra: Any) -> str:
    """The JSON an operator would put in ``AIRFLOW_CONN_<ID>`` for the moto server."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing-key",
            "password": "testing-secret",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1", **extra},
        }
    )


@pytest.fixture(scope="session")
def s3_env(moto_endpoint: str) -> Iterator[str]:
    """The connection ``ad_test_s3`` pointing at the moto server, for the whole session."""
    key = f"AIRFLOW_CONN_{S3_CONN.upper()}"
    old = os.environ.get(key)
    os.environ[key] = s3_connection(moto_endpoint)
    yield S3_CONN
    if old is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = old


@pytest.fixture
def bucket(s3_env: str, moto_endpoint: str) -> str:
    """A fresh bucket on the moto server."""
    import boto3

    name = f"ad-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing-key",
        aws_secret_access_key="testing-secret",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3fs_client(moto_endpoint: str) -> Any:
    """An s3fs file system on the moto server, to put and read test objects."""
    import s3fs

    return s3fs.S3FileSystem(
        key="testing-key",
        secret="testing-secret",
        endpoint_url=moto_endpoint,
        client_kwargs={"region_name": "us-east-1"},
        skip_instance_cache=True,
    )


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Any]:
    """An engine on the machine's PostgreSQL (database ``test``)."""
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:  # pragma: no cover - the machine runs it
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({error}); start it (see the machine notes).")
    key = f"AIRFLOW_CONN_{PG_CONN.upper()}"
    old = os.environ.get(key)
    os.environ[key] = "postgresql://postgres@127.0.0.1:5432/test"
    yield engine
    if old is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = old
    engine.dispose()


@pytest.fixture
def pg_table(pg_engine: Any) -> Iterator[str]:
    """A unique table name; the table is dropped after the test."""
    import sqlalchemy as sa

    name = f"ad_test_{uuid.uuid4().hex[:12]}"
    yield name
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
