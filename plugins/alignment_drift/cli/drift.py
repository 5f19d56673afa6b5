"""``alignment-drift drift REFERENCE_OR_PROFILE CURRENT``: test a batch for drift, per column and jointly.

The column tests and the joint tests share ``--alpha`` by the alpha budget
(:func:`~alignment_drift.core.drift.budget.alpha_budget`, ``docs/drift.md``),
as in the monitor; the JSON states each family's level under ``alpha_budget``
and what ``elapsed_seconds`` covers under ``timings``.

CURRENT is never read whole: it is streamed in chunks and profiled as the
monitor profiles a batch (the mergeable statistics of
:func:`~alignment_drift.pipeline.steps.profile.profile_group`, merged as a
balanced tree), and the column tests run on that profile
(:meth:`~alignment_drift.core.drift.DriftDetector.test_profile`: the same
p-values as on the rows while its summaries are exact, i.e. up to
``DRIFT_BINS`` distinct values per column). The joint tests run on the batch's
rows up to :data:`KEEP_ROWS` rows, beyond on a uniform reservoir of
:data:`JOINT_SAMPLE_ROWS` of them drawn while streaming (no more than the
joint tests subsample anyway).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import threading
import time
from pathlib import Path
from typing import Any

from alignment_drift.cli.common import EXIT_FAILED, EXIT_OK, UsageError, to_json, write_output
from alignment_drift.cli.profile import column_kinds, split_list

DRIFT_SCHEMA = "alignment-drift/drift@1"
#: The parts of ``elapsed_seconds`` reported under ``timings`` (seconds; 0.0 for a part that did not run).
TIMED = ("read", "fit_reference", "columns", "joint")
#: Rows of CURRENT kept as they are for the joint tests; a larger batch is sampled while streaming.
KEEP_ROWS = 100_000
#: Rows of the uniform reservoir of a larger CURRENT: the most either joint test subsamples a batch to
#: (``DomainClassifierDrift``'s ``max_rows``; MMD takes 1,500).
JOINT_SAMPLE_ROWS = 10_000
#: Rows of CURRENT read at once.
CHUNK_ROWS = 250_000


def register(verbs: Any) -> None:
    parser = verbs.add_parser("drift", help="test CURRENT against a reference (data or a saved profile)")
    parser.add_argument("reference", help="a profile written by `alignment-drift profile`, or reference data")
    parser.add_argument("current", help="parquet or CSV file, or a folder or glob of parquet partitions")
    parser.add_argument("--columns", help="comma-separated columns to test (default: all the reference has)")
    parser.add_argument("--categorical", help="comma-separated columns to treat as categorical")
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="significance level of the whole test, shared by the column and joint tests (default 0.05)",
    )
    parser.add_argument("--correction", choices=("bh", "holm", "bonferroni"), default="bh")
    parser.add_argument("--numeric-effect-floor", type=float, default=0.1)
    parser.add_argument("--categorical-effect-floor", type=float, default=0.1)
    parser.add_argument("--missing-effect-floor", type=float, default=0.02)
    parser.add_argument(
        "--multivariate",
        choices=("auto", "on", "off"),
        default="auto",
        help="domain-classifier and MMD tests; need reference rows: the data, or a profile's reservoir (auto: on "
        "when there are rows)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the joint tests' reference redraw, in [0, 2**32 - 1] (default: from a SHA-256 digest of "
        "CURRENT's tested columns (of its streamed sample above 100,000 rows), so the same batch gives the same "
        "result and each new batch a fresh draw)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json", "html"),
        default="table",
        help="table (default), json, or html: a self-contained page with a chart per column",
    )
    parser.add_argument("--output", type=Path, default=None, help="write the result here instead of stdout")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 1 when drift is found")
    parser.set_defaults(handler=run)


def _load_reference(
    arg: str, columns: list[str], categorical: list[str], *, rows: bool
) -> tuple[Any, Any, list[str], list[str]]:
    """(profile, reference rows or None, numeric columns, categorical columns).

    A profile's reference rows are its reservoir (None for a profile written without one, and when ``rows`` is
    off: the joint tests will not run, so the reservoir is not read).
    """
    from alignment_drift.core.drift.profile import ReferenceProfile
    from alignment_drift.integrations.tables import read_table

    path = Path(arg)
    if path.is_file() and path.suffix == ".parquet":
        try:
            profile = ReferenceProfile.load(path, reservoir=rows)
        except ValueError:
            profile = None
        if profile is not None:
            names = columns or list(profile.columns)
            absent = [c for c in names if c not in profile.columns]
            if absent:
                raise UsageError(f"columns {absent} are not in the profile {arg}; it has {list(profile.columns)}.")
            numeric = [c for c in names if profile.columns[c].kind == "numeric" and c not in categorical]
            cats = [c for c in names if c not in numeric]
            return profile, None if profile.reservoir is None else profile.reservoir.rows, numeric, cats
    frame = read_table(arg, columns=columns or None)
    numeric, cats = column_kinds(frame, columns=columns, categorical=categorical)
    return None, frame, numeric, cats


def _stream_current(arg: str, numeric: list[str], cats: list[str], *, joint: bool) -> tuple[Any, Any]:
    """(CURRENT's profile, its rows for the joint tests or None), streamed in chunks of :data:`CHUNK_ROWS` rows.

    The rows are CURRENT's own (in order) up to :data:`KEEP_ROWS`, else a uniform
    reservoir of :data:`JOINT_SAMPLE_ROWS` (see :mod:`alignment_drift.core.drift.reservoir`);
    None when ``joint`` is off. The next chunk is read while one is profiled
    (:func:`~alignment_drift.integrations.sources.stream.read_ahead`): memory holds three chunks at
    most, the profiles being merged and those rows.
    """
    from alignment_drift.core.drift.profile import DRIFT_BINS, DRIFT_MAX_CATEGORIES, ReferenceProfile
    from alignment_drift.integrations.sources.stream import read_ahead
    from alignment_drift.integrations.tables import TableError, iter_batches

    kept: list[Any] = []
    seen = 0

    def chunks() -> Any:
        nonlocal seen
        # Parquet chunks stay Arrow (profiled without pandas); CSV chunks are pandas frames
        for chunk in read_ahead(iter_batches(arg, columns=[*numeric, *cats], rows=CHUNK_ROWS, arrow=True)):
            if len(chunk) == 0:
                continue
            seen += len(chunk)
            if joint and seen <= KEEP_ROWS:
                kept.append(chunk)
            else:
                kept.clear()
            yield chunk

    try:
        profile = ReferenceProfile.fit_chunks(
            chunks(),
            numeric=numeric,
            categorical=cats,
            bins=DRIFT_BINS,
            max_categories=DRIFT_MAX_CATEGORIES,
            reservoir_rows=JOINT_SAMPLE_ROWS if joint else 0,
        )
    except TableError:
        raise  # unreadable, or lacking a tested column: its own message
    except ValueError:
        if seen:
            raise
        raise UsageError(f"{arg}: the current batch has no rows.") from None
    if not joint:
        return profile, None
    if seen <= KEEP_ROWS:
        import pandas as pd
        import pyarrow as pa

        if isinstance(kept[0], pa.RecordBatch):
            return profile, pa.Table.from_batches(kept).to_pandas(split_blocks=True)
        return profile, kept[0] if len(kept) == 1 else pd.concat(kept, ignore_index=True)
    assert profile.reservoir is not None
    return profile, profile.reservoir.rows


def _multivariate(
    rows: Any,
    current: Any,
    numeric: list[str],
    cats: list[str],
    alphas: dict[str, float],
    seed: int | None,
    source: str,
) -> dict[str, Any]:
    """The joint tests on ``rows`` (the reference data or a profile's reservoir), the reference redrawn for ``seed``.

    ``seed`` None: derived from a digest of the current batch's tested columns (see ``--seed``).
    """
    from alignment_drift.core.drift.multivariate import DomainClassifierDrift, MMDDrift
    from alignment_drift.core.drift.reservoir import content_digest, seed_from

    if seed is None:
        seed = seed_from(content_digest(current, [*numeric, *cats]))
    out: dict[str, Any] = {}
    for name, cls in (("domain_classifier", DomainClassifierDrift), ("mmd", MMDDrift)):
        result = cls(rows, numeric=numeric, categorical=cats, alpha=alphas[name]).test(current, seed=seed)
        out[name] = {**result.to_dict(), "reference": source, "seed": seed}
    return out


def _table(result: dict[str, Any]) -> str:
    budget = result["alpha_budget"]
    levels = ", ".join(f"{k} {v:.3g}" for k, v in {**budget["families"], **budget["joint_tests"]}.items())
    lines = [
        f"drift: {'YES' if result['drift'] else 'no'}   reference {result['n_reference']} rows, current "
        f"{result['n_current']} rows, alpha {budget['alpha']:g} ({levels}; columns {result['correction']}), "
        f"{result['elapsed_seconds']:.3f} s",
        f"{'column':<28} {'kind':<11} {'test':<12} {'p_adj':>9} {'effect':>8} {'floor':>6} {'miss_ref':>8} "
        f"{'miss_cur':>8}  drift",
    ]
    for col in sorted(result["columns"], key=lambda c: -c["effect"]):
        flag = "DRIFT" if col["drift"] else ("MISSING" if col["missing_drift"] else "")
        unseen = f" unseen: {', '.join(col['unseen_categories'][:5])}" if col["unseen_categories"] else ""
        lines.append(
            f"{col['name'][:28]:<28} {col['kind']:<11} {col['test']:<12} {col['p_adjusted']:>9.2e} "
            f"{col['effect']:>8.3f} {col['effect_floor']:>6.2f} {col['missing_rate_reference']:>8.3f} "
            f"{col['missing_rate_current']:>8.3f}  {flag}{unseen}"
        )
    for name, test in (result.get("multivariate") or {}).items():
        if isinstance(test, dict) and "p_value" in test:
            lines.append(
                f"multivariate {name}: p={test['p_value']:.3g} {'DRIFT' if test['drift'] else ''} {test['detail']}"
            )
        else:
            lines.append(f"multivariate {name}: {test}")
    return "\n".join(lines)


def _html(payload: dict[str, Any], profile: Any, current: Any, columns: list[str], args: argparse.Namespace) -> str:
    """The drift-only HTML report: the table sorted by effect and a chart per column, drawn from both profiles."""
    from alignment_drift.integrations.reports import distributions, render_drift_report

    dists = distributions(profile, current, columns)
    return render_drift_report(payload, distributions=dists, title=f"{args.current} against {args.reference}")


def no_rows(args: argparse.Namespace) -> str:
    """Why the joint tests cannot run on a profile, and the fix."""
    return (
        f"the profile {args.reference} carries no reference rows (written without a reservoir, e.g. before "
        "reservoirs existed); refit it with `alignment-drift profile`, or pass the reference data, to run the "
        "joint tests"
    )


def _preload(*modules: str) -> threading.Thread:
    """Import ``modules`` in a background thread: their Python code runs while the batch is read and sorted
    (pyarrow and numpy release the GIL). A failure is left for the real import to raise."""

    def load() -> None:
        for module in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(module)

    thread = threading.Thread(target=load, name="alignment-drift-preload", daemon=True)
    thread.start()
    return thread


def run(args: argparse.Namespace) -> int:
    from alignment_drift.core.drift.budget import alpha_budget
    from alignment_drift.integrations.tables import TableError

    columns, categorical = split_list(args.columns), split_list(args.categorical)
    timings = dict.fromkeys(TIMED, 0.0)
    if args.seed is not None and not 0 <= args.seed <= 2**32 - 1:
        raise UsageError(f"--seed must be an int in [0, 4294967295]. Got {args.seed} instead.")
    try:
        began = time.perf_counter()
        # the tests' modules (pandas, scipy; scikit-learn for the joint tests) load while the batch streams:
        # against a profile, reading and summarising the batch needs only numpy and pyarrow
        modules = ["alignment_drift.core.drift.detector"]
        if args.multivariate != "off":
            modules.append("alignment_drift.core.drift.multivariate")
        loading = _preload(*modules)
        profile, rows, numeric, cats = _load_reference(
            args.reference, columns, categorical, rows=args.multivariate != "off"
        )
        from_profile = profile is not None
        joint = args.multivariate != "off" and rows is not None
        current_profile, current = _stream_current(args.current, numeric, cats, joint=joint)
        if args.multivariate == "on" and rows is None:
            raise UsageError(f"--multivariate on needs reference rows: {no_rows(args)}.")
        budget = alpha_budget(args.alpha, ["inputs", "joint"] if joint else ["inputs"])
        loading.join()
        timings["read"] = time.perf_counter() - began
        from alignment_drift.core.drift import DriftDetector

        if profile is None:
            from alignment_drift.core.drift.profile import ReferenceProfile

            step = time.perf_counter()
            profile = ReferenceProfile.fit(rows, numeric=numeric, categorical=cats, reservoir_rows=0)  # rows at hand
            timings["fit_reference"] = time.perf_counter() - step
        step = time.perf_counter()
        detector = DriftDetector(
            profile,
            numeric=numeric,
            categorical=cats,
            alpha=budget.families["inputs"],
            correction=args.correction,
            numeric_effect_floor=args.numeric_effect_floor,
            categorical_effect_floor=args.categorical_effect_floor,
            missing_effect_floor=args.missing_effect_floor,
        )
        result = detector.test_profile(current_profile)
        timings["columns"] = time.perf_counter() - step
    except (TableError, ValueError) as error:
        raise UsageError(str(error)) from None
    payload: dict[str, Any] = {"schema": DRIFT_SCHEMA, **result.to_dict(), "alpha_budget": budget.to_dict()}
    if joint:
        step = time.perf_counter()
        source = f"profile reservoir ({len(rows)} of {profile.n_rows} rows)" if from_profile else "data"
        try:
            payload["multivariate"] = _multivariate(rows, current, numeric, cats, budget.joint_tests, args.seed, source)
        except ValueError as error:
            raise UsageError(str(error)) from None
        timings["joint"] = time.perf_counter() - step
        payload["drift"] = payload["drift"] or any(t["drift"] for t in payload["multivariate"].values())
    else:
        off = args.multivariate == "off"
        payload["multivariate"] = {"skipped": "turned off (--multivariate off)" if off else no_rows(args)}
    payload["elapsed_seconds"] = time.perf_counter() - began
    payload["timings"] = timings
    if args.format == "html":
        text = _html(payload, profile, current_profile, [*numeric, *cats], args)
    else:
        text = to_json(payload) if args.format == "json" else _table(payload)
    write_output(text, args.output)
    return EXIT_FAILED if args.fail_on_drift and payload["drift"] else EXIT_OK
