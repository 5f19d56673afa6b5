"""The Alignment page, served by Airflow's own API app with the plugin mounted, on a real MLflow store.

The store (SQLite, in a temporary folder) holds six nights of ``ui_safety``
recorded with the integration code the DAGs use (``record_check``, then
``track_incident`` into the incidents folder; one incident acknowledged), a
retrain run waiting for approval, and a
second model without any check. Airflow's app is built by
``airflow.api_fastapi.app.create_app`` (the plugin comes in through its
entry point) with the SimpleAuthManager and a known user; tokens come from
its real ``POST /auth/token``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODEL, QUIET = "ui_safety", "ui_quiet"
HOSTILE_DESCRIPTION = '<script>alert("spec")</script> & "quotes"'
HOSTILE_REASON = "benchmark <img src=x onerror=alert(1)> fell below its floor"
HOSTILE_VERSION = '7"><b>x</b>'
HOSTILE_OWNER = "on-call <b>pager</b>"
USER, PASSWORD = "ada", "lovelace-ui-test"
NOBODY, NOBODY_PASSWORD = "eve", "no-dag-permission-ui-test"  # signs in, but her empty role may read no DAG
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
# night -> verdict; night 2's incident is resolved by night 3 (aligned; the spec resolves after 1 aligned night),
# nights 5 and 6 are one incident (drifting, then misaligned), acknowledged
VERDICTS = ["aligned", "quarantined", "aligned", "watch", "drifting", "misaligned"]
LETTERS = ["A", "Q", "A", "W", "D", "M"]
ALIGNMENT_INCIDENT, QUARANTINE_INCIDENT = f"{MODEL}-2026-03-05-alignment", f"{MODEL}-2026-03-02-quarantine"


def _run_id(night: int) -> str:
    return f"scheduled__{(START + dt.timedelta(days=night - 1)).isoformat()}"


def _check(night: int, verdict: str) -> dict[str, Any]:
    from alignment_drift.core.verdict import verdict_code

    start = START + dt.timedelta(days=night - 1)
    incident = verdict in ("drifting", "misaligned", "quarantined")
    return {
        "schema": "alignment-drift/check@1",
        "model": MODEL,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "source": {"uri": f"file:///data/{MODEL}/{start:%Y-%m-%d}.parquet", "sha256": "0" * 64, "rows": 100},
        "model_version": HOSTILE_VERSION if night == 6 else "1",
        "reference_version": "1",
        "benchmarks": [],
        "verdict": verdict,
        "verdict_code": verdict_code(verdict),
        "reasons": [HOSTILE_REASON, "output drift effect 1.2 above 0.1"] if incident else [],
        "attribution": (
            [{"source": "model_update", "confidence": 0.8, "evidence": "audit recall fell 0.05"}] if incident else []
        ),
        "action": {"retrain_requested": incident, "retrain_coalesced": False, "retrain_reason": "test"},
        "quarantine": None,
    }


def _record_night(settings: Any, spec: Any, night: int, verdict: str) -> str:
    from alignment_drift.integrations.incident_tracking import track_incident
    from alignment_drift.integrations.incidents import INCIDENT_VERDICTS
    from alignment_drift.integrations.mlflow.checks import record_check

    check = _check(night, verdict)
    tags = {
        "model_version": check["model_version"],
        "reference_version": "1",
        "verdict": verdict,
        "attribution": ",".join(a["source"] for a in check["attribution"]),
        "retrain_requested": "true" if verdict in INCIDENT_VERDICTS else "false",
        "source_uri": check["source"]["uri"],
        "airflow_dag_id": spec.monitor_dag_id,
        "airflow_run_id": _run_id(night),
    }
    run_id = record_check(settings, check, tags=tags, params={"alpha": "0.05"}, artifacts={"check.json": check})
    track_incident(spec, settings, check, mlflow_run_id=run_id, report_path=None)
    return run_id


def _pending_retrain(settings: Any, spec: Any, airflow_run_id: str) -> str:
    """A retrain run as ``decide_promotion`` leaves it when the challenger waits for approval."""
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    tags = {
        "kind": "retrain",
        "model": spec.model,
        "retrain_reason": "verdict misaligned: <b>critical</b> recall below floor",
        "trigger_verdict": "misaligned",
        "airflow_dag_id": spec.retrain_dag_id,
        "airflow_run_id": airflow_run_id,
        "gate_decision": "awaiting_approval",
        "challenger_version": "2",
        "champion_version": "1",
        "approval": "pending",
    }
    run = client(settings).create_run(experiment_id(settings, spec.model), run_name="retrain test", tags=tags)
    return run.info.run_id


def _waiting_hitl(dag_id: str, run_id: str) -> None:
    """Airflow's metadata of an ``approve`` task deferred on a human-in-the-loop request without a response."""
    from airflow.models.dagrun import DagRun
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunType
    from sqlalchemy import insert

    ti_id = uuid.uuid4()
    with create_session() as session:
        session.add(DagRun(dag_id=dag_id, run_id=run_id, run_type=DagRunType.MANUAL, state=DagRunState.RUNNING))
        session.flush()
        session.execute(
            insert(TaskInstance.__table__).values(
                id=ti_id,
                dag_id=dag_id,
                run_id=run_id,
                task_id="approve",
                map_index=-1,
                state=TaskInstanceState.DEFERRED,
                pool="default_pool",
                pool_slots=1,
                try_number=1,
                priority_weight=1,
                trigger_timeout=dt.datetime(2026, 3, 8, tzinfo=dt.UTC),
            )
        )
        session.add(
            HITLDetail(
                ti_id=ti_id,
                options=["Approve", "Reject"],
                subject=f"Promote the {MODEL} challenger?",
                defaults=["Reject"],
                params={},
            )
        )


@dataclasses.dataclass
class Store:
    settings: Any
    runs: dict[int, str]
    pending_run: str
    stale_run: str


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, airflow_db: Path) -> Iterator[Store]:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.incident_actions import acknowledge_incident
    from alignment_drift.integrations.mlflow.store import client
    from alignment_drift.settings import Settings

    tmp = tmp_path_factory.mktemp("ui")
    specs = tmp / "specs"
    specs.mkdir()
    raw = yaml.safe_load((ROOT / "specs" / "content_safety.yaml").read_text())
    governance = {
        MODEL: {"approval": "required", "resolve_after_aligned_nights": 1, "owners": [HOSTILE_OWNER]},
        QUIET: {"approval": "automatic"},
    }
    for name, description in ((MODEL, HOSTILE_DESCRIPTION), (QUIET, "")):
        doc = {**raw, "model": name, "description": description, "governance": governance[name]}
        (specs / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    passwords = tmp / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD, NOBODY: NOBODY_PASSWORD}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
        mp.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(tmp / "data"))
        mp.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp / "incidents"))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        mp.setenv("ALIGNMENT_DRIFT_ARTIFACT_ROOT", str(tmp / "artifacts"))
        mp.delenv("ALIGNMENT_DRIFT_MLFLOW_UI_URL", raising=False)
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{USER}:viewer,{NOBODY}:")
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        settings = Settings.from_env(ROOT)
        spec = load_spec(specs / f"{MODEL}.yaml")
        runs = {night: _record_night(settings, spec, night, verdict) for night, verdict in enumerate(VERDICTS, 1)}
        acknowledge_incident(settings, ALIGNMENT_INCIDENT, by="ada", note="looking into v7 <script>x</script>")
        (report := tmp / "report.html").write_text("<html><body>night 6</body></html>")
        client(settings).log_artifact(runs[6], str(report))
        pending = _pending_retrain(settings, spec, "manual__waiting")
        stale = _pending_retrain(settings, spec, "manual__cleared")
        _waiting_hitl(spec.retrain_dag_id, "manual__waiting")
        yield Store(settings, runs, pending, stale)


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[Any]:
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    purge_cached_app()
    with TestClient(create_app(apps="core")) as test_client:
        yield test_client
    purge_cached_app()


@pytest.fixture(scope="module")
def token(client: Any) -> str:
    response = client.post("/auth/token", json={"username": USER, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def page(client: Any, token: str) -> str:
    response = client.get("/alignment/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return str(response.text)


class _Elements(HTMLParser):
    """Every element with its attributes and its text (nested text included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, **{k: v or "" for k, v in attrs}, "text": ""}
        self.found.append(element)
        if tag not in ("meta", "link", "br", "input"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data


def elements(html: str, tag: str, **attrs: str) -> list[dict[str, Any]]:
    parser = _Elements()
    parser.feed(html)
    return [
        e
        for e in parser.found
        if e["tag"] == tag and all(v in e.get(k, "").split() or e.get(k) == v for k, v in attrs.items())
    ]


def text(element: dict[str, Any]) -> str:
    return " ".join(element["text"].split())


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/alignment/", {"Accept": "text/html"}, 303),
        ("/alignment/", {}, 401),
        ("/alignment/api/overview", {}, 401),
        ("/alignment/static/alignment.js", {}, 401),
        ("/alignment/api/overview", {"Authorization": "Bearer not-a-jwt"}, 403),
    ],
    ids=["browser-redirected-to-login", "page-without-token", "json-without-token", "asset-without-token", "bad-token"],
)
def test_requests_without_a_valid_airflow_token_are_refused(
    client: Any, path: str, headers: dict[str, str], expected: int
) -> None:
    client.cookies.clear()
    response = client.get(path, headers=headers, follow_redirects=False)
    assert response.status_code == expected, response.text
    body = response.text
    assert MODEL not in body and "Alignment" not in body
    if expected == 303:
        assert response.headers["location"].startswith("/auth/login?next=")
        assert "alignment" in response.headers["location"]
    else:
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_signed_with_another_key_is_refused(client: Any) -> None:
    import jwt

    forged = jwt.encode({"sub": USER, "role": "admin"}, "not-the-secret-" * 5, algorithm="HS512")  # 75 bytes
    response = client.get("/alignment/api/overview", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code in (401, 403)


def test_the_airflow_ui_cookie_is_accepted(client: Any, token: str) -> None:
    client.cookies.set("_token", token)
    try:
        response = client.get("/alignment/")
        assert response.status_code == 200
        assert MODEL in response.text
    finally:
        client.cookies.clear()


def test_responses_carry_a_strict_content_security_policy(client: Any, token: str) -> None:
    response = client.get("/alignment/", headers={"Authorization": f"Bearer {token}"})
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert response.headers["cache-control"] == "no-store"


# --- what the page shows ------------------------------------------------------------------------


def test_every_monitored_model_is_listed_with_its_latest_verdict(page: str) -> None:
    rows = {r["data-model"]: r for r in elements(page, "tr") if set(r) == {"tag", "data-model", "text"}}
    assert set(rows) >= {MODEL, QUIET}
    assert "misaligned" in text(rows[MODEL])
    assert "2026-03-06" in text(rows[MODEL])
    assert "no checks yet" in text(rows[QUIET])
    badges = elements(page, "span", **{"class": "v-misaligned"})
    assert any("misaligned" in text(b) for b in badges), "the verdict is written out, not only coloured"


def test_the_timeline_has_one_cell_per_night_with_its_verdict_as_text(page: str) -> None:
    (timeline,) = [e for e in elements(page, "div") if e.get("id") == f"timeline-{MODEL}"]
    cells = [c for c in elements(page, "li") if "cell" in c.get("class", "").split() and c.get("data-date")]
    ours = [c for c in cells if c["data-date"].startswith("2026-03")]
    assert [c["data-verdict"] for c in ours] == VERDICTS
    assert [c["data-date"] for c in ours] == [f"2026-03-0{n}" for n in range(1, 7)]
    for cell, verdict, letter in zip(ours, VERDICTS, LETTERS, strict=True):
        assert f"v-{verdict}" in cell["class"].split()
        assert cell["title"].startswith(f"{cell['data-date']}: {verdict}")
        assert text(cell).startswith(letter) and verdict in text(cell)
    assert "likely source: model_update" in ours[4]["title"]
    assert "6 nights: 2026-03-01 … 2026-03-06" in text(timeline)
    legend = elements(page, "ul", **{"class": "legend"})[0]
    for verdict in VERDICTS:
        assert verdict in text(legend)
    (quiet,) = [e for e in elements(page, "div") if e.get("id") == f"timeline-{QUIET}"]
    assert "No checks recorded yet." in text(quiet)


def test_nights_selects_the_latest_checks(client: Any, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    html = client.get("/alignment/?nights=2", headers=auth).text
    cells = [c["data-verdict"] for c in elements(html, "li") if c.get("data-date", "").startswith("2026-03")]
    assert cells == ["drifting", "misaligned"]
    assert client.get("/alignment/?nights=0", headers=auth).status_code == 422
    assert client.get("/alignment/?nights=367", headers=auth).status_code == 422


def test_incidents_show_state_owner_nights_and_history(page: str) -> None:
    rows = {r["data-incident"]: r for r in elements(page, "tr") if r.get("data-incident")}
    assert set(rows) == {ALIGNMENT_INCIDENT, QUARANTINE_INCIDENT}
    ours = rows[ALIGNMENT_INCIDENT]
    assert ours["data-incident-state"] == "acknowledged"
    assert (ours["data-first"], ours["data-last"]) == ("2026-03-05", "2026-03-06")
    shown = text(ours)
    assert "misaligned" in shown and "trust-and-safety-ml" in shown and "2 nights" in shown
    assert "model_update" in shown and "fell below its floor" in shown and "output drift effect" in shown
    assert "created" in shown and "escalated" in shown and "acknowledged" in shown and "by ada" in shown
    (open_table,) = [t for t in elements(page, "table") if t.get("id") == "incidents"]
    assert ALIGNMENT_INCIDENT in text(open_table) and QUARANTINE_INCIDENT not in text(open_table)
    resolved = rows[QUARANTINE_INCIDENT]
    assert resolved["data-incident-state"] == "resolved"
    assert "1 aligned night(s) after the last occurrence" in text(resolved)


def test_hostile_strings_from_specs_and_mlflow_are_escaped(page: str) -> None:
    # not '7">' alone: a run id may end in 7
    for raw in ("<script>alert", "<img src=x", "<b>x</b>", '7"><b>', "<b>pager</b>", "<script>x</script>"):
        assert raw not in page
    assert "on-call &lt;b&gt;pager&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(&#34;spec&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "7&#34;&gt;&lt;b&gt;x&lt;/b&gt;" in page
    scripts = elements(page, "script")
    assert [s.get("src") for s in scripts] == ["/alignment/static/alignment.js"] and not any(text(s) for s in scripts)


def test_links_to_airflow_runs_and_the_run_ids_without_an_mlflow_ui(page: str, store: Store) -> None:
    hrefs = [a["href"] for a in elements(page, "a")]
    assert "/dags/alignment_monitor__ui_safety/runs" in hrefs
    assert "/dags/alignment_retrain__ui_safety/runs" in hrefs
    assert "/dags/alignment_monitor__ui_safety/runs/scheduled__2026-03-06T00%3A00%3A00%2B00%3A00" in hrefs
    assert not [h for h in hrefs if h.startswith(("http:", "https:", "javascript:"))]
    assert store.runs[6] in page and store.runs[2] in page, "each incident links its latest night's run"
    assert "report.html" in page


def test_links_into_the_mlflow_ui(client: Any, token: str, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_drift.integrations.mlflow.store import client as mlflow_client

    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_UI_URL", "https://mlflow.example.com/")
    html = client.get("/alignment/", headers={"Authorization": f"Bearer {token}"}).text
    experiment = mlflow_client(store.settings).get_experiment_by_name(f"alignment-drift/{MODEL}").experiment_id
    run6 = f"https://mlflow.example.com/#/experiments/{experiment}/runs/{store.runs[6]}"
    anchors = elements(html, "a")
    assert [text(a) for a in anchors if a["href"] == f"{run6}/artifactPath/report.html"] == ["Report", "Report"]
    assert "MLflow run" in [text(a) for a in anchors if a["href"] == run6]
    for a in elements(html, "a"):
        if a["href"].startswith("https://"):
            assert a["target"] == "_blank" and a["rel"] == "noopener noreferrer"
    (quarantine,) = [r for r in elements(html, "tr") if r.get("data-incident") == QUARANTINE_INCIDENT]
    assert "no report" in text(quarantine), "night 2 has no report.html artifact"


def test_an_unsafe_mlflow_ui_url_is_refused_and_said_so(
    client: Any, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_UI_URL", "javascript:alert(1)")
    html = client.get("/alignment/", headers={"Authorization": f"Bearer {token}"}).text
    assert "must be an http(s) URL" in html
    assert not [a for a in elements(html, "a") if a["href"].lower().startswith("javascript")]


def test_pending_approvals_merge_mlflow_and_airflow(page: str, store: Store) -> None:
    rows = {r["data-state"]: r for r in elements(page, "tr") if r.get("data-state")}
    assert set(rows) == {"waiting", "not_waiting"}
    waiting = rows["waiting"]
    assert "v2" in text(waiting) and "v1" in text(waiting) and "2026-03-08" in text(waiting)
    assert "&lt;b&gt;critical&lt;/b&gt;" in page
    hrefs = [a["href"] for a in elements(page, "a")]
    assert "/dags/alignment_retrain__ui_safety/runs/manual__waiting/required_actions" in hrefs
    assert "/dags/alignment_retrain__ui_safety/runs/manual__cleared/required_actions" not in hrefs
    assert "no approval task waits in Airflow" in text(rows["not_waiting"])


def test_the_json_overview_carries_the_same_data(client: Any, token: str, store: Store) -> None:
    body = client.get("/alignment/api/overview?nights=3", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["schema"] == "alignment-drift/overview@1" and body["nights"] == 3
    models = {m["model"]: m for m in body["models"]}
    ours = models[MODEL]
    assert [n["verdict"] for n in ours["nights"]] == VERDICTS[-3:]
    assert ours["latest"]["has_report"] is True and ours["latest"]["model_version"] == HOSTILE_VERSION
    (incident,) = ours["open_incidents"]
    assert ours["open_incidents_total"] == 1
    assert (incident["id"], incident["state"], incident["nights"]) == (ALIGNMENT_INCIDENT, "acknowledged", 2)
    assert incident["first_night"].startswith("2026-03-05") and incident["last_night"].startswith("2026-03-06")
    assert incident["owners"] == ["trust-and-safety-ml", HOSTILE_OWNER]
    assert [h["action"] for h in incident["history"]] == ["created", "escalated", "acknowledged"]
    assert HOSTILE_REASON in incident["reasons"] and incident["mlflow_run_id"] == store.runs[6]
    assert [i["id"] for i in ours["resolved_incidents"]] == [QUARANTINE_INCIDENT]
    assert models[QUIET]["latest"] is None and models[QUIET]["nights"] == []
    states = {a["mlflow_run_id"]: a["state"] for a in body["approvals"]}
    assert states == {store.pending_run: "waiting", store.stale_run: "not_waiting"}
    assert re.fullmatch(r"sqlite:///.*mlflow\.db", body["tracking_uri"])


def test_a_spec_that_does_not_load_is_reported_not_fatal(
    client: Any, token: str, store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os
    import shutil

    specs = tmp_path / "specs"
    shutil.copytree(os.environ["ALIGNMENT_DRIFT_SPECS_DIR"], specs)
    (specs / "broken.yaml").write_text("model: Not A Valid Name\n")
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
    response = client.get("/alignment/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert MODEL in response.text and "broken.yaml" in response.text


def test_a_user_without_dag_permission_sees_no_model_spec_error_nor_mlflow_address(
    client: Any, token: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os
    import shutil

    specs = tmp_path / "specs"
    shutil.copytree(os.environ["ALIGNMENT_DRIFT_SPECS_DIR"], specs)
    secret_query = "SELECT card_number FROM payments WHERE 1=1"
    (specs / "fraud.yaml").write_text(f"model: fraud\nsource: {{kind: sql, query: '{secret_query}'}}\nbogus: [1\n")
    (specs / "payments.yaml").write_text(f"model: payments\nsource:\n  query: {secret_query}\n")
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_UI_URL", "https://mlflow.internal.example.com/")
    answer = client.post("/auth/token", json={"username": NOBODY, "password": NOBODY_PASSWORD})
    assert answer.status_code == 201, answer.text
    nobody = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    html = client.get("/alignment/", headers=nobody)
    body = client.get("/alignment/api/overview", headers=nobody)
    assert html.status_code == body.status_code == 200
    for shown in (html.text, body.text):
        for secret in (MODEL, QUIET, "fraud.yaml", "payments.yaml", "card_number", "mlflow.internal", "mlflow.db"):
            assert secret not in shown, secret
    assert body.json()["models"] == [] and body.json()["spec_problems"] == []
    assert body.json()["tracking_uri"] == "" and body.json()["mlflow_ui_url"] is None

    viewer = client.get("/alignment/api/overview", headers={"Authorization": f"Bearer {token}"}).json()
    assert {p["path"].rsplit("/", 1)[-1] for p in viewer["spec_problems"]} == {"fraud.yaml", "payments.yaml"}
    assert viewer["tracking_uri"].endswith("mlflow.db") and viewer["mlflow_ui_url"]


# --- the pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tracking_uri", "env", "expected"),
    [
        ("sqlite:////srv/mlflow.db", None, None),
        ("http://mlflow:5000/", None, "http://mlflow:5000"),
        ("https://user:secret@mlflow.example.com/base/", None, "https://mlflow.example.com/base"),
        ("sqlite:////srv/mlflow.db", "https://ui.example.com/", "https://ui.example.com"),
        ("databricks", None, None),
    ],
    ids=["local-store", "tracking-server", "credentials-removed", "configured", "not-http"],
)
def test_mlflow_ui_url(
    tracking_uri: str, env: str | None, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignment_drift.integrations.overview import mlflow_ui_url
    from alignment_drift.settings import Settings

    if env is None:
        monkeypatch.delenv("ALIGNMENT_DRIFT_MLFLOW_UI_URL", raising=False)
    else:
        monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_UI_URL", env)
    settings = dataclasses.replace(Settings.from_env(ROOT), tracking_uri=tracking_uri)
    assert mlflow_ui_url(settings) == expected


def test_an_invalid_mlflow_ui_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_drift.integrations.overview import mlflow_ui_url
    from alignment_drift.settings import Settings

    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_UI_URL", "ftp://mlflow")
    with pytest.raises(ValueError, match=r"'ALIGNMENT_DRIFT_MLFLOW_UI_URL'.*http\(s\) URL.*Got 'ftp://mlflow'"):
        mlflow_ui_url(Settings.from_env(ROOT))


@pytest.mark.parametrize("nights", [0, 367, 2.5, True], ids=["zero", "too-many", "float", "bool"])
def test_build_overview_validates_nights(nights: Any) -> None:
    from alignment_drift.integrations.overview import build_overview
    from alignment_drift.settings import Settings

    with pytest.raises(ValueError, match=r"The 'nights' parameter must be an integer in \[1, 366\]"):
        build_overview(Settings.from_env(ROOT), specs=[], nights=nights)


def test_redact_uri_hides_passwords() -> None:
    from alignment_drift.integrations.overview import redact_uri

    assert redact_uri("postgresql://mlflow:s3cret@db/mlflow") == "postgresql://***@db/mlflow"
    assert redact_uri("http://mlflow:5000") == "http://mlflow:5000"


def test_an_unreachable_store_is_shown_on_the_models_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.overview import build_overview
    from alignment_drift.settings import Settings

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    settings = dataclasses.replace(Settings.from_env(ROOT), tracking_uri="http://127.0.0.1:9")
    spec = load_spec(ROOT / "specs" / "content_safety.yaml")
    overview = build_overview(settings, specs=[spec], nights=5)
    (model,) = overview.models
    assert model.error is not None and "could not be read" in model.error and "MLFLOW_TRACKING_URI" in model.error
    assert overview.to_dict()["models"][0]["nights"] == []


def test_the_legend_covers_every_verdict() -> None:
    from alignment_drift.airflow.ui.render import LEGEND
    from alignment_drift.core.spec import VERDICTS as ALL

    assert tuple(LEGEND) == ALL
    assert len({letter for letter, _ in LEGEND.values()}) == len(ALL)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-14T06:00:00+00:00", "2026-01-14 06:00 UTC"),
        ("2026-01-14T08:30:00+02:00", "2026-01-14 06:30 UTC"),
        ("2026-01-14T06:00:00", "2026-01-14 06:00"),
        ("not a time", "not a time"),
        (None, ""),
    ],
    ids=["utc", "offset", "naive", "unparsed", "none"],
)
def test_time_stamps_are_shown_in_utc(value: str | None, expected: str) -> None:
    from alignment_drift.airflow.ui.render import when

    assert when(value) == expected
