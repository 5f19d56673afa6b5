"""The demo's local alert receiver: real HTTP on loopback, bounded, keeping exactly the bytes it was sent."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alignment_drift.demo.receiver import AlertReceiver
from alignment_drift.integrations.alerts import ALERT_SCHEMA


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[AlertReceiver]:
    with AlertReceiver(tmp_path / "alerts", max_bytes=2048, timeout=5) as running:
        yield running


def _post(receiver: AlertReceiver, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        conn.request("POST", "/alerts", body=body, headers={"Content-Type": "application/json", **(headers or {})})
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def test_an_alert_is_kept_as_the_bytes_received_and_numbered(receiver: AlertReceiver) -> None:
    first = json.dumps({"schema": ALERT_SCHEMA, "event": "misaligned", "summary": "é ünïcode"}).encode()
    second = b'{"schema": "alignment-drift/alert@1",\n "event": "ungated", "model_version": "9"}'
    assert _post(receiver, first) == (200, "kept as 001.json\n")
    assert _post(receiver, second) == (200, "kept as 002.json\n")
    assert [p.name for p in sorted(receiver.folder.iterdir())] == ["001.json", "002.json"]
    assert (receiver.folder / "001.json").read_bytes() == first
    assert (receiver.folder / "002.json").read_bytes() == second, "stored as sent, not re-serialised"
    assert [a["event"] for a in receiver.received()] == ["misaligned", "ungated"]
    assert [a["event"] for a in receiver.received(1)] == ["ungated"]
    assert receiver.connection() == {"conn_type": "http", "host": "127.0.0.1", "port": receiver.port, "schema": "http"}


def test_numbering_continues_after_the_files_already_there(tmp_path: Path) -> None:
    folder = tmp_path / "alerts"
    folder.mkdir()
    (folder / "007.json").write_text("{}")
    with AlertReceiver(folder) as receiver:
        assert _post(receiver, json.dumps({"schema": ALERT_SCHEMA}).encode())[0] == 200
    assert (folder / "008.json").exists() and (folder / "007.json").read_text() == "{}"


def test_a_body_over_the_bound_is_refused_unread(receiver: AlertReceiver) -> None:
    big = json.dumps({"schema": ALERT_SCHEMA, "summary": "x" * 4000}).encode()
    status, text = _post(receiver, big)
    assert status == 413 and f"the body is {len(big)} bytes; this receiver takes at most 2048" in text
    assert receiver.received() == [] and list(receiver.folder.iterdir()) == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>not an alert</html>", "the body is not JSON"),
        (b"\xff\xfe\x00", "the body is not JSON"),
        (b'["schema", "alignment-drift/alert@1"]', "the body is JSON but not an object"),
        (b'{"schema": "someone-else@3"}', "has schema 'someone-else@3', not 'alignment-drift/alert@1'"),
    ],
)
def test_what_is_not_an_alert_is_refused_with_the_reason(receiver: AlertReceiver, body: bytes, why: str) -> None:
    status, text = _post(receiver, body)
    assert status == 400 and why in text
    assert receiver.received() == [] and list(receiver.folder.iterdir()) == []


def test_a_body_without_a_length_is_refused(receiver: AlertReceiver) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        conn.putrequest("POST", "/alerts")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(b"2\r\n{}\r\n0\r\n\r\n")
        answer = conn.getresponse()
        assert answer.status == 411 and "Content-Length" in answer.read().decode()
    finally:
        conn.close()


def test_stopped_it_frees_its_port_and_says_it_is_not_running(tmp_path: Path) -> None:
    receiver = AlertReceiver(tmp_path / "alerts").start()
    port = receiver.port
    receiver.stop()
    receiver.stop()  # idempotent
    with pytest.raises(RuntimeError, match=r"not running: call start\(\)"):
        _ = receiver.port
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).connect()
    with pytest.raises(ValueError, match=r"'max_bytes' parameter must be >= 1\. Got 0 instead"):
        AlertReceiver(tmp_path, max_bytes=0)
