"""``alignment-drift rollback MODEL --reason TEXT [--to VERSION] [--force]``: restore a safe earlier champion.

Alias ``champion`` moves back to the version under ``previous`` (or
``--to``), which then points at the version rolled back; both versions, the
registered model and a ``rollback`` run in the model's experiment record the
reason. Nothing is deleted. The same is available in Airflow as the DAG
``alignment_rollback__<model>`` (params ``reason``, ``to_version``, ``force``).

A version that never passed the gate, was rejected by a review, or was
``misaligned`` on its last check is not restored: the command says why and
names the last safe version. ``--force`` restores it anyway, with a loud
warning on stderr, recorded on the version and the rollback run.

Exit codes: 0 rolled back; 2 bad input (no reason, nothing to roll back to,
an unsafe version without ``--force``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, to_json, write_output

SCHEMA = "alignment-drift/rollback@1"


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "rollback",
        help="restore a model's previous champion (alias 'previous'), recording why",
        description="Move alias 'champion' back to the version under 'previous' (or --to); record the reason on "
        "both versions, the registered model and a 'rollback' run in MLflow. Nothing is deleted. A version that "
        "never passed the gate or was misaligned on its last check is refused unless --force.",
    )
    parser.add_argument("model", help="the registered model")
    parser.add_argument("--reason", required=True, help="why the champion is rolled back (recorded)")
    parser.add_argument("--to", dest="to_version", default=None, help="the version to restore (default: 'previous')")
    parser.add_argument(
        "--force",
        action="store_true",
        help="restore the version even if it never passed the gate or was misaligned (warned and recorded)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--output", type=Path, default=None)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from alignment_drift.integrations.mlflow.rollback import rollback
    from alignment_drift.settings import Settings

    try:
        result = rollback(
            Settings.from_env(),
            args.model,
            reason=args.reason,
            actor=getpass.getuser(),
            to_version=args.to_version,
            force=args.force,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    if result.forced:
        print(
            f"WARNING: forced rollback of {result.model} to version {result.to_version}, which is not safe to serve: "
            f"{'; '.join(result.overridden)}. Recorded (rollback_forced) on the version and on "
            f"run {result.mlflow_run_id}.",
            file=sys.stderr,
        )
    if args.format == "json":
        text = to_json({"schema": SCHEMA, **result.to_dict()})
    else:
        text = (
            f"{result.model}: champion is version {result.to_version} again (was {result.from_version}); "
            f"reason recorded in MLflow run {result.mlflow_run_id}"
        )
    write_output(text, args.output)
    return EXIT_OK
