"""Alerts through Airflow's provider notifiers, received by real servers on loopback.

An SMTP server (aiosmtpd, with login) receives the e-mail of ``SmtpNotifier``;
an HTTP server (``http.server`` in a thread) receives the Slack webhook of
``SlackWebhookNotifier`` (the connection's host points at it) and the JSON of
``HttpNotifier``. Connections are given as an operator would:
``AIRFLOW_CONN_<ID>`` variables. Incidents are tracked into a real incidents
folder and their check runs are real MLflow runs.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import email
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.pipeline.conftest import content_spec, valid_log, ws  # noqa: F401  (a real night of the simulator)

MODEL = "content_safety"
SLACK_TOKEN = "T0000/B0000/slack-webhook-secret"
SMTP_PASSWORD = "smtp-pass-4242"
HOOK_PASSWORD = "hook-pass-9898"
HOSTILE_REASON = "benchmark audit_unsafe_recall {{ 7 * 7 }} fell <script>alert(1)</script> below its floor"
START = dt.datetime(2026, 1, 12, tzinfo=dt.UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    port: int
    messages: list[Any] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = Mailbox(_free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(envelope)
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        box.logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"alerts" and data.password == SMTP_PASSWORD.encode())

    controller = Controller(
        Handler(), hostname="127.0.0.1", port=box.port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    yield box
    controller.stop()


@dataclass
class Receiver:
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)  # path -> status to answer once


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    got = Receiver(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            got.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = got.fail_next.pop(self.path, 200)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"broken")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got
    server.shutdown()
    server.server_close()


@pytest.fixture
def connections(mailbox: Mailbox, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    smtp = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": mailbox.port,
        "login": "alerts",
        "password": SMTP_PASSWORD,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "alignment-drift@example.com", "timeout": 10},
    }
    slack = {"conn_type": "slackwebhook", "host": f"http://127.0.0.1:{receiver.port}", "password": SLACK_TOKEN}
    hook = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": receiver.port,
        "schema": "http",
        "login": "hooks",
        "password": HOOK_PASSWORD,
    }
    for conn_id, value in (("ad_test_smtp", smtp), ("ad_test_slack", slack), ("ad_test_hook", hook)):
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))


ROUTES = [
    {"kind": "email", "conn_id": "ad_test_smtp", "to": ["oncall@example.com", "t-and-s@example.com"]},
    {"kind": "slack", "conn_id": "ad_test_slack"},
    {"kind": "webhook", "conn_id": "ad_test_hook", "endpoint": "hooks/alignment", "on": ["misaligned", "drifting"]},
]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from alignment_drift.settings import Settings

    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp_path / "incidents"))
    return Settings.from_env(tmp_path)


def _spec(root: Path, routes: list[dict[str, Any]] = ROUTES) -> Any:
    from alignment_drift.core.spec import parse_spec

    raw = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    return parse_spec({**copy.deepcopy(raw), "governance": {"notify": routes, "owners": ["ml-oncall@example.com"]}})


def _check(day: int, verdict: str = "misaligned") -> dict[str, Any]:
    start = START + dt.timedelta(days=day)
    return {
        "schema": "alignment-drift/check@1",
        "model": MODEL,
        "model_version": "6",
        "reference_version": "5",
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "source": {"uri": "file:///data/x.parquet"},
        "verdict": verdict,
        "reasons": [HOSTILE_REASON, "proxy-target gap widened by 0.3"] if verdict != "aligned" else [],
        "attribution": []
        if verdict in ("aligned", "quarantined")
        else [
            {"source": "model_update", "confidence": 0.9, "evidence": "audit recall fell"},
            {"source": "reward_misspecification", "confidence": 0.7, "evidence": "gap widened"},
        ],
        "benchmarks": [
            {
                "name": "audit_unsafe_recall",
                "kind": "metric_floor",
                "metric": "recall",
                "value": 0.61,
                "threshold": 0.66,
                "baseline": 0.71,
                "status": "fail",
                "severity": "critical",
                "detail": "",
            },
            {
                "name": "audit_roc_auc",
                "kind": "metric_floor",
                "metric": "roc_auc",
                "value": 0.95,
                "threshold": 0.935,
                "baseline": 0.96,
                "status": "pass",
                "severity": "critical",
                "detail": "",
            },
        ],
        "drift": {"columns": [{"drift": False}]},
        "action": {"retrain_requested": True, "retrain_coalesced": False, "retrain_reason": "misaligned"},
    }


def _night(spec: Any, settings: Any, day: int, verdict: str = "misaligned") -> tuple[Any, dict[str, Any]]:
    from alignment_drift.integrations.incident_tracking import track_incident
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    check = _check(day, verdict)
    run_id = client(settings).create_run(experiment_id(settings, MODEL), tags={"kind": "test"}).info.run_id
    update = track_incident(spec, settings, check, mlflow_run_id=run_id, report_path=f"/srv/reports/{day}.html")
    return update, check


def _html(message: Any) -> str:
    parsed = email.message_from_bytes(message.original_content, policy=policy.default)
    parts = [p for p in parsed.walk() if p.get_content_type() == "text/html"]
    return str(parts[0].get_content())


def test_the_first_night_tells_every_route_and_the_second_tells_no_one(
    root: Path, settings: Any, connections: None, mailbox: Mailbox, receiver: Receiver
) -> None:
    from alignment_drift.airflow.notify import notify_incident
    from alignment_drift.integrations.incident_store import get_incident

    spec = _spec(root)
    mails, posts = len(mailbox.messages), len(receiver.requests)
    update, check = _night(spec, settings, 0)
    deliveries = notify_incident(spec, update.to_dict(), check, settings=settings)
    assert [(d.kind, d.status) for d in deliveries] == [("email", "sent"), ("slack", "sent"), ("webhook", "sent")]
    incident_id = "content_safety-2026-01-12-alignment"
    run_id = update.incident.occurrences[0].check_run_id

    (mail,) = mailbox.messages[mails:]
    assert mail.mail_from == "alignment-drift@example.com"
    assert mail.rcpt_tos == ["oncall@example.com", "t-and-s@example.com"]
    assert mailbox.logins[-1] == (b"alerts", SMTP_PASSWORD.encode())
    parsed = email.message_from_bytes(mail.original_content, policy=policy.default)
    assert parsed["Subject"] == f"[alignment-drift] content_safety is MISALIGNED on 2026-01-12 (incident {incident_id})"
    body = _html(mail)
    assert "content_safety v6 was misaligned on 2026-01-12" in body
    assert "model_update (0.90), reward_misspecification (0.70)" in body
    assert "audit_unsafe_recall {{ 7 * 7 }} fell" in body, "the message is data, never a template"
    assert "audit_unsafe_recall 49 fell" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    for fact in (incident_id, "trust-and-safety-ml, ml-oncall@example.com", f"runs:/{run_id}", "/srv/reports/0.html"):
        assert fact in body

    slack, hook = receiver.requests[posts:]
    assert slack["path"] == f"/{SLACK_TOKEN}"
    text = json.loads(slack["body"])["text"]
    assert text.startswith(f"*[alignment-drift] content_safety is MISALIGNED on 2026-01-12 (incident {incident_id})*")
    assert "&lt;script&gt;" in text and "<script>" not in text and incident_id in text
    assert hook["path"] == "/hooks/alignment"
    assert hook["headers"]["Authorization"] == "Basic " + base64.b64encode(f"hooks:{HOOK_PASSWORD}".encode()).decode()
    payload = json.loads(hook["body"])
    assert payload["schema"] == "alignment-drift/alert@1" and payload["event"] == "misaligned"
    assert payload["incident"]["id"] == incident_id and payload["incident"]["owner"] == "trust-and-safety-ml"
    assert payload["links"]["mlflow_run_id"] == run_id and payload["reasons"][0] == HOSTILE_REASON
    assert [a["source"] for a in payload["attribution"]] == ["model_update", "reward_misspecification"]

    recorded = get_incident(settings, incident_id).notifications
    assert [(n.status, n.route) for n in recorded] == [("sent", d.route) for d in deliveries]

    mails, posts = len(mailbox.messages), len(receiver.requests)
    second, check2 = _night(spec, settings, 1)
    assert second.action == "occurrence_added" and not second.notify
    again = notify_incident(spec, second, check2, settings=settings)
    assert {d.status for d in again} == {"skipped"}
    rerun = notify_incident(spec, update, check, settings=settings)
    assert {d.status for d in rerun} == {"skipped"}, "a rerun of the first night sends nothing again"
    assert (len(mailbox.messages), len(receiver.requests)) == (mails, posts)


def test_a_failed_delivery_is_recorded_retried_and_never_leaks_credentials(
    root: Path,
    settings: Any,
    connections: None,
    mailbox: Mailbox,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from alignment_drift.airflow.notify import NotificationFailed, notify_incident, raise_for_deliveries
    from alignment_drift.integrations.incident_store import get_incident

    spec = _spec(root)
    receiver.fail_next[f"/{SLACK_TOKEN}"] = 500
    receiver.fail_next["/hooks/alignment"] = 503
    wrong = json.loads(__import__("os").environ["AIRFLOW_CONN_AD_TEST_SMTP"])
    refused = {**wrong, "password": "wrong-password-77", "extra": {**wrong["extra"], "timeout": 2}}
    monkeypatch.setenv("AIRFLOW_CONN_AD_TEST_SMTP", json.dumps(refused))
    update, check = _night(spec, settings, 3)
    with caplog.at_level(logging.DEBUG):
        deliveries = notify_incident(spec, update, check, settings=settings)
    assert [d.status for d in deliveries] == ["failed", "failed", "failed"]
    with pytest.raises(NotificationFailed, match="3 alert") as raised:
        raise_for_deliveries(deliveries)
    leaked = [SLACK_TOKEN, "slack-webhook-secret", HOOK_PASSWORD, "wrong-password-77", SMTP_PASSWORD]
    recorded = get_incident(settings, update.incident.id)
    for text in [str(raised.value), caplog.text, json.dumps(recorded.to_dict())]:
        assert not [secret for secret in leaked if secret in text]
    assert all(n.status == "failed" and n.error for n in recorded.notifications)

    monkeypatch.setenv("AIRFLOW_CONN_AD_TEST_SMTP", json.dumps(wrong))
    mails, posts = len(mailbox.messages), len(receiver.requests)
    retried = notify_incident(spec, update, check, settings=settings)
    assert [d.status for d in retried] == ["sent", "sent", "sent"]
    raise_for_deliveries(retried)
    assert (len(mailbox.messages) - mails, len(receiver.requests) - posts) == (1, 2)
    assert [n.status for n in get_incident(settings, update.incident.id).notifications] == ["failed"] * 3 + ["sent"] * 3


def test_an_escalation_tells_the_routes_that_wait_for_misaligned(
    root: Path, settings: Any, connections: None, mailbox: Mailbox, receiver: Receiver
) -> None:
    from alignment_drift.airflow.notify import notify_incident

    spec = _spec(root)
    posts = len(receiver.requests)
    drifting, check = _night(spec, settings, 5, "drifting")
    first = notify_incident(spec, drifting, check, settings=settings)
    assert [(d.kind, d.status, d.event) for d in first] == [("webhook", "sent", "drifting")]
    mails = len(mailbox.messages)
    worse, check = _night(spec, settings, 6, "misaligned")
    assert worse.escalated and worse.notify
    second = notify_incident(spec, worse, check, settings=settings)
    assert sorted((d.kind, d.status) for d in second) == [("email", "sent"), ("slack", "sent"), ("webhook", "skipped")]
    assert len(mailbox.messages) == mails + 1 and len(receiver.requests) == posts + 2


def test_quarantine_and_gate_events_and_resolved_incidents(
    root: Path, settings: Any, connections: None, mailbox: Mailbox, receiver: Receiver
) -> None:
    from alignment_drift.airflow.notify import notify_incident, send_alert
    from alignment_drift.integrations.alerts import gate_alert
    from alignment_drift.integrations.incident_actions import resolve_incident

    spec = _spec(root)
    posts = len(receiver.requests)
    quarantined, check = _night(spec, settings, 8, "quarantined")
    sent = notify_incident(spec, quarantined, check, settings=settings)
    assert [(d.kind, d.event) for d in sent] == [("email", "quarantined"), ("slack", "quarantined")]
    assert "batch of 2026-01-20 was quarantined" in json.loads(receiver.requests[-1]["body"])["text"]

    alert = gate_alert(spec, event="gate_rejected", model_version="9", reason="recall 0.61 < champion 0.70 - 0.02")
    assert [d.status for d in send_alert(spec, alert)] == ["sent", "sent"]
    assert "gate rejected" in json.loads(receiver.requests[-1]["body"])["text"]

    resolve_incident(settings, quarantined.incident.id, by="ada", note="batch re-exported")
    posts = len(receiver.requests)
    assert notify_incident(spec, quarantined, check, settings=settings) == []
    assert len(receiver.requests) == posts
    assert notify_incident(_spec(root, []), quarantined, check, settings=settings) == []
    with pytest.raises(ValueError, match="'event' parameter must be 'gate_rejected' or 'ungated'"):
        gate_alert(spec, event="misaligned", model_version=None, reason="x")


def test_a_real_quarantined_night_is_recorded_tracked_told_once_and_fails_its_run(
    request: pytest.FixtureRequest,
    connections: None,
    mailbox: Mailbox,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The nightly tail as the record and finish steps run it, on a check the pipeline itself decided."""
    night = request.getfixturevalue("ws")
    from alignment_drift.airflow.notify import notify_incident, raise_for_deliveries
    from alignment_drift.core.governance import run_should_fail
    from alignment_drift.integrations.incident_tracking import track_incident
    from alignment_drift.integrations.mlflow.checks import record_check
    from alignment_drift.pipeline.night import BenchmarkResults, DriftResult, Pulled, Validation
    from alignment_drift.pipeline.steps.verdict import decide

    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(night.tmp / "incidents"))
    frame = night.log
    frame.loc[frame.index[1:11], "prediction_id"] = frame["prediction_id"].iloc[0]  # duplicate ids: critical
    frame.to_parquet(night.batch_path())
    spec = night.spec.model_copy(update={"governance": _spec(Path(__file__).parents[2]).governance})
    pulled, validation = night.run(spec)
    assert validation["status"] == "quarantined"
    check = decide(
        spec,
        Pulled.model_validate(pulled),
        Validation.model_validate(validation),
        DriftResult(skipped=True),
        BenchmarkResults(skipped=True),
    ).document()
    # a store of its own: the night's run must not stand in the session's store for other tests' night
    import dataclasses

    own = dataclasses.replace(
        night.settings,
        tracking_uri=f"sqlite:///{night.tmp / 'mlflow.db'}",
        artifact_root=(night.tmp / "artifacts").as_uri(),
    )
    night = dataclasses.replace(night, settings=own)
    run_id = record_check(night.settings, check, tags={"verdict": check["verdict"]}, params={}, artifacts={})
    mails, posts = len(mailbox.messages), len(receiver.requests)
    update = track_incident(spec, night.settings, check, mlflow_run_id=run_id, report_path=None)
    assert update.action == "created" and update.notify and update.incident.kind == "quarantine"
    deliveries = notify_incident(spec, update.to_dict(), check, settings=night.settings)
    raise_for_deliveries(deliveries)
    assert [d.kind for d in deliveries] == ["email", "slack"]
    assert (len(mailbox.messages) - mails, len(receiver.requests) - posts) == (1, 1)
    assert "batch of 2026-01-01 was quarantined" in _html(mailbox.messages[-1])
    message = run_should_fail(spec, check["verdict"], incident_id=update.incident.id, mlflow_run_id=run_id)
    assert message is not None and update.incident.id in message

    rerun = track_incident(spec, night.settings, check, mlflow_run_id=run_id, report_path=None)
    assert rerun.action == "none" and len(rerun.incident.occurrences) == 1
    assert {d.status for d in notify_incident(spec, rerun, check, settings=night.settings)} == {"skipped"}
    assert (len(mailbox.messages) - mails, len(receiver.requests) - posts) == (1, 1)
