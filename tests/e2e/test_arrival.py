"""Data-aware nights through the real DAGs: a batch that lands late, one that never lands, a night run on arrival.

The nights waited for end *now* (the run names its night in its conf), so
``source.wait`` is measured from a deadline seconds away; the batch is written
by a thread after a delay, as a late upstream job would.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.e2e.conftest import World, task_states

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _with_wait(world: World, wait: int, schedule: str | None = None) -> Any:
    update: dict[str, Any] = {"source": world.spec.source.model_copy(update={"wait": wait})}
    if schedule:
        update["schedule"] = schedule
    return world.spec.model_copy(update=update)


def _ending_now(world: World, night: int) -> tuple[dt.datetime, dt.datetime, pd.DataFrame]:
    """Night ``night``'s interval cut to end now, and its prediction log inside it."""
    from alignment_drift.integrations.mlflow import registry

    start, end = world.night_start(night), dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
    version = registry.champion(world.settings, world.spec.model).version
    log = world.platform.night(
        night, registry.load_model(world.settings, world.spec.model, version), model_version=version
    )
    return start, end, log


def _conf(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    return {"data_interval_start": start.isoformat(), "data_interval_end": end.isoformat()}


def _check(world: World, night: int) -> dict[str, str]:
    runs = world.check_runs(night)
    assert len(runs) == 1, f"{len(runs)} check runs for night {night}"
    return dict(runs[0].data.tags)


def test_a_batch_that_lands_within_the_wait_is_checked_not_quarantined(world: World) -> None:
    from alignment_drift.airflow.monitor_dag import monitor_dag

    night = 70
    start, end, log = _ending_now(world, night)
    world.batch_path(night).unlink(missing_ok=True)
    writer = threading.Timer(3.0, world.write_night, args=(night, log))
    writer.start()
    began = time.monotonic()
    try:
        dag_run = monitor_dag(_with_wait(world, 20), world.settings.home).test(
            logical_date=start + dt.timedelta(days=1), run_conf=_conf(start, end)
        )
    finally:
        writer.join()
    states = task_states(dag_run)
    assert states["wait_for_batch"] == "success" and states["finish"] == "success", states
    assert time.monotonic() - began >= 3.0  # it did wait for the batch
    tags = _check(world, night)
    assert tags["verdict"] != "quarantined" and tags["data_interval_start"] == start.isoformat(), tags


def test_a_batch_that_never_lands_is_quarantined_after_the_wait_naming_it(world: World) -> None:
    from alignment_drift.airflow.monitor_dag import monitor_dag

    night = 71
    start, end, _ = _ending_now(world, night)
    world.batch_path(night).unlink(missing_ok=True)
    began = time.monotonic()
    dag_run = monitor_dag(_with_wait(world, 4), world.settings.home).test(
        logical_date=start + dt.timedelta(days=1), run_conf=_conf(start, end)
    )
    assert time.monotonic() - began >= 4.0
    states = task_states(dag_run)
    assert states["wait_for_batch"] == "success" and states["finish"] == "failed", states
    assert _check(world, night)["verdict"] == "quarantined"
    validation = dag_run.get_task_instance("validate").xcom_pull(task_ids="validate")
    reason = validation["reason"]
    assert reason.startswith("no batch:"), reason
    for part in ("waited for 4s", "source.wait", "did not land", "Fix:", "rerun the night"):
        assert part in reason, reason


def test_a_night_runs_when_its_batch_lands_and_is_recorded_under_its_interval(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from alignment_drift.airflow.arrival import arrival_asset, arrival_dag
    from alignment_drift.airflow.common import arrival_nights
    from alignment_drift.airflow.monitor_dag import monitor_dag

    spec = _with_wait(world, 3600, schedule="on_arrival")
    # the DAG files build the on_arrival spec's DAGs (dag.test() runs what the DAG folder defines)
    data = yaml.safe_load((world.settings.specs_dir / f"{spec.model}.yaml").read_text())
    data["schedule"], data["source"]["wait"] = "on_arrival", "1h"
    (tmp_path / f"{spec.model}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    shutil.copytree(world.settings.specs_dir / spec.model, tmp_path / spec.model)  # its probe cases
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(tmp_path))
    night = 72
    world.serve_night(night)
    watcher = arrival_dag(spec, world.settings.home).test(logical_date=world.night_start(night) + dt.timedelta(days=1))
    assert str(watcher.state) == "success", task_states(watcher)
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == arrival_asset(spec).uri)
            .order_by(AssetEvent.id)
        ).all()
        # what the scheduler hands the monitor DAG's run: the events since its last run
        nights = arrival_nights({"triggering_asset_events": {arrival_asset(spec): list(reversed(events))}})
    assert nights[-1]["landed"] is True and nights[-1]["event"] == "batch_arrived"
    extra = next(n for n in nights if n["data_interval_start"] == world.night_start(night).isoformat())
    assert extra["data_interval_end"] == (world.night_start(night) + dt.timedelta(days=1)).isoformat()

    monitor = monitor_dag(spec, world.settings.home)
    assert "wait_for_batch" not in monitor.task_dict and "requeue_nights" in monitor.task_dict
    assert str(monitor.timetable.asset_condition).count(arrival_asset(spec).name) == 1
    dag_run = monitor.test(run_conf=extra)
    states = task_states(dag_run)
    assert states["finish"] == "success" and states["requeue_nights"] == "skipped", states
    assert _check(world, night)["data_interval_end"] == extra["data_interval_end"]
