"""``alignment-drift review MODEL VERSION --approve|--reject --reason TEXT``: decide a held version's review.

A review is opened by ``governance.on_ungated: hold`` (a version serves
without having passed the gate) or ``governance.on_misaligned:
require_approval`` (a misaligned night); it is listed on the Alignment
page's approvals. ``--approve`` lets the version keep serving (it is no
longer held; it still does not count as gated); ``--reject`` rolls
``champion`` back to the last safe gated version. Who decided, when and why
are recorded on the version and the review run.

Exit codes: 0 decided; 2 bad input (no open review, no reason).
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_OK, UsageError, to_json, write_output

SCHEMA = "alignment-drift/review@1"


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "review",
        help="approve or reject a serving version held for review (ungated or misaligned)",
        description="Decide a deployment review opened by governance.on_ungated: hold or "
        "governance.on_misaligned: require_approval. --reject rolls the champion back to the last safe gated "
        "version; --approve lets the version keep serving. The decision is recorded.",
    )
    parser.add_argument("model", help="the registered model")
    parser.add_argument("version", help="the held version")
    decision = parser.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", action="store_true", help="keep serving it")
    decision.add_argument("--reject", action="store_true", help="roll the champion back to the last safe gated version")
    parser.add_argument("--reason", required=True, help="why (recorded)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--output", type=Path, default=None)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from alignment_drift.pipeline.policy import decide_review
    from alignment_drift.settings import Settings

    try:
        done = decide_review(
            Settings.from_env(),
            args.model,
            args.version,
            approve=bool(args.approve),
            decided_by=getpass.getuser(),
            why=args.reason,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.format == "json":
        text = to_json({"schema": SCHEMA, "model": args.model, "version": args.version, **done})
    elif done["approved"]:
        text = f"{args.model} v{args.version}: review approved; it keeps serving (run {done['review_run_id']})"
    else:
        moved = f"champion rolled back to v{done['rolled_back_to']}" if done["rolled_back_to"] else "nothing moved"
        text = f"{args.model} v{args.version}: review rejected; {moved} (run {done['review_run_id']})"
    write_output(text, args.output)
    return EXIT_OK
