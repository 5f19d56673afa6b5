"""A few simulated nights run by the topology's scheduler, with faults injected while they run.

The world is the demo's (``alignment_drift.demo``): the simulated content
platform writes each night's prediction log, the first champion is trained
through the real retrain path (the retrain DAG, triggered through Airflow's REST
API and run by the Celery worker), and before the last night the platform
deploys its own ungated update, which the monitor must flag and answer with an
asset-driven retrain.

The spec is the repository's own, with ``start_date`` moved to a few days ago,
so unpausing the monitor DAG makes the scheduler catch up exactly those nights,
all at once (``max_active_runs``): their heads (pull, validate, drift,
benchmarks) run concurrently, their tails (trend, verdict, record) in night
order. While they run:

1. the scheduler is restarted (SIGTERM, new process) once the first batch is being validated;
2. the Celery worker is SIGKILLed, with every task process under it, as soon as a night's
   ``record`` task has created the night's MLflow run and is still writing it; a new worker is
   started, and the scheduler retries the task after the heartbeat timeout;
3. the tracking server is stopped while a later night's verdict is decided, so that its
   ``record`` meets the outage, retries, spools the check and fails; the server is then started
   again and Airflow's retry replays the spool.

If the nights run too fast for a fault to land on a first run, the fault is
applied to a rerun of a night's ``record`` instead (cleared through the REST
API); :class:`Faults` says which.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.topology.services import ServiceError, Topology

__all__ = ["NIGHTS", "ROWS_PER_NIGHT", "Faults", "Scenario", "TaskTry", "write_specs"]

NIGHTS = 4  # nights 1..3 served by the first champion, night 4 by the platform's ungated update
ROWS_PER_NIGHT = 1000
SEED = 7
KILL_AFTER = 4.0  # seconds into a rerun record task before the worker is killed (fallback only)
TERMINAL = ("success", "failed")


def write_specs(source: Path, target: Path, *, start_date: dt.date) -> Path:
    """Copy the specs folder with every spec's ``start_date`` moved to ``start_date``."""
    import shutil

    shutil.copytree(source, target)
    for path in target.glob("*.yaml"):
        lines = path.read_text().splitlines()
        moved = [f"start_date: {start_date.isoformat()}" if ln.startswith("start_date:") else ln for ln in lines]
        path.write_text("\n".join(moved) + "\n")
    return target


@dataclass(frozen=True)
class TaskTry:
    """One task instance as the metadata DB shows it."""

    run_id: str
    task_id: str
    state: str | None
    try_number: int
    start: dt.datetime | None
    end: dt.datetime | None
    interval_start: dt.datetime | None


@dataclass
class Faults:
    """What was done to the topology, and to which task instances."""

    scheduler_restart_s: float | None = None
    scheduler_restarted_during: list[tuple[str, TaskTry]] = field(default_factory=list)
    killed: list[tuple[str, TaskTry]] = field(default_factory=list)
    killed_at: dt.datetime | None = None  # when the worker was dead (a task in `killed` may end before it)
    kill_target: TaskTry | None = None
    kill_mode: str = ""  # "first run" or "rerun"
    partial_run: tuple[str, str] | None = None  # the night's MLflow run (id, status) as the worker was killed
    worker_restart_s: float | None = None
    outage_night: int | None = None
    outage_mode: str = ""
    outage_s: float | None = None
    spooled: list[str] = field(default_factory=list)


class Scenario:
    """The simulated nights, driven through the topology."""

    def __init__(self, topology: Topology, *, start_date: dt.date) -> None:
        from alignment_drift.core.spec import load_spec
        from alignment_drift.demo.simulate import ContentPlatform
        from alignment_drift.settings import Settings

        self.topo = topology
        self.settings = Settings(
            home=topology.root,
            specs_dir=topology.specs_dir,
            expectations_dir=topology.root / "expectations",
            data_dir=topology.data_dir,
            quarantine_dir=topology.data_dir / "quarantine",
            tracking_uri=topology.mlflow_url,
            artifact_root="mlflow-artifacts:/alignment-drift",
        )
        self.spec = load_spec(topology.specs_dir / "content_safety.yaml")
        assert self.spec.start_date == start_date
        self.platform = ContentPlatform(
            "engagement_feedback",
            seed=SEED,
            rows_per_night=ROWS_PER_NIGHT,
            start_date=start_date,
            update_nights=(NIGHTS,),
            decision_threshold=self.spec.retraining.training.decision_threshold,
        )
        self.monitor_id = self.spec.monitor_dag_id
        self.retrain_id = self.spec.retrain_dag_id
        self.versions: dict[int, str] = {}
        self.faults = Faults()
        self.seconds: dict[str, float] = {}

    # ------------------------------------------------------------------ the world
    def night_start(self, night: int) -> dt.datetime:
        from alignment_drift.demo.simulate.content import night_start

        return night_start(self.spec.start_date, night)

    def night_of(self, interval_start: dt.datetime) -> int:
        return (interval_start.date() - self.spec.start_date).days + 1

    def wait_for_dags(self) -> None:
        """Until the dag-processor has parsed the DAG file and the scheduler knows both DAGs."""

        def parsed() -> bool:
            ids = {r.dag_id for r in self.topo.sql("SELECT dag_id FROM dag WHERE is_stale IS NOT TRUE")}
            return {self.monitor_id, self.retrain_id} <= ids

        self.topo.wait_for("the DAG file to be parsed", parsed, timeout=180)

    def seed_champion(self) -> str:
        """Train the first champion through the retrain DAG (REST trigger, Celery worker), as the demo does."""
        from alignment_drift.demo.run import prepare_data

        began = time.monotonic()
        prepare_data(self.settings, self.spec, self.platform)
        self.topo.api("PATCH", f"/dags/{self.retrain_id}", {"is_paused": False})
        run = self.topo.api(
            "POST",
            f"/dags/{self.retrain_id}/dagRuns",
            {
                "logical_date": None,
                "conf": {"reason": "initial champion", "as_of": self.night_start(1).isoformat()},
            },
        )
        state = self.wait_run(self.retrain_id, run["dag_run_id"], timeout=420)
        if state != "success":
            raise ServiceError(
                f"The initial retrain run {run['dag_run_id']} ended {state}: "
                f"{self.task_states(self.retrain_id, run['dag_run_id'])}. {self.topo.log_hint()}"
            )
        self.seconds["seed champion"] = time.monotonic() - began
        return run["dag_run_id"]

    def write_nights(self) -> None:
        """Serve nights 1..NIGHTS (+1, in case the date turns while the test runs) and write their logs."""
        from alignment_drift.demo.run import deploy_platform_update
        from alignment_drift.integrations.mlflow import registry

        for night in range(1, NIGHTS + 2):
            update = self.platform.platform_update(night)
            if update is not None:
                deploy_platform_update(self.settings, self.spec, update)
            champion = registry.champion(self.settings, self.spec.model)
            assert champion is not None
            model = registry.load_model(self.settings, self.spec.model, champion.version)
            log = self.platform.night(night, model, model_version=champion.version)
            start = self.night_start(night)
            target = self.settings.resolve_data(
                self.spec.source.path.format(date=f"{start:%Y-%m-%d}", model=self.spec.model, start="", end="")
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            log.to_parquet(target, index=False)
            self.versions[night] = champion.version

    # ------------------------------------------------------------------ the metadata DB
    def tries(self, dag_id: str | None = None) -> list[TaskTry]:
        rows = self.topo.sql(
            "SELECT ti.run_id, ti.task_id, ti.state, ti.try_number, ti.start_date, ti.end_date, "
            "dr.data_interval_start FROM task_instance ti JOIN dag_run dr "
            "ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id WHERE ti.dag_id = :dag",
            dag=dag_id or self.monitor_id,
        )
        return [TaskTry(*row) for row in rows]

    def active_tries(self) -> list[tuple[str, TaskTry]]:
        """(dag_id, task instance) of every queued or running task instance, of any DAG."""
        rows = self.topo.sql(
            "SELECT ti.dag_id, ti.run_id, ti.task_id, ti.state, ti.try_number, ti.start_date, ti.end_date, "
            "dr.data_interval_start FROM task_instance ti JOIN dag_run dr "
            "ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id WHERE ti.state IN ('queued', 'running')"
        )
        return [(row[0], TaskTry(*row[1:])) for row in rows]

    def history(self, dag_id: str | None = None) -> list[TaskTry]:
        """Earlier tries of every task instance (Airflow keeps them in task_instance_history)."""
        rows = self.topo.sql(
            "SELECT h.run_id, h.task_id, h.state, h.try_number, h.start_date, h.end_date, "
            "dr.data_interval_start FROM task_instance_history h JOIN dag_run dr "
            "ON dr.dag_id = h.dag_id AND dr.run_id = h.run_id WHERE h.dag_id = :dag",
            dag=dag_id or self.monitor_id,
        )
        return [TaskTry(*row) for row in rows]

    def runs(self, dag_id: str | None = None) -> list[Any]:
        return self.topo.sql(
            "SELECT run_id, state, run_type, data_interval_start, data_interval_end, start_date, end_date "
            "FROM dag_run WHERE dag_id = :dag ORDER BY data_interval_start, run_id",
            dag=dag_id or self.monitor_id,
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {t.task_id: f"{t.state} (try {t.try_number})" for t in self.tries(dag_id) if t.run_id == run_id}

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        def done() -> str | None:
            rows = [r for r in self.runs(dag_id) if r.run_id == run_id]
            return rows[0].state if rows and rows[0].state in TERMINAL else None

        return str(self.topo.wait_for(f"{dag_id} run {run_id} to finish", done, timeout=timeout))

    def verdict_of(self, run_id: str) -> str | None:
        rows = self.topo.sql(
            "SELECT value FROM xcom WHERE dag_id = :dag AND run_id = :run AND task_id = 'verdict' "
            "AND key = 'return_value'",
            dag=self.monitor_id,
            run=run_id,
        )
        value = rows[0].value if rows else None
        return value.get("verdict") if isinstance(value, dict) else None

    def asset_events(self) -> list[Any]:
        return self.topo.sql(
            "SELECT e.id, e.extra, e.source_dag_id, e.source_run_id FROM asset_event e "
            "JOIN asset a ON a.id = e.asset_id WHERE a.uri = :uri ORDER BY e.id",
            uri=self.spec.retrain_request_asset[1],
        )

    # ------------------------------------------------------------------ the nights, with faults
    def run(self) -> None:
        """Unpause the monitor DAG, inject the faults while the scheduler catches up, wait for everything."""
        began = time.monotonic()
        self.topo.api("PATCH", f"/dags/{self.monitor_id}", {"is_paused": False})
        self._restart_scheduler()
        self._kill_worker_mid_record()
        self._stop_tracking_server_for_a_record()
        self._wait_monitor_runs()
        self._wait_retrains()
        self.seconds["nights"] = time.monotonic() - began

    def _restart_scheduler(self) -> None:
        def validating() -> bool:
            return any(t.task_id == "validate" and t.state in ("running", "success") for t in self.tries())

        self.topo.wait_for("the first night's validate task", validating, timeout=300, interval=0.5)
        self.faults.scheduler_restarted_during = self.active_tries()
        self.faults.scheduler_restart_s = self.topo.restart("airflow-scheduler")

    def _check_run(self, night: int) -> Any:
        """The night's check run in MLflow, or None (read while the record task writes it)."""
        from alignment_drift.integrations.mlflow.store import client, experiment_id

        start = self.night_start(night).isoformat()
        try:
            runs = client(self.settings).search_runs(
                [experiment_id(self.settings, self.spec.model)],
                filter_string=f"tags.kind = 'check' and tags.data_interval_start = '{start}'",
            )
        except Exception:  # the server is busy or restarting: ask again on the next poll
            return None
        return runs[0] if runs else None

    def _records(self) -> list[TaskTry]:
        """The record task of every night, in night order."""
        records = [t for t in self.tries() if t.task_id == "record" and t.interval_start is not None]
        return sorted(records, key=lambda t: t.interval_start)  # type: ignore[arg-type, return-value]

    def _kill_worker_mid_record(self) -> None:
        """SIGKILL the worker once a record task has created the night's run but not finished writing it.

        Tails run in night order (``trend`` waits for the previous night's record),
        so the first night whose record is caught half-written is the target. When
        every night was recorded before that could be seen, a rerun of night 1's
        record is killed instead, a few seconds into it.
        """

        def half_written() -> tuple[TaskTry, Any] | str | None:
            records = self._records()
            for record in records:
                if record.state == "running" and record.interval_start is not None:
                    run = self._check_run(self.night_of(record.interval_start))
                    if run is not None and run.info.status == "RUNNING":
                        return record, run
            if len(records) >= NIGHTS and all(r.state == "success" for r in records):
                return "all recorded"
            return None

        found = self.topo.wait_for("a record task half-way through its write", half_written, timeout=900, interval=0.2)
        if found == "all recorded":
            self.faults.kill_mode = "rerun"
            self._clear_record(self._night_run(1))
            target = self.topo.wait_for("the rerun record task", self._recording, timeout=300, interval=0.25)
        else:
            self.faults.kill_mode = "first run"
            target, run = found
            self.faults.partial_run = (run.info.run_id, run.info.status)
        self.faults.kill_target = target
        self.faults.killed = [(d, t) for d, t in self.active_tries() if t.state == "running"]
        self.topo.kill_worker()
        self.faults.killed_at = dt.datetime.now(dt.UTC)
        self.faults.worker_restart_s = self.topo.start_worker()

    def _recording(self) -> TaskTry | None:
        """A record task that has been running for KILL_AFTER seconds."""
        now = dt.datetime.now(dt.UTC)
        for record in self._records():
            if record.state == "running" and record.start and (now - record.start).total_seconds() >= KILL_AFTER:
                return record
        return None

    def _night_run(self, night: int) -> str:
        for run in self.runs():
            if run.data_interval_start is not None and self.night_of(run.data_interval_start) == night:
                return str(run.run_id)
        raise ServiceError(f"No monitor run for night {night}: {[r.run_id for r in self.runs()]}")

    def _clear_record(self, run_id: str) -> None:
        self.topo.api(
            "POST",
            f"/dags/{self.monitor_id}/clearTaskInstances",
            {
                "dry_run": False,
                "task_ids": ["record"],
                "dag_run_id": run_id,
                "only_failed": False,
                "reset_dag_runs": True,
            },
        )

    def _stop_tracking_server_for_a_record(self) -> None:
        """Stop ``mlflow server`` while a later night's verdict is decided, so that its record meets the outage.

        The night must not be the killed one nor the flagged last night (a trigger
        verdict searches MLflow for the cooldown before writing, and would fail
        there instead of spooling). Its record retries and spools, the task fails,
        then the server is started again and Airflow's retry replays the spool.
        When no such night is left, the outage hits a rerun of a night's record.
        """
        killed = {t.run_id for _, t in self.faults.killed if t.task_id == "record"}

        def deciding() -> TaskTry | str | None:
            tries = self.tries()
            pending = False
            for record in self._records():
                night = self.night_of(record.interval_start) if record.interval_start else NIGHTS
                if record.run_id in killed or night >= NIGHTS or record.start is not None:
                    continue
                pending = True
                verdict = [t for t in tries if t.run_id == record.run_id and t.task_id == "verdict"]
                if verdict and verdict[0].state in ("running", "success"):
                    return record
            return None if pending else "none left"

        found = self.topo.wait_for("a night's verdict before its record", deciding, timeout=900, interval=0.2)
        self._outage_began = time.monotonic()
        if found == "none left":
            night = next(n for n in range(1, NIGHTS) if self._night_run(n) not in killed)
            self.faults.outage_mode, self._outage_run = "rerun", self._night_run(night)
            self.topo.stop_mlflow()
            self._clear_record(self._outage_run)
        else:
            night = self.night_of(found.interval_start)  # type: ignore[arg-type]
            self.faults.outage_mode, self._outage_run = "first run", found.run_id
            self.topo.stop_mlflow()
        self.faults.outage_night = night
        self._end_outage()

    def _end_outage(self) -> None:
        """Once the record has been spooled and its try has failed, start the tracking server again."""
        run_id = self._outage_run

        def spooled_and_failed() -> bool:
            self.faults.spooled = sorted({*self.faults.spooled, *(p.name for p in self.topo.spool_dir.glob("*.json"))})
            record = [t for t in self.tries() if t.run_id == run_id and t.task_id == "record"]
            return bool(record) and record[0].state in ("up_for_retry", "failed")

        try:
            self.topo.wait_for(
                "the record to be spooled during the outage", spooled_and_failed, timeout=300, interval=0.5
            )
        finally:
            self.faults.outage_s = time.monotonic() - self._outage_began
            self.topo.start_mlflow(timeout=240)

    def _wait_monitor_runs(self) -> None:
        def finished() -> bool:
            runs = self.runs()
            nights = {self.night_of(r.data_interval_start) for r in runs if r.data_interval_start is not None}
            return set(range(1, NIGHTS + 1)) <= nights and all(r.state in TERMINAL for r in runs)

        self.topo.wait_for("every night's monitor run to finish", finished, timeout=900, interval=2.0)

    def _wait_retrains(self) -> None:
        def finished() -> bool:
            runs = self.runs(self.retrain_id)
            return bool(self.asset_events()) and len(runs) >= 2 and all(r.state in TERMINAL for r in runs)

        self.topo.wait_for("the asset-triggered retrain run to finish", finished, timeout=600, interval=2.0)
