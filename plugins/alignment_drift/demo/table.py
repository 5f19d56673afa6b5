"""The demo's table: one row per night, what governance did under it, and the summary at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from alignment_drift.demo.governance import alert_note
from alignment_drift.settings import Settings

__all__ = ["DemoNight", "print_footer", "print_header", "print_row", "shown_path", "signals"]


@dataclass
class DemoNight:
    """One row of the demo table.

    ``ungated`` is the version caught serving without having passed the gate (empty when gated),
    ``rolled_back_to`` where ``governance.on_ungated`` moved ``champion`` then, ``policy`` what the
    deployment policies did, and ``alerts`` the alerts the local receiver got during the night.
    """

    night: int
    date: str
    version: str
    verdict: str = ""
    signals: str = ""
    attribution: str = ""
    platform_update: str = ""
    retrain: list[str] = field(default_factory=list)
    policy: list[str] = field(default_factory=list)
    ungated: str = ""
    rolled_back_to: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)


def signals(check: dict[str, Any]) -> str:
    """The night's signals column: audit recall and ROC AUC, proxy-target gap, drifted features, output drift."""
    parts = []
    for bench in check.get("benchmarks", []):
        if bench["name"] in ("audit_unsafe_recall", "audit_roc_auc") and bench["value"] is not None:
            parts.append(f"{bench['name'].removeprefix('audit_')}={bench['value']:.2f}")
        if bench["kind"] == "proxy_target_gap" and bench["value"] is not None:
            parts.append(f"gap={bench['value']:+.2f}")
    drift = check.get("drift")
    if drift:
        parts.append(f"drifted={sum(1 for c in drift['columns'] if c['drift'] or c['missing_drift'])}")
    output = check.get("output_drift")
    if output:
        score = output["columns"][0]
        parts.append(f"out={score['effect']:.2f}")
    return " ".join(parts)


def print_header(out: TextIO) -> None:
    print(f"\n{'night':>5}  {'date':10}  {'model':>5}  {'verdict':<11}  {'signals':<58}  attribution", file=out)


def print_row(row: DemoNight, out: TextIO) -> None:
    pad = f"{'':>5}  {'':10}"
    if row.platform_update:
        print(f"{pad}  {row.platform_update}", file=out)
    print(
        f"{row.night:>5}  {row.date}  {row.version:>5}  {row.verdict:<11}  {row.signals:<58}  {row.attribution}",
        file=out,
        flush=True,
    )
    for note in row.policy:
        print(f"{pad}  policy {note}", file=out, flush=True)
    for alert in row.alerts:
        print(f"{pad}  alert -> receiver: {alert_note(alert)}", file=out, flush=True)
    for note in row.retrain:
        print(f"{pad}  retrain {note}", file=out, flush=True)


def shown_path(path: Path, settings: Settings) -> str:
    """``path`` relative to the project home when it is below it (as the README shows it), else as is."""
    return str(path.relative_to(settings.home)) if path.is_relative_to(settings.home) else str(path)


def _governance_lines(settings: Settings, spec: Any, rows: list[DemoNight], alerts_folder: Path | None) -> list[str]:
    from alignment_drift.integrations.incident_store import list_incidents

    caught = list(dict.fromkeys(r.ungated for r in rows if r.ungated))
    rolled = sum(1 for r in rows if r.rolled_back_to)
    lines = [
        f"ungated updates caught {len(caught)}, rolled back {rolled} "
        f"(governance.on_ungated: {spec.governance.on_ungated})"
    ]
    if alerts_folder is None:
        return [*lines, "alerts off (--no-alerts)"]
    got = [a for r in rows for a in r.alerts]
    told = [a["incident"]["id"] for a in got if isinstance(a.get("incident"), dict)]
    dates = {r.date for r in rows}
    opened = [i for i in list_incidents(settings, spec.model) if (i.first_night or "")[:10] in dates]
    ungated = [a for a in got if a.get("event") == "ungated"]
    once = "one alert each, first night only" if len(told) == len(set(told)) else "SOME TOLD MORE THAN ONCE"
    return [
        *lines,
        f"alerts delivered {len(got)} to the local receiver: incidents {len(set(told))} of {len(opened)} opened "
        f"({once}), ungated versions {len(ungated)}; kept in {shown_path(alerts_folder, settings)}",
    ]


def print_footer(
    settings: Settings, spec: Any, rows: list[DemoNight], seconds: float, out: TextIO, alerts_folder: Path | None
) -> None:
    from alignment_drift.integrations.mlflow import registry

    champion = registry.champion(settings, spec.model)
    verdicts = [r.verdict for r in rows]
    requests = sum(len(r.retrain) for r in rows)
    promoted = sum(1 for r in rows for note in r.retrain if "promoted" in note)
    rejected = sum(1 for r in rows for note in r.retrain if "rejected" in note)
    held = sum(1 for r in rows for note in r.retrain if "insufficient_evidence" in note)
    print(file=out)
    print(
        f"{len(rows)} nights in {seconds:.0f} s: "
        + ", ".join(f"{v} {verdicts.count(v)}" for v in dict.fromkeys(verdicts)),
        file=out,
    )
    print(
        f"retrain requests {requests}, promotions {promoted}, rejections {rejected}, "
        f"held for insufficient evidence {held}; "
        f"champion now v{champion.version if champion else '-'}",
        file=out,
    )
    for line in _governance_lines(settings, spec, rows, alerts_folder):
        print(line, file=out)
    print(file=out)
    print("Look further:", file=out)
    print(f"  MLflow UI:  make mlflow-ui   (http://127.0.0.1:5000; store {settings.tracking_uri})", file=out)
    print(
        f"              experiment '{spec.experiment_name}', "
        f"registered model '{spec.model}' (aliases champion, previous)",
        file=out,
    )
    print(
        "  Airflow UI: make airflow   (airflow standalone on this demo's metadata DB, http://127.0.0.1:8080)", file=out
    )
    last = rows[-1].date if rows else "YYYY-MM-DD"
    print(
        f"  Reports:    {settings.data_dir / '_checks' / spec.model}/<date>/report.html (and each check run's "
        f"report.html); rebuild one with: alignment-drift report specs/{spec.model}.yaml --date {last}",
        file=out,
    )
    print(f"  Incidents:  alignment-drift incident list specs/{spec.model}.yaml", file=out)
