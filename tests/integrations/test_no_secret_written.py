"""One canary password planted in every credential position, real nights run, every output searched for it.

The positions: the user info of ``MLFLOW_TRACKING_URI`` (a real ``mlflow server``), the password of the
Airflow connection a ``sql`` source reads PostgreSQL through, the ``storage_options`` secret and session
token of the connection an ``object_store`` source reads the moto S3 server through, the password of
the webhook route's HTTP connection and a token in the route's endpoint. Nights are run through the
command (``check``: a quarantined night of files, a SQL night, an S3 night, in JSON and table form),
through the monitor DAG (``dag.test()``: a quarantined night whose alert goes to a loopback receiver),
and one record is spooled while the server is down and replayed after. The Alignment page's overview
of the model is built last.

Then every output is searched for the canary: each file under the test's folder (data root, incidents,
quarantine, evidence, spool, reports, MLflow's store database and artifacts, the server's log, the alerts
received), the Airflow home (metadata DB with the XComs, task logs), stdout and stderr (file descriptors),
and every log record captured. Expected: zero hits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pandas as pd
import pytest
import yaml

from tests.integration.conftest import MlflowServer
from tests.integrations.conftest import PG_URL

pytestmark = pytest.mark.slow  # trains a champion, runs a real mlflow server, five nights and a DAG run

MODEL = "canary_secrets"
CANARY = f"cnry{uuid.uuid4().hex[:20]}"
POSITIONS = {
    "MLFLOW_TRACKING_URI user info": "tracking",
    "sql source: Airflow connection password": "AIRFLOW_CONN_CANARY_PG",
    "object_store: storage_options secret (connection password)": "AIRFLOW_CONN_CANARY_S3",
    "object_store: storage_options token (aws_session_token extra)": "AIRFLOW_CONN_CANARY_S3",
    "webhook alert: HTTP connection password": "AIRFLOW_CONN_CANARY_HOOK",
    "webhook alert: token in the route's endpoint URL": "spec",
}


@dataclasses.dataclass
class World:
    tmp: Path
    spec_path: Path
    spec: Any
    settings: Any
    platform: Any
    model: Any
    version: str
    server: MlflowServer
    bucket: str

    def log(self, night: int) -> pd.DataFrame:
        return self.platform.night(night, self.model, model_version=self.version)

    def day(self, night: int) -> dt.date:
        from alignment_drift.demo.simulate.content import night_start

        return night_start(self.spec.start_date, night).date()

    def spec_with(self, name: str, **changes: Any) -> Path:
        data = yaml.safe_load(self.spec_path.read_text())
        data.update(changes)
        path = self.tmp / name / f"{MODEL}.yaml"  # a spec's file is named after its model
        path.parent.mkdir()
        path.write_text(yaml.safe_dump(data))
        return path


def _quarantined(log: pd.DataFrame) -> pd.DataFrame:
    broken = log.copy()
    broken.loc[1:20, "prediction_id"] = broken.loc[0, "prediction_id"]
    return broken


@pytest.fixture(scope="module")
def world(root: Path, tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, pg_engine: Any) -> Iterator[World]:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain
    from alignment_drift.settings import Settings

    tmp = tmp_path_factory.mktemp("canary")
    (tmp / "store").mkdir()
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["model"] = MODEL
    data["source"]["path"] = f"{MODEL}/predictions/{{date}}.parquet"
    data["reference"].update(training_data=f"{MODEL}/training.parquet", audit_set=f"{MODEL}/audit.parquet")
    data["governance"]["notify"] = [
        {"kind": "webhook", "conn_id": "canary_hook", "endpoint": f"alerts?token={CANARY}", "on": ["quarantined"]}
    ]
    # dag.test() runs the DAG as parsed from the DAGs folder: the spec lives in a specs folder of its own
    specs = tmp / "specs"
    shutil.copytree(root / "specs" / "content_safety", specs / "content_safety")  # the probe cases
    spec_path = specs / f"{MODEL}.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    server = MlflowServer(tmp / "store")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(tmp / "data"))
        env.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'store' / 'mlflow.db'}")
        env.setenv("ALIGNMENT_DRIFT_ARTIFACT_ROOT", str(tmp / "store" / "artifacts"))
        env.delenv("ALIGNMENT_DRIFT_SPOOL_DIR", raising=False)
        env.delenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", raising=False)
        settings = Settings.from_env(root)
        spec = load_spec(spec_path)
        platform = ContentPlatform("stable", seed=23, rows_per_night=600, start_date=spec.start_date)
        prepare_data(settings, spec, platform)
        key = f"{MODEL}/initial"
        assembled = retrain.assemble(spec, settings, as_of=night_start(spec.start_date, 1), key=key)
        trained = retrain.train(spec, settings, assembled, key=key, reason="initial champion", tags={})
        decided = retrain.decide_promotion(spec, settings, trained, retrain.gate(spec, settings, trained))
        assert decided["decision"] == "promoted", decided
        version = registry.champion(settings, MODEL).version
        model = registry.load_model(settings, MODEL, version)

        # from here on, everything talks to the tracking server with the canary in its address
        server.start()
        env.setenv("MLFLOW_TRACKING_URI", f"http://ad-user:{CANARY}@127.0.0.1:{server.port}/")
        env.setenv("ALIGNMENT_DRIFT_MLFLOW_TRIES", "2")
        env.setenv("ALIGNMENT_DRIFT_MLFLOW_BACKOFF", "0")
        env.setenv(
            "AIRFLOW_CONN_CANARY_PG", PG_URL.replace("+psycopg2", "").replace("postgres@", f"postgres:{CANARY}@")
        )
        env.setenv(
            "AIRFLOW_CONN_CANARY_S3",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing-key",
                    "password": CANARY,
                    "extra": {"endpoint_url": moto_endpoint, "region_name": "us-east-1", "aws_session_token": CANARY},
                }
            ),
        )
        import boto3

        bucket = f"canary-{uuid.uuid4().hex[:10]}"
        boto3.client(
            "s3",
            endpoint_url=moto_endpoint,
            aws_access_key_id="testing-key",
            aws_secret_access_key="testing-secret",
            region_name="us-east-1",
        ).create_bucket(Bucket=bucket)
        try:
            yield World(tmp, spec_path, spec, Settings.from_env(root), platform, model, version, server, bucket)
        finally:
            server.stop()


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def _outputs(folder: Path) -> list[Path]:
    """Every file under ``folder`` but the inputs that hold the canary on purpose (the specs)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".yaml")


def _hits_in_tree(folder: Path) -> list[str]:
    hits = []
    for path in _outputs(folder):
        data = path.read_bytes()
        if any(form.encode() in data for form in _forms(CANARY)):
            hits.append(str(path))
    return hits


def test_no_output_holds_the_canary(
    world: World,
    airflow_db: Path,
    pg_engine: Any,
    moto_endpoint: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import boto3

    from alignment_drift.airflow.factory import monitor_dag
    from alignment_drift.cli import main
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.receiver import AlertReceiver
    from alignment_drift.integrations.mlflow import checks, spool

    caplog.set_level("DEBUG")
    outputs: list[str] = []

    def check(spec_path: Path, night: int, *extra: str) -> dict[str, Any]:
        code = main(["check", str(spec_path), "--date", f"{world.day(night)}", *extra])
        captured = capfd.readouterr()
        outputs.extend([captured.out, captured.err])
        assert code == 0, captured.err[-3000:]
        return json.loads(captured.out[captured.out.index("{") :]) if "json" in extra else {}

    # 1. the monitor DAG (dag.test): a quarantined night, its incident alerted through the webhook route
    receiver = AlertReceiver(world.tmp / "alerts").start()
    try:
        connection = {**receiver.connection(), "login": "alerts", "password": CANARY}
        os.environ["AIRFLOW_CONN_CANARY_HOOK"] = json.dumps(connection)
        path = world.settings.data_dir / MODEL / "predictions" / f"{world.day(1)}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        _quarantined(world.log(1)).to_parquet(path, index=False)
        start = dt.datetime.combine(world.day(1), dt.time(), tzinfo=dt.UTC)
        dag_run = monitor_dag(load_spec(world.spec_path), world.settings.home).test(
            logical_date=start + dt.timedelta(days=1)
        )
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        assert states["record"] == "success" and states["notify"] == "success", states
        assert len(receiver.received()) == 1
    finally:
        receiver.stop()
        os.environ.pop("AIRFLOW_CONN_CANARY_HOOK", None)
    outputs.extend(capfd.readouterr())

    # 2. the command, files source: a quarantined night (incident files), printed as JSON and as a table
    path = world.settings.data_dir / MODEL / "predictions" / f"{world.day(2)}.parquet"
    _quarantined(world.log(2)).to_parquet(path, index=False)
    result = check(world.spec_path, 2, "--format", "json")
    assert result["verdict"] == "quarantined" and result["incident"]
    check(world.spec_path, 2)

    # 3. a sql source through the connection whose password is the canary
    table = f"canary_{uuid.uuid4().hex[:10]}"
    world.log(3).to_sql(table, pg_engine, index=False, method="multi", chunksize=1000)
    query = f'SELECT * FROM "{table}" WHERE "timestamp" >= :start AND "timestamp" < :end'
    sql_spec = world.spec_with("sql", source={"kind": "sql", "conn_id": "canary_pg", "query": query})
    try:
        assert check(sql_spec, 3, "--format", "json")["source"]["rows"] == 600
    finally:
        with pg_engine.begin() as conn:
            import sqlalchemy as sa

            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))

    # 4. an object store (moto S3) through the connection whose secret and session token are the canary
    s3 = boto3.client(
        "s3", endpoint_url=moto_endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )
    local = world.tmp / "night4.parquet"
    world.log(4).to_parquet(local, index=False)
    s3.upload_file(str(local), world.bucket, f"{MODEL}/{world.day(4)}.parquet")
    store_spec = world.spec_with(
        "s3",
        source={"kind": "object_store", "uri": f"s3://{world.bucket}/{MODEL}/{{date}}.parquet", "conn_id": "canary_s3"},
    )
    assert check(store_spec, 4, "--format", "json")["verdict"] != "quarantined"

    # 5. the server goes down while a night is recorded: spooled, then replayed once it is back
    night = {
        "schema": "alignment-drift/check@1",
        "model": MODEL,
        "data_interval": {"start": f"{world.day(6)}T00:00:00+00:00", "end": f"{world.day(7)}T00:00:00+00:00"},
        "source": {"uri": f"s3://{world.bucket}/{MODEL}/{world.day(6)}.parquet", "rows": 1},
        "verdict": "aligned",
        "verdict_code": 0,
        "benchmarks": [],
        "attribution": [],
    }
    world.server.stop()
    with pytest.raises(checks.RecordSpooled) as spooled:
        checks.record_check(world.settings, night, tags={"verdict": "aligned"}, params={}, artifacts={})
    outputs.append(str(spooled.value))
    (pending,) = spool.pending(world.settings, "check")
    outputs.append(pending[0].read_text())  # the spool file, read before its replay removes it
    world.server.start()
    later = {"start": f"{world.day(7)}T00:00:00+00:00", "end": f"{world.day(8)}T00:00:00+00:00"}
    run_id = checks.record_check(
        world.settings, {**night, "data_interval": later}, tags={"verdict": "aligned"}, params={}, artifacts={}
    )
    assert run_id and not pending[0].exists()  # replayed first, then removed
    outputs.extend(capfd.readouterr())

    # 6. what the Alignment page shows: the overview of the model
    from alignment_drift.integrations.overview import build_overview

    overview = build_overview(world.settings, specs=[load_spec(world.spec_path)])
    assert overview.models[0].latest is not None
    outputs.append(json.dumps(overview.to_dict(), default=str) + repr(overview))

    # every output: files of the test's folder and of the Airflow home, stdout/stderr, log records
    assert os.environ["MLFLOW_TRACKING_URI"].count(CANARY) == 1  # the canary was really in use
    hits = _hits_in_tree(world.tmp) + _hits_in_tree(airflow_db)
    hits += [
        f"output {i}: …{text[max(text.find(f) - 300, 0) : text.find(f) + 40]}"
        for i, text in enumerate(outputs)
        for f in _forms(CANARY)
        if f in text
    ]
    hits += [
        f"log {r.name}: {r.getMessage()[:200]}"
        for r in caplog.records
        if any(f in r.getMessage() or f in (r.exc_text or "") for f in _forms(CANARY))
    ]
    scanned = len(_outputs(world.tmp)) + len(_outputs(airflow_db))
    print(
        f"canary: {len(POSITIONS)} positions planted, {scanned} files + {len(outputs)} stdout/stderr captures + "
        f"{len(caplog.records)} log records scanned, {len(hits)} hits"
    )
    assert hits == [], "\n".join(hits)
