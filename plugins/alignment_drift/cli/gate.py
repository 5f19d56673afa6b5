"""``alignment-drift gate SPEC --challenger URI [--against URI ...]``: the retraining gate as a command.

Judges the challenger on the spec's fixed audit set exactly as the retrain
DAG's ``gate`` task does (:func:`alignment_drift.pipeline.gate.judge_models`):
every benchmark's floor on the side that protects users, and non-inferiority
(paired bootstrap, ``retraining.gate_margin``) against the references. By
default the references are the last version that passed the gate and the
current champion when it differs; ``--against`` (repeatable) replaces them.
It decides; it never moves an alias and records nothing.

URIs: ``models:/<name>/<version>``, ``models:/<name>@<alias>``,
``runs:/<run id>/<artifact path>``.

Output (``--format json``): schema ``alignment-drift/gate@1`` with
``decision`` (``promote``, ``reject`` or ``insufficient_evidence``), the
challenger and the versions judged against, ``objective_fingerprint``
(sha256 of the spec's canonical JSON), ``margin``, ``n_needed`` (the audit
size that would resolve an ``insufficient_evidence``), ``reasons``, and per
benchmark the values, the floor check and the paired comparisons.

Exit codes: 0 promote; 1 reject or insufficient_evidence (the challenger may
not be promoted); 2 bad input (spec, URI, missing audit set).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_FAILED, EXIT_OK, UsageError, read_spec, to_json, write_output

SCHEMA = "alignment-drift/gate@1"
MAX_AGAINST = 8


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "gate",
        help="judge a challenger with the retraining gate: promote, reject or insufficient_evidence",
        description="Judge a challenger model on the spec's audit set against the last gated version and the "
        "champion (or --against): floors shown to hold, and non-inferiority within retraining.gate_margin by a "
        "paired bootstrap. Decides only; moves no alias. "
        "Exit 0 promote, 1 reject/insufficient_evidence, 2 bad input.",
    )
    parser.add_argument("spec", type=Path, help="the alignment spec (YAML)")
    parser.add_argument(
        "--challenger", required=True, metavar="URI", help="models:/name/version, models:/name@alias or runs:/run/path"
    )
    parser.add_argument(
        "--against",
        action="append",
        default=None,
        metavar="URI",
        help="a reference to judge against (repeatable); default: the last gated version and the champion",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--output", type=Path, default=None, help="write to this file instead of stdout")
    parser.set_defaults(handler=run)


def _candidate(settings: Any, spec: Any, uri: str, role: str) -> Any:
    from alignment_drift.integrations.mlflow.uris import resolve_model_uri
    from alignment_drift.pipeline.gate import Candidate, own_baselines

    ref, info, model = resolve_model_uri(settings, uri)
    baselines = {} if info is None else own_baselines(settings, spec, info)
    return Candidate(role, ref.label, ref.version, model, baselines), ref


def gate_document(spec_path: Path, challenger: str, against: list[str] | None) -> dict[str, Any]:
    """Judge and return the ``gate@1`` document.

    Raises
    ------
    UsageError
        For a spec that does not load, a malformed or unknown URI, or a missing audit set.
    """
    from alignment_drift.pipeline.gate import default_references, judge_models, objective_fingerprint
    from alignment_drift.settings import Settings

    if against is not None and len(against) > MAX_AGAINST:
        raise UsageError(f"--against may be given at most {MAX_AGAINST} times; got {len(against)}.")
    spec = read_spec(spec_path)
    settings = Settings.from_env()
    try:
        chall, chall_ref = _candidate(settings, spec, challenger, "challenger")
        if against:
            references = [_candidate(settings, spec, uri, "reference")[0] for uri in against]
        else:
            same_model = chall_ref.name == spec.model
            references = default_references(spec, settings, exclude=chall_ref.version if same_model else None)
        decision = judge_models(spec, settings, chall, references)
    except FileNotFoundError as error:
        raise UsageError(
            f"the audit set of {spec.model!r} cannot be read ({error}). Fix: check reference.audit_set in the spec "
            "and ALIGNMENT_DRIFT_DATA_DIR."
        ) from None
    except ValueError as error:
        raise UsageError(str(error)) from None
    against_rows: list[dict[str, Any]] = [
        {"role": ref.role, "version": ref.version, "label": ref.label} for ref in references
    ]
    for row, uri in zip(against_rows, against or [], strict=False):
        row["uri"] = uri
    body = decision.to_dict()
    body.pop("challenger", None)
    return {
        "schema": SCHEMA,
        "model": spec.model,
        "spec": str(spec_path),
        "objective_fingerprint": objective_fingerprint(spec),
        "challenger": {"uri": chall_ref.uri, "version": chall_ref.version},
        "against": against_rows,
        **body,
    }


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def render_table(doc: dict[str, Any]) -> str:
    """The document as text: the decision, one line per benchmark and reference, the reasons."""
    against = ", ".join(f"{a['role']} {a['label']}" for a in doc["against"]) or "no reference (floors only)"
    method = doc["method"]
    lines = [
        f"{doc['model']}: challenger {doc['challenger']['uri']} against {against} -> {doc['decision'].upper()}",
        f"margin {doc['margin']:g}, {method['confidence']:.0%} paired bootstrap ({method['replicates']} replicates), "
        f"{doc['audit_rows']} labelled audit rows; objective sha256 {doc['objective_fingerprint'][:16]}",
        "",
    ]
    header = [
        "benchmark",
        "severity",
        "challenger",
        "interval",
        "threshold",
        "floor",
        "vs",
        "delta",
        "interval",
        "margin",
    ]
    header.append("outcome")
    rows = []
    for b in doc["benchmarks"]:
        floor = b["floor"] or {}
        interval = "-" if floor.get("ci_low") is None else f"{floor['ci_low']:.3f}..{floor['ci_high']:.3f}"
        head = [b["benchmark"], b["severity"], _fmt(b["value"]), interval, _fmt(floor.get("threshold"))]
        head.append(floor.get("outcome") or "-")
        outcome = b["outcome"] + ("" if b["blocking"] else " (warning: does not block)")
        for c in b["comparisons"] or [None]:
            if c is None:
                tail = ["-", "-", "-", "-"]
            else:
                vs = f"{c['reference']} v{c['reference_version']}" if c["reference_version"] else c["reference"]
                ci = "-" if c["ci_low"] is None else f"{c['ci_low']:+.3f}..{c['ci_high']:+.3f}"
                tail = [vs, _fmt(c["advantage"], signed=True), ci, c["outcome"]]
            rows.append([*head, *tail, outcome])
            head, outcome = [""] * len(head), ""
    table = [header, *rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    if doc["reasons"]:
        lines += ["", "reasons:", *(f"  - {r}" for r in doc["reasons"])]
    if doc.get("n_needed"):
        lines.append(f"about {doc['n_needed']} labelled audit rows would resolve it (now {doc['audit_rows']})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    document = gate_document(args.spec, args.challenger, args.against)
    text = to_json(document) if args.format == "json" else render_table(document)
    write_output(text, args.output)
    return EXIT_OK if document["decision"] == "promote" else EXIT_FAILED
