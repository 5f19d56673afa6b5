"""Detection power and false alarms: a Failing-Loudly-style protocol on tabular data.

Protocol (Rabanser et al. 2019, re-run on ``bench/datagen.py``'s 20 numeric + 5
categorical columns; see bench/README.md):

* reference: ``--reference`` rows (default 10,000), a fresh seeded draw per run;
* current: for each run, one pool of fresh rows from the same process; each shift
  is applied to the pool (``datagen.shift``) and a batch of size n is the pool's
  first n rows, n in ``--sizes`` (default 10 100 1000 10000 100000);
* shifts: ``none``; Gaussian noise (std = the feature's reference std) on 10 / 50 /
  100 % of rows of 5 numeric features; knock-out (drop 50 % of the rows with
  label 1, a label generated from the features, not tested itself); a swap of the
  two most frequent categories of c1; 20 % NaN injected in 3 numeric columns; +0.5
  std on 3 of the 20 numeric columns;
* ``--runs`` seeded runs per (shift, n) (default 20), alpha = 0.05;
* each tool's dataset-level decision with its defaults: ours: any column drifted
  (distribution or missing rate); Evidently: share of drifted columns >= 0.5
  (DataDriftPreset's drift_share); NannyML: any column alerted; alibi-detect:
  ``is_drift`` of TabularDrift (Bonferroni). Two non-default readings are shown
  beside them: Evidently "any column drifted", and NannyML with reference chunks
  of the batch's size (``nannyml_sized``, see peer_runner.py).

Evidently is run through its own per-column default statistics
(``evidently_stats`` in peer_runner.py) rather than ``Report.run``, which
renders plotly widgets and takes ~100× longer; ``--evidently-check-runs`` runs of
every (shift, n) are re-run with ``Report([DataDriftPreset()]).run`` and the
decisions and flagged columns compared (printed).

Peers run in their own environments, one subprocess per tool and group of runs
(``--workers`` at a time). Ours is additionally run on ``--null-runs`` extra
no-shift runs (default 200) for a tighter false-alarm estimate.

Usage::

    python bench/power.py              # full protocol (~30-40 min on 2 cores)
    python bench/power.py --quick      # smoke run (~2 min)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import stats

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import datagen  # noqa: E402
import peers  # noqa: E402
from speed import run_job  # noqa: E402

from alignment_drift.core.drift.detector import DriftDetector  # noqa: E402

COLUMNS = {"numeric": datagen.NUMERIC, "categorical": datagen.CATEGORICAL}
ALL = datagen.NUMERIC + datagen.CATEGORICAL
#: runner tool -> environment
TOOLS = {
    "ours": "ours",
    "evidently_stats": "evidently",
    "nannyml": "nannyml",
    "alibi-detect": "alibi-detect",
    "nannyml_sized": "nannyml",
}
LABELS = {
    "ours": "ours",
    "evidently_stats": "Evidently",
    "nannyml": "NannyML",
    "alibi-detect": "alibi-detect",
    "nannyml_sized": "NannyML, ref. chunks = n*",
    "evidently_any": "Evidently, any column*",
}
TOUCHED = {
    "gauss_noise_10": datagen.NOISE_COLUMNS,
    "gauss_noise_50": datagen.NOISE_COLUMNS,
    "gauss_noise_100": datagen.NOISE_COLUMNS,
    "knockout": ALL,
    "category_swap": [datagen.SWAP_COLUMN],
    "missing_20": datagen.MISSING_COLUMNS,
    "subset_shift": datagen.SUBSET_COLUMNS,
    "none": ALL,
}


def seeds(base: int, run: int) -> tuple[int, int, int]:
    """Seeds of a run's reference, pool and shifts."""
    return base * 1_000_003 + 1_000 + run, base * 1_000_003 + 500_000 + run, base * 1_000_003 + 900_000 + run


def make_data(data_dir: Path, runs: Sequence[int], shifts: Sequence[str], n_ref: int, n_max: int, seed: int) -> None:
    """Write ``ref_{run}.parquet`` and ``cur_{shift}_{run}.parquet`` (pools of ``n_max`` rows)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        s_ref, s_pool, s_shift = seeds(seed, run)
        ref = datagen.generate(n_ref, s_ref, with_label=False)
        ref.to_parquet(data_dir / f"ref_{run}.parquet")
        std = {c: float(ref[c].std()) for c in datagen.NUMERIC}
        pool = datagen.generate(int(n_max * 1.4) + 200, s_pool, with_label=True)
        for i, shift in enumerate(shifts):
            cur = datagen.shift(pool, shift, s_shift * 16 + i, std).iloc[:n_max]
            if len(cur) < n_max:
                raise RuntimeError(f"pool too small for {shift}: {len(cur)} < {n_max}")
            cur[ALL].reset_index(drop=True).to_parquet(data_dir / f"cur_{shift}_{run}.parquet")


def null_runs(k: int, n_ref: int, sizes: Sequence[int], seed: int) -> dict[int, list[list[str]]]:
    """Ours only, in process: ``k`` extra no-shift runs (seeds disjoint from the main runs).

    Returns, per n, the columns flagged in each run (an empty list = no false alarm).
    """
    out: dict[int, list[list[str]]] = defaultdict(list)
    for j in range(k):
        s_ref, s_pool, _ = seeds(seed + 7919, j)
        ref = datagen.generate(n_ref, s_ref, with_label=False)
        pool = datagen.generate(max(sizes), s_pool, with_label=False)
        detector = DriftDetector(ref, **COLUMNS)
        for n in sizes:
            out[n].append(detector.test(pool.iloc[:n].reset_index(drop=True)).drifted_columns())
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="seeded runs per (shift, n) (default 20)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000, 100000])
    parser.add_argument("--reference", type=int, default=10_000, help="reference rows (default 10000)")
    parser.add_argument("--shifts", nargs="+", choices=datagen.SHIFTS, default=list(datagen.SHIFTS))
    parser.add_argument("--tools", nargs="+", choices=list(TOOLS), default=list(TOOLS))
    parser.add_argument("--workers", type=int, default=2, help="subprocesses at a time (default 2)")
    parser.add_argument("--null-runs", type=int, default=200, help="extra no-shift runs, ours only (default 200)")
    parser.add_argument(
        "--evidently-check-runs",
        type=int,
        default=1,
        help="runs re-done with Evidently's Report.run to check evidently_stats (default 1)",
    )
    parser.add_argument("--job-timeout", type=float, default=3600.0, help="seconds per subprocess")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 runs, n <= 1000, 10 null runs, 1 Evidently check run (overrides those options)",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "power")
    parser.add_argument("--keep-data", action="store_true", help="keep the generated parquet files")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()  # the runner works in bench/
    if args.quick:
        args.runs, args.sizes, args.null_runs, args.evidently_check_runs = 2, [10, 100, 1000], 10, 1
    sizes = sorted(args.sizes)
    runs = list(range(args.runs))
    data_dir = args.out / "data"
    t_start = time.perf_counter()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    pythons: dict[str, object] = {"ours": sys.executable}
    failed: dict[str, str] = {}
    for tool in args.tools:
        env = TOOLS[tool]
        if env == "ours" or env in pythons:
            continue
        try:
            peers.ensure(env)
            pythons[env] = peers.python_of(env)
        except Exception as error:
            failed[env] = f"install failed: {error}"

    print(f"[power] generating data: {len(runs)} runs x {len(args.shifts)} shifts", file=sys.stderr, flush=True)
    make_data(data_dir, runs, args.shifts, args.reference, max(sizes), args.seed)
    print(f"[power] data ready ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr, flush=True)

    # jobs: (tool, runs) -- heavy tools first, runs split so that both workers stay busy
    base = {"mode": "power", "data_dir": str(data_dir), "shifts": args.shifts, **COLUMNS}
    jobs = []
    halves = [runs[: (len(runs) + 1) // 2], runs[(len(runs) + 1) // 2 :]]
    for tool in ("nannyml_sized", "evidently_stats", "nannyml", "alibi-detect", "ours"):
        if tool in args.tools and TOOLS[tool] not in failed:
            for part in halves:
                if part:
                    jobs.append((tool, {**base, "tool": tool, "runs": part, "sizes": sizes}))
    check_runs = runs[: args.evidently_check_runs]
    if check_runs and "evidently_stats" in args.tools and "evidently" not in failed:
        jobs.insert(1, ("evidently", {**base, "tool": "evidently", "runs": check_runs, "sizes": sizes}))

    def execute(item):
        tool, job = item
        t = time.perf_counter()
        print(f"[power] start {tool} runs {job['runs'][0]}..{job['runs'][-1]}", file=sys.stderr, flush=True)
        out = run_job(pythons[TOOLS.get(tool, "evidently")], job, args.job_timeout)
        print(
            f"[power] done  {tool} runs {job['runs'][0]}..{job['runs'][-1]} in {time.perf_counter() - t:.0f} s"
            f"{'' if out.get('ok') else ': ' + str(out.get('error'))}",
            file=sys.stderr,
            flush=True,
        )
        return tool, out

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(execute, jobs))
    null = {}
    if args.null_runs and "ours" in args.tools:
        print(f"[power] ours: {args.null_runs} extra no-shift runs", file=sys.stderr, flush=True)
        null = null_runs(args.null_runs, args.reference, sizes, args.seed)

    records: dict[str, list[dict]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    job_seconds: dict[str, float] = defaultdict(float)
    for tool, out in results:
        if out.get("ok"):
            records[tool].extend(out["records"])
            job_seconds[tool] += out.get("seconds", 0.0)
        else:
            errors[tool].append(str(out.get("error")))
    for tool in args.tools:
        if TOOLS[tool] in failed:
            errors[tool].append(failed[TOOLS[tool]])
    if "evidently_stats" in records:
        records["evidently_any"] = [
            {**r, "drift": None if r.get("drift") is None else bool(r.get("flagged"))}
            for r in records["evidently_stats"]
        ]

    args.out.mkdir(parents=True, exist_ok=True)
    raw = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "started": started,
        "records": records,
        "errors": errors,
        "null": null,
        "job_seconds": job_seconds,
    }
    (args.out / "power.json").write_text(json.dumps(raw, default=str))
    if not args.keep_data:
        shutil.rmtree(data_dir, ignore_errors=True)

    print_tables(records, errors, null, args, sizes, started, time.perf_counter() - t_start, job_seconds)
    return 0


def rate(recs: list[dict]) -> tuple[float | None, int, int]:
    ok = [r for r in recs if r.get("drift") is not None]
    k = sum(bool(r["drift"]) for r in ok)
    return (k / len(ok) if ok else None), k, len(ok)


def print_tables(records, errors, null, args, sizes, started, elapsed, job_seconds) -> None:
    cols = [
        t
        for t in ("ours", "evidently_stats", "nannyml", "alibi-detect", "nannyml_sized", "evidently_any")
        if t in records or t in errors
    ]
    index = {t: defaultdict(list) for t in cols}
    for t in cols:
        for r in records.get(t, []):
            index[t][(r["shift"], r["n"])].append(r)

    print(
        f"Detection power, {started}; {os.cpu_count()} cores; reference {args.reference} rows; "
        f"{args.runs} runs per cell; alpha 0.05; total {elapsed / 60:.1f} min "
        f"(subprocess seconds: {', '.join(f'{k} {v:.0f}' for k, v in job_seconds.items())})."
    )
    print(
        "Cell = share of runs in which the tool's dataset-level decision was 'drift' (row `none` = false "
        "alarms). * = not the tool's default decision, shown for reference.\n"
    )
    print("| shift | n | " + " | ".join(LABELS[t] for t in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for shift in args.shifts:
        for n in sizes:
            cells = []
            for t in cols:
                if t in errors and not index[t]:
                    cells.append("failed")
                    continue
                r, k, m = rate(index[t][(shift, n)])
                cells.append("-" if r is None else f"{r:.2f}" + ("" if m == args.runs else f" ({m})"))
            print(f"| {shift} | {n} | " + " | ".join(cells) + " |")
    for t, errs in errors.items():
        print(f"\n{LABELS.get(t, t)}: {len(errs)} job error(s): {errs[0][:300]}")
    cell_errors = {t: sum(1 for r in records.get(t, []) if r.get("error")) for t in cols}
    if any(cell_errors.values()):
        examples = {t: next(r["error"] for r in records[t] if r.get("error")) for t, v in cell_errors.items() if v}
        print(f"\nComparisons that raised (counted out of the rates): {cell_errors}; e.g. {examples}")

    # false alarms, ours with the extra runs
    print("\nFalse-alarm rate under no shift (95 % Clopper–Pearson interval).\n")
    print(
        "| n | ours, main runs | ours, "
        + f"{args.null_runs} extra runs | 95 % CI | "
        + " | ".join(LABELS[t] for t in cols if t != "ours")
        + " |"
    )
    print("|---|---|---|---|" + "---|" * (len(cols) - 1))
    for n in sizes:
        r, k, m = rate(index["ours"][("none", n)]) if "ours" in index else (None, 0, 0)
        main_cell = f"{k}/{m}" if m else "-"
        extra = null.get(n) or null.get(str(n)) or []
        ke, me = sum(bool(f) for f in extra), len(extra)
        lo, hi = clopper_pearson(ke, me) if me else (0, 1)
        peer_cells = []
        for t in cols:
            if t == "ours":
                continue
            _, kk, mm = rate(index[t][("none", n)])
            peer_cells.append(f"{kk}/{mm}" if mm else "-")
        print(
            f"| {n} | {main_cell} | {ke}/{me} = {ke / me if me else float('nan'):.3f} | [{lo:.3f}, {hi:.3f}] | "
            + " | ".join(peer_cells)
            + " |"
        )

    # which columns raise our false alarms
    if null:
        counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for n in sizes:
            for flagged in null.get(n) or null.get(str(n)) or []:
                for c in flagged:
                    counts[c][n] += 1
        if counts:
            print(f"\nOurs, {args.null_runs} extra no-shift runs: runs in which each column was flagged, by n.\n")
            print("| column | " + " | ".join(f"n={n}" for n in sizes) + " |")
            print("|---|" + "---|" * len(sizes))
            for c in sorted(counts, key=lambda c: (-sum(counts[c].values()), c)):
                print(f"| {c} | " + " | ".join(str(counts[c].get(n, 0)) for n in sizes) + " |")

    # our effect sizes: which shifts are below the floor
    if "ours" in index:
        n_top = max(sizes)
        print(
            f"\nOur effect sizes at n = {n_top} (mean over runs; the largest among the shift's columns, and the "
            "column): Wasserstein/IQR for numeric (floor 0.1), Jensen–Shannon distance for categorical (floor 0.1), "
            "missing-rate difference (floor 0.02). Also the mean number of columns ours flagged, and how many of "
            "them were columns the shift did not touch.\n"
        )
        print(
            "| shift | largest distribution effect (column) | largest missing-rate effect | ours: columns flagged "
            "| of which untouched |"
        )
        print("|---|---|---|---|---|")
        for shift in args.shifts:
            recs = [r for r in index["ours"][(shift, n_top)] if r.get("effects")]
            if not recs:
                continue
            touched = TOUCHED[shift]
            means = {c: float(np.mean([r["effects"][c][0] for r in recs])) for c in touched}
            col = max(means, key=means.get)
            miss = {c: float(np.mean([r["effects"][c][1] for r in recs])) for c in touched}
            mcol = max(miss, key=miss.get)
            nflag = np.mean([len(r["flagged"]) for r in recs])
            untouched = np.mean([len([c for c in r["flagged"] if c not in touched]) for r in recs])
            print(f"| {shift} | {means[col]:.3f} ({col}) | {miss[mcol]:.3f} ({mcol}) | {nflag:.1f} | {untouched:.1f} |")

    checks = records.get("evidently")
    if checks:
        stats_index = {(r["run"], r["shift"], r["n"]): r for r in records.get("evidently_stats", [])}
        same_decision = same_cols = total = 0
        for r in checks:
            s = stats_index.get((r["run"], r["shift"], r["n"]))
            if s is None or r.get("drift") is None:
                continue
            total += 1
            same_decision += s["drift"] == r["drift"]
            same_cols += sorted(s["flagged"]) == sorted(r["flagged"])
        print(
            f"\nEvidently check: Report([DataDriftPreset()]).run on {total} (run, shift, n) cells gave the same "
            f"dataset decision as evidently_stats in {same_decision}/{total} and the same flagged columns in "
            f"{same_cols}/{total}."
        )


if __name__ == "__main__":
    sys.exit(main())
