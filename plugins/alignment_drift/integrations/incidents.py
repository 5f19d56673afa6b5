"""Incidents: the structured record raised for ``drifting``, ``misaligned`` and ``quarantined`` checks.

An incident (JSON, schema ``alignment-drift/incident@1``, in
``schemas/incident.schema.json``) names the model, version and data
interval, the verdict and its attribution, the failing signals with their
values, thresholds and baselines, links to the MLflow check run, and the
action taken. It is logged with the check run (``incident.json``,
``incident.md``) and written to the incidents folder
(``ALIGNMENT_DRIFT_INCIDENTS_DIR``, default ``<data>/incidents``) as
``<model>/<date>.json`` and ``.md``: a rerun of the night overwrites them.

:func:`incident_summary` is the short text a notifier (Slack, e-mail through
an Airflow notifier) sends.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from alignment_drift.core.redaction import redact
from alignment_drift.settings import Settings

__all__ = [
    "INCIDENT_SCHEMA",
    "INCIDENT_VERDICTS",
    "build_incident",
    "incident_markdown",
    "incident_summary",
    "incidents_dir",
    "validate_incident",
    "write_incident",
]

INCIDENT_SCHEMA = "alignment-drift/incident@1"
INCIDENT_VERDICTS = ("drifting", "misaligned", "quarantined")
_SCHEMA_FILE = Path(__file__).parent / "schemas" / "incident.schema.json"


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(_SCHEMA_FILE.read_text())


def validate_incident(incident: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``incident`` matches ``alignment-drift/incident@1``."""
    import jsonschema

    jsonschema.validate(incident, _schema())


def incidents_dir(settings: Settings) -> Path:
    """The incidents folder: ``ALIGNMENT_DRIFT_INCIDENTS_DIR``, else ``<data>/incidents``."""
    value = os.environ.get("ALIGNMENT_DRIFT_INCIDENTS_DIR")
    return Path(value).expanduser().resolve() if value else settings.data_dir / "incidents"


def _signals(check: dict[str, Any]) -> list[dict[str, Any]]:
    signals = []
    for b in check.get("benchmarks") or []:
        if b.get("status") == "fail":
            signals.append(
                {
                    "name": b["name"],
                    "kind": b["kind"],
                    "metric": b.get("metric"),
                    "value": b.get("value"),
                    "threshold": b.get("threshold"),
                    "baseline": b.get("baseline"),
                    "delta": b.get("delta"),
                    "ci_low": b.get("ci_low"),
                    "ci_high": b.get("ci_high"),
                    "severity": b.get("severity"),
                    "detail": b.get("detail", ""),
                }
            )
    for family in ("drift", "output_drift"):
        for column in (check.get(family) or {}).get("columns", []):
            if column.get("drift") or column.get("missing_drift"):
                signals.append(
                    {
                        "name": f"{family}.{column['name']}",
                        "kind": family,
                        "metric": column.get("effect_metric"),
                        "value": column.get("effect"),
                        "threshold": column.get("effect_floor"),
                        "baseline": None,
                        "detail": f"p_adjusted {column.get('p_adjusted')}, effect {column.get('effect')}",
                    }
                )
    trends = check.get("trends") or {}
    for t in trends.get("results", []) if not trends.get("skipped") else []:
        if t.get("alarm"):
            signals.append(
                {
                    "name": f"trend.{t['signal']}",
                    "kind": "trend",
                    "metric": t.get("method"),
                    "value": t.get("statistic"),
                    "threshold": t.get("threshold"),
                    "baseline": None,
                    "detail": str(t.get("detail", "")),
                }
            )
    return signals


def _action(check: dict[str, Any], approval: str) -> dict[str, Any]:
    action = check.get("action") or {}
    taken = []
    if check["verdict"] == "quarantined":
        taken.append("batch_quarantined")
    if action.get("retrain_requested"):
        taken.append("retrain_requested")
        if approval == "required":
            taken.append("approval_pending")
    if action.get("retrain_coalesced"):
        taken.append("retrain_coalesced")
    if check["verdict"] == "misaligned":
        taken.append("promotion_blocked")  # a misaligned version is never a gate's baseline
    return {"taken": taken or ["none"], "reason": action.get("retrain_reason", "")}


def build_incident(
    check: dict[str, Any], *, mlflow_run_id: str | None, tracking_uri: str | None = None, approval: str = "automatic"
) -> dict[str, Any]:
    """The incident of a check (``drifting``, ``misaligned`` or ``quarantined``), JSON-able and schema-valid.

    Credentials are masked (:func:`~alignment_drift.core.redaction.redact`): a password in
    ``tracking_uri`` or the source's URI never reaches the incident's files or artifacts.
    """
    if check["verdict"] not in INCIDENT_VERDICTS:
        raise ValueError(
            f"The check's 'verdict' must be one of {list(INCIDENT_VERDICTS)} to raise an incident. "
            f"Got {check['verdict']!r} instead."
        )
    interval = check["data_interval"]
    date = interval["start"][:10]
    incident = {
        "schema": INCIDENT_SCHEMA,
        "id": f"{check['model']}/{date}",
        "model": check["model"],
        "version": check.get("model_version"),
        "reference_version": check.get("reference_version"),
        "data_interval": {"start": interval["start"], "end": interval["end"]},
        "verdict": check["verdict"],
        "reasons": list(check.get("reasons", [])),
        "attribution": list(check.get("attribution", [])),
        "signals": _signals(check),
        "links": {
            "mlflow_run_id": mlflow_run_id,
            "mlflow_run_uri": None if mlflow_run_id is None else f"runs:/{mlflow_run_id}",
            "tracking_uri": tracking_uri,
            "report_path": None,
            "source_uri": (check.get("source") or {}).get("uri"),
        },
        "action": _action(check, approval),
        "quarantine": check.get("quarantine"),
    }
    incident = redact(incident)
    validate_incident(incident)
    return incident


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else _md(value)


# characters that would let a value open HTML, a link, an image, code or a table cell in the Markdown
_MD_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\", "`": "\\`", "*": "\\*", "[": "\\[", "]": "\\]", "|": "\\|"}
)


def _md(value: Any) -> str:
    """``value`` as inert Markdown text on one line: HTML, links, images, code and cell breaks neutralised."""
    return " ".join(str(value).split()).translate(_MD_ESCAPES)


def incident_summary(incident: dict[str, Any]) -> str:
    """One short paragraph for a notifier: what, which version, why, the likely source, what was done."""
    sources = ", ".join(f"{a['source']} ({a['confidence']:.2f})" for a in incident["attribution"]) or "unattributed"
    failing = ", ".join(s["name"] for s in incident["signals"] if s["kind"] not in ("drift", "output_drift", "trend"))
    return (
        f"[alignment-drift] {incident['model']} v{incident['version'] or '?'} is {incident['verdict'].upper()} on "
        f"{incident['data_interval']['start'][:10]}. Likely source: {sources}. "
        f"Failing benchmarks: {failing or 'none'}. Action: {', '.join(incident['action']['taken'])}. "
        f"MLflow run: {incident['links']['mlflow_run_id'] or '-'}."
    )


def incident_markdown(incident: dict[str, Any]) -> str:
    """The incident as Markdown: summary, attribution, failing signals table, reasons, links, action.

    Every value is escaped (:func:`_md`): a hostile model, column or reason cannot inject HTML or links
    into a viewer that renders the Markdown.
    """
    incident = redact(incident)
    interval = incident["data_interval"]
    lines = [
        f"# Incident {_md(incident['id'])}: {_md(incident['verdict'])}",
        "",
        _md(incident_summary(incident)),
        "",
        f"- model: {_md(incident['model'])} version {_md(incident['version'])} "
        f"(reference {_md(incident['reference_version'])})",
        f"- data interval: {_md(interval['start'])} – {_md(interval['end'])}",
        "",
        "## Attribution",
        "",
    ]
    lines += [
        f"- **{_md(a['source'])}** ({a['confidence']:.2f}): {_md(a['evidence'])}" for a in incident["attribution"]
    ] or ["- none"]
    lines += [
        "",
        "## Failing signals",
        "",
        "| signal | kind | value | threshold | baseline | CI |",
        "|---|---|---|---|---|---|",
    ]
    for s in incident["signals"]:
        ci = "" if s.get("ci_low") is None else f"{_number(s['ci_low'])}..{_number(s.get('ci_high'))}"
        lines.append(
            f"| {_md(s['name'])} | {_md(s['kind'])} | {_number(s['value'])} | {_number(s['threshold'])} "
            f"| {_number(s['baseline'])} | {ci} |"
        )
    lines += ["", "## Reasons", ""] + [f"- {_md(r)}" for r in incident["reasons"]]
    links = incident["links"]
    lines += [
        "",
        "## Links and action",
        "",
        f"- MLflow run: {_md(links['mlflow_run_id'])} ({_md(links['mlflow_run_uri'])})",
        f"- report: {_md(links['report_path'] or '(not generated)')}",
        f"- action: {_md(', '.join(incident['action']['taken']))} — {_md(incident['action']['reason'])}",
        "",
    ]
    return "\n".join(lines)


def incident_stem(data_interval: dict[str, str]) -> str:
    """The file name (without suffix) of an interval's incident: its interval key (``2026-01-06``, or
    ``2026-01-06T1300Z`` for sub-daily intervals; see :func:`~alignment_drift.integrations.quarantine.interval_key`).
    """
    import datetime as dt

    from alignment_drift.integrations.quarantine import interval_key

    start, end = (dt.datetime.fromisoformat(data_interval[k]) for k in ("start", "end"))
    return interval_key(start, end)


def write_incident(settings: Settings, incident: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``<incidents>/<model>/<interval key>.json`` and ``.md`` (replaced on rerun: idempotent per night)."""
    incident = redact(incident)
    folder = incidents_dir(settings) / incident["model"]
    folder.mkdir(parents=True, exist_ok=True)
    stem = incident_stem(incident["data_interval"])
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    for path, text in (
        (json_path, json.dumps(incident, indent=2, sort_keys=True)),
        (md_path, incident_markdown(incident)),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return json_path, md_path
