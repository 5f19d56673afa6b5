"""``alignment-drift report SPEC --date YYYY-MM-DD``: the HTML report of a recorded night, rebuilt from MLflow.

Reads the night's check run (``check.json``, ``report/distributions.json``
and its Airflow tags) and the last ``--nights`` checks for the trend charts,
and writes one self-contained HTML page (no network access, at most 2 MB).
Runs recorded before the report existed have no stored distributions: the
batch is then read again (and verified by its sha256) to draw them.

Exit codes: 0 written; 2 bad input (the spec, the date, or no check recorded that night).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, positive_int, read_spec, results, write_output


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "report",
        help="write the HTML report of a recorded night's check (from MLflow)",
        description="Rebuild the self-contained HTML report of the check recorded for --date (the data interval "
        "starting then) from its MLflow run and the trend history of the nights before it.",
    )
    parser.add_argument("spec", type=Path, help="the alignment spec (YAML)")
    parser.add_argument(
        "--date",
        required=True,
        help="the night, YYYY-MM-DD (or YYYY-MM-DDTHH:MM for sub-daily schedules): the data interval starting then",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="where to write the page (default: <model>-<date>.report.html in the current folder; '-' for stdout)",
    )
    parser.add_argument("--nights", type=positive_int, default=30, help="nights shown in the trend charts (default 30)")
    parser.set_defaults(handler=run)


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def _output(value: str | None, model: str, start: dt.datetime) -> Path | None:
    """Where the page goes: None for stdout (``-``), else a file path (checked before any work)."""
    if value == "-":
        return None
    stamp = f"{start:%Y-%m-%d}" + (f"T{start:%H%M}" if (start.hour, start.minute) != (0, 0) else "")
    output = Path(value) if value else Path(f"{model}-{stamp}.report.html")
    if output.is_dir():
        raise UsageError(f"--output {output} is a folder. Fix: give a file path, e.g. {output / 'report.html'}.")
    return output


def run(args: argparse.Namespace) -> int:
    from alignment_drift.cli.check import interval_for, parse_date
    from alignment_drift.core.redaction import without_credentials
    from alignment_drift.integrations.reports.publish import build_check_report, recorded_check
    from alignment_drift.settings import Settings

    spec = read_spec(args.spec)
    day = parse_date(args.date)
    start, _ = interval_for(spec.night_schedule, day)
    output = _output(args.output, spec.model, start)
    settings = Settings.from_env()
    store = without_credentials(settings.tracking_uri)
    _progress(f"reading the check of {spec.model} for {day} from MLflow ({store}) ...")
    recorded = recorded_check(settings, spec.model, start.isoformat())
    if recorded is None:
        raise UsageError(
            f"no check of {spec.model!r} is recorded for {day} (data interval starting {start.isoformat()}) in "
            f"MLflow at {store}. Fix: run `alignment-drift check {args.spec} --date {day}` (or "
            "the monitor DAG) for that night first, or point MLFLOW_TRACKING_URI at the store that has it."
        )
    _progress(f"drawing the report of run {recorded['run_id']} ...")
    html, _ = build_check_report(
        spec,
        settings,
        recorded["check"],
        mlflow_run_id=recorded["run_id"],
        dag_id=recorded["dag_id"],
        airflow_run_id=recorded["airflow_run_id"],
        nights=args.nights,
        dists=recorded["distributions"],
    )
    if output is None:
        results().write(html)
        return EXIT_OK
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    write_output(f"wrote {output} ({len(html.encode('utf-8')):,} bytes): {recorded['check']['verdict']}", None)
    return EXIT_OK
