"""``alignment-drift check SPEC --date YYYY-MM-DD``: one night's check outside Airflow, with the DAG's code.

Runs :func:`alignment_drift.pipeline.check.run_check`, the composition the
monitor DAG mirrors task for task (the check is recorded in MLflow as that
night's run, updated on rerun), and prints the result. A retrain request is
emitted through Airflow's REST API when ``ALIGNMENT_DRIFT_AIRFLOW_API_URL`` is
set, else kept pending for the next monitor run. Connections come from Airflow
as in a task (the ``AIRFLOW_CONN_<ID>`` variables work outside Airflow too).

Exit codes: 0 checked; 1 the verdict is at least ``--fail-on``; 2 bad input; 3, 4, 70, 130 as
``alignment-drift --help`` lists them (a file, a service, a bug, interrupted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_FAILED, EXIT_OK, UsageError, read_spec, to_json, write_output

SCHEMA = "alignment-drift/check-result@1"
_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "check",
        help="run one night's check outside Airflow (pull, validate, drift, benchmarks, verdict, record)",
        description="Run the monitor DAG's steps for the data interval of --date in this process and print the "
        "result. The night is recorded in MLflow like a DAG run (a rerun updates the same run).",
    )
    parser.add_argument("spec", type=Path, help="the alignment spec (YAML)")
    parser.add_argument("--date", required=True, help="the night, YYYY-MM-DD: the data interval starting then (UTC)")
    parser.add_argument(
        "--batch",
        type=Path,
        default=None,
        help="check this local file or folder instead of the spec's source for that night",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--fail-on",
        choices=("drifting", "misaligned", "quarantined"),
        default=None,
        help="exit 1 when the verdict is at least this (aligned < watch < drifting < misaligned < quarantined)",
    )
    parser.set_defaults(handler=run)


def parse_date(value: str) -> dt.date | dt.datetime:
    """``YYYY-MM-DD`` as a date, or ``YYYY-MM-DDTHH:MM`` (UTC) for sub-daily schedules; else a :class:`UsageError`."""
    try:
        if "T" in value:
            moment = dt.datetime.fromisoformat(value)
            return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"--date must be a calendar date YYYY-MM-DD (or YYYY-MM-DDTHH:MM in UTC for sub-daily schedules); "
            f"got {value!r}. Fix: e.g. --date 2026-01-06."
        ) from None


def interval_for(schedule: str, day: dt.date | dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The data interval of ``schedule`` that starts at (or contains) ``day`` (a date means its midnight UTC)."""
    from croniter import croniter

    expression = _PRESETS.get(schedule, schedule)
    if isinstance(day, dt.datetime):
        moment = day if day.tzinfo else day.replace(tzinfo=dt.UTC)
    else:
        moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    try:
        start = croniter(expression, moment + dt.timedelta(seconds=1)).get_prev(dt.datetime)
        end = croniter(expression, start).get_next(dt.datetime)
    except (ValueError, KeyError) as error:
        raise UsageError(f"the spec's schedule {schedule!r} is not a cron expression ({error}).") from None
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _connections(spec: Any, batch: Path | None) -> Any:
    if batch is not None or not getattr(spec.source, "conn_id", None):
        return None
    from alignment_drift.airflow.connections import AirflowConnections  # importing it registers it too

    return AirflowConnections()


def check_night(spec: Any, day: dt.date | dt.datetime, *, batch: Path | None = None) -> dict[str, Any]:
    """Run the night's check (:func:`alignment_drift.pipeline.check.run_check`); return the ``check-result@1`` document.

    Raises
    ------
    UsageError
        When the connection, the suite or the model's champion is not usable.
    SourceError
        When the source is misconfigured (exit 2) or cannot be reached (exit 4: see ``failures``).
    """
    from alignment_drift.integrations.airflow_api import AirflowApiError
    from alignment_drift.integrations.gx import SuiteLoadError
    from alignment_drift.pipeline.check import run_check
    from alignment_drift.settings import Settings

    start, end = interval_for(spec.night_schedule, day)
    settings = Settings.from_env()
    try:
        night = run_check(spec, settings, start=start, end=end, batch=batch, connections=_connections(spec, batch))
    except LookupError as error:  # an undefined connection, or no champion to compare with
        raise UsageError(f"{error}") from None
    except (SuiteLoadError, AirflowApiError) as error:
        raise UsageError(str(error)) from None
    result = _result(spec, night)
    result["notifications"] = _notify(spec, settings, night)
    return result


def _notify(spec: Any, settings: Any, night: Any) -> list[dict[str, Any]]:
    """Tell the spec's routes about the night's incident and an ungated version, as the DAG's notify task does."""
    if not spec.governance.notify:
        return []
    from alignment_drift.airflow.gate_alerts import notify_ungated
    from alignment_drift.airflow.notify import notify_incident

    recorded = night.recorded
    deliveries = []
    if recorded.incident:
        deliveries += notify_incident(spec, recorded.incident, night.check.document(), settings=settings)
    deployment = (recorded.policy or {}).get("deployment")
    deliveries += notify_ungated(spec, deployment, settings=settings, check_run_id=recorded.mlflow_run_id)
    for failed in (d for d in deliveries if d.status == "failed"):
        sys.stderr.write(f"alignment-drift check: the alert to {failed.route} failed: {failed.error}\n")
    return [d.to_dict() for d in deliveries]


def _result(spec: Any, night: Any) -> dict[str, Any]:
    pulled, validation, check, recorded = night.pulled, night.validation, night.check, night.recorded
    quarantine = validation.quarantine
    drift = check.drift or {}
    return {
        "schema": SCHEMA,
        "model": spec.model,
        "data_interval": check.data_interval.model_dump(),
        "verdict": check.verdict,
        "verdict_code": check.verdict_code,
        "reasons": check.reasons,
        "attribution": check.attribution,
        "warnings": validation.warnings,
        "source": {**check.source, "kind": pulled.kind, "layout": pulled.layout},
        "validation": {"status": validation.status, "reason": validation.reason, "rows": validation.rows},
        "quarantine": None
        if quarantine is None
        else {
            "path": quarantine["path"],
            "manifest": quarantine["manifest_path"],
            "sha256": quarantine["sha256"],
            "bytes": quarantine["bytes"],
            "matches_pull": quarantine.get("matches_pull"),
            "copy_error": quarantine.get("copy_error"),
        },
        "model_version": check.model_version,
        "reference_version": check.reference_version,
        "drift": None
        if not drift
        else {
            "share": drift.get("drift_share"),
            "drifted": [c["name"] for c in drift.get("columns", []) if c.get("drift") or c.get("missing_drift")],
            "groups": (night.drift.partitions or {}).get("groups"),
        },
        "benchmarks": [
            {k: b.get(k) for k in ("name", "status", "value", "threshold", "severity")} for b in check.benchmarks
        ],
        "mlflow_run_id": recorded.mlflow_run_id,
        "retrain_due": recorded.retrain_due,
        "retrain_reason": recorded.retrain_reason,
        "retrain_request": recorded.retrain_request,
        "retrain_request_error": night.emit_error,
        "report": recorded.report,
        "incident": _incident(recorded.incident),
    }


def _incident(update: dict[str, Any] | None) -> dict[str, Any] | None:
    """The night's incident as the result shows it: its id, state and what the night did to it."""
    incident = (update or {}).get("incident")
    if not update or not incident:
        return None
    return {"id": incident["id"], "state": incident["state"], "action": update["action"]}


def table(result: dict[str, Any]) -> str:
    """The result as a human reads it."""
    interval, source = result["data_interval"], result["source"]
    lines = [
        f"{result['model']}  {interval['start']} -> {interval['end']}",
        f"verdict     {result['verdict']}",
        f"source      {source['uri']}  ({source['rows']} rows, sha256 {source['sha256']})",
    ]
    lines += [f"reason      {r}" for r in result["reasons"]]
    lines += [f"warning     {w}" for w in result["warnings"]]
    lines += [f"attributed  {a['source']} ({a['confidence']:.2f}): {a['evidence']}" for a in result["attribution"]]
    for bench in result["benchmarks"]:
        value = "-" if bench["value"] is None else f"{bench['value']:.3f}"
        lines.append(f"benchmark   {bench['name']}: {bench['status']} ({value}, threshold {bench['threshold']})")
    if result["drift"]:
        lines.append(
            f"drift       share {result['drift']['share']}; drifted: {', '.join(result['drift']['drifted']) or '-'}"
        )
    if result["quarantine"]:
        q = result["quarantine"]
        lines.append(f"quarantine  {q['path']} (sha256 {q['sha256']}, {q['bytes']} bytes)")
        if q.get("copy_error"):
            lines.append(f"copy failed {q['copy_error']}")
    lines.append(f"mlflow run  {result['mlflow_run_id']}; retrain due: {result['retrain_due']}")
    if result["retrain_request"] == "pending":
        lines.append("retrain     request pending: the next monitor run emits it (or ALIGNMENT_DRIFT_AIRFLOW_API_URL)")
    elif result["retrain_request"] == "emitted":
        lines.append("retrain     request emitted to Airflow")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from alignment_drift.core.spec import VERDICTS

    spec = read_spec(args.spec)
    day = parse_date(args.date)
    if args.batch is not None and not args.batch.exists():
        raise UsageError(f"--batch {args.batch} does not exist. Fix: pass the path of a parquet or CSV batch.")
    if args.batch is not None:
        from alignment_drift.integrations.sources.files import not_regular

        if (why := not_regular(str(args.batch))) is not None:
            raise UsageError(f"--batch {why}.")
    result = check_night(spec, day, batch=args.batch)
    if result["retrain_request_error"]:
        sys.stderr.write(f"alignment-drift check: {result['retrain_request_error']}\n")
    write_output(to_json(result) if args.format == "json" else table(result), None)
    if args.fail_on and VERDICTS.index(result["verdict"]) >= VERDICTS.index(args.fail_on):
        return EXIT_FAILED
    return EXIT_OK
