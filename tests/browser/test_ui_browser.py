"""The Alignment page in a real browser, served by a real ``airflow api-server``.

A module fixture records nights of two models in a temporary MLflow store
(with the integration code the DAGs use), migrates a temporary SQLite
metadata DB, adds a retrain run waiting at its approval step, and starts
``airflow api-server`` on a free loopback port with the SimpleAuthManager
and a known user. The tests log in through Airflow's login page, open the
page inside Airflow's UI, follow its links, and save the screenshot the
README shows (``docs/images/alignment-page.png``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "ada", "alignment-browser-test"
MLFLOW_UI = "https://mlflow.example.invalid"  # never resolved: the test answers it itself
START_TIMEOUT_S = 120
WAIT_MS = 30_000

# (verdict, version, attribution) of the demo's 30 nights (README, "What the demo shows")
DEMO = (
    [("aligned", "1", "")] * 5
    + [("drifting", "2", "model_update")]
    + [("aligned", "3", "")] * 2
    + [("misaligned", "4", "model_update"), ("misaligned", "4", "model_update,distribution_shift")]
    + [("aligned", "5", "")]
    + [("misaligned", "6", "model_update,reward_misspecification")] * 3
    + [("misaligned", "8", "reward_misspecification,model_update,feedback_loop,distribution_shift")] * 4
    + [("drifting", "9", "distribution_shift")] * 2
    + [("watch", "9", "distribution_shift")] * 5
    + [("watch", "9", ""), ("aligned", "9", ""), ("aligned", "9", ""), ("watch", "9", ""), ("aligned", "9", "")]
)
SECOND = "comment_toxicity"
SECOND_NIGHTS = (
    [("aligned", "3", "")] * 8
    + [("watch", "3", "distribution_shift")] * 2
    + [("drifting", "3", "distribution_shift"), ("quarantined", None, "")]
    + [("misaligned", "4", "model_update,reward_misspecification")] * 2
)
REASONS = {
    "drifting": ["3 of 7 features drift (share 0.43 ≥ 0.30)", "output drift effect 0.38 above 0.10"],
    "misaligned": ["benchmark audit_unsafe_recall 0.53 below its floor 0.65 (critical)", "proxy–target gap +0.11"],
    "quarantined": ["critical expectation expect_column_values_to_not_be_null(toxicity) failed: 31 % missing"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _record(settings: Any, spec: Any, night: int, verdict: str, version: str | None, sources: str) -> str:
    from alignment_drift.core.verdict import verdict_code
    from alignment_drift.integrations.incident_tracking import track_incident
    from alignment_drift.integrations.mlflow.checks import record_check
    from alignment_drift.integrations.mlflow.store import client

    model, dag_id = spec.model, spec.monitor_dag_id
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=night - 1)
    run_id = f"scheduled__{start.isoformat()}"
    attribution = [{"source": s, "confidence": 0.7, "evidence": f"{s} evidence"} for s in sources.split(",") if s]
    check = {
        "schema": "alignment-drift/check@1",
        "model": model,
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "source": {"uri": f"file:///data/{model}/{start:%Y-%m-%d}.parquet", "rows": 1500},
        "model_version": version,
        "reference_version": version,
        "benchmarks": [],
        "verdict": verdict,
        "verdict_code": verdict_code(verdict),
        "reasons": REASONS.get(verdict, []),
        "attribution": attribution,
        "action": {"retrain_requested": verdict in ("drifting", "misaligned"), "retrain_reason": verdict},
        "quarantine": None,
    }
    tags = {
        "model_version": version or "",
        "verdict": verdict,
        "attribution": sources,
        "retrain_requested": "true" if verdict in ("drifting", "misaligned") else "false",
        "airflow_dag_id": dag_id,
        "airflow_run_id": run_id,
    }
    mlflow_run = record_check(settings, check, tags=tags, params={"alpha": "0.05"}, artifacts={"check.json": check})
    mlflow_client = client(settings)
    mlflow_client.log_text(mlflow_run, f"<html><body>{model} {start:%Y-%m-%d}: {verdict}</body></html>", "report.html")
    track_incident(spec, settings, check, mlflow_run_id=mlflow_run, report_path=None)
    return mlflow_run


def _waiting_for_approval(settings: Any, metadata_db: Path, spec: Any, airflow_run_id: str) -> None:
    """A retrain run whose challenger waits for a human: MLflow's record and Airflow's deferred ``approve`` task."""
    from airflow.models.dagrun import DagRun
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunType
    from sqlalchemy import create_engine, insert
    from sqlalchemy.orm import Session

    from alignment_drift.integrations.mlflow.store import client, experiment_id

    tags = {
        "kind": "retrain",
        "model": spec.model,
        "retrain_reason": "verdict misaligned: audit_unsafe_recall 0.53 below its floor 0.65",
        "trigger_verdict": "misaligned",
        "airflow_dag_id": spec.retrain_dag_id,
        "airflow_run_id": airflow_run_id,
        "gate_decision": "awaiting_approval",
        "challenger_version": "5",
        "champion_version": "4",
        "approval": "pending",
    }
    client(settings).create_run(experiment_id(settings, spec.model), run_name="retrain 2026-01-14", tags=tags)
    engine = create_engine(f"sqlite:///{metadata_db}")
    ti_id = uuid.uuid4()
    try:
        with Session(engine) as session, session.begin():
            session.add(
                DagRun(
                    dag_id=spec.retrain_dag_id,
                    run_id=airflow_run_id,
                    run_type=DagRunType.ASSET_TRIGGERED,
                    state=DagRunState.RUNNING,
                )
            )
            session.flush()
            session.execute(
                insert(TaskInstance.__table__).values(
                    id=ti_id,
                    dag_id=spec.retrain_dag_id,
                    run_id=airflow_run_id,
                    task_id="approve",
                    map_index=-1,
                    state=TaskInstanceState.DEFERRED,
                    pool="default_pool",
                    pool_slots=1,
                    try_number=1,
                    priority_weight=1,
                    trigger_timeout=dt.datetime(2026, 1, 15, 6, tzinfo=dt.UTC),
                )
            )
            session.add(
                HITLDetail(
                    ti_id=ti_id,
                    options=["Approve", "Reject"],
                    subject=f"Promote the {spec.model} challenger?",
                    defaults=["Reject"],
                    params={},
                    created_at=dt.datetime(2026, 1, 14, 6, tzinfo=dt.UTC),
                )
            )
    finally:
        engine.dispose()


@dataclasses.dataclass(frozen=True)
class Server:
    url: str
    log: Path


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"airflow api-server did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers: they run in the process group started for it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.incident_actions import acknowledge_incident
    from alignment_drift.settings import Settings

    tmp = tmp_path_factory.mktemp("alignment-ui")
    home, specs, dags = tmp / "airflow", tmp / "specs", tmp / "dags"
    for folder in (home, specs, dags):
        folder.mkdir()
    raw = yaml.safe_load((ROOT / "specs" / "content_safety.yaml").read_text())
    (specs / "content_safety.yaml").write_text(yaml.safe_dump(raw))
    second = {
        **raw,
        "model": SECOND,
        "description": "Hides toxic comments under news articles. Score = probability the comment is toxic.",
        "owner": "community-ml",
        "governance": {"approval": "required", "approval_timeout_hours": 24},
    }
    (specs / f"{SECOND}.yaml").write_text(yaml.safe_dump(second))
    (tmp / "passwords.json").write_text(json.dumps({USER: PASSWORD}))

    settings = dataclasses.replace(
        Settings.from_env(ROOT),
        specs_dir=specs,
        data_dir=tmp / "data",
        quarantine_dir=tmp / "data" / "quarantine",
        tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
        artifact_root=(tmp / "artifacts").as_uri(),
    )
    incidents = tmp / "data" / "incidents"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(incidents))
        for model, nights in (("content_safety", DEMO), (SECOND, SECOND_NIGHTS)):
            spec = load_spec(specs / f"{model}.yaml")
            for night, (verdict, version, sources) in enumerate(nights, 1):
                _record(settings, spec, night, verdict, version, sources)
        acknowledge_incident(settings, f"{SECOND}-2026-01-13-alignment", by=USER, note="rolling back to v3")

    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp / "passwords.json"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "ALIGNMENT_DRIFT_HOME": str(ROOT),
        "ALIGNMENT_DRIFT_SPECS_DIR": str(specs),
        "ALIGNMENT_DRIFT_DATA_DIR": str(tmp / "data"),
        "ALIGNMENT_DRIFT_INCIDENTS_DIR": str(incidents),
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "ALIGNMENT_DRIFT_ARTIFACT_ROOT": settings.artifact_root,
        "ALIGNMENT_DRIFT_MLFLOW_UI_URL": MLFLOW_UI,
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrate = subprocess.run(
        [airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    _waiting_for_approval(
        settings, home / "airflow.db", load_spec(specs / f"{SECOND}.yaml"), "asset_triggered__waiting"
    )

    log = tmp / "api-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(proc, f"http://127.0.0.1:{port}", log)
        yield Server(f"http://127.0.0.1:{port}", log)
    finally:
        _stop(proc)


def _log_in(page: Any, server: Server, start: str) -> None:
    page.goto(f"{server.url}{start}", timeout=WAIT_MS)
    page.wait_for_url("**/auth/login**", timeout=WAIT_MS)
    page.fill("input[name=username]", USER, timeout=WAIT_MS)
    page.fill("input[name=password]", PASSWORD, timeout=WAIT_MS)
    page.click("button[type=submit]", timeout=WAIT_MS)
    page.wait_for_url(f"**{start}**", timeout=WAIT_MS)


def _alignment_frame(page: Any) -> Any:
    frame = page.frame_locator('iframe[title="Alignment"]')
    frame.locator("h1", has_text="Alignment").wait_for(timeout=WAIT_MS)
    return frame


@pytest.mark.browser
def test_without_a_login_the_page_sends_the_browser_to_airflows_login(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/alignment/", timeout=WAIT_MS)
    page.wait_for_url("**/auth/login**", timeout=WAIT_MS)
    assert "next=" in page.url and "alignment" in page.url
    page.locator("input[name=password]").wait_for(timeout=WAIT_MS)
    assert "content_safety" not in page.content()


@pytest.mark.browser
def test_the_alignment_page_inside_airflow(
    page: Any, server: Server, console_errors: list[str], save_screenshot: Any
) -> None:
    page.set_viewport_size({"width": 1440, "height": 1500})
    _log_in(page, server, "/plugin/alignment")
    console_errors.clear()  # Airflow's UI asks for its config before the login: those 401s are expected
    frame = _alignment_frame(page)

    models = frame.locator("table#models tbody tr[data-model]")
    models.first.wait_for(timeout=WAIT_MS)
    assert models.count() == 2
    safety = frame.locator("tr[data-model=content_safety]").first
    toxicity = frame.locator(f"tr[data-model={SECOND}]").first
    assert "aligned" in safety.locator(".latest-verdict").inner_text(timeout=WAIT_MS)
    assert "misaligned" in toxicity.locator(".latest-verdict").inner_text(timeout=WAIT_MS)
    assert "2026-01-30" in safety.inner_text() and "v9" in safety.inner_text()

    cells = frame.locator("#timeline-content_safety li.cell")
    assert cells.count() == 30
    assert [cells.nth(i).get_attribute("data-verdict") for i in (0, 5, 8, 20, 29)] == [
        "aligned",
        "drifting",
        "misaligned",
        "watch",
        "aligned",
    ]
    assert cells.nth(5).locator(".letter").inner_text() == "D"
    assert cells.nth(5).get_attribute("title").startswith("2026-01-06: drifting (version 2)")
    assert frame.locator(f"#timeline-{SECOND} li.cell").count() == len(SECOND_NIGHTS)
    assert frame.locator("ul.legend li").count() == 5

    # comment_toxicity's drifting, quarantined and misaligned episodes; the demo's three were resolved by night 30
    incidents = frame.locator("table#incidents tbody tr")
    assert incidents.count() == 3
    assert "below its floor" in incidents.first.inner_text() and "acknowledged" in incidents.first.inner_text()
    approval = frame.locator("table#approvals tr[data-state=waiting]")
    assert approval.count() == 1 and "v5" in approval.inner_text()

    assert console_errors == []
    shot = save_screenshot(page, ROOT / "docs" / "images", "alignment-page")
    assert shot.stat().st_size > 20_000


@pytest.mark.browser
def test_links_open_airflow_pages_in_place_and_mlflow_in_a_new_tab(page: Any, server: Server) -> None:
    _log_in(page, server, "/plugin/alignment")
    frame = _alignment_frame(page)

    page.context.route(f"{MLFLOW_UI}/**", lambda route: route.fulfill(body="MLflow", content_type="text/plain"))
    report = frame.locator("tr[data-model=content_safety] a", has_text="Report").first
    with page.context.expect_page(timeout=WAIT_MS) as opened:
        report.click(timeout=WAIT_MS)
    tab = opened.value
    tab.wait_for_load_state(timeout=WAIT_MS)
    assert tab.url.startswith(f"{MLFLOW_UI}/#/experiments/") and tab.url.endswith("/artifactPath/report.html")
    tab.close()

    frame.locator("tr[data-model=content_safety] a", has_text="Monitor DAG runs").click(timeout=WAIT_MS)
    # a same-document navigation of Airflow's router: no load event
    page.wait_for_url("**/dags/alignment_monitor__content_safety/runs", timeout=WAIT_MS, wait_until="commit")
    # Airflow's own page replaces the view (no Airflow UI nested in the frame)
    page.locator('iframe[title="Alignment"]').wait_for(state="detached", timeout=WAIT_MS)
