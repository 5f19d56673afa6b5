"""A local alert receiver for the demo: an HTTP server on loopback that keeps every JSON alert it is sent.

The demo adds a ``webhook`` route to its spec whose Airflow connection points
here, so the monitor DAG's ``notify`` task delivers its alerts through the
HTTP provider's ``HttpNotifier`` exactly as it would to a real endpoint. Each
alert (schema ``alignment-drift/alert@1``) is kept in memory and written, as
the bytes received, to ``<folder>/NNN.json``.

The server binds ``127.0.0.1`` on a port the system chooses, answers only
``POST``, refuses a body larger than ``max_bytes`` (413), without a length
(411), or that is not a JSON object of the alert schema (400), and never
blocks longer than ``timeout`` seconds on a slow client.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from alignment_drift.integrations.alerts import ALERT_SCHEMA

__all__ = ["DEFAULT_MAX_BYTES", "AlertReceiver"]

#: An alert is a few kilobytes; anything above this is refused unread.
DEFAULT_MAX_BYTES = 256 * 1024


class AlertReceiver:
    """A loopback HTTP receiver of JSON alerts, run in a thread.

    Parameters
    ----------
    folder : path
        Where each alert is written as ``NNN.json`` (numbered after the files already there).
    max_bytes : int, default=DEFAULT_MAX_BYTES
        The largest body accepted.
    timeout : float, default=10.0
        Seconds a connection may stay silent.

    Examples
    --------
    >>> with AlertReceiver(folder) as receiver:  # doctest: +SKIP
    ...     receiver.connection()  # the Airflow connection of a webhook route
    {'conn_type': 'http', 'host': '127.0.0.1', 'port': 43117, 'schema': 'http'}
    """

    def __init__(self, folder: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = 10.0) -> None:
        if max_bytes < 1:
            raise ValueError(f"The 'max_bytes' parameter must be >= 1. Got {max_bytes} instead.")
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.alerts: list[dict[str, Any]] = []
        self.files: list[Path] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the receiver listens on (it must be started)."""
        if self._server is None:
            raise RuntimeError("The alert receiver is not running: call start() (or use it as a context manager).")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection(self) -> dict[str, Any]:
        """The Airflow ``http`` connection that points at the receiver (for ``AIRFLOW_CONN_<ID>``)."""
        return {"conn_type": "http", "host": "127.0.0.1", "port": self.port, "schema": "http"}

    def start(self) -> AlertReceiver:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="alert-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AlertReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self, since: int = 0) -> list[dict[str, Any]]:
        """The alerts received so far, from the ``since``-th on (a copy)."""
        with self._lock:
            return list(self.alerts[since:])

    def _keep(self, body: bytes, alert: dict[str, Any]) -> Path:
        with self._lock:
            taken = [int(p.stem) for p in self.folder.glob("[0-9][0-9][0-9]*.json") if p.stem.isdigit()]
            path = self.folder / f"{max(taken, default=0) + 1:03d}.json"
            path.write_bytes(body)
            self.alerts.append(alert)
            self.files.append(path)
            return path


def _problem(body: bytes) -> tuple[dict[str, Any] | None, str]:
    """The alert in ``body``, or why it is not one."""
    try:
        alert = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        return None, f"the body is not JSON ({error}); send a JSON alert of schema {ALERT_SCHEMA}"
    if not isinstance(alert, dict):
        return None, f"the body is JSON but not an object; send a JSON alert of schema {ALERT_SCHEMA}"
    if alert.get("schema") != ALERT_SCHEMA:
        return None, f"the JSON object has schema {alert.get('schema')!r}, not {ALERT_SCHEMA!r}"
    return alert, ""


def _handler(receiver: AlertReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = receiver.timeout

        def _answer(self, status: HTTPStatus, text: str) -> None:
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if status != HTTPStatus.OK:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = self.headers.get("Content-Length")
            if length is None or not length.strip().isdigit():
                self._answer(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
                return
            size = int(length)
            if size > receiver.max_bytes:
                self._answer(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"the body is {size} bytes; this receiver takes at most {receiver.max_bytes}",
                )
                return
            body = self.rfile.read(size)
            alert, problem = _problem(body)
            if alert is None:
                self._answer(HTTPStatus.BAD_REQUEST, problem)
                return
            path = receiver._keep(body, alert)
            self._answer(HTTPStatus.OK, f"kept as {path.name}")

        def log_message(self, format: str, *args: Any) -> None:  # the demo's table is the output
            pass

    return Handler
