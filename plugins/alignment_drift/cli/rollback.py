"""``alignment-drift rollback MODEL --reason TEXT``: restore the previous champion, recording why.

Alias ``champion`` moves back to the version under ``previous`` (which then
points at the version rolled back); both versions, the registered model and
a ``rollback`` run in the model's experiment record the reason. Nothing is
deleted. The same is available in Airflow as the DAG
``alignment_rollback__<model>`` (param ``reason``).

Exit codes: 0 rolled back; 2 bad input (no reason, nothing to roll back to).
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, to_json, write_output

SCHEMA = "alignment-drift/rollback@1"


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "rollback",
        help="restore a model's previous champion (alias 'previous'), recording why",
        description="Move alias 'champion' back to the version under 'previous'; record the reason on both "
        "versions, the registered model and a 'rollback' run in MLflow. Nothing is deleted.",
    )
    parser.add_argument("model", help="the registered model")
    parser.add_argument("--reason", required=True, help="why the champion is rolled back (recorded)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--output", type=Path, default=None)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from alignment_drift.integrations.mlflow.rollback import rollback
    from alignment_drift.settings import Settings

    try:
        result = rollback(Settings.from_env(), args.model, reason=args.reason, actor=getpass.getuser())
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.format == "json":
        text = to_json({"schema": SCHEMA, **result.to_dict()})
    else:
        text = (
            f"{result.model}: champion is version {result.to_version} again (was {result.from_version}); "
            f"reason recorded in MLflow run {result.mlflow_run_id}"
        )
    write_output(text, args.output)
    return EXIT_OK
