"""The domain classifier's settings side by side: categorical columns split natively against one-hot columns,
and 10,000 rows a side (the default) against 5,000.

Part ``encoding``: the classifier as it is against the one it was before categorical columns were passed as
codes (``_onehot = True``: one-hot blocks plus missing indicators, no native categories). Part ``rows``: its
default ``max_rows`` (10,000 rows a side) against 5,000, the default before. Both variants of a part run on the
same reference, batch and seed in each run. Detection is the share of runs with p <= ``--alpha`` (default 0.0125,
the classifier's level in ``alignment-drift drift`` at alpha 0.05); time is one ``test`` call (encoding, 5 folds
fitted two at a time on one OpenMP thread each, the p-value).

Data:

* ``rand``: the RAND Health Insurance Experiment table (``realdata.py``; 4 numeric, 3 categorical columns of 2-4
  levels), reference 10,000 rows; shifts as in ``calibration.py`` (Failing Loudly), plus ``decouple_health``
  (``health`` shuffled within the batch: every marginal kept, its ties to the other columns broken);
* ``wide``: ``datagen.py``'s 20 numeric and 5 categorical columns (3, 5, 10, 20 and 50 levels), reference 20,000
  rows; ``c4_mass`` moves 30 % of the rows of 10 of ``c4``'s 50 levels to 10 others;
* ``levels``: a 40-level column and a number that is about +1 on every other level and -1 on the rest; the batch
  reverses it (``interaction``): neither column's own distribution moves.

Usage::

    .venv/bin/python bench/domain_classifier.py                  # both parts, 40 runs a cell (~10 min on 2 cores)
    .venv/bin/python bench/domain_classifier.py --part rows --runs 10
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import calibration  # noqa: E402
import datagen  # noqa: E402
import realdata  # noqa: E402

from alignment_drift.core.drift.multivariate import DomainClassifierDrift  # noqa: E402


class OneHotDomainClassifier(DomainClassifierDrift):
    """The classifier before: categorical columns one-hot encoded, missing numbers as the median plus an indicator."""

    _onehot = True


Cell = tuple[str, str, int]  # data, shift, batch rows
CELLS: list[Cell] = [
    ("rand", "none", 1_000),
    ("rand", "none", 10_000),
    ("rand", "knockout", 10_000),
    ("rand", "gauss_noise_10", 1_000),
    ("rand", "category_swap", 100),
    ("rand", "category_swap", 1_000),
    ("rand", "decouple_health", 2_000),
    ("wide", "none", 2_000),
    ("wide", "c4_mass", 1_000),
    ("levels", "none", 500),
    ("levels", "interaction", 500),
]
ROWS_CELLS: list[Cell] = [
    ("rand", "none", 10_000),
    ("rand", "knockout", 10_000),
    ("rand", "knockout", 5_000),
    ("rand", "gauss_noise_10", 1_000),
    ("wide", "none", 10_000),
    ("wide", "c4_mass", 1_000),
]
LEVELS = [f"L{i:02d}" for i in range(40)]
Variant = tuple[str, Callable[..., DomainClassifierDrift], dict]
PARTS: dict[str, tuple[list[Cell], Variant, Variant]] = {
    "encoding": (CELLS, ("native", DomainClassifierDrift, {}), ("one-hot", OneHotDomainClassifier, {})),
    "rows": (
        ROWS_CELLS,
        ("10,000 rows", DomainClassifierDrift, {}),
        ("5,000 rows", DomainClassifierDrift, {"max_rows": 5_000}),
    ),
}


def _levels(rng: np.random.Generator, n: int, reversed_: bool) -> pd.DataFrame:
    kind = rng.choice(LEVELS, n)
    sign = np.where(np.isin(kind, LEVELS[::2]), 1.0, -1.0) * (-1.0 if reversed_ else 1.0)
    return pd.DataFrame({"x": sign + rng.normal(0.0, 0.5, n), "y": rng.normal(size=n), "kind": kind})


def _rand(table: pd.DataFrame, shift: str, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = calibration.draw(table, 10_000, rng)
    std = {c: float(reference[c].std()) for c in realdata.NUMERIC}
    pool = calibration.draw(table, int(n * 1.6) + 50, rng)
    if shift == "decouple_health":
        batch = pool.iloc[:n].reset_index(drop=True)
        batch["health"] = np.random.default_rng([seed, 99]).permutation(batch["health"].to_numpy())
    else:
        kind_rng = np.random.default_rng([seed, calibration.SHIFTS.index(shift)])
        batch = calibration.shift(pool, shift, std, kind_rng).iloc[:n].reset_index(drop=True)
    return reference[calibration.COLUMNS], batch[calibration.COLUMNS]


def _wide(reference: pd.DataFrame, shift: str, n: int, seed: int) -> pd.DataFrame:
    batch = datagen.generate(n, seed=1_000 + seed, with_label=False)
    if shift == "c4_mass":
        levels = sorted(set(reference["c4"]))
        values = batch["c4"].to_numpy(dtype=object).copy()
        rng = np.random.default_rng([seed, 5])
        for source, target in zip(levels[:10], levels[10:20], strict=True):
            rows = (values == source) & (rng.random(n) < 0.3)
            values[rows] = target
        batch["c4"] = values
    return batch


def run_cell(
    cell: Cell, variants: tuple[Variant, Variant], runs: int, alpha: float, table: pd.DataFrame, wide: pd.DataFrame
) -> dict[str, list]:
    data, shift, n = cell
    out: dict[str, list] = {f"{name}_{what}": [] for name, _, _ in variants for what in ("p", "s")}
    for seed in range(runs):
        if data == "rand":
            reference, batch = _rand(table, shift, n, seed)
            numeric, categorical = realdata.NUMERIC, realdata.CATEGORICAL
        elif data == "wide":
            reference, batch = wide, _wide(wide, shift, n, seed)
            numeric, categorical = datagen.NUMERIC, datagen.CATEGORICAL
        else:
            rng = np.random.default_rng([23, seed])
            reference, batch = _levels(rng, 4_000, False), _levels(rng, n, shift == "interaction")
            numeric, categorical = ["x", "y"], ["kind"]
        for name, cls, options in variants if seed % 2 else variants[::-1]:  # alternate which runs first
            detector = cls(reference, numeric=numeric, categorical=categorical, alpha=alpha, **options)
            started = time.perf_counter()
            result = detector.test(batch, seed=seed + 1)
            out[f"{name}_s"].append(time.perf_counter() - started)
            out[f"{name}_p"].append(result.p_value)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=(*PARTS, "both"), default="both")
    parser.add_argument("--runs", type=int, default=40, help="runs a cell (default 40)")
    parser.add_argument("--alpha", type=float, default=0.0125, help="level of a detection (default 0.0125)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    table = realdata.load()
    wide = datagen.generate(20_000, seed=1, with_label=False)
    began = time.perf_counter()
    print(
        f"Domain classifier, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, "
        f"{platform.machine()}; Python {platform.python_version()}; {args.runs} runs a cell; detection at "
        f"p <= {args.alpha}."
    )
    for part in PARTS if args.part == "both" else [args.part]:
        cells, first, second = PARTS[part]
        a, b = first[0], second[0]
        print(f"\nPart {part}:\n")
        print(f"| data | shift | batch rows | detection, {a} | detection, {b} | median s, {a} | {b} | ratio |")
        print("|---|---|---|---|---|---|---|---|")
        for cell in cells:
            res = run_cell(cell, (first, second), args.runs, args.alpha, table, wide)
            rate = {k: float(np.mean(np.asarray(res[f"{k}_p"]) <= args.alpha)) for k in (a, b)}
            secs = {k: statistics.median(res[f"{k}_s"]) for k in (a, b)}
            print(
                f"| {cell[0]} | {cell[1]} | {cell[2]:,} | {rate[a]:.3f} | {rate[b]:.3f} | "
                f"{secs[a]:.2f} | {secs[b]:.2f} | {secs[a] / secs[b]:.2f}× |",
                flush=True,
            )
    print(f"\n{time.perf_counter() - began:.0f} s in all; load average {os.getloadavg()[0]:.1f}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
