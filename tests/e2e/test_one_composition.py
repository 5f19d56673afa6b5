"""One composition: ``alignment-drift check`` and the monitor DAG record the same check of the same night.

A model of its own (``one_check``, the demo's spec copied) with a champion
trained by the retrain pipeline's steps. Each night is checked first on the
command line, then by the monitor DAG through ``dag.test()`` on the real
metadata DB; both record the night's one MLflow run, and the records must be
equal: verdict, reasons, attribution, every benchmark, the drift tables and
every metric. Once for a batch of one group, once for a batch of several
groups (``ALIGNMENT_DRIFT_GROUP_ROWS`` makes the groups small).

Then a retrain request made by ``check`` (which has no Airflow to send it to)
is kept pending, and the next monitor run emits it as an asset event: the
retrain DAG's trigger. It is marked emitted only then.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from alignment_drift.cli import main

from .conftest import retrain_events, task_states

pytestmark = pytest.mark.e2e

MODEL = "one_check"
ROWS = 600


@dataclass
class Setup:
    spec_path: Path
    spec: Any
    settings: Any
    platform: Any
    monitor: Any

    def start(self, night: int) -> dt.datetime:
        from alignment_drift.demo.simulate.content import night_start

        return night_start(self.spec.start_date, night)

    def serve(self, night: int, parts: int = 1, shift: bool = False) -> pd.DataFrame:
        """Night ``night`` served by the champion, written as a folder of ``parts`` files (``shift``: inputs moved)."""
        from alignment_drift.integrations.mlflow import registry

        version = registry.champion(self.settings, MODEL).version
        model = registry.load_model(self.settings, MODEL, version)
        log = self.platform.night(night, model, model_version=version)
        if shift:  # every feature moved inside its valid range (a covariate shift, not a broken batch)
            for column in ("toxicity", "sensationalism"):
                log[column] = log[column] ** 0.3
            log["report_rate"] = log["report_rate"] * 3
            log["author_reputation"] = (log["author_reputation"] - 0.8).clip(-1.0, 2.0)
            log["text_length"] = log["text_length"] * 4
        folder = self.settings.data_dir / MODEL / "predictions" / f"{self.start(night):%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, part in enumerate(np.array_split(np.arange(len(log)), parts)):
            log.iloc[part].to_parquet(folder / f"part-{i:03d}.parquet", index=False)
        return log

    def record(self, night: int) -> tuple[str, dict[str, Any], dict[str, float], dict[str, str]]:
        """The night's one check run: its id, ``check.json``, metrics and tags."""
        from alignment_drift.integrations.mlflow.store import client, experiment_id

        mlflow_client = client(self.settings)
        (run,) = mlflow_client.search_runs(
            [experiment_id(self.settings, MODEL)],
            filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{self.start(night).isoformat()}'",
        )
        with tempfile.TemporaryDirectory() as tmp:
            check = json.loads(Path(mlflow_client.download_artifacts(run.info.run_id, "check.json", tmp)).read_text())
        return run.info.run_id, check, dict(run.data.metrics), dict(run.data.tags)

    def check(self, night: int, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
        capsys.readouterr()  # what earlier steps of the test printed
        code = main(["check", str(self.spec_path), "--date", f"{self.start(night):%Y-%m-%d}", "--format", "json"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert out.startswith("{"), out[:3000]
        return dict(json.loads(out))

    def run_dag(self, night: int) -> Any:
        dag_run = self.monitor.test(logical_date=self.start(night) + dt.timedelta(days=1))
        states = task_states(dag_run)
        assert states["record"] == "success", states
        return dag_run


@pytest.fixture(scope="module")
def setup(root: Path, airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    import shutil

    from alignment_drift.airflow.factory import monitor_dag
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.pipeline import retrain
    from alignment_drift.settings import Settings

    specs = tmp_path_factory.mktemp("one-check-specs")
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["model"] = MODEL
    data["source"]["path"] = f"{MODEL}/predictions/{{date}}"
    data["reference"].update(training_data=f"{MODEL}/training.parquet", audit_set=f"{MODEL}/audit.parquet")
    spec_path = specs / f"{MODEL}.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    shutil.copytree(root / "specs" / "content_safety", specs / "content_safety")  # the probe cases
    with pytest.MonkeyPatch.context() as env:
        # dag.test() parses the DAG folder: the factory builds this spec's DAGs from here
        env.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
        env.setenv("ALIGNMENT_DRIFT_GROUP_ROWS", "250")  # the command line and the DAG read it alike
        settings = Settings.from_env(root)
        spec = load_spec(spec_path)
        platform = ContentPlatform("stable", seed=5, rows_per_night=ROWS, start_date=spec.start_date)
        prepare_data(settings, spec, platform)
        key = f"{MODEL}/initial"
        assembled = retrain.assemble(spec, settings, as_of=platform_start(spec), key=key)
        trained = retrain.train(spec, settings, assembled, key=key, reason="initial champion", tags={})
        decided = retrain.decide_promotion(spec, settings, trained, retrain.gate(spec, settings, trained))
        assert decided["decision"] == "promoted", decided
        yield Setup(spec_path, spec, settings, platform, monitor_dag(spec, root))


def platform_start(spec: Any) -> dt.datetime:
    from alignment_drift.demo.simulate.content import night_start

    return night_start(spec.start_date, 1)


@pytest.mark.parametrize(("night", "parts", "groups"), [(1, 1, 1), (2, 6, 3)], ids=["one-group", "multi-group"])
def test_the_command_line_and_the_dag_record_the_same_check(
    setup: Setup, capsys: pytest.CaptureFixture[str], night: int, parts: int, groups: int
) -> None:
    setup.serve(night, parts=parts)
    printed = setup.check(night, capsys)
    run_id, by_cli, cli_metrics, cli_tags = setup.record(night)
    assert printed["mlflow_run_id"] == run_id and printed["drift"]["groups"] == groups

    dag_run = setup.run_dag(night)
    again, by_dag, dag_metrics, dag_tags = setup.record(night)

    assert again == run_id  # one run per night, updated in place
    assert dag_tags["airflow_dag_id"] == setup.spec.monitor_dag_id and dag_tags["airflow_run_id"] == dag_run.run_id
    assert by_dag == by_cli
    assert by_dag["verdict"] == printed["verdict"] and by_dag["attribution"] == printed["attribution"]
    assert dag_metrics == cli_metrics
    assert dag_metrics["drift.share"] == by_cli["drift"]["drift_share"]
    for tag in ("verdict", "attribution", "model_version", "reference_version", "retrain_requested", "source_sha256"):
        assert dag_tags[tag] == cli_tags[tag], tag


def test_a_retrain_request_made_by_check_reaches_the_retrain_dag(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    asset_uri = setup.spec.retrain_request_asset[1]
    before = retrain_events(asset_uri)

    setup.serve(3, shift=True)
    printed = setup.check(3, capsys)
    assert printed["verdict"] in setup.spec.retraining.trigger_verdicts, printed["reasons"]
    assert printed["retrain_due"] and printed["retrain_request"] == "pending"
    run_id, _, _, tags = setup.record(3)
    assert tags["retrain_requested"] == "true" and tags["retrain_request"] == "pending"
    assert retrain_events(asset_uri) == before  # nothing was sent, and nothing claims it was

    setup.serve(4)
    dag_run = setup.run_dag(4)
    states = task_states(dag_run)
    assert states["request_retrain"] == "success" and states["confirm_request"] == "success", states

    (event,) = retrain_events(asset_uri)[len(before) :]
    carried = [event["mlflow_run_id"], *(p["mlflow_run_id"] for p in event["pending_requests"])]
    assert run_id in carried
    assert event["model"] == MODEL
    _, _, _, tags = setup.record(3)
    assert tags["retrain_request"] == "emitted" and tags["retrain_emitted_via"].startswith("asset_event:")

    # the next night emits nothing again
    setup.serve(5)
    states = task_states(setup.run_dag(5))
    assert states["request_retrain"] == "skipped", states
    assert len(retrain_events(asset_uri)) == len(before) + 1


SERVE_API = """
import sys
import uvicorn
from airflow.api_fastapi.app import create_app
uvicorn.run(create_app(apps="core"), host="127.0.0.1", port=int(sys.argv[1]), log_level="error")
"""


@pytest.fixture
def airflow_api(tmp_path: Path) -> Iterator[str]:
    """Airflow's own API app served in a process of its own on a loopback port (the session's metadata DB)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"ops": "ops-password-for-tests"}))
    env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "ops:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    }
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "api.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE_API, str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise AssertionError(f"the API did not start: {(tmp_path / 'api.log').read_text()[-2000:]}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_check_emits_its_request_through_the_airflow_api_when_one_is_configured(
    setup: Setup, capsys: pytest.CaptureFixture[str], airflow_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asset_uri = setup.spec.retrain_request_asset[1]
    setup.serve(7)
    setup.run_dag(7)  # Airflow knows the model's DAGs, and so its retrain-request asset
    before = retrain_events(asset_uri)
    night = 8  # past the cooldown of the request of night 3
    setup.serve(night, shift=True)

    monkeypatch.setenv("ALIGNMENT_DRIFT_AIRFLOW_API_URL", airflow_api)
    monkeypatch.setenv("ALIGNMENT_DRIFT_AIRFLOW_USERNAME", "ops")
    monkeypatch.setenv("ALIGNMENT_DRIFT_AIRFLOW_PASSWORD", "wrong")
    printed = setup.check(night, capsys)  # refused credentials: the request stays pending, the check is kept
    assert printed["retrain_due"] and printed["retrain_request"] == "pending"
    assert "answered 401" in printed["retrain_request_error"]
    assert retrain_events(asset_uri) == before

    monkeypatch.setenv("ALIGNMENT_DRIFT_AIRFLOW_PASSWORD", "ops-password-for-tests")
    printed = setup.check(night, capsys)  # a rerun of the night: its pending request goes out now
    assert printed["retrain_request"] == "emitted", printed["retrain_request_error"]
    (event,) = retrain_events(asset_uri)[len(before) :]
    run_id, _, _, tags = setup.record(night)
    assert event["mlflow_run_id"] == run_id and event["from_rest_api"] is True
    assert tags["retrain_request"] == "emitted" and tags["retrain_emitted_via"].startswith("rest_api:")
    assert "ops-password-for-tests" not in json.dumps(printed)
