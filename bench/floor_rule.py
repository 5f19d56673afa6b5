"""What the effect floor's rule decides: today's point rule against an equivalence rule, on the same batches.

A column drifts when its adjusted p-value is at or below its family's level and its effect clears the floor. How
"clears" is read decides what a floor hides:

* ``point`` (every entry point today): the effect's estimate is at or above the floor;
* ``equivalence``: the data do not show the effect below the floor, i.e. the 95th percentile of the effect over
  ``--resamples`` bootstrap resamples of both sides is at or above it (a one-sided 5 % equivalence test at the
  floor, Lakens 2017). At large n the interval is narrow and both rules agree; at small n a significant shift
  whose size the data cannot pin down is kept instead of discarded.

Neither rule touches the p-values, so with no shift neither flags more often than the floors at 0 (section 11's
no-shift tables bound both). Families as the monitor tests them (inputs and outputs, alpha / 3 each, BH inside, the
default floors 0.1 / 0.1 / 0.02 and 0.1 for the score), and as ``alignment-drift drift`` tests the columns (inputs
at alpha / 2); the joint tests have no floor and are left out, so the shares are the column families' alone.

Data and shifts: ``calibration.py``'s (the RAND table, a 10,000-row reference, its seeds, so the knock-out
batches are those of bench/README.md section 11), plus ``shift_fmde``: ``fmde`` moved by ``--small`` of its
reference IQR on every row, a shift nobody acts on, with reference and batch of n rows each.

Usage::

    .venv/bin/python bench/floor_rule.py                     # knock-out and none at 1,000; fmde at 1k / 100k
    .venv/bin/python bench/floor_rule.py --runs 20 --resamples 100
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from alignment_drift.core.spec.drift import DriftPolicy

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import calibration as cal  # noqa: E402
import realdata  # noqa: E402

_DEFAULTS = DriftPolicy()
#: The default floors, as the monitor applies them: the score's is the output floor.
FLOOR = {
    "numeric": _DEFAULTS.numeric_effect_floor,
    "categorical": _DEFAULTS.categorical_effect_floor,
    "score": _DEFAULTS.output_effect_floor,
}
FAMILIES = {
    "monitor": [("inputs", cal.COLUMNS, 0.05 / 3), ("outputs", ["score", "prediction"], 0.05 / 3)],
    "drift": [("inputs", cal.COLUMNS, 0.05 / 2)],
}


def _w1_iqr(ref: np.ndarray, cur: np.ndarray) -> float:
    from scipy import stats

    q75, q25 = np.percentile(ref, [75, 25])
    scale = (q75 - q25) or float(np.std(ref)) or 1.0
    return float(stats.wasserstein_distance(ref, cur)) / scale


def _js(ref: np.ndarray, cur: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    levels = np.union1d(ref, cur)
    p = np.array([(ref == v).mean() for v in levels])
    q = np.array([(cur == v).mean() for v in levels])
    return float(jensenshannon(p, q, base=2))


def upper_effect(ref: np.ndarray, cur: np.ndarray, kind: str, resamples: int, rng: np.random.Generator) -> float:
    """The 95th percentile of the column's effect over bootstrap resamples of both sides."""
    effect = _w1_iqr if kind == "numeric" else _js
    draws = [
        effect(ref[rng.integers(0, ref.size, ref.size)], cur[rng.integers(0, cur.size, cur.size)])
        for _ in range(resamples)
    ]
    return float(np.quantile(draws, 0.95))


def one(task: dict) -> list[dict]:
    """One run of one shift: each entry point's families under both rules."""
    from alignment_drift.core.drift.detector import DriftDetector

    warnings.simplefilter("ignore")
    table = realdata.load()
    model = cal.fit_model(table)
    seed, n, kind = task["seed"], task["n"], task["shift"]
    rng = np.random.default_rng(seed)
    if kind == "shift_fmde":
        reference, batch = cal.draw(table, n, rng), cal.draw(table, n, rng)
        q75, q25 = np.percentile(reference["fmde"], [75, 25])
        batch["fmde"] = batch["fmde"] + task["small"] * (q75 - q25)
    else:  # calibration.py's draws for its power part
        reference = cal.draw(table, 10_000, rng)
        std = {c: float(reference[c].std()) for c in realdata.NUMERIC}
        pool = cal.draw(table, int(n * 1.6) + 50, rng)
        batch = cal.shift(pool, kind, std, np.random.default_rng([seed, cal.SHIFTS.index(kind)]))
        batch = batch.iloc[:n].reset_index(drop=True)
    reference, batch = cal.with_outputs(model, reference), cal.with_outputs(model, batch)
    boot = np.random.default_rng([seed, 17])
    out = []
    for entry, families in FAMILIES.items():
        flags = {"point": False, "equivalence": False, "floors_0": False}
        for _, columns, level in families:
            categorical = [c for c in columns if c in (*realdata.CATEGORICAL, "prediction")]
            numeric = [c for c in columns if c not in categorical]
            tested = DriftDetector(
                reference, numeric=numeric, categorical=categorical, alpha=level, numeric_effect_floor=0.0,
                categorical_effect_floor=0.0, missing_effect_floor=0.0,
            ).test(batch)  # fmt: skip
            for c in tested.columns:
                if not c.drift:  # adjusted p-value above the level: no rule flags it
                    continue
                flags["floors_0"] = True
                kind_ = "categorical" if c.name in categorical else "numeric"
                floor = FLOOR.get(c.name, FLOOR[kind_])
                flags["point"] |= c.effect >= floor
                if not flags["equivalence"]:
                    ref_v = reference[c.name].dropna().to_numpy()
                    cur_v = batch[c.name].dropna().to_numpy()
                    if kind_ == "categorical":
                        ref_v, cur_v = ref_v.astype(str), cur_v.astype(str)
                    flags["equivalence"] |= upper_effect(ref_v, cur_v, kind_, task["resamples"], boot) >= floor
        out.append({"entry": entry, "shift": kind, "n": n, "seed": seed, **flags})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="runs of the knock-out and of no shift (default 60)")
    parser.add_argument("--small-runs", type=int, default=20, help="runs of the small fmde shift a size (default 20)")
    parser.add_argument("--small", type=float, default=0.05, help="the small shift, in reference IQRs (default 0.05)")
    parser.add_argument("--small-sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started, t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    realdata.load()
    tasks = [
        {"seed": 5_000_000 + 1_000 * 103 + run, "n": 1_000, "shift": kind, "resamples": args.resamples}
        for kind in ("none", "knockout")
        for run in range(args.runs)
    ]
    tasks += [
        {"seed": 7_000_000 + n + run, "n": n, "shift": "shift_fmde", "small": args.small, "resamples": args.resamples}
        for n in args.small_sizes
        for run in range(args.small_runs)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = pd.DataFrame([r for part in pool.map(one, tasks) for r in part])
    print(
        f"Column families flagged, share of runs ({started}; {time.perf_counter() - t0:.0f} s; "
        f"{args.resamples} resamples; the small shift {args.small} IQR of fmde):\n"
    )
    print("| entry point | shift | n | runs | floors 0 | point rule (today) | equivalence rule |")
    print("|---|---|---|---|---|---|---|")
    for (entry, kind, n), g in rows.groupby(["entry", "shift", "n"], sort=False):
        cells = [f"{g[k].mean():.2f} ({int(g[k].sum())})" for k in ("floors_0", "point", "equivalence")]
        print(f"| {entry} | {kind} | {n:,} | {len(g)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
