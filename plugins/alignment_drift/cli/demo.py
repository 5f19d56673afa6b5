"""``alignment-drift demo``: the simulated content platform through the real DAGs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, positive_int


def register(verbs: Any) -> None:
    parser = verbs.add_parser("demo", help="run the simulated content-platform demo through the real DAGs")
    parser.add_argument("--nights", type=positive_int, default=30, help="simulated nights (default 30)")
    parser.add_argument(
        "--scenario",
        default="engagement_feedback",
        help="engagement_feedback (default), stable, covariate_shift or model_update",
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument("--rows", type=positive_int, default=2000, help="prediction-log rows a night (default 2000)")
    parser.add_argument(
        "--on-ungated",
        choices=("notify", "hold", "rollback"),
        default="rollback",
        help="the demo's governance.on_ungated for the platform's own (ungated) updates (default rollback; "
        "the spec file is not changed)",
    )
    parser.add_argument(
        "--no-alerts",
        dest="alerts",
        action="store_false",
        help="no local alert receiver (by default the demo's alerts go to a loopback webhook receiver "
        "and are written to <data>/demo/alerts/)",
    )
    parser.add_argument("--home", type=Path, default=None, help="project root with specs/ and expectations/")
    parser.set_defaults(handler=run, own_stdout=True)


def run(args: argparse.Namespace) -> int:
    from alignment_drift.demo.run import run_demo
    from alignment_drift.demo.simulate import SCENARIOS

    if args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose one of {', '.join(SCENARIOS)}.")
    run_demo(
        nights=args.nights,
        scenario=args.scenario,
        seed=args.seed,
        rows_per_night=args.rows,
        on_ungated=args.on_ungated,
        alerts=args.alerts,
        home=args.home,
    )
    return EXIT_OK
