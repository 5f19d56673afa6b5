"""Airflow connections, resolved at the edge into the plain values the sources need.

A ``sql`` source gets a SQLAlchemy URL, an ``object_store`` source fsspec
``storage_options``; integrations never see a ``Connection``. Connections are
read with ``airflow.sdk.BaseHook.get_connection``, so every place Airflow
keeps them works: the metadata DB and secrets backends inside a task, and the
``AIRFLOW_CONN_<ID>`` environment variables anywhere (the command line too).

Importing this module registers :class:`AirflowConnections` as the process's
resolver (see :mod:`alignment_drift.integrations.sources.connections`).

Mapping
-------
- SQL: the extra ``sqlalchemy_url`` as is; else ``conn_type`` -> driver
  (``postgres`` -> ``postgresql+psycopg2``, ``mysql`` -> ``mysql+pymysql``,
  ``sqlite``, ``mssql`` -> ``mssql+pymssql``; the extra ``sqlalchemy_scheme``
  overrides) with login, password, host, port and schema (the database), plus
  the extras ``sslmode``/``connect_timeout`` and the dict ``sqlalchemy_query``.
- Object stores: ``s3`` from login/password (or the extras ``aws_access_key_id``/
  ``aws_secret_access_key``), ``aws_session_token``, ``endpoint_url`` (or
  ``service_config.s3.endpoint_url``) and ``region_name``; ``gs`` from
  ``key_path``/``keyfile_dict`` and ``project``; ``az``/``abfs`` from login (account
  name), password (key) or ``connection_string``. The extra ``storage_options``
  (a dict) is merged last, for anything else fsspec accepts.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, Connection
from airflow.sdk.log import mask_secret

from alignment_drift.core.redaction import on_secret, register_mapping_secrets, register_secret
from alignment_drift.integrations.sources.connections import register_connection_resolver

__all__ = ["AirflowConnections", "ConnectionNotFound", "get_connection", "sqlalchemy_url", "storage_options"]

_DRIVERS = {
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mssql": "mssql+pymssql",
    "sqlite": "sqlite",
}


class ConnectionNotFound(LookupError):
    """The spec names an Airflow connection that is not defined."""


def get_connection(conn_id: str) -> Connection:
    """Return Airflow's connection ``conn_id``.

    Raises
    ------
    ConnectionNotFound
        When Airflow does not know it; the message shows how to define it.
    """
    if not isinstance(conn_id, str) or not conn_id.strip():
        raise ValueError(f"conn_id must be a non-empty string; got {conn_id!r}. Fix: set source.conn_id in the spec.")
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as error:
        if type(error).__name__ != "AirflowNotFoundException":
            raise
        raise ConnectionNotFound(
            f"The Airflow connection {conn_id!r} is not defined. Fix: add it (`airflow connections add "
            f"{conn_id} --conn-uri ...`) or export AIRFLOW_CONN_{conn_id.upper()}='<uri or JSON>'."
        ) from None
    # its password and secret extras are masked in everything alignment-drift writes or logs
    register_secret(conn.password)
    extra = conn.extra_dejson
    if isinstance(extra, dict):
        register_mapping_secrets(extra)
    return conn


def sqlalchemy_url(conn: Connection) -> str:
    """The SQLAlchemy URL of a database connection (see the module's mapping).

    Raises
    ------
    ValueError
        When the connection type has no known SQLAlchemy driver and no ``sqlalchemy_url`` extra.
    """
    from sqlalchemy.engine import URL

    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    scheme = extra.get("sqlalchemy_scheme") or _DRIVERS.get(str(conn.conn_type))
    if scheme is None:
        raise ValueError(
            f"Connection {conn.conn_id!r} has type {conn.conn_type!r}, which has no known SQLAlchemy driver. "
            "Fix: set its extra 'sqlalchemy_url' (or 'sqlalchemy_scheme', e.g. 'postgresql+psycopg2')."
        )
    if scheme == "sqlite":
        return f"sqlite:///{conn.host or conn.schema or ''}"
    query = {k: str(extra[k]) for k in ("sslmode", "connect_timeout") if k in extra}
    query.update({str(k): str(v) for k, v in (extra.get("sqlalchemy_query") or {}).items()})
    url = URL.create(
        scheme,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def storage_options(conn: Connection, protocol: str) -> dict[str, Any]:
    """fsspec storage options for ``protocol`` from an Airflow connection (see the module's mapping)."""
    extra = dict(conn.extra_dejson)
    explicit = extra.pop("storage_options", None) or {}
    options: dict[str, Any] = {}
    if protocol in ("s3", "s3a"):
        key = conn.login or extra.get("aws_access_key_id")
        secret = conn.password or extra.get("aws_secret_access_key")
        if key:
            options.update(key=key, secret=secret)
        if extra.get("aws_session_token"):
            options["token"] = extra["aws_session_token"]
        endpoint = extra.get("endpoint_url") or ((extra.get("service_config") or {}).get("s3") or {}).get(
            "endpoint_url"
        )
        if endpoint:
            options["endpoint_url"] = endpoint
        if extra.get("region_name"):
            options["client_kwargs"] = {"region_name": extra["region_name"]}
    elif protocol in ("gs", "gcs"):
        token = extra.get("keyfile_dict") or extra.get("key_path")
        if token:
            options["token"] = token
        if extra.get("project"):
            options["project"] = extra["project"]
    elif protocol in ("az", "abfs", "abfss", "adl"):
        if extra.get("connection_string"):
            options["connection_string"] = extra["connection_string"]
        elif conn.login:
            options.update(account_name=conn.login, account_key=conn.password)
    return {**options, **explicit}


class AirflowConnections:
    """The connection resolver of the edge: Airflow connection ids to SQLAlchemy URLs and storage options."""

    def sqlalchemy_url(self, conn_id: str) -> str:
        """The SQLAlchemy URL (with credentials) of connection ``conn_id``."""
        return sqlalchemy_url(get_connection(conn_id))

    def storage_options(self, conn_id: str, protocol: str) -> dict[str, Any]:
        """fsspec storage options for ``protocol`` from connection ``conn_id``."""
        return storage_options(get_connection(conn_id), protocol)


register_connection_resolver(AirflowConnections())
# every secret alignment-drift learns (a tracking URI's password, say) is masked in Airflow's task logs too
on_secret(mask_secret)
