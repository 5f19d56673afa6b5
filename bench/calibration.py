"""False alarms and detection of every entry point, on real data, against alibi-detect.

Data: the RAND Health Insurance Experiment table (``bench/realdata.py``: 20,190
real rows, 4 numeric + 3 categorical columns with heavy ties, zero inflation and
a 1.5 % level). A reference and a batch are independent draws with replacement
from it, so with no shift both come from one distribution (the real table's).
The model's outputs are those of a real model: a logistic regression fitted once
on the whole table to predict ``visited`` (its score and its 0.5-thresholded
prediction are the monitor's output columns).

Entry points, each run as a user runs it:

* ``cli_raw``: ``alignment-drift drift REFERENCE.parquet BATCH.parquet`` (column tests
  + domain classifier + MMD, one alpha budget);
* ``cli_profile``: ``alignment-drift profile REFERENCE.parquet -o P`` once, then
  ``alignment-drift drift P BATCH.parquet``;
* ``monitor``: the monitor's drift step on a spec for this model
  (:func:`alignment_drift.pipeline.steps.drift.night_drift`): the batch profiled in
  250,000-row groups and merged, as the DAG does, inputs + outputs + joint tests.

Part ``null``: no shift, effect floors 0 (a floor can only remove alarms, so these
rates bound the default-floor ones), with and without missing values (1 % MCAR in
every column, both sides): the share of runs with any drift signal, with its 95 %
Clopper-Pearson interval. Part ``power``: the Failing-Loudly grid (Gaussian noise
of the feature's std on 10 / 50 / 100 % of rows of the numeric columns; knock-out
of half the rows with ``visited == 1``; the two most frequent ``health`` levels
swapped; 20 % NaN in ``lpi`` and ``disea``), every tool with its defaults;
alibi-detect's ``TabularDrift`` (Bonferroni) in its own environment.

Usage::

    python bench/calibration.py                     # both parts (~40 min on 2 cores)
    python bench/calibration.py --part null --sizes 100 1000 --runs 40
    python bench/calibration.py --quick             # smoke run (~3 min)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import peers  # noqa: E402
import realdata  # noqa: E402
from speed import run_job  # noqa: E402

ENTRIES = ("cli_raw", "cli_profile", "monitor")
SHIFTS = ("none", "gauss_noise_10", "gauss_noise_50", "gauss_noise_100", "knockout", "category_swap", "missing_20")
COLUMNS = realdata.NUMERIC + realdata.CATEGORICAL
FLOORS_ZERO = ["--numeric-effect-floor", "0", "--categorical-effect-floor", "0", "--missing-effect-floor", "0"]
SPEC = """\
model: randhie_visits
start_date: 2026-01-01
expectations: randhie_visits_predictions
source: {{kind: files, path: "randhie/{{date}}.parquet", format: parquet}}
columns:
  id: row_id
  timestamp: timestamp
  features:
{features}
  prediction: prediction
  score: score
  target: visited
reference: {{training_data: randhie/training.parquet, audit_set: randhie/audit.parquet}}
benchmarks:
  - {{kind: metric_floor, name: audit_auc, metric: roc_auc, floor: 0.6}}
drift:
{drift}
"""


def spec_file(folder: Path, *, floors_zero: bool) -> Path:
    """The monitor's spec for the benchmark's model (effect floors 0 or the defaults)."""
    features = "\n".join(f"    - {{name: {c}, kind: numeric}}" for c in realdata.NUMERIC) + "\n"
    features += "\n".join(f"    - {{name: {c}, kind: categorical}}" for c in realdata.CATEGORICAL)
    drift = "  alpha: 0.05\n"
    if floors_zero:
        drift += "\n".join(
            f"  {k}: 0"
            for k in ("numeric_effect_floor", "categorical_effect_floor", "missing_effect_floor", "output_effect_floor")
        )
    sub = folder / ("floor0" if floors_zero else "defaults")
    sub.mkdir(parents=True, exist_ok=True)
    path = sub / "randhie_visits.yaml"
    path.write_text(SPEC.format(features=features, drift=drift))
    return path


def fit_model(table: pd.DataFrame):
    """The monitored model: a logistic regression on the whole table (one-hot categoricals), seeded."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = make_column_transformer(
        (StandardScaler(), realdata.NUMERIC), (OneHotEncoder(handle_unknown="ignore"), realdata.CATEGORICAL)
    )
    return make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(table[COLUMNS], table[realdata.LABEL])


def with_outputs(model, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the model's score and prediction (rows with a missing feature scored on the table's median)."""
    filled = frame[COLUMNS].copy()
    for c in realdata.NUMERIC:
        filled[c] = filled[c].fillna(0.0)
    for c in realdata.CATEGORICAL:
        filled[c] = filled[c].fillna("missing")
    score = model.predict_proba(filled)[:, 1]
    return frame.assign(score=score, prediction=(score >= 0.5).astype(int))


def draw(table: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return table.iloc[rng.integers(0, len(table), n)].reset_index(drop=True)


def mcar(frame: pd.DataFrame, rate: float, rng: np.random.Generator) -> pd.DataFrame:
    """Each feature missing at ``rate``, independently (no shift when both sides get the same rate)."""
    if rate <= 0:
        return frame
    out = frame.copy()
    for c in COLUMNS:
        hide = rng.random(len(out)) < rate
        if c in realdata.NUMERIC:
            out[c] = out[c].mask(hide)
        else:
            out[c] = out[c].astype(object).mask(hide)
    return out


def shift(frame: pd.DataFrame, kind: str, std: dict[str, float], rng: np.random.Generator) -> pd.DataFrame:
    """Apply one Failing-Loudly shift to a copy of ``frame``."""
    out = frame.copy()
    n = len(out)
    if kind == "none":
        return out
    if kind.startswith("gauss_noise_"):
        rows = rng.random(n) < int(kind.rsplit("_", 1)[1]) / 100
        for c in realdata.NUMERIC:
            values = out[c].to_numpy(dtype=float, copy=True)
            values[rows] += rng.normal(0.0, std[c], int(rows.sum()))
            out[c] = values
        return out
    if kind == "knockout":
        drop = (out[realdata.LABEL].to_numpy() == 1) & (rng.random(n) < 0.5)
        return out.loc[~drop].reset_index(drop=True)
    if kind == "category_swap":
        values = out["health"].to_numpy(dtype=object, copy=True)
        a, b = values == "excellent", values == "good"
        values[a], values[b] = "good", "excellent"
        out["health"] = values
        return out
    if kind == "missing_20":
        for c in ("lpi", "disea"):
            out[c] = out[c].mask(rng.random(n) < 0.2)
        return out
    raise ValueError(f"unknown shift {kind!r}; expected one of {SHIFTS}")


def cli(argv: list[str]) -> dict:
    """Run ``alignment-drift`` in this process, JSON to a file; the payload (or the failure)."""
    from alignment_drift.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        code = main([*argv, "--format", "json", "--output", str(out)])
        if code not in (0, 1):
            return {"drift": None, "error": f"exit {code}"}
        return json.loads(out.read_text())


def monitor(spec_path: Path, reference: pd.DataFrame, batch: pd.DataFrame, seed: str) -> dict:
    """The monitor's drift step on in-memory rows: whether any family raised a drift signal."""
    return {"drift": monitor_night(spec_path, reference, batch, seed).drift}


def monitor_night(spec_path: Path, reference: pd.DataFrame, batch: pd.DataFrame, seed: str):
    """The monitor's drift step on in-memory rows, its ``NightDrift``.

    The batch is profiled in 250,000-row groups and merged, as the DAG does.
    """
    from alignment_drift.core.drift.profile import ReferenceProfile
    from alignment_drift.core.drift.reservoir import seed_from
    from alignment_drift.core.spec import load_spec
    from alignment_drift.pipeline.reference import reference_profile
    from alignment_drift.pipeline.steps.drift import night_drift
    from alignment_drift.pipeline.steps.profile import DRIFT_BINS, DRIFT_MAX_CATEGORIES, drift_columns

    spec = load_spec(spec_path)
    numeric, categorical = drift_columns(spec)
    groups = [batch.iloc[i : i + 250_000] for i in range(0, len(batch), 250_000)]
    merged = None
    for group in groups:
        part = ReferenceProfile.fit(
            group, numeric=numeric, categorical=categorical, bins=DRIFT_BINS, max_categories=DRIFT_MAX_CATEGORIES
        )
        merged = part if merged is None else merged.merge(part)
    bound = max(spec.drift.multivariate.max_rows, spec.drift.multivariate.mmd_max_rows)
    sample = batch[spec.columns.feature_names].head(bound)
    profile = reference_profile(spec, reference)
    rows = reference.head(spec.reference.max_rows)  # what the registry keeps of a version's held-out rows
    return night_drift(spec, profile, rows, merged, lambda: sample, seed=seed_from(seed))


def _flag(payload: dict) -> dict:
    out = {"drift": payload.get("drift")}
    if payload.get("error"):
        out["error"] = payload["error"]
    return out


def run_cell(task: dict) -> list[dict]:
    """One run of one (n, missing rate or shift set): every entry point on the same reference and batch."""
    import warnings

    warnings.simplefilter("ignore")
    table = realdata.load()
    model = fit_model(table)
    rng = np.random.default_rng(task["seed"])
    work = Path(task["work"]) / f"cell-{task['seed']}"
    work.mkdir(parents=True, exist_ok=True)
    reference = draw(table, task["n_reference"], rng)
    std = {c: float(reference[c].std()) for c in realdata.NUMERIC}
    records = []
    try:
        cats = ",".join(realdata.CATEGORICAL)
        cols = ",".join(COLUMNS)
        floors = FLOORS_ZERO if task["part"] == "null" else []
        spec_path = Path(task["spec_floor0" if task["part"] == "null" else "spec_default"])
        ref = mcar(reference, task.get("missing", 0.0), rng)
        ref_path = work / "reference.parquet"
        ref[COLUMNS].to_parquet(ref_path)
        profile_path = work / "reference.profile.parquet"
        if "cli_profile" in task["entries"]:
            from alignment_drift.cli import main

            main(["profile", str(ref_path), "-o", str(profile_path), "--categorical", cats, "--columns", cols])
        ref_outputs = with_outputs(model, ref)
        pool = draw(table, int(task["n"] * 1.6) + 50, rng)
        for kind in task["shifts"]:
            batch = shift(pool, kind, std, np.random.default_rng([task["seed"], SHIFTS.index(kind)]))
            batch = mcar(batch.iloc[: task["n"]].reset_index(drop=True), task.get("missing", 0.0), rng)
            batch_path = work / "batch.parquet"
            batch[COLUMNS].to_parquet(batch_path)
            for entry in task["entries"]:
                started = time.perf_counter()
                if entry == "cli_raw":
                    result = _flag(cli(["drift", str(ref_path), str(batch_path), "--categorical", cats, *floors]))
                elif entry == "cli_profile":
                    result = _flag(cli(["drift", str(profile_path), str(batch_path), "--categorical", cats, *floors]))
                else:
                    result = monitor(spec_path, ref_outputs, with_outputs(model, batch), seed=f"night-{task['seed']}")
                records.append(
                    {
                        "part": task["part"],
                        "entry": entry,
                        "n": task["n"],
                        "missing": task.get("missing", 0.0),
                        "shift": kind,
                        "seed": task["seed"],
                        "seconds": time.perf_counter() - started,
                        **result,
                    }
                )
        if task.get("alibi_dir"):
            folder = Path(task["alibi_dir"])
            ref[COLUMNS].to_parquet(folder / f"ref_{task['run']}.parquet")
            for kind in task["shifts"]:
                batch = shift(pool, kind, std, np.random.default_rng([task["seed"], SHIFTS.index(kind)]))
                batch[COLUMNS].iloc[: task["n"]].reset_index(drop=True).to_parquet(
                    folder / f"cur_{kind}_{task['run']}.parquet"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return records


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    lo = 0.0 if k == 0 else float(stats.beta.ppf(0.025, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(0.975, k + 1, n - k))
    return lo, hi


def runs_for(n: int, args: argparse.Namespace) -> int:
    if args.runs:
        return args.runs
    return 100 if n <= 1_000 else 60 if n <= 10_000 else 20 if n <= 100_000 else 6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("null", "power", "both"), default="both")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--power-sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--runs", type=int, default=0, help="runs per null cell (default: 100 / 60 / 20 / 6 by n)")
    parser.add_argument("--power-runs", type=int, default=20, help="runs per power cell (default 20)")
    parser.add_argument("--reference", type=int, default=10_000, help="reference rows (default 10000)")
    parser.add_argument("--missing", type=float, default=0.01, help="MCAR rate of the 'with missing' null cells")
    parser.add_argument("--entries", nargs="+", choices=ENTRIES, default=list(ENTRIES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-alibi", action="store_true", help="skip alibi-detect in the power part")
    parser.add_argument("--quick", action="store_true", help="smoke run: n <= 1000, 10 runs")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "calibration")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.power_sizes, args.runs, args.power_runs = [100, 1_000], [100, 1_000], 10, 4
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    started, t0 = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), time.perf_counter()
    realdata.load()
    work = args.out / "work"
    common = {
        "entries": args.entries,
        "n_reference": args.reference,
        "work": str(work),
        "spec_floor0": str(spec_file(work, floors_zero=True)),
        "spec_default": str(spec_file(work, floors_zero=False)),
    }
    tasks = []
    if args.part in ("null", "both"):
        for n in args.sizes:
            for missing in (0.0, args.missing):
                for run in range(runs_for(n, args)):
                    seed = args.seed * 10_000_019 + n * 101 + int(missing * 1000) * 7_919 + run
                    tasks.append(
                        {
                            **common,
                            "part": "null",
                            "n": n,
                            "missing": missing,
                            "run": run,
                            "seed": seed,
                            "shifts": ["none"],
                        }
                    )
    alibi_dirs: dict[int, Path] = {}
    if args.part in ("power", "both"):
        for n in args.power_sizes:
            if not args.no_alibi:
                alibi_dirs[n] = args.out / "alibi" / str(n)
                alibi_dirs[n].mkdir(parents=True, exist_ok=True)
            for run in range(args.power_runs):
                seed = args.seed * 10_000_019 + 5_000_000 + n * 103 + run
                tasks.append(
                    {
                        **common,
                        "part": "power",
                        "n": n,
                        "run": run,
                        "seed": seed,
                        "shifts": list(SHIFTS),
                        "alibi_dir": str(alibi_dirs[n]) if n in alibi_dirs else None,
                    }
                )
    print(f"[calibration] {len(tasks)} runs on {args.workers} workers", file=sys.stderr, flush=True)
    records: list[dict] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for i, out in enumerate(pool.map(run_cell, tasks, chunksize=1)):
            records.extend(out)
            if (i + 1) % 50 == 0:
                print(f"[calibration] {i + 1}/{len(tasks)} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    alibi: list[dict] = []
    for n, folder in alibi_dirs.items():
        peers.ensure("alibi-detect")
        job = {
            "mode": "power",
            "tool": "alibi-detect",
            "data_dir": str(folder),
            "runs": list(range(args.power_runs)),
            "shifts": list(SHIFTS),
            "sizes": [n],
            "numeric": realdata.NUMERIC,
            "categorical": realdata.CATEGORICAL,
        }
        done = run_job(peers.python_of("alibi-detect"), job, 3600.0)
        if done.get("ok"):
            alibi.extend({**r, "entry": "alibi-detect"} for r in done["records"])
        else:
            print(f"[calibration] alibi-detect at n={n}: {done.get('error')}", file=sys.stderr)
    shutil.rmtree(args.out / "alibi", ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    raw = {
        "started": started,
        "seconds": time.perf_counter() - t0,
        "args": {k: str(v) for k, v in vars(args).items()},
        "records": records,
        "alibi": alibi,
    }
    (args.out / "calibration.json").write_text(json.dumps(raw))
    print_tables(records, alibi, args, started, time.perf_counter() - t0)
    return 0


def _rate(recs: list[dict]) -> str:
    ok = [r for r in recs if r.get("drift") is not None]
    if not ok:
        return "—"
    k = sum(bool(r["drift"]) for r in ok)
    lo, hi = clopper_pearson(k, len(ok))
    return f"{k / len(ok):.3f} [{lo:.3f}, {hi:.3f}] ({k}/{len(ok)})"


def print_tables(records: list[dict], alibi: list[dict], args: argparse.Namespace, started: str, took: float) -> None:
    load = os.getloadavg()[0]
    print(
        f"\n### No shift, effect floors 0, alpha 0.05 (real data: RAND HIE; {started}; {took / 60:.1f} min; "
        f"load {load:.1f})\n"
    )
    by = defaultdict(list)
    for r in records:
        if r["part"] == "null":
            by[(r["entry"], r["missing"], r["n"])].append(r)
    sizes = sorted({k[2] for k in by})
    if sizes:
        print("| entry point | missing | " + " | ".join(f"n = {n:,}" for n in sizes) + " |")
        print("|---|---|" + "---|" * len(sizes))
        for entry in args.entries:
            for missing in sorted({k[1] for k in by}):
                cells = [_rate(by.get((entry, missing, n), [])) for n in sizes]
                print(f"| {entry} | {missing:.0%} | " + " | ".join(cells) + " |")
    power = [r for r in records if r["part"] == "power"] + alibi
    if power:
        print("\n### Detection rate by shift and n (each tool's defaults), rate (runs)\n")
        sizes = sorted({r["n"] for r in power})
        print("| shift | tool | " + " | ".join(f"n = {n:,}" for n in sizes) + " |")
        print("|---|---|" + "---|" * len(sizes))
        for kind in SHIFTS:
            for entry in [*args.entries, "alibi-detect"]:
                cells = []
                for n in sizes:
                    recs = [r for r in power if r["entry"] == entry and r["shift"] == kind and r["n"] == n]
                    ok = [r for r in recs if r.get("drift") is not None]
                    cells.append(f"{sum(bool(r['drift']) for r in ok) / len(ok):.2f} ({len(ok)})" if ok else "—")
                print(f"| {kind} | {entry} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
