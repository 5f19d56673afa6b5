"""How integrations get credentials without importing Airflow: a resolver of connection ids.

A resolver turns an Airflow connection id into plain values: a SQLAlchemy URL
for a ``sql`` source, fsspec ``storage_options`` for an ``object_store``
source. The edge provides one (:class:`alignment_drift.airflow.connections.AirflowConnections`)
and either passes it down explicitly (``connections=``) or registers it for the
process with :func:`register_connection_resolver` (importing that module does).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

from alignment_drift.integrations.sources.base import SourceError

__all__ = ["ConnectionResolver", "register_connection_resolver", "resolve_resolver"]

_LOCK = threading.Lock()
_REGISTERED: list[ConnectionResolver] = []


@runtime_checkable
class ConnectionResolver(Protocol):
    """Turns connection ids into the plain values the sources need."""

    def sqlalchemy_url(self, conn_id: str) -> str:
        """The SQLAlchemy URL (with credentials) of connection ``conn_id``."""
        ...

    def storage_options(self, conn_id: str, protocol: str) -> dict[str, Any]:
        """fsspec storage options for ``protocol`` (``s3``, ``gs``, ``file`` ...) from ``conn_id``."""
        ...


def register_connection_resolver(resolver: ConnectionResolver | None) -> None:
    """Make ``resolver`` the process default (``None`` clears it).

    Raises
    ------
    TypeError
        If ``resolver`` lacks ``sqlalchemy_url`` or ``storage_options``.
    """
    if resolver is not None and not isinstance(resolver, ConnectionResolver):
        raise TypeError(
            f"{type(resolver).__name__} is not a connection resolver. Fix: give it the methods "
            "sqlalchemy_url(conn_id) and storage_options(conn_id, protocol)."
        )
    with _LOCK:
        _REGISTERED[:] = [] if resolver is None else [resolver]


def resolve_resolver(explicit: ConnectionResolver | None, conn_id: str) -> ConnectionResolver:
    """The resolver to use for ``conn_id``: the one passed in, else the registered one.

    Raises
    ------
    SourceError
        When neither exists.
    """
    if explicit is not None:
        return explicit
    with _LOCK:
        if _REGISTERED:
            return _REGISTERED[0]
    raise SourceError(
        f"The source needs the Airflow connection {conn_id!r}, but no connection resolver was given. "
        "Fix: pass connections=alignment_drift.airflow.connections.AirflowConnections() to the pipeline step, "
        "or import alignment_drift.airflow.connections once in the process (it registers itself)."
    )
