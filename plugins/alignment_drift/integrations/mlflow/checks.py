"""Recording checks in MLflow: one active run per (model, data interval); a rerun keeps the earlier record.

The rules that keep one run per night under concurrency and keep every
earlier record are in :mod:`.nights`.

Run tags (searchable with ``mlflow.search_runs(filter_string=...)``):
``kind`` (``check``), ``model``, ``model_version``, ``reference_version``,
``data_interval`` (``start/end``), ``data_interval_start``, ``verdict``,
``attribution`` (comma-separated sources), ``retrain_requested``,
``retrain_reason``, ``airflow_dag_id``, ``airflow_run_id``, ``source_uri``,
``data_interval_end``, ``labels_as_of`` (the end of the latest label arrival
joined, when the spec has late labels), ``recorded_at`` (when this record was
written), ``replaces`` (the run a changed spec's rerun superseded) and
``replayed_from_spool`` (the spool file) when the run was written by a replay,
and ``model_uri``, ``model_id``, ``model_run_id`` (the judged version).
Inputs: the night's batch as a dataset (context ``deployment_batch``) and the
judged version's logged model (see :mod:`.inputs`).
Artifacts: ``check.json``, ``drift/columns.json``, the drift table
``drift/table.json`` (an MLflow table, one row per column),
``validation/gx_result.json``, and ``history/<recorded_at>.json`` per rerun.

Metric names are listed in :func:`check_metrics` and in the README; every
metric of a check is logged with ``step`` = the interval's day number
(days since 1970-01-01) and ``timestamp`` = the interval end, so MLflow's
charts put the nights in order; a rerun of a night logs at the same step, one
millisecond after the run's latest point, so each metric's latest value is
the rerun's. A metric the rerun no longer has keeps its earlier value (MLflow
cannot delete one); ``check.json`` and the ``verdict`` tag are the rerun's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from alignment_drift.core.redaction import redact_uri
from alignment_drift.integrations.mlflow import inputs, names, nights
from alignment_drift.integrations.mlflow.spool import RecordSpooled, is_transient, pending, retrying, spool_record
from alignment_drift.integrations.mlflow.store import client, experiment_id, log_table
from alignment_drift.settings import Settings

__all__ = [
    "RecordSpooled",
    "check_metrics",
    "find_check_run",
    "list_checks",
    "record_check",
    "replay_spooled_checks",
    "safe_key",
]

_LOG = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def safe_key(name: str) -> str:
    """A column or benchmark name made safe for an MLflow metric key."""
    return _UNSAFE.sub("_", name)[:200]


def _put(out: dict[str, float], key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        out[key] = 1.0 if value else 0.0
    elif isinstance(value, int | float):
        if value == value and abs(value) != float("inf"):
            out[key] = float(value)


def check_metrics(check: Mapping[str, Any]) -> dict[str, float]:
    """The MLflow metrics of a check, by their documented names.

    ``verdict_code`` (0 aligned … 4 quarantined), ``data_interval_start_ts``
    (epoch seconds, for range searches), ``batch.rows``,
    ``batch.exposure_rate``, ``validation.success_percent``, ``drift.share``,
    ``drift.<column>.{statistic,p_value,p_adjusted,effect,drift,missing_rate,missing_drift}``,
    ``output_drift.share`` and ``output_drift.<score or prediction column>.{...same fields}``,
    ``multivariate.<domain_classifier|mmd>.{statistic,p_value,drift}``,
    ``trend.<signal metric>.{statistic,alarm}``,
    ``benchmark.<name>.{value,threshold,baseline,delta,ci_low,ci_high,passed}`` and
    ``attribution.<source>.confidence``.
    """
    out: dict[str, float] = {}
    _put(out, "verdict_code", check.get("verdict_code"))
    _put(out, "data_interval_start_ts", dt.datetime.fromisoformat(check["data_interval"]["start"]).timestamp())
    source = check.get("source") or {}
    _put(out, "batch.rows", source.get("rows"))
    exposure = check.get("exposure") or {}
    _put(out, "batch.exposure_rate", exposure.get("current_rate"))
    validation = check.get("validation") or {}
    _put(out, "validation.success_percent", validation.get("success_percent"))
    for prefix, result in (("drift", check.get("drift")), ("output_drift", check.get("output_drift"))):
        if not result:
            continue
        _put(out, f"{prefix}.share", result.get("drift_share"))
        for col in result.get("columns", []):
            base = f"{prefix}.{safe_key(col['name'])}"
            for field in ("statistic", "p_value", "p_adjusted", "effect", "drift", "missing_drift"):
                _put(out, f"{base}.{field}", col.get(field))
            _put(out, f"{base}.missing_rate", col.get("missing_rate_current"))
    for method, test in (check.get("multivariate") or {}).items():
        for field in ("statistic", "p_value", "drift"):
            _put(out, f"multivariate.{method}.{field}", test.get(field))
    trends = check.get("trends") or {}
    for trend in trends.get("results", []) if not trends.get("skipped") else []:
        _put(out, f"trend.{safe_key(trend['signal'])}.statistic", trend.get("statistic"))
        _put(out, f"trend.{safe_key(trend['signal'])}.alarm", trend.get("alarm"))
    for bench in check.get("benchmarks", []):
        base = f"benchmark.{safe_key(bench['name'])}"
        for field in ("value", "threshold", "baseline", "delta", "ci_low", "ci_high"):
            _put(out, f"{base}.{field}", bench.get(field))
        if bench.get("status") in ("pass", "fail"):
            _put(out, f"{base}.passed", bench["status"] == "pass")
    for item in check.get("attribution", []):
        _put(out, f"attribution.{item['source']}.confidence", item.get("confidence"))
    return out


def _interval_step(start_iso: str, end_iso: str, labels_as_of: str | None = None) -> tuple[int, int]:
    """The metric step (the interval's day number) and timestamp (its end, or when its latest labels arrived).

    A night updated by late labels is logged at the same step with a later
    timestamp, so MLflow's latest value of each metric is the most informed one.
    A rerun of a run that already has points is logged just after its latest
    one (see :func:`_log_record`), so the latest values are always the rerun's.
    """
    start = dt.datetime.fromisoformat(start_iso)
    end = dt.datetime.fromisoformat(end_iso)
    if labels_as_of:
        end = max(end, dt.datetime.fromisoformat(labels_as_of))
    epoch = dt.datetime(1970, 1, 1, tzinfo=start.tzinfo or dt.UTC)
    return (start - epoch).days, int(end.timestamp() * 1000)


def _latest_timestamp(mlflow_client: Any, run_id: str, step: int) -> int:
    """The latest timestamp the run logged ``verdict_code`` at ``step`` (every check logs it), or -1."""
    history = mlflow_client.get_metric_history(run_id, "verdict_code")
    return max((m.timestamp for m in history if m.step == step), default=-1)


def _find(settings: Settings, model: str, interval_start: str) -> str | None:
    run = nights.earliest(nights.night_runs(client(settings), experiment_id(settings, model), interval_start))
    return run.info.run_id if run is not None else None


def find_check_run(settings: Settings, model: str, interval_start: str) -> str | None:
    """The id of the active check run of ``model`` for the interval starting at ``interval_start``."""
    return retrying(lambda: _find(settings, model, interval_start), what=f"the search for {model}'s check")


def list_checks(settings: Settings, model: str, *, since: str | None = None, until: str | None = None) -> list[Any]:
    """Active check runs of ``model`` with interval start in ``[since, until)`` (ISO strings), oldest first.

    One run per night (see :mod:`.nights`); superseded runs are not listed.

    Transient tracking-server failures are retried (see :mod:`.spool`).
    """
    clauses = ["tags.kind = 'check'"]
    if since:
        clauses.append(f"metrics.data_interval_start_ts >= {dt.datetime.fromisoformat(since).timestamp()}")
    if until:
        clauses.append(f"metrics.data_interval_start_ts < {dt.datetime.fromisoformat(until).timestamp()}")

    def search() -> list[Any]:
        return client(settings).search_runs(
            [experiment_id(settings, model)], filter_string=" and ".join(clauses), max_results=10_000
        )

    runs = nights.one_per_night(retrying(search, what=f"the search for {model}'s checks"))
    return sorted(runs, key=lambda r: r.data.tags.get("data_interval_start", ""))


def replay_spooled_checks(settings: Settings) -> list[str]:
    """Write every spooled check of this tracking store, oldest first; a replayed file is removed.

    Stops at the first record that still cannot be written (the server is
    still down) and leaves it and the rest in the spool.

    Returns
    -------
    list of str
        The run ids written.
    """
    written: list[str] = []
    for path, document in pending(settings, "check"):
        payload = document["payload"]
        try:
            run_id = _write_check(
                settings,
                payload["check"],
                tags=payload["tags"],
                params=payload["params"],
                artifacts=payload["artifacts"],
                replayed_from=path.name,
            )
        except Exception as error:
            if is_transient(error):
                _LOG.warning("Spooled check %s not replayed yet: %s", path.name, error)
                break
            raise
        path.unlink(missing_ok=True)
        _LOG.info("Replayed spooled check %s into run %s", path.name, run_id)
        written.append(run_id)
    return written


def record_check(
    settings: Settings,
    check: Mapping[str, Any],
    *,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    artifacts: Mapping[str, Any],
) -> str:
    """Write one check to its run: created on the first run of the night, updated on a rerun.

    There is exactly one active run per night, also when several checks of
    the night record at once, and a rerun never loses what the night
    recorded: the earlier record is kept as the run's ``history/`` artifact,
    or, when the params differ (the spec changed between runs), a new run is
    written completely first and the earlier one stays as a run tagged
    ``kind=check_superseded`` and ``superseded_by`` (see :mod:`.nights`).

    Pending spooled checks are replayed first. The write is retried on
    transient failures; when the server stays unreachable the check is
    spooled (see :mod:`.spool`) and :class:`RecordSpooled` is raised, so the
    task fails loudly and Airflow retries it.

    Returns
    -------
    str
        The run id.

    Raises
    ------
    RecordSpooled
        The tracking server could not be reached; the record waits in the spool.
    """
    try:
        replay_spooled_checks(settings)
    except Exception as error:  # a failing replay must not stop tonight's own record
        _LOG.warning("Replaying spooled checks failed: %s", error)
    payload = {
        "check": dict(check),
        "tags": dict(tags),
        "params": {k: str(v) for k, v in params.items()},
        "artifacts": dict(artifacts),
    }
    interval = check["data_interval"]["start"]
    try:
        return retrying(
            lambda: _write_check(settings, check, tags=tags, params=payload["params"], artifacts=artifacts),
            what=f"{check['model']}'s check of {interval}",
        )
    except Exception as error:
        if not is_transient(error):
            raise
        path = spool_record(
            settings, "check", f"{check['model']}__{interval}", json.loads(json.dumps(payload, default=str))
        )
        raise RecordSpooled(
            f"MLflow at {redact_uri(settings.tracking_uri)} could not be reached after retries ({error}). The check of "
            f"{check['model']} for {interval} is kept in {path} and will be replayed by the next task that "
            "reaches the server. Fix: bring the tracking server back (or set MLFLOW_TRACKING_URI); the task's "
            "retry will then write it."
        ) from error


def _write_check(
    settings: Settings,
    check: Mapping[str, Any],
    *,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    artifacts: Mapping[str, Any],
    replayed_from: str | None = None,
) -> str:
    mlflow_client = client(settings)
    model = check["model"]
    interval = check["data_interval"]
    run_id = _find(settings, model, interval["start"])
    all_tags = {
        "kind": "check",
        "model": model,
        "data_interval": f"{interval['start']}/{interval['end']}",
        "data_interval_start": interval["start"],
        "data_interval_end": interval["end"],
        **tags,
    }
    if replayed_from:
        all_tags["replayed_from_spool"] = replayed_from
    all_tags["recorded_at"] = dt.datetime.now(dt.UTC).isoformat()
    experiment = experiment_id(settings, model)
    run_name = names.check_run_name(interval["start"], interval["end"])
    planned = inputs.plan(mlflow_client, check)
    all_tags.update(planned.tags)
    if run_id is None:
        run_id = nights.claim(mlflow_client, experiment, interval["start"], run_name=run_name, tags=all_tags)
    existing = mlflow_client.get_run(run_id)
    logged = existing.data.params
    # params and inputs are immutable in MLflow: a rerun that changes either gets a run of its own
    why = "its parameters changed" if any(k in logged and logged[k] != str(v) for k, v in params.items()) else None
    why = why or inputs.changed(existing, planned)
    if why:
        replaced = run_id
        _LOG.info(
            "The rerun of %s's night %s gets a new run, replacing %s: %s", model, interval["start"], replaced, why
        )
        run_id = nights.start_pending(mlflow_client, experiment, run_name=run_name, tags=all_tags, replaces=replaced)
        all_tags["replaces"] = replaced
        try:
            _log_record(
                mlflow_client, run_id, check, tags=all_tags, params=params, artifacts=artifacts, planned=planned
            )
        except BaseException:
            with contextlib.suppress(Exception):  # a half-written pending run is never shown; mark it
                mlflow_client.set_terminated(run_id, "FAILED")
            raise
        return nights.promote(mlflow_client, experiment, interval["start"], run_id, replaces=replaced)
    nights.archive(mlflow_client, run_id)
    _log_record(
        mlflow_client, run_id, check, tags=all_tags, params=params, artifacts=artifacts, planned=planned, run=existing
    )
    return run_id


def _log_record(
    mlflow_client: Any,
    run_id: str,
    check: Mapping[str, Any],
    *,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    artifacts: Mapping[str, Any],
    planned: inputs.CheckInputs | None = None,
    run: Any = None,
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    interval = check["data_interval"]
    # ``kind`` is set when the run is created and changed only by :mod:`.nights`: never written back here,
    # so a rerun cannot revive a run superseded meanwhile
    all_tags = {k: str(v) for k, v in tags.items() if k != "kind"}
    step, timestamp = _interval_step(interval["start"], interval["end"], (check.get("labels") or {}).get("as_of"))
    if run is not None:
        # MLflow's latest value of a metric is the one with the highest (step, timestamp, value): a rerun at
        # the same step and timestamp would lose to a larger earlier value (a quarantined night rerun as
        # aligned would still chart 4), so a rerun is logged just after the run's latest point
        timestamp = max(timestamp, _latest_timestamp(mlflow_client, run_id, step) + 1)
    metrics = [Metric(k, v, timestamp, step) for k, v in check_metrics(check).items()]
    for i in range(0, len(metrics), 900):
        chunk = metrics[i : i + 900]
        nights.on_conflict_again(lambda: mlflow_client.log_batch(run_id, metrics=chunk))  # noqa: B023 (called now)
    wanted = {k: str(v) for k, v in params.items()}
    try:
        nights.on_conflict_again(
            lambda: mlflow_client.log_batch(run_id, params=[Param(k, v) for k, v in wanted.items()])
        )
    except Exception:
        # a concurrent writer of the same night logged them first: fine when the values are ours
        logged = mlflow_client.get_run(run_id).data.params
        if any(logged.get(k) != v for k, v in wanted.items()):
            raise
    nights.on_conflict_again(lambda: mlflow_client.log_batch(run_id, tags=[RunTag(k, v) for k, v in all_tags.items()]))
    if planned is not None:
        inputs.log_inputs(mlflow_client, run_id, planned, run)
    for name, payload in artifacts.items():
        if isinstance(payload, str):  # a page (the GX Data Docs): logged as it is
            mlflow_client.log_text(run_id, payload, name)
        else:
            mlflow_client.log_dict(run_id, payload, name)
    columns = (check.get("drift") or {}).get("columns")
    if columns:
        import pandas as pd

        table = pd.DataFrame([{k: v for k, v in c.items() if not isinstance(v, dict | list)} for c in columns])
        log_table(mlflow_client, run_id, table, "drift/table.json")
    nights.keep(
        mlflow_client,
        run_id,
        {
            "recorded_at": all_tags.get("recorded_at", ""),
            "tags": all_tags,
            "params": wanted,
            "metrics": {m.key: m.value for m in metrics},
            "check": artifacts.get("check.json", dict(check)),
        },
    )
    mlflow_client.set_terminated(run_id, "FINISHED")
