"""``alignment-drift spec SPEC...``: validate alignment specs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_BAD_INPUT, EXIT_OK, UsageError, read_spec, to_json, write_output


def register(verbs: Any) -> None:
    parser = verbs.add_parser("spec", help="validate alignment specs")
    parser.add_argument("paths", nargs="+", type=Path, help="spec YAML files")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    results = []
    for path in args.paths:
        try:
            spec = read_spec(path)
            results.append({"path": str(path), "valid": True, "model": spec.model, "error": None})
        except UsageError as error:
            results.append({"path": str(path), "valid": False, "model": None, "error": str(error)})
    if args.format == "json":
        write_output(to_json({"schema": "alignment-drift/spec-validation@1", "specs": results}), None)
    else:
        for item in results:
            if item["valid"]:
                write_output(f"ok       {item['path']} (model {item['model']})", None)
            else:
                print(item["error"], file=sys.stderr)
    return EXIT_BAD_INPUT if any(not r["valid"] for r in results) else EXIT_OK
