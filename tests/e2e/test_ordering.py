"""Concurrent nights: a night's history-dependent tail waits for the previous night's record.

Airflow itself enforces it (``depends_on_past`` + ``wait_for_downstream`` on
``trend``, for scheduled and backfill runs), so this runs the real DAG through ``dag.test()`` on the real
metadata DB: with the previous night's ``record`` not finished, the next
night measures (pull, validate, drift, benchmarks) but does not decide or
record; once the previous record is done, the same night completes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import World, task_states

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIRST, SECOND = 40, 41


def _set_state(world: World, night: int, task_id: str, state: str) -> None:
    """Set a task's state in the night's run, and mark that run as the scheduler's (not a manual one)."""
    import datetime as dt

    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunType
    from sqlalchemy import select, update

    logical = world.night_start(night) + dt.timedelta(days=1)
    with create_session() as session:
        run_id = session.scalar(
            select(DagRun.run_id).where(DagRun.dag_id == world.spec.monitor_dag_id, DagRun.logical_date == logical)
        )
        # with catch-up on, Airflow orders a night after the previous *scheduled* (or backfill) run;
        # dag.test() makes manual runs, so the first night is turned into the scheduler's run
        session.execute(update(DagRun).where(DagRun.run_id == run_id).values(run_type=DagRunType.SCHEDULED))
        session.execute(
            update(TaskInstance)
            .where(
                TaskInstance.dag_id == world.spec.monitor_dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
            .values(state=state)
        )


def _states(world: World, night: int) -> dict[str, str]:
    import datetime as dt

    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    logical = world.night_start(night) + dt.timedelta(days=1)
    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state)
            .join(DagRun, (DagRun.run_id == TaskInstance.run_id) & (DagRun.dag_id == TaskInstance.dag_id))
            .where(DagRun.dag_id == world.spec.monitor_dag_id, DagRun.logical_date == logical)
        ).all()
    return {task: str(state) for task, state in rows}


def test_the_next_night_waits_for_the_previous_record(world: World, tmp_path: Path) -> None:
    import datetime as dt
    import subprocess
    import sys
    import time

    for night in (FIRST, SECOND):
        world.serve_night(night)
    first = world.run_monitor(FIRST)
    assert str(first.state) == "success", task_states(first)

    # the previous night's record has not finished (as when both nights run at once)
    _set_state(world, FIRST, "record", "running")
    # the next night in a second process, as a second worker would run it (dag.test() needs a main thread)
    logical = (world.night_start(SECOND) + dt.timedelta(days=1)).isoformat()
    airflow = Path(sys.executable).with_name("airflow")
    log = tmp_path / "second-night.log"
    with log.open("wb") as out:
        second = subprocess.Popen(
            [str(airflow), "dags", "test", world.spec.monitor_dag_id, logical], stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = _states(world, SECOND)
        if states.get("benchmarks") == "success" and states.get("drift") == "success":
            break
        time.sleep(1)
    time.sleep(5)  # a few scheduling loops: the tail must stay put
    states = _states(world, SECOND)
    assert {states[t] for t in ("pull", "validate", "drift", "benchmarks")} == {"success"}, states
    assert {states[t] for t in ("trend", "verdict", "record")} == {"None"}, states
    assert world.check_runs(SECOND) == []  # nothing decided or recorded out of order
    assert second.poll() is None, log.read_text()[-3000:]

    _set_state(world, FIRST, "record", "success")  # the previous record finishes: the night goes on
    try:
        second.wait(timeout=300)
    finally:
        second.kill()
    assert second.returncode == 0, log.read_text()[-3000:]
    states = _states(world, SECOND)
    assert {states[t] for t in ("trend", "verdict", "record", "finish")} == {"success"}, states
    (run,) = world.check_runs(SECOND)
    assert run.data.tags["verdict"] in ("aligned", "watch", "drifting", "misaligned")
