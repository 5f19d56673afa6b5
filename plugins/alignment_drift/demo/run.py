"""The demo: simulated nights of the content platform run through the real DAGs.

For each night: the simulated platform (maybe) deploys its own update,
serves the night with the current champion and writes the prediction log
where the spec's source reads it; the monitor DAG runs for that data interval
with ``dag.test()`` on the real metadata DB; every retrain-request asset event
the night emitted is read back from the metadata DB and the retrain DAG runs
for it. The table printed at the end is read from MLflow, the system of record.

The demo's governance (:mod:`.governance`): the spec runs with
``governance.on_ungated`` from the demo's option (``rollback`` by default; the
file is not changed) and, with alerts on, a ``webhook`` route to a local
receiver (:mod:`.receiver`), so each night shows what the deployment policies
did about an ungated platform update and which alerts were delivered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from alignment_drift.demo.table import DemoNight, print_footer, print_header, print_row, shown_path, signals
from alignment_drift.settings import Settings

if TYPE_CHECKING:
    from alignment_drift.demo.receiver import AlertReceiver

__all__ = ["DemoNight", "prepare_data", "run_demo"]


def prepare_data(settings: Settings, spec: Any, platform: Any) -> None:
    """Write the spec's training data and audit set from the simulator (once; reruns reuse them)."""
    for relative, make in (
        (spec.reference.training_data, platform.training_data),
        (spec.reference.audit_set, platform.audit_set),
    ):
        path = settings.resolve_data(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        make().to_parquet(path, index=False)


def deploy_platform_update(settings: Settings, spec: Any, update: Any) -> str:
    """Train the platform's own update and make it champion directly, bypassing any gate.

    This is what the monitor must catch: a version that never passed the gate.
    """
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.integrations.mlflow.models import log_sklearn_model
    from alignment_drift.integrations.mlflow.store import client, experiment_id, in_run

    roles = spec.columns.model_copy(
        update={"features": [f for f in spec.columns.features if f.name in update.features]}
    )
    pipeline = fit_pipeline(
        update.frame, roles, spec.retraining.training, label=update.label, sample_weight=update.sample_weight
    )
    mlflow_client = client(settings)
    run = mlflow_client.create_run(
        experiment_id(settings, spec.model),
        run_name=f"platform update night {update.night}",
        tags={"kind": "platform_update"},
    )
    with in_run(settings, run.info.run_id):
        logged, _ = log_sklearn_model(
            pipeline,
            registered_model_name=spec.model,
            input_example=update.frame[list(update.features)].head(3),
            trusted_types=spec.registry.trusted_types,
        )
    version = str(logged.registered_model_version)
    mlflow_client.set_model_version_tag(spec.model, version, "deployed_by", f"platform ({update.kind})")
    mlflow_client.set_registered_model_alias(spec.model, "champion", version)
    return version


def _new_events(asset_uri: str, seen: set[int]) -> list[tuple[int, dict[str, Any]]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.id, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == asset_uri)
            .order_by(AssetEvent.id)
        ).all()
    return [(int(i), dict(extra or {})) for i, extra in rows if i not in seen]


def _as_scheduled(dag_id: str, run_id: str, start: dt.datetime) -> None:
    """Give the night's run the logical date the scheduler gives that night: its data interval's start.

    ``dag.test()`` makes a manual run whose data interval ends at its logical
    date, so a run of the night ``[start, end)`` had the logical date ``end``:
    the next night's, as the scheduler counts. A scheduler on this metadata DB
    (``make airflow``) then finds "its" run of the next night already there,
    takes that run as the reference, computes the same next night again and
    loops ("run already exists; skipping dagrun creation"), after re-checking
    the first night, whose logical date no run held. With the logical date at
    the interval's start the scheduler sees every demo night as done and goes
    on after the last one.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        for earlier in session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == start, DagRun.run_id != run_id)
        ):
            session.delete(earlier)  # an earlier demo's run of this night: replaced, as dag.test() replaces runs
        session.flush()
        dag_run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        dag_run.logical_date = start


def _hold_scheduler(dag_ids: Sequence[str]) -> None:
    """Leave the demo's DAGs paused, with no asset-triggered run queued: a scheduler started later changes nothing.

    The demo runs every night and every retrain request itself; an unpaused
    DAG would let ``make airflow`` check the recorded nights again and run
    retrains for requests the demo already handled (queued asset events).
    """
    from airflow.models.asset import AssetDagRunQueue
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete, update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id.in_(dag_ids)).values(is_paused=True))
        session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id.in_(dag_ids)))


def _quiet() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("airflow", "mlflow", "great_expectations", "alembic", "sqlalchemy", "py.warnings", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)


@contextlib.contextmanager
def _logs_to(path: Path) -> Iterator[TextIO]:
    """Send everything written to stdout and stderr (Airflow's task logs) to ``path``.

    Yields a stream on the real stdout, for the table.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    real = os.fdopen(os.dup(1), "w", buffering=1)
    with path.open("a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield real
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            real.close()


def run_demo(
    *,
    nights: int = 30,
    scenario: str = "engagement_feedback",
    seed: int = 7,
    rows_per_night: int = 2000,
    on_ungated: str = "rollback",
    alerts: bool = True,
    update_nights: Sequence[int] | None = None,
    home: Path | str | None = None,
    out: TextIO | None = None,
) -> list[DemoNight]:
    """Run the demo and print its table.

    Parameters
    ----------
    nights : int, default=30
        How many simulated nights.
    scenario : str, default="engagement_feedback"
        The simulator's scenario.
    seed : int, default=7
        The simulator's seed.
    rows_per_night : int, default=2000
        Prediction-log rows per night.
    on_ungated : {"rollback", "hold", "notify"}, default="rollback"
        The demo's ``governance.on_ungated`` (the spec file is not changed): what a night does when the
        version that served it never passed the gate, as the platform's own updates never do.
    alerts : bool, default=True
        Start a local alert receiver (loopback HTTP) and add a ``webhook`` route to it, so that the monitor
        DAG's ``notify`` task delivers each incident's and each ungated version's alert there; the
        receiver writes them to ``<data_dir>/demo/alerts/NNN.json``.
    update_nights : sequence of int, optional
        Nights on which the platform deploys its own update, instead of the scenario's.
    home : path, optional
        Project root holding ``specs/`` and ``expectations/`` (default: the current directory).
    out : text stream, optional
        Where the table goes. By default the table goes to stdout and the
        Airflow task logs to ``$AIRFLOW_HOME/demo.log``.

    Returns
    -------
    list of DemoNight
    """
    if nights < 1:
        raise ValueError(f"The 'nights' parameter must be >= 1. Got {nights} instead.")
    options: dict[str, Any] = {
        "nights": nights,
        "scenario": scenario,
        "seed": seed,
        "rows_per_night": rows_per_night,
        "on_ungated": on_ungated,
        "alerts": alerts,
        "update_nights": update_nights,
        "home": home,
    }
    _quiet()
    if out is None:
        log_path = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "demo.log"
        with _logs_to(log_path) as table:
            print(f"(Airflow task logs: {log_path})", file=table)
            return run_demo(**options, out=table)
    from alignment_drift.core.spec import FilesSource, load_spec
    from alignment_drift.demo.governance import ALERT_ENDPOINT, alert_receiver, demo_spec

    settings = Settings.from_env(home)
    spec_file = settings.specs_dir / "content_safety.yaml"
    spec = load_spec(spec_file)
    if not isinstance(spec.source, FilesSource):
        raise ValueError(
            f"The demo writes each night's prediction log to a file: specs/content_safety.yaml's 'source' must be "
            f"kind 'files'. Got {spec.source.kind!r} instead; restore the spec shipped with the repository."
        )
    spec, differs = demo_spec(spec, on_ungated=on_ungated, alerts=alerts, source=str(spec_file))
    with alert_receiver(settings, alerts) as receiver:
        print(f"alignment-drift demo: scenario {scenario}, {nights} nights, {rows_per_night} rows a night", file=out)
        print(f"demo settings that differ from {shown_path(spec_file, settings)} (the file is not changed):", file=out)
        for line in differs or ["none"]:
            print(f"  {line}", file=out)
        if receiver is not None:
            where = shown_path(receiver.folder, settings)
            print(f"  alert receiver: {receiver.url}/{ALERT_ENDPOINT} (writes {where}/NNN.json)", file=out)
        return _run(settings, spec, receiver, out, **options)


def _run(
    settings: Settings,
    spec: Any,
    receiver: AlertReceiver | None,
    out: TextIO,
    *,
    nights: int,
    scenario: str,
    seed: int,
    rows_per_night: int,
    update_nights: Sequence[int] | None,
    **_: Any,
) -> list[DemoNight]:
    from alignment_drift.airflow.factory import monitor_dag, retrain_dag
    from alignment_drift.demo.governance import policy_notes
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.checks import find_check_run
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    platform = ContentPlatform(
        scenario,
        seed=seed,
        rows_per_night=rows_per_night,
        start_date=spec.start_date,
        decision_threshold=spec.retraining.training.decision_threshold,
        update_nights=None if update_nights is None else tuple(update_nights),
    )
    prepare_data(settings, spec, platform)
    monitor, retrain = monitor_dag(spec, settings.home), retrain_dag(spec, settings.home)
    dag_ids = [monitor.dag_id, retrain.dag_id, f"alignment_rollback__{spec.model}", f"alignment_labels__{spec.model}"]
    asset_uri = spec.retrain_request_asset[1]
    seen = {i for i, _ in _new_events(asset_uri, set())}
    began = time.monotonic()

    def run_retrain(conf: dict[str, Any], logical: dt.datetime) -> str:
        dag_run = retrain.test(run_conf=conf, logical_date=logical)
        _hold_scheduler(dag_ids)
        runs = client(settings).search_runs(
            [experiment_id(settings, spec.model)],
            filter_string=f"tags.kind = 'retrain' and tags.airflow_run_id = '{dag_run.run_id}'",
        )
        if not runs:
            return f"retrain run {dag_run.run_id} failed ({dag_run.state})"
        tags = runs[0].data.tags
        against = [f"v{tags[k]}" for k in ("last_gated_version", "champion_version") if tags.get(k)]
        judged = ", ".join(dict.fromkeys(against)) or "-"
        return f"v{tags.get('challenger_version')} {tags.get('gate_decision')} (vs {judged})"

    if registry.champion(settings, spec.model) is None:
        print("night 0: training the first champion through the retrain DAG ...", file=out, flush=True)
        first = night_start(spec.start_date, 1)
        print(
            f"  {run_retrain({'reason': 'initial champion', 'as_of': first.isoformat()}, first)}", file=out, flush=True
        )

    print_header(out)
    rows: list[DemoNight] = []
    durations: dict[str, float] = {}
    for night in range(1, nights + 1):
        start = night_start(spec.start_date, night)
        told = len(receiver.received()) if receiver is not None else 0
        update_note = ""
        update = platform.platform_update(night)
        if update is not None:
            version = deploy_platform_update(settings, spec, update)
            update_note = f"platform deployed v{version} ({update.kind}, no gate)"
        champion = registry.champion(settings, spec.model)
        assert champion is not None
        model = registry.load_model(settings, spec.model, champion.version)
        log = platform.night(night, model, model_version=champion.version)
        target = settings.resolve_data(
            spec.source.path.format(
                date=start.strftime("%Y-%m-%d"),
                model=spec.model,
                start=start.isoformat(),
                end=(start + dt.timedelta(days=1)).isoformat(),
            )
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(target, index=False)
        # dag.test() infers the data interval from the logical date as the interval ending there
        dag_run = monitor.test(logical_date=start + dt.timedelta(days=1))
        _as_scheduled(monitor.dag_id, dag_run.run_id, start)
        _hold_scheduler(dag_ids)
        durations.update(
            {ti.task_id: durations.get(ti.task_id, 0.0) + (ti.duration or 0.0) for ti in dag_run.get_task_instances()}
        )
        row = DemoNight(night, start.strftime("%Y-%m-%d"), f"v{champion.version}", platform_update=update_note)
        run_id = find_check_run(settings, spec.model, start.isoformat())
        if run_id is not None:
            check = client(settings).download_artifacts(run_id, "check.json", str(settings.data_dir / "_checks"))
            data = json.loads(Path(check).read_text())
            row.verdict = data["verdict"]
            row.signals = signals(data)
            row.attribution = ",".join(a["source"] for a in data["attribution"])
            tags = client(settings).get_run(run_id).data.tags
            served = str(data.get("model_version") or champion.version)
            row.policy = policy_notes(tags, served)  # what the deployment policies did after the night
            if tags.get("deployment_gated") == "false" and tags.get("policy.on_ungated", "none") != "none":
                row.ungated = served
                if served in {r.ungated for r in rows}:  # still serving (notify, hold): said on its first night
                    row.policy = [note for note in row.policy if not note.startswith("on_ungated")]
                row.rolled_back_to = tags.get("policy.on_ungated_rolled_back_to", "")
        if receiver is not None:
            row.alerts = receiver.received(told)
        for event_id, extra in _new_events(asset_uri, seen):
            seen.add(event_id)
            conf = {
                "reason": extra.get("reason", ""),
                "as_of": extra.get("data_interval_end"),
                "verdict": extra.get("verdict"),
                "asset_event_id": event_id,
            }
            row.retrain.append(f"requested -> {run_retrain(conf, start + dt.timedelta(days=1, hours=1))}")
        rows.append(row)
        print_row(row, out)
    folder = None if receiver is None else receiver.folder
    print_footer(settings, spec, rows, time.monotonic() - began, out, folder)
    logging.getLogger(__name__).info("task seconds: %s", {k: round(v, 1) for k, v in durations.items()})
    return rows
