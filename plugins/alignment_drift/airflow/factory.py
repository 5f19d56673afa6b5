"""The DAG factory: two DAGs per alignment spec.

``alignment_monitor__<model>`` (the spec's schedule, with data intervals,
catch-up allowed) runs one check per interval::

    pull -> validate -> (drift || benchmarks) -> trend -> verdict -> record -> request_retrain
                                                                            -> finish

``alignment_retrain__<model>`` (scheduled on the model's retrain-request
asset; also triggerable by hand with a reason) trains and gates a challenger::

    request -> assemble -> train -> gate -> choose -> promote | reject -> record

Task bodies call :mod:`alignment_drift.pipeline`; heavy imports (pandas,
scikit-learn, MLflow, Great Expectations) happen inside them, so parsing a
DAG file stays fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Metadata, Param, dag, get_current_context, task

from alignment_drift.core.spec import AlignmentSpec, load_specs
from alignment_drift.settings import Settings

__all__ = ["build_dags", "monitor_dag", "retrain_dag", "retrain_request_asset"]

_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


def _pipeline(module: str) -> Any:
    """A pipeline module, imported inside a task with Airflow connections available to the sources."""
    import importlib

    import alignment_drift.airflow.connections  # noqa: F401  registers the conn_id resolver for this process

    return importlib.import_module(f"alignment_drift.pipeline.{module}")


def retrain_request_asset(model: str) -> Asset:
    """The asset whose events are a model's retrain requests (``extra``: model, verdict, reason, interval)."""
    return Asset(name=f"alignment_drift.{model}.retrain_request", uri=f"alignment-drift://{model}/retrain-request")


def _start(spec: AlignmentSpec) -> dt.datetime:
    return dt.datetime(spec.start_date.year, spec.start_date.month, spec.start_date.day, tzinfo=dt.UTC)


def _interval() -> tuple[dt.datetime, dt.datetime]:
    context = get_current_context()
    return context["data_interval_start"], context["data_interval_end"]


def monitor_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """Build the monitor DAG of one spec."""
    asset = retrain_request_asset(spec.model)

    def settings() -> Settings:
        return Settings.from_env(home)

    @dag(
        dag_id=spec.monitor_dag_id,
        schedule=CronDataIntervalTimetable(_PRESETS.get(spec.schedule, spec.schedule), timezone="UTC"),
        start_date=_start(spec),
        catchup=True,
        max_active_runs=4,
        tags=["alignment-drift", spec.model],
        default_args={"retries": 2, "retry_delay": dt.timedelta(seconds=30)},
        doc_md=f"Nightly alignment check of **{spec.model}**. {spec.description}",
    )
    def monitor() -> None:
        @task
        def pull() -> dict[str, Any]:
            steps = _pipeline("ingest")

            start, end = _interval()
            return steps.pull(spec, settings(), start=start, end=end)

        @task
        def validate(pulled: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("ingest")

            return steps.validate(spec, settings(), pulled)

        @task
        def drift(pulled: dict[str, Any], validation: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("monitor")

            return steps.drift(spec, settings(), pulled, validation)

        @task
        def benchmarks(pulled: dict[str, Any], validation: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("monitor")

            return steps.benchmarks(spec, settings(), pulled, validation)

        @task
        def trend(pulled: dict[str, Any], drift_out: dict[str, Any], bench_out: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("trends")

            return steps.trends(spec, settings(), pulled, drift_out, bench_out)

        @task
        def verdict(
            pulled: dict[str, Any],
            validation: dict[str, Any],
            drift_out: dict[str, Any],
            bench_out: dict[str, Any],
            trend_out: dict[str, Any],
        ) -> dict[str, Any]:
            steps = _pipeline("monitor")

            return steps.decide(spec, pulled, validation, drift_out, bench_out, trend_out)

        @task
        def record(check: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("monitor")

            context = get_current_context()
            return steps.record(spec, settings(), check, dag_id=context["dag"].dag_id, run_id=context["run_id"])

        @task(outlets=[asset])
        def request_retrain(recorded: dict[str, Any], check: dict[str, Any]):  # type: ignore[no-untyped-def]
            from airflow.sdk.exceptions import AirflowSkipException

            if not recorded["retrain_due"]:
                raise AirflowSkipException(recorded["retrain_reason"])
            yield Metadata(
                asset,
                extra={
                    "model": spec.model,
                    "verdict": check["verdict"],
                    "reason": recorded["retrain_reason"],
                    "data_interval_start": check["data_interval"]["start"],
                    "data_interval_end": check["data_interval"]["end"],
                    "mlflow_run_id": recorded["mlflow_run_id"],
                },
            )

        @task
        def finish(recorded: dict[str, Any], validation: dict[str, Any]) -> str:
            from airflow.sdk.exceptions import AirflowFailException

            if validation["status"] == "quarantined":
                raise AirflowFailException(
                    f"The batch was quarantined ({validation['reason']}); the night is recorded as "
                    f"'quarantined' in MLflow run {recorded['mlflow_run_id']}. Fix the batch and release it."
                )
            return recorded["verdict"]

        pulled = pull()
        validation = validate(pulled)
        drift_out, bench_out = drift(pulled, validation), benchmarks(pulled, validation)
        check = verdict(pulled, validation, drift_out, bench_out, trend(pulled, drift_out, bench_out))
        recorded = record(check)
        request_retrain(recorded, check)
        finish(recorded, validation)

    return monitor()


def _request(context: Any) -> dict[str, Any]:
    """The retrain request: the newest triggering asset event, else the run's conf (manual trigger)."""
    events = context.get("triggering_asset_events") or {}
    for asset_events in events.values():
        if asset_events:
            latest = asset_events[-1]
            extra = dict(latest.extra or {})
            extra.setdefault("reason", "retrain requested")
            extra["coalesced_events"] = len(asset_events)
            return extra
    params = dict(context.get("params") or {})
    dag_run = context.get("dag_run")
    conf = dict(getattr(dag_run, "conf", None) or {})
    return {
        "reason": conf.get("reason") or params.get("reason") or "manual",
        "data_interval_end": conf.get("as_of") or params.get("as_of") or None,
        "verdict": conf.get("verdict"),
        "asset_event_id": conf.get("asset_event_id"),
    }


def retrain_dag(spec: AlignmentSpec, home: Path | str | None = None) -> DAG:
    """Build the retrain DAG of one spec."""
    asset = retrain_request_asset(spec.model)

    def settings() -> Settings:
        return Settings.from_env(home)

    @dag(
        dag_id=spec.retrain_dag_id,
        schedule=[asset],
        start_date=_start(spec),
        catchup=False,
        max_active_runs=1,
        tags=["alignment-drift", spec.model],
        params={
            "reason": Param("manual", type="string", description="Why this retrain is run (recorded)."),
            "as_of": Param(
                None, type=["null", "string"], description="ISO time the training window ends at; default now."
            ),
        },
        doc_md=f"Gated retraining of **{spec.model}**: trains on the target label, "
        "promotes only an at-least-as-aligned challenger.",
    )
    def retrain() -> None:
        @task
        def request() -> dict[str, Any]:
            context = get_current_context()
            req = _request(context)
            req["key"] = f"{spec.model}/{context['run_id']}"
            req["dag_id"], req["run_id"] = context["dag"].dag_id, context["run_id"]
            return req

        @task
        def assemble(req: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("retrain")

            end = req.get("data_interval_end")
            as_of = dt.datetime.fromisoformat(end) if end else dt.datetime.now(dt.UTC)
            return steps.assemble(spec, settings(), as_of=as_of, key=req["key"])

        @task
        def train(req: dict[str, Any], assembled: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("retrain")

            tags = {
                "airflow_dag_id": req["dag_id"],
                "airflow_run_id": req["run_id"],
                "trigger_verdict": str(req.get("verdict")),
            }
            return steps.train(spec, settings(), assembled, key=req["key"], reason=req["reason"], tags=tags)

        @task
        def gate(trained: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("retrain")

            return steps.gate(spec, settings(), trained)

        @task
        def decide(trained: dict[str, Any], gated: dict[str, Any]) -> dict[str, Any]:
            steps = _pipeline("retrain")

            return steps.decide_promotion(spec, settings(), trained, gated)

        req = request()
        trained = train(req, assemble(req))
        decide(trained, gate(trained))

    return retrain()


def build_dags(home: Path | str | None = None) -> dict[str, DAG]:
    """Both DAGs of every spec in the specs folder, by DAG id.

    Raises
    ------
    SpecError
        When a spec does not validate: the message names the file and field,
        and Airflow shows it as the DAG file's import error.
    """
    settings = Settings.from_env(home)
    dags: dict[str, DAG] = {}
    for spec in load_specs(settings.specs_dir):
        dags[spec.monitor_dag_id] = monitor_dag(spec, home)
        dags[spec.retrain_dag_id] = retrain_dag(spec, home)
    return dags
