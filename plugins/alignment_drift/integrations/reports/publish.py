"""A recorded check's report: gather what it needs, render it, log it with the check run, write it out.

The record step calls :func:`publish_report` after the check is recorded;
``alignment-drift report`` calls :func:`recorded_check` and
:func:`build_check_report` to rebuild a night's report from MLflow later.

Artifacts of the check run: ``report.html`` and ``report/distributions.json``
(the binned distributions the charts are drawn from, schema
``alignment-drift/report-distributions@1``, a few kilobytes), so a report
rebuilt later needs neither the batch nor the reference rows.

The batch side of the distributions is the batch's profile the drift step
merged from its groups (the batch is not read again). A report rebuilt later
without its distributions reads the batch again, located from the check's
``source.uri``, only when its sha256 still equals the one the check recorded;
otherwise the charts show the reference side alone and the report says why.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.integrations.reports.distributions import batch_profile, distributions
from alignment_drift.integrations.reports.history import night_history, run_links
from alignment_drift.integrations.reports.render import render_report
from alignment_drift.settings import Settings

__all__ = [
    "DISTRIBUTIONS_FILE",
    "REPORT_FILE",
    "build_check_report",
    "check_distributions",
    "publish_report",
    "read_checked_batch",
    "recorded_check",
]

REPORT_FILE = "report.html"
DISTRIBUTIONS_FILE = "report/distributions.json"


def _columns(check: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for family in ("drift", "output_drift"):
        names += [c["name"] for c in (check.get(family) or {}).get("columns") or []]
    return list(dict.fromkeys(names))


def read_checked_batch(
    spec: AlignmentSpec, settings: Settings, check: Mapping[str, Any], *, connections: Any = None
) -> pd.DataFrame:
    """The batch the check read, located again and verified against the check's sha256.

    Raises
    ------
    ValueError
        When the batch is gone or its bytes changed since the check.
    """
    from alignment_drift.integrations.sources import fingerprint, locate_batch, read_batch

    interval = check["data_interval"]
    start, end = (dt.datetime.fromisoformat(interval[k]) for k in ("start", "end"))
    uri = str(check["source"]["uri"])
    batch = None
    if uri.startswith("file://"):
        batch = locate_batch(spec, settings, start=start, end=end, override=unquote(urlparse(uri).path))
    if batch is None or not batch.exists:
        batch = locate_batch(spec, settings, start=start, end=end, connections=connections)
    if not batch.exists:
        raise ValueError(f"the batch at {uri} is no longer there")
    expected = check["source"].get("sha256")
    if expected and fingerprint(batch, connections) != expected:
        raise ValueError(f"the batch at {batch.uri} changed since the check (its sha256 differs)")
    return read_batch(batch, connections=connections)


def check_distributions(
    spec: AlignmentSpec,
    settings: Settings,
    check: Mapping[str, Any],
    *,
    current: ReferenceProfile | None = None,
    connections: Any = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """The binned distributions of a check's columns, and notes on what could not be included.

    ``current`` is the batch's profile when the caller has it (the check's merged
    group profiles); otherwise the batch is read again and verified against its sha256.
    Returns ``(None, [])`` for a check that measured no drift (a quarantined batch).
    """
    from alignment_drift.integrations.mlflow import registry

    columns = _columns(check)
    if not columns or not check.get("reference_version"):
        return None, []
    info = registry.version_info(settings, spec.model, str(check["reference_version"]))
    reference = registry.load_reference(settings, spec.model, info).profile
    if current is not None:
        return distributions(reference, current, columns), []
    try:
        frame = read_checked_batch(spec, settings, check, connections=connections)
        current = batch_profile(
            frame,
            reference,
            columns,
            bins=spec.drift.profile_bins,
            max_categories=spec.drift.max_categories,
        )
    except Exception as error:  # the charts then show the reference side alone, and say why
        note = f"The batch could not be read again ({error}); the charts show the reference side only."
        return distributions(reference, None, columns), [note]
    return distributions(reference, current, columns), []


def build_check_report(
    spec: AlignmentSpec,
    settings: Settings,
    check: Mapping[str, Any],
    *,
    mlflow_run_id: str | None,
    dag_id: str = "",
    airflow_run_id: str = "",
    nights: int = 30,
    dists: Mapping[str, Any] | None = None,
    current: ReferenceProfile | None = None,
    notes: Sequence[str] = (),
    connections: Any = None,
) -> tuple[str, dict[str, Any] | None]:
    """The report's HTML and the distributions it was drawn from (computed when ``dists`` is None)."""
    from alignment_drift.integrations.mlflow.store import experiment_id

    notes = list(notes)
    if dists is None:
        dists, more = check_distributions(spec, settings, check, current=current, connections=connections)
        notes += more
    history = night_history(settings, spec.model, check["data_interval"], nights=nights)
    links = run_links(
        settings,
        experiment_id=experiment_id(settings, spec.model) if mlflow_run_id else None,
        mlflow_run_id=mlflow_run_id,
        dag_id=dag_id,
        airflow_run_id=airflow_run_id,
    )
    links.update(_data_docs(settings, mlflow_run_id))
    html = render_report(
        check,
        distributions=dists,
        history=history,
        links=links,
        drifting_share=spec.verdict.drifting_share,
        notes=notes,
    )
    return html, None if dists is None else dict(dists)


def _data_docs(settings: Settings, mlflow_run_id: str | None) -> dict[str, str | None]:
    """The night's GX Data Docs index, relative to the report (both at the check run's root), when logged."""
    from alignment_drift.integrations.gx_docs import DATA_DOCS
    from alignment_drift.integrations.mlflow.store import client

    index = f"{DATA_DOCS}/index.html"
    if mlflow_run_id is None:
        return {"data_docs": None, "data_docs_uri": None}
    logged = {a.path for a in client(settings).list_artifacts(mlflow_run_id, DATA_DOCS)}
    if index not in logged:
        return {"data_docs": None, "data_docs_uri": None}
    return {"data_docs": index, "data_docs_uri": f"runs:/{mlflow_run_id}/{index}"}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    try:
        staging.write_text(text, encoding="utf-8")
        staging.replace(path)
    finally:
        staging.unlink(missing_ok=True)
    return path


def publish_report(
    spec: AlignmentSpec,
    settings: Settings,
    check: Mapping[str, Any],
    *,
    mlflow_run_id: str,
    dag_id: str = "",
    airflow_run_id: str = "",
    paths: Sequence[Path] = (),
    current: ReferenceProfile | None = None,
    connections: Any = None,
) -> dict[str, Any]:
    """Build a recorded check's report, log it with its run and write it to each of ``paths``.

    ``current`` is the batch's merged profile (the drift step's): the batch is then not read again.

    Returns
    -------
    dict
        ``bytes`` (the page's size), ``artifact`` (``report.html``) and ``paths`` written.
    """
    from alignment_drift.integrations.mlflow.store import client

    html, dists = build_check_report(
        spec,
        settings,
        check,
        mlflow_run_id=mlflow_run_id,
        dag_id=dag_id,
        airflow_run_id=airflow_run_id,
        current=current,
        connections=connections,
    )
    mlflow_client = client(settings)
    mlflow_client.log_text(mlflow_run_id, html, REPORT_FILE)
    if dists is not None:
        mlflow_client.log_dict(mlflow_run_id, dists, DISTRIBUTIONS_FILE)
    written = [str(_write(Path(p), html)) for p in paths]
    return {"bytes": len(html.encode("utf-8")), "artifact": REPORT_FILE, "paths": written}


def recorded_check(settings: Settings, model: str, interval_start: str) -> dict[str, Any] | None:
    """The recorded check of the night starting at ``interval_start``, from MLflow, or None.

    Returns
    -------
    dict or None
        ``run_id``, ``check`` (``check.json``), ``distributions`` (None when the run has none),
        ``dag_id`` and ``airflow_run_id`` (tags of the run).
    """
    from alignment_drift.integrations.mlflow.checks import find_check_run
    from alignment_drift.integrations.mlflow.store import client

    run_id = find_check_run(settings, model, interval_start)
    if run_id is None:
        return None
    mlflow_client = client(settings)
    tags = mlflow_client.get_run(run_id).data.tags
    with tempfile.TemporaryDirectory() as tmp:
        check = json.loads(Path(mlflow_client.download_artifacts(run_id, "check.json", tmp)).read_text())
        names = {a.path for a in mlflow_client.list_artifacts(run_id, "report")}
        dists = None
        if DISTRIBUTIONS_FILE in names:
            dists = json.loads(Path(mlflow_client.download_artifacts(run_id, DISTRIBUTIONS_FILE, tmp)).read_text())
    return {
        "run_id": run_id,
        "check": check,
        "distributions": dists,
        "dag_id": tags.get("airflow_dag_id", ""),
        "airflow_run_id": tags.get("airflow_run_id", ""),
    }
