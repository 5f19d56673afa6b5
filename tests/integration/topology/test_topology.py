"""The production topology, natively: nights caught up by the scheduler on Celery, with faults, nothing lost.

PostgreSQL (Airflow metadata, Celery results, MLflow's store), Redis (the
broker), ``mlflow server`` with artifacts on an S3-protocol server, and
Airflow's api-server, scheduler, dag-processor, triggerer and a Celery worker
run as real processes (see :mod:`.services`). The scenario (:mod:`.scenario`)
restarts the scheduler, kills the worker mid-record and stops the tracking
server during another night's record; every test below then reads the
system of record (MLflow) and the metadata DB.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from tests.integration.topology.scenario import NIGHTS, ROWS_PER_NIGHT, Scenario

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

CHECK_ARTIFACTS = {"check.json", "drift/columns.json", "drift/table.json", "validation/gx_result.json"}


def _client(scenario: Scenario) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=scenario.topo.mlflow_url, registry_uri=scenario.topo.mlflow_url)


def _experiment(scenario: Scenario) -> Any:
    return _client(scenario).get_experiment_by_name(scenario.spec.experiment_name)


def _check_runs(scenario: Scenario, night: int) -> list[Any]:
    """Every check run of a night, deleted ones included: a duplicate would show here."""
    from mlflow.entities import ViewType

    start = scenario.night_start(night).isoformat()
    return _client(scenario).search_runs(
        [_experiment(scenario).experiment_id],
        filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{start}'",
        run_view_type=ViewType.ALL,
    )


def _artifacts(scenario: Scenario, run_id: str) -> set[str]:
    client = _client(scenario)
    found: set[str] = set()
    pending = [None]
    while pending:
        path = pending.pop()
        for item in client.list_artifacts(run_id, path):
            (pending.append(item.path) if item.is_dir else found.add(item.path))
    return found


def _check_json(scenario: Scenario, run_id: str, tmp_path: Any) -> dict[str, Any]:
    import json
    from pathlib import Path

    return json.loads(Path(_client(scenario).download_artifacts(run_id, "check.json", str(tmp_path))).read_text())


def _nights(scenario: Scenario) -> dict[int, Any]:
    """The monitor DAG's runs by night."""
    return {scenario.night_of(r.data_interval_start): r for r in scenario.runs() if r.data_interval_start}


def _assert_complete(scenario: Scenario, night: int, tmp_path: Any) -> Any:
    """Exactly one check run for the night, finished, with its documented tags, metrics and artifacts."""
    runs = _check_runs(scenario, night)
    assert len(runs) == 1, f"night {night}: {len(runs)} check runs {[r.info.run_id for r in runs]}"
    (run,) = runs
    start = scenario.night_start(night)
    end = start + dt.timedelta(days=1)
    tags, metrics = run.data.tags, run.data.metrics
    assert run.info.lifecycle_stage == "active" and run.info.status == "FINISHED", (night, run.info)
    assert tags["kind"] == "check" and tags["model"] == scenario.spec.model
    assert tags["data_interval"] == f"{start.isoformat()}/{end.isoformat()}"
    assert tags["data_interval_end"] == end.isoformat()
    assert tags["airflow_dag_id"] == scenario.monitor_id
    assert tags["airflow_run_id"] == _nights(scenario)[night].run_id
    assert tags["model_version"] == scenario.versions[night]
    assert metrics["batch.rows"] == ROWS_PER_NIGHT
    assert metrics["data_interval_start_ts"] == start.timestamp()
    assert {"verdict_code", "drift.share", "benchmark.audit_roc_auc.value"} <= set(metrics)
    assert CHECK_ARTIFACTS <= _artifacts(scenario, run.info.run_id), night
    check = _check_json(scenario, run.info.run_id, tmp_path)
    assert check["verdict"] == tags["verdict"] and check["data_interval"]["start"] == start.isoformat()
    return run


def test_every_night_is_caught_up_and_recorded_exactly_once(scenario: Scenario, tmp_path: Any) -> None:
    from alignment_drift.integrations.mlflow.spool import pending

    nights = _nights(scenario)
    assert set(range(1, NIGHTS + 1)) <= set(nights), sorted(nights)
    for night, run in nights.items():
        assert run.state == "success" and run.run_type == "scheduled", (night, run)
        _assert_complete(scenario, night, tmp_path / str(night))
    flagged = _check_runs(scenario, NIGHTS)[0].data.tags
    assert flagged["verdict"] in scenario.spec.retraining.trigger_verdicts and flagged["retrain_requested"] == "true"
    assert "model_update" in flagged["attribution"]
    for night in range(1, NIGHTS):
        assert _check_runs(scenario, night)[0].data.tags["retrain_requested"] == "false", night
    assert pending(scenario.settings, "check") == []


def test_artifacts_go_through_the_tracking_server_to_s3(scenario: Scenario) -> None:
    experiment = _experiment(scenario)
    assert experiment.artifact_location == f"mlflow-artifacts:/alignment-drift/{scenario.spec.model}"
    s3 = scenario.topo.s3_client()
    keys = {
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="mlflow", Prefix="artifacts/")
        for obj in page.get("Contents", [])
    }
    for night in range(1, NIGHTS + 1):
        run_id = _check_runs(scenario, night)[0].info.run_id
        assert any(k.endswith(f"/{run_id}/artifacts/check.json") for k in keys), (night, run_id)
    assert any(k.endswith("/artifacts/MLmodel") for k in keys), "no registered model's files in S3"


def test_the_flagged_night_requests_one_asset_driven_retrain_that_restores_a_champion(scenario: Scenario) -> None:
    from alignment_drift.integrations.mlflow import registry

    flagged_run = _check_runs(scenario, NIGHTS)[0]
    (event,) = scenario.asset_events()
    assert event.source_dag_id == scenario.monitor_id and event.source_run_id == _nights(scenario)[NIGHTS].run_id
    assert event.extra["mlflow_run_id"] == flagged_run.info.run_id
    assert event.extra["verdict"] == flagged_run.data.tags["verdict"]

    retrains = scenario.runs(scenario.retrain_id)
    assert sorted(r.run_type for r in retrains) == ["asset_triggered", "manual"], retrains
    assert all(r.state == "success" for r in retrains), retrains
    (asset_run,) = [r for r in retrains if r.run_type == "asset_triggered"]

    client = _client(scenario)
    (mlflow_run,) = client.search_runs(
        [_experiment(scenario).experiment_id],
        filter_string=f"tags.kind = 'retrain' and tags.airflow_run_id = '{asset_run.run_id}'",
    )
    tags = mlflow_run.data.tags
    assert tags["trigger"] == "asset" and tags["requested_by_check_run"] == flagged_run.info.run_id
    assert tags["gate_decision"] == "promoted", tags
    platform_version = scenario.versions[NIGHTS]
    assert client.get_model_version(scenario.spec.model, platform_version).tags["deployed_by"].startswith("platform")
    aliases = client.get_registered_model(scenario.spec.model).aliases
    assert aliases["champion"] == tags["challenger_version"] != platform_version, aliases
    assert aliases["previous"] == platform_version, aliases
    assert registry.champion(scenario.settings, scenario.spec.model).version == tags["challenger_version"]


def test_a_worker_killed_mid_record_is_retried_by_a_new_worker_and_records_once(
    scenario: Scenario, tmp_path: Any
) -> None:
    faults = scenario.faults
    target = faults.kill_target
    assert target is not None and target.task_id == "record", faults
    assert faults.worker_restart_s is not None
    killed = {(d, t.run_id, t.task_id): t for d, t in faults.killed}
    assert (scenario.monitor_id, target.run_id, "record") in killed
    now = {(t.run_id, t.task_id): t for t in scenario.tries()}
    now.update({(t.run_id, t.task_id): t for t in scenario.tries(scenario.retrain_id)})
    history = {(t.run_id, t.task_id, t.try_number): t for t in scenario.history()}
    for (_, run_id, task_id), before in killed.items():
        after = now[(run_id, task_id)]
        ended = after.end is not None and faults.killed_at is not None and after.end <= faults.killed_at
        if after.try_number == before.try_number and ended:
            continue  # it was running when the tries were read and finished before the worker was killed
        assert after.state == "success" and after.try_number > before.try_number, (task_id, before, after)
    killed_try = history.get((target.run_id, "record", target.try_number))
    assert killed_try is not None and killed_try.state in ("failed", "up_for_retry"), killed_try
    run = _assert_complete(scenario, scenario.night_of(target.interval_start), tmp_path)
    if faults.kill_mode == "first run":  # the worker died half-way through writing the night's run
        assert faults.partial_run is not None and faults.partial_run[1] == "RUNNING", faults.partial_run
        assert run.info.run_id == faults.partial_run[0], "the retry did not complete the half-written run"


def test_a_tracking_server_outage_during_a_record_is_spooled_and_replayed_once(
    scenario: Scenario, tmp_path: Any
) -> None:
    from alignment_drift.integrations.mlflow.spool import pending

    faults = scenario.faults
    night = faults.outage_night
    assert night is not None and faults.outage_s is not None, faults
    start = scenario.night_start(night).isoformat()
    expected = "check__" + re.sub(r"[^A-Za-z0-9_.-]", "_", f"{scenario.spec.model}__{start}") + ".json"
    assert expected in faults.spooled, faults.spooled
    record = {t.task_id: t for t in scenario.tries() if t.run_id == _nights(scenario)[night].run_id}["record"]
    assert record.state == "success" and record.try_number >= 2, record
    run = _assert_complete(scenario, night, tmp_path)
    assert run.data.tags["replayed_from_spool"] == expected
    assert pending(scenario.settings, "check") == []


def test_a_scheduler_restarted_mid_run_loses_nothing(scenario: Scenario) -> None:
    assert scenario.faults.scheduler_restart_s is not None
    jobs = scenario.topo.sql("SELECT id, state FROM job WHERE job_type = 'SchedulerJob' ORDER BY id")
    assert len(jobs) >= 2, jobs
    assert scenario.faults.scheduler_restarted_during, "nothing was queued or running at the restart"
    finals = {(t.run_id, t.task_id): t.state for t in scenario.tries()}
    for dag_id, ti in scenario.faults.scheduler_restarted_during:
        if dag_id == scenario.monitor_id:
            assert finals[(ti.run_id, ti.task_id)] == "success", ti
    assert all(r.state == "success" for r in scenario.runs())


def test_nights_run_concurrently(scenario: Scenario) -> None:
    spans: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    for ti in scenario.tries():
        if ti.start is None or ti.end is None or ti.interval_start is None:
            continue
        night = scenario.night_of(ti.interval_start)
        first, last = spans.get(night, (ti.start, ti.end))
        spans[night] = (min(first, ti.start), max(last, ti.end))
    overlapping = [
        (a, b) for a in spans for b in spans if a < b and max(spans[a][0], spans[b][0]) < min(spans[a][1], spans[b][1])
    ]
    assert overlapping, spans
    tasks = [t for t in scenario.tries() if t.start is not None and t.end is not None]
    parallel = [
        (a.run_id, a.task_id, b.run_id, b.task_id)
        for a in tasks
        for b in tasks
        if a.run_id < b.run_id and max(a.start, b.start) < min(a.end, b.end)  # type: ignore[type-var]
    ]
    assert parallel, "no two nights' tasks ever ran at the same time"


def test_a_backfill_of_the_nights_gives_the_records_of_the_one_by_one_run(scenario: Scenario) -> None:
    """``airflow backfill`` over the caught-up nights (reprocessing them, several at once) changes no record.

    Runs last: it reprocesses nights the tests above read. The flagged night is
    left out (its retrain request is asserted above and must stay the only one).
    """
    nights = range(1, NIGHTS)
    before = {n: _check_runs(scenario, n) for n in nights}
    assert all(len(runs) == 1 for runs in before.values()), before
    events = len(scenario.asset_events())
    backfill = scenario.topo.api(
        "POST",
        "/backfills",
        {
            "dag_id": scenario.monitor_id,
            "from_date": scenario.night_start(1).isoformat(),
            "to_date": scenario.night_start(NIGHTS - 1).isoformat(),
            "reprocess_behavior": "completed",
            "max_active_runs": 3,
        },
    )
    scenario.topo.wait_for(
        "the backfill to complete",
        lambda: scenario.topo.api("GET", f"/backfills/{backfill['id']}")["completed_at"],
        timeout=1200,
        interval=5,
    )
    runs = scenario.topo.sql(
        "SELECT r.run_id, r.state, r.data_interval_start FROM dag_run r "
        "JOIN backfill_dag_run b ON b.dag_run_id = r.id WHERE b.backfill_id = :id",
        id=backfill["id"],
    )
    assert sorted(scenario.night_of(r.data_interval_start) for r in runs) == list(nights), runs
    assert {r.state for r in runs} == {"success"}, runs
    for night in nights:
        after = _check_runs(scenario, night)
        assert len(after) == 1, f"night {night}: {len(after)} check runs"
        (first,), (again,) = before[night], after
        assert again.info.run_id == first.info.run_id
        assert again.data.metrics == first.data.metrics, night
        for tag in ("verdict", "attribution", "retrain_requested", "model_version", "reference_version"):
            assert again.data.tags[tag] == first.data.tags[tag], (night, tag)
    assert len(scenario.asset_events()) == events  # no new retrain request
