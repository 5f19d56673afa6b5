"""Airflow connections resolved at the edge into plain values: SQLAlchemy URLs and fsspec storage options."""

from __future__ import annotations

import json
from typing import Any

import pytest


def _conn(**fields: Any) -> Any:
    from airflow.sdk import Connection

    extra = fields.pop("extra", None)
    return Connection(conn_id=fields.pop("conn_id", "c"), extra=json.dumps(extra) if extra else None, **fields)


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        pytest.param(
            dict(conn_type="postgres", host="db", login="u", password="p@ss", port=5432, schema="logs"),
            "postgresql+psycopg2://u:p%40ss@db:5432/logs",
            id="postgres",
        ),
        pytest.param(
            dict(conn_type="postgres", host="db", schema="logs", extra={"sslmode": "require"}),
            "postgresql+psycopg2://db/logs?sslmode=require",
            id="postgres-sslmode",
        ),
        pytest.param(
            dict(conn_type="mysql", host="db", login="u", schema="logs"), "mysql+pymysql://u@db/logs", id="mysql"
        ),
        pytest.param(dict(conn_type="sqlite", host="/tmp/x.db"), "sqlite:////tmp/x.db", id="sqlite"),
        pytest.param(
            dict(conn_type="generic", extra={"sqlalchemy_url": "duckdb:///x.duckdb"}),
            "duckdb:///x.duckdb",
            id="explicit-url",
        ),
        pytest.param(
            dict(conn_type="postgres", host="db", extra={"sqlalchemy_scheme": "postgresql+psycopg"}),
            "postgresql+psycopg://db",
            id="scheme-override",
        ),
    ],
)
def test_sqlalchemy_urls(fields: dict[str, Any], url: str) -> None:
    from alignment_drift.airflow.connections import sqlalchemy_url

    assert sqlalchemy_url(_conn(**fields)) == url


def test_an_unknown_database_type_names_the_fix() -> None:
    from alignment_drift.airflow.connections import sqlalchemy_url

    with pytest.raises(ValueError, match="sqlalchemy_url"):
        sqlalchemy_url(_conn(conn_type="http", host="x"))


@pytest.mark.parametrize(
    ("fields", "protocol", "options"),
    [
        pytest.param(
            dict(
                conn_type="aws",
                login="AK",
                password="SK",
                extra={"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1", "aws_session_token": "T"},
            ),
            "s3",
            {
                "key": "AK",
                "secret": "SK",
                "token": "T",
                "endpoint_url": "http://127.0.0.1:9000",
                "client_kwargs": {"region_name": "eu-west-1"},
            },
            id="aws",
        ),
        pytest.param(
            dict(conn_type="aws", extra={"service_config": {"s3": {"endpoint_url": "http://minio"}}}),
            "s3",
            {"endpoint_url": "http://minio"},
            id="aws-service-config-no-keys",
        ),
        pytest.param(
            dict(conn_type="google_cloud_platform", extra={"key_path": "/k.json", "project": "p"}),
            "gs",
            {"token": "/k.json", "project": "p"},
            id="gcs",
        ),
        pytest.param(
            dict(conn_type="wasb", login="acct", password="key"),
            "abfs",
            {"account_name": "acct", "account_key": "key"},
            id="azure",
        ),
        pytest.param(
            dict(conn_type="fs", extra={"storage_options": {"auto_mkdir": True}}),
            "file",
            {"auto_mkdir": True},
            id="explicit-storage-options",
        ),
    ],
)
def test_storage_options(fields: dict[str, Any], protocol: str, options: dict[str, Any]) -> None:
    from alignment_drift.airflow.connections import storage_options

    assert storage_options(_conn(**fields), protocol) == options


def test_connections_come_from_airflow_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_drift.airflow.connections import AirflowConnections, ConnectionNotFound

    monkeypatch.setenv("AIRFLOW_CONN_AD_TEST_ENV_PG", "postgresql://reader:pw@warehouse:5433/preds")
    assert (
        AirflowConnections().sqlalchemy_url("ad_test_env_pg") == "postgresql+psycopg2://reader:pw@warehouse:5433/preds"
    )
    with pytest.raises(ConnectionNotFound, match="AIRFLOW_CONN_AD_TEST_NOT_THERE") as caught:
        AirflowConnections().sqlalchemy_url("ad_test_not_there")
    assert "Fix:" in str(caught.value)


def test_the_resolver_registry_needs_a_resolver_and_says_how_to_get_one() -> None:
    import alignment_drift.airflow.connections as edge
    from alignment_drift.integrations.sources import SourceError
    from alignment_drift.integrations.sources.connections import register_connection_resolver, resolve_resolver

    with pytest.raises(TypeError, match="sqlalchemy_url"):
        register_connection_resolver(object())  # type: ignore[arg-type]
    try:
        register_connection_resolver(None)
        with pytest.raises(SourceError, match=r"alignment_drift\.airflow\.connections"):
            resolve_resolver(None, "some_conn")
        explicit = edge.AirflowConnections()
        assert resolve_resolver(explicit, "some_conn") is explicit
    finally:
        register_connection_resolver(edge.AirflowConnections())
