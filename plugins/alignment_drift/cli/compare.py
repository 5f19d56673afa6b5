"""``alignment-drift compare MODEL``: nights side by side, and champion vs challenger for each retrain.

Reads MLflow only (the model's experiment ``alignment-drift/<model>``): the
check runs (verdict, key signals, version) and the retrain runs with their
gate comparison (``gate/comparison.json``: every benchmark and reference
version judged against, challenger and reference values, delta, paired-bootstrap
interval, outcome).

Exit codes: 0 compared; 2 bad input (no such model, no runs).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, positive_int, to_json, write_output
from alignment_drift.core.redaction import redact_uri

SCHEMA = "alignment-drift/compare@1"
_SIGNALS = ("drift.share", "output_drift.share", "batch.exposure_rate")
_COMPARISON = "gate/comparison.json"


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "compare",
        help="compare a model's nights and its retrains' champion vs challenger (from MLflow)",
        description="Nights side by side (verdict, key signals, version) and, for each retrain, the challenger "
        "against the champion on every benchmark with the delta, paired-bootstrap interval and gate decision.",
    )
    parser.add_argument("model", help="the monitored model (the spec's 'model')")
    parser.add_argument("--last", type=positive_int, default=14, help="the last N nights and retrains (default 14)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--output", type=Path, default=None, help="write to this file instead of stdout")
    parser.set_defaults(handler=run)


def _night(run: Any) -> dict[str, Any]:
    tags, metrics = run.data.tags, run.data.metrics
    benchmarks = {
        key.removeprefix("benchmark.").removesuffix(".value"): value
        for key, value in sorted(metrics.items())
        if key.startswith("benchmark.") and key.endswith(".value")
    }
    return {
        "date": tags.get("data_interval_start", "")[:10],
        "data_interval": tags.get("data_interval", ""),
        "model_version": tags.get("model_version", ""),
        "verdict": tags.get("verdict", ""),
        "attribution": [a for a in tags.get("attribution", "").split(",") if a],
        "retrain_requested": tags.get("retrain_requested") == "true",
        "benchmarks": benchmarks,
        "signals": {name: metrics[name] for name in _SIGNALS if name in metrics},
        "mlflow_run_id": run.info.run_id,
    }


def _retrain(mlflow_client: Any, run: Any) -> dict[str, Any]:
    tags = run.data.tags
    comparison: list[dict[str, Any]] = []
    # a retrain that failed before its gate has no comparison; any other failure to read it is an error
    if any(a.path == _COMPARISON for a in mlflow_client.list_artifacts(run.info.run_id, "gate")):
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow_client.download_artifacts(run.info.run_id, _COMPARISON, tmp)
            comparison = json.loads(Path(path).read_text())["comparison"]
    return {
        "started": run.info.start_time,
        "reason": tags.get("retrain_reason", ""),
        "trigger": tags.get("trigger", ""),
        "challenger_version": tags.get("challenger_version", ""),
        "champion_version": tags.get("champion_version", ""),
        "gate_decision": tags.get("gate_decision", ""),
        "approval": tags.get("approval", ""),
        "requested_by_check_run": tags.get("requested_by_check_run", ""),
        "comparison": comparison,
        "mlflow_run_id": run.info.run_id,
    }


def compare(settings: Any, model: str, *, last: int) -> dict[str, Any]:
    """The ``compare@1`` document of ``model``: its last ``last`` nights and retrains, oldest first.

    Raises
    ------
    UsageError
        When the model has no experiment or no runs.
    """
    from alignment_drift.integrations.mlflow.checks import list_checks
    from alignment_drift.integrations.mlflow.store import client

    mlflow_client = client(settings)
    experiment = mlflow_client.get_experiment_by_name(f"alignment-drift/{model}")
    if experiment is None:
        raise UsageError(
            f"no MLflow experiment 'alignment-drift/{model}' in {redact_uri(settings.tracking_uri)}. "
            "Fix: check the model name, or set MLFLOW_TRACKING_URI to the store the DAGs write to."
        )
    nights = [_night(run) for run in list_checks(settings, model)[-last:]]
    retrains = mlflow_client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.kind = 'retrain'",
        order_by=["attributes.start_time DESC"],
        max_results=last,
    )
    return {
        "schema": SCHEMA,
        "model": model,
        "tracking_uri": redact_uri(settings.tracking_uri),
        "nights": nights,
        "retrains": [_retrain(mlflow_client, run) for run in reversed(retrains)],
    }


def _fmt(value: Any) -> str:
    return "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def render_table(document: dict[str, Any]) -> str:
    """The document as text: a nights table, then one comparison table per retrain."""
    lines = [f"model {document['model']}", "", "nights"]
    benches = sorted({name for night in document["nights"] for name in night["benchmarks"]})
    header = ["date", "ver", "verdict", *benches, *_SIGNALS, "attribution"]
    rows = [
        [
            n["date"],
            n["model_version"],
            n["verdict"],
            *(_fmt(n["benchmarks"].get(b)) for b in benches),
            *(_fmt(n["signals"].get(s)) for s in _SIGNALS),
            ",".join(n["attribution"]) or "-",
        ]
        for n in document["nights"]
    ]
    lines += _columns(header, rows)
    for r in document["retrains"]:
        lines += [
            "",
            f"retrain: challenger v{r['challenger_version']} vs champion v{r['champion_version'] or '-'} -> "
            f"{r['gate_decision'] or 'unfinished'} (trigger {r['trigger'] or '-'}; {r['reason'][:80]})",
        ]
        header = ["benchmark", "against", "challenger", "reference", "delta", "ci_low", "ci_high", "decision"]
        rows = [
            [
                c.get("benchmark"),
                _against(c),
                _fmt(c.get("challenger")),
                _fmt(c.get("reference_value", c.get("champion"))),  # runs recorded before gate@1 say "champion"
                *(_fmt(c.get(k)) for k in ("delta", "ci_low", "ci_high")),
                c.get("decision"),
            ]
            for c in r["comparison"]
        ]
        lines += _columns(header, rows)
    return "\n".join(lines)


def _against(row: dict[str, Any]) -> str:
    if "reference" not in row:
        return "champion"
    if row["reference"] is None:
        return "-"
    return f"{row['reference']} v{row['reference_version']}" if row.get("reference_version") else str(row["reference"])


def _columns(header: list[str], rows: list[list[Any]]) -> list[str]:
    table = [header, *[[str(x) for x in row] for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]


def run(args: argparse.Namespace) -> int:
    from alignment_drift.settings import Settings

    document = compare(Settings.from_env(), args.model, last=args.last)
    text = to_json(document) if args.format == "json" else render_table(document)
    write_output(text, args.output)
    return EXIT_OK
