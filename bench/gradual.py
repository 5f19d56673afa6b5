"""A gradual drift, night after night, on real data: how many nights until the monitor alarms, beside alibi-detect.

Issue #15's goal "a gradual drift of 0.1 sd/night caught within 10 nights", with the drift in the population the
model scores. The RAND Health Insurance Experiment table (``realdata.py``) is the population; a model is fitted on it
(``calibration.fit_model``). Each run draws a 10,000-row reference, then 10 stable nights and ``--ramp`` drifting
nights of ``n`` rows. On drifting night ``k`` the rows are drawn with weights ``exp(theta * x)`` on one feature
(``--column``, default ``disea``: the number of chronic diseases), ``theta`` chosen so that the feature's mean is the
table's mean plus ``0.1 * k`` of its standard deviation: the population grows sicker by a tenth of a standard
deviation a night, its rows stay real rows, and every column related to the feature moves with it.

Each night runs the monitor's drift step as the DAG does (``calibration.monitor_night``: inputs, outputs and joint
tests at the spec's alpha and default effect floors) and its trend step's detector (``robust_scan`` at its defaults,
10-night warm-up) over the nights so far of the two drift signals the monitor watches (the share of drifted inputs,
the score's output-drift effect). A night alarms when a drift test flags or a trend alarm fires. alibi-detect's
``TabularDrift`` (Bonferroni, its defaults) tests the same batches in its own environment.

Reported per batch size: false alarms on the stable nights, and the drifting night of the first alarm (the share of
runs caught within 5 / 10 nights, the median).

``--shift knockout`` replaces the ramp by a step that persists: from night 11 every night loses half its positive
rows (the knock-out of ``calibration.py``), the case a single night at 1,000 rows rarely flags at the default
effect floors.

Usage::

    python bench/gradual.py                     # 20 runs at n = 100, 1,000, 10,000 (~10 min on 2 cores)
    python bench/gradual.py --sizes 1000 --runs 5 --no-alibi
    python bench/gradual.py --sizes 1000 --shift knockout       # a persisting knock-out (~5 min)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import peers  # noqa: E402
import realdata  # noqa: E402
from calibration import COLUMNS, fit_model, monitor_night, shift, spec_file, with_outputs  # noqa: E402
from speed import run_job  # noqa: E402

STABLE = 10  # the trend detector's warm-up: it watches from the first drifting night
STEP = 0.1  # of the feature's standard deviation, a night


def tilt_weights(x: np.ndarray, target: float) -> np.ndarray:
    """Row weights ``exp(theta * z)`` (``z`` the standardised feature) whose weighted mean of ``x`` is ``target``."""
    z = (x - x.mean()) / x.std()

    def weights(theta: float) -> np.ndarray:
        w = np.exp(theta * z - np.max(theta * z))
        return w / w.sum()

    if target <= x.mean():
        return weights(0.0)
    if target >= x.max():
        raise ValueError(f"a mean of {target:.3g} is beyond the feature's largest value {x.max():.3g}; lower --ramp")
    lo, hi = 0.0, 1.0
    while weights(hi) @ x < target:
        lo, hi = hi, hi * 2.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if weights(mid) @ x < target else (lo, mid)
    return weights((lo + hi) / 2.0)


def nights(
    table: pd.DataFrame, column: str, n: int, ramp: int, rng: np.random.Generator, *, kind: str = "tilt"
) -> list[pd.DataFrame]:
    """``STABLE`` drift-free nights then ``ramp`` drifting nights.

    ``kind="tilt"``: the ``column`` mean rises by ``STEP`` sd a night. ``kind="knockout"``: every drifting night
    loses half its positive rows (``calibration.shift``, the knock-out of section 11), a step that persists.
    """
    x = table[column].to_numpy(dtype=float)
    out = []
    for t in range(STABLE + ramp):
        k = max(0, t - STABLE + 1)
        if kind == "knockout":
            if k == 0:
                out.append(table.iloc[rng.integers(0, len(table), n)].reset_index(drop=True))
            else:
                pool = table.iloc[rng.integers(0, len(table), int(n * 1.6) + 50)].reset_index(drop=True)
                out.append(shift(pool, "knockout", {}, rng).iloc[:n].reset_index(drop=True))
            continue
        p = tilt_weights(x, x.mean() + STEP * k * x.std())
        out.append(table.iloc[rng.choice(len(table), size=n, p=p)].reset_index(drop=True))
    return out


def run_one(task: dict) -> dict:
    """One run: the monitor's drift step and trend detector night after night; alibi-detect's files written."""
    from alignment_drift.core.drift.trend import TrendDetector

    warnings.simplefilter("ignore")
    table = realdata.load()
    model = fit_model(table)
    rng = np.random.default_rng(task["seed"])
    reference = table.iloc[rng.integers(0, len(table), 10_000)].reset_index(drop=True)
    batches = nights(table, task["column"], task["n"], task["ramp"], rng, kind=task.get("shift", "tilt"))
    ref_outputs = with_outputs(model, reference)
    history: dict[str, list[float]] = {"share": [], "score": []}
    records = []
    for t, batch in enumerate(batches):
        night = monitor_night(
            Path(task["spec"]), ref_outputs, with_outputs(model, batch), f"gradual-{task['seed']}-{t}"
        )
        history["share"].append(night.inputs.drift_share)
        score = [c.effect for c in night.outputs.columns if c.name == "score"]
        history["score"].append(score[0] if score else float("nan"))
        trend = {
            name: TrendDetector(method="robust_scan", direction="increase").run(values).alarm
            for name, values in history.items()
        }
        records.append({"night": t, "drift": bool(night.drift), "trend": any(trend.values())})
    if task.get("alibi_dir"):
        folder = Path(task["alibi_dir"])
        reference[COLUMNS].to_parquet(folder / f"ref_{task['run']}.parquet")
        for t, batch in enumerate(batches):
            batch[COLUMNS].to_parquet(folder / f"cur_n{t:02d}_{task['run']}.parquet")
    return {"n": task["n"], "run": task["run"], "nights": records}


def first_alarm(flags: Sequence[bool]) -> int | None:
    """The drifting night (1-based) of the first alarm, None when none within the ramp."""
    for t in range(STABLE, len(flags)):
        if flags[t]:
            return t - STABLE + 1
    return None


def summarise(label: str, per_run: list[list[bool]], ramp: int, *, warmup: bool = False) -> str:
    """A table row; ``warmup``: the detector warms up on the stable nights, so it cannot alarm on them."""
    stable = "(warm-up)" if warmup else f"{sum(sum(flags[:STABLE]) for flags in per_run)} / {len(per_run) * STABLE}"
    delays = [first_alarm(flags) for flags in per_run]
    caught = np.array([d if d is not None else ramp + 1 for d in delays])
    median = float(np.median(caught))
    median_text = f"{median:g}" if median <= ramp else f"> {ramp}"
    return (
        f"| {label} | {stable} | {np.mean(caught <= 5):.2f} | {np.mean(caught <= 10):.2f} "
        f"| {median_text} | {sum(d is None for d in delays)} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--ramp", type=int, default=15, help="drifting nights (default 15)")
    parser.add_argument("--column", default="disea", choices=realdata.NUMERIC)
    parser.add_argument(
        "--shift",
        default="tilt",
        choices=("tilt", "knockout"),
        help="tilt: +0.1 sd of --column a night (default); knockout: half the positives gone from night 11 on",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-alibi", action="store_true")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "gradual")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    started, t0 = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), time.perf_counter()
    realdata.load()
    spec = spec_file(args.out / "work", floors_zero=False)
    tasks = []
    for n in args.sizes:
        folder = args.out / "alibi" / str(n)
        if not args.no_alibi:
            folder.mkdir(parents=True, exist_ok=True)
        for run in range(args.runs):
            seed = args.seed * 10_000_019 + 7_000_000 + n * 107 + run
            alibi_dir = None if args.no_alibi else str(folder)
            task = {"n": n, "run": run, "seed": seed, "column": args.column, "ramp": args.ramp, "spec": str(spec)}
            task |= {"shift": args.shift}
            tasks.append({**task, "alibi_dir": alibi_dir})
    print(f"[gradual] {len(tasks)} runs of {STABLE + args.ramp} nights on {args.workers} workers", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_one, tasks, chunksize=1))
    alibi: dict[tuple[int, int], list[bool]] = {}
    if not args.no_alibi:
        peers.ensure("alibi-detect")
        for n in args.sizes:
            job = {
                "mode": "power",
                "tool": "alibi-detect",
                "data_dir": str(args.out / "alibi" / str(n)),
                "runs": list(range(args.runs)),
                "shifts": [f"n{t:02d}" for t in range(STABLE + args.ramp)],
                "sizes": [n],
                "numeric": realdata.NUMERIC,
                "categorical": realdata.CATEGORICAL,
            }
            done = run_job(peers.python_of("alibi-detect"), job, 3600.0)
            if not done.get("ok"):
                print(f"[gradual] alibi-detect at n={n}: {done.get('error')}", file=sys.stderr)
                continue
            for r in done["records"]:
                flags = alibi.setdefault((n, r["run"]), [False] * (STABLE + args.ramp))
                flags[int(r["shift"][1:])] = bool(r.get("drift"))
    shutil.rmtree(args.out / "alibi", ignore_errors=True)
    shutil.rmtree(args.out / "work", ignore_errors=True)
    took = time.perf_counter() - t0
    (args.out / "gradual.json").write_text(
        json.dumps(
            {
                "started": started,
                "seconds": took,
                "args": {k: str(v) for k, v in vars(args).items()},
                "results": results,
                "alibi": [[n, run, flags] for (n, run), flags in alibi.items()],
            }
        )
    )
    what = f"+{STEP} sd of `{args.column}` a night" if args.shift == "tilt" else "half the positives knocked out"
    print(f"\n{started}, {took:.0f} s; {what} from night {STABLE + 1}, {args.runs} runs")
    print(
        "\n| n | detector | stable nights with an alarm | caught within 5 nights | within 10 | median night | not "
        f"within {args.ramp} |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        mine = [r for r in results if r["n"] == n]
        rows = {
            "monitor: drift tests": [[x["drift"] for x in r["nights"]] for r in mine],
            "monitor: trend detector": [[x["trend"] for x in r["nights"]] for r in mine],
            "monitor: either": [[x["drift"] or x["trend"] for x in r["nights"]] for r in mine],
        }
        if not args.no_alibi:
            rows["alibi-detect"] = [alibi[(n, r)] for r in range(args.runs) if (n, r) in alibi]
        for label, per_run in rows.items():
            print(summarise(f"{n:,} | {label}", per_run, args.ramp, warmup=label.endswith("trend detector")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
