"""Sketch-aware KS: how often the KS p-value through quantile summaries rejects with no shift, old and new.

Both sides of every run are drawn from one distribution (no shift; ``--shift``
moves the batch by that many reference standard deviations, for power), in
chunks, and summarised the way the product does:

- **reference**: ``ReferenceProfile.fit_chunks`` over 250,000-row chunks, 4,096
  bins (``alignment-drift profile``'s defaults; a merged summary), or with
  ``--reference fit`` one ``ReferenceProfile.fit`` of the whole column (the
  monitor's reference of held-out rows; needs the column in memory);
- **batch, summary path** (the monitor's partition-mapped path): groups of
  ``DEFAULT_GROUP_ROWS`` (5M) rows, each profiled by ``ReferenceProfile.fit_chunks``
  over ``PROFILE_CHUNK_ROWS`` (250k) chunks with ``DRIFT_BINS`` bins and saved as
  ``profile_group`` saves it, merged by ``merge_partials``, then tested by
  ``numeric_summary_drift``;
- **batch, row path** (``DriftDetector.test`` on rows, up to ``--row-max``
  rows): ``numeric_profile_drift`` on the whole batch column.

For each run the *old* p-value is the Kolmogorov p-value of the summaries'
statistic (``outcome.statistic``, what the code reported before), the *new* one
is the reported ``outcome.p_value`` (that of the proven lower bound on the exact
statistic), and *exact* (up to ``--exact-max`` rows) is scipy's
``ks_2samp(method="asymp")`` on the rows themselves. Effect floor 0: the rates
are those of the p-values alone, at ``--alpha``.

Distributions, taken in turn by run: ``lognormal`` (heavy tail), ``counts``
(``floor`` of a log-normal: integer counts with ties and a long tail, more
distinct values than the reference's bins) and ``mixture`` (20 % exact zeros,
50 % normal, 30 % log-normal rounded to cents).

    .venv/bin/python bench/sketch_ks.py --sizes 1M 10M --runs 600 150
    .venv/bin/python bench/sketch_ks.py --sizes 100M --runs 60
    .venv/bin/python bench/sketch_ks.py --sizes 1M --runs 150 --shift 0.005 --dists normal mixture
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "plugins"))

from alignment_drift.core.drift.profile import ReferenceProfile  # noqa: E402
from alignment_drift.core.drift.profile_tests import (  # noqa: E402
    ks_p_value,
    numeric_profile_drift,
    numeric_summary_drift,
)
from alignment_drift.pipeline.night import Partial  # noqa: E402
from alignment_drift.pipeline.steps.profile import (  # noqa: E402
    DRIFT_BINS,
    DRIFT_MAX_CATEGORIES,
    PROFILE_CHUNK_ROWS,
    merge_partials,
)
from alignment_drift.settings import DEFAULT_GROUP_ROWS  # noqa: E402

REF_CHUNK_ROWS = 250_000  # alignment-drift profile --chunk-rows default
REF_BINS = 4096  # drift.profile_bins default
SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000, "100M": 100_000_000}
SD = {"normal": 1.0}


def draw(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0.0, 1.0, n)
    if kind == "lognormal":
        return rng.lognormal(0.0, 1.5, n)
    if kind == "counts":
        return np.floor(rng.lognormal(4.0, 1.5, n))
    if kind == "mixture":
        u = rng.random(n)
        return np.where(u < 0.2, 0.0, np.where(u < 0.7, rng.normal(10, 2, n), np.round(rng.lognormal(3, 1, n), 2)))
    raise ValueError(f"unknown distribution {kind!r}")


def chunks(kind: str, n: int, rows: int, seed: tuple[int, ...], shift: float = 0.0) -> Iterator[np.ndarray]:
    for i, start in enumerate(range(0, n, rows)):
        yield draw(kind, np.random.default_rng([*seed, i]), min(rows, n - start)) + shift


def frames(arrays: Iterator[np.ndarray]) -> Iterator[pd.DataFrame]:
    for a in arrays:
        yield pd.DataFrame({"x": a})


def one_run(kind: str, n: int, run: int, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    seed = (n % 1_000_003, run)
    if args.reference == "fit":
        ref_rows = np.concatenate(list(chunks(kind, n, REF_CHUNK_ROWS, (*seed, 0))))
        reference = ReferenceProfile.fit(pd.DataFrame({"x": ref_rows}), numeric=["x"], bins=REF_BINS)
    else:
        ref_rows = None
        reference = ReferenceProfile.fit_chunks(
            frames(chunks(kind, n, REF_CHUNK_ROWS, (*seed, 0))), numeric=["x"], bins=REF_BINS
        )
    col = reference.columns["x"]
    assert col.summary is not None
    shift = args.shift * SD.get(kind, float(np.std(draw(kind, np.random.default_rng(99), 1_000_000))))
    keep_rows = n <= max(args.row_max, args.exact_max)
    kept: list[np.ndarray] = []
    partials = []
    for g, start in enumerate(range(0, n, DEFAULT_GROUP_ROWS)):
        rows = min(DEFAULT_GROUP_ROWS, n - start)
        group = list(chunks(kind, rows, PROFILE_CHUNK_ROWS, (*seed, 1, g), shift))
        if keep_rows:
            kept += group
        profile = ReferenceProfile.fit_chunks(
            frames(iter(group)), numeric=["x"], bins=DRIFT_BINS, max_categories=DRIFT_MAX_CATEGORIES
        )
        path = profile.save(folder / f"group-{g:05d}.parquet")
        partials.append(Partial(index=g, uri=str(path), rows=rows, files=1))
    batch = merge_partials(partials)
    assert batch is not None
    cur = batch.columns["x"].summary
    assert cur is not None
    en = col.summary.n * cur.n / (col.summary.n + cur.n)
    summary = numeric_summary_drift(col, cur)
    out = {
        "eps_ref": col.summary.error_bound,
        "eps_cur": cur.error_bound,
        "summary_old": ks_p_value(summary.statistic, en),
        "summary_new": summary.p_value,
    }
    if n <= args.row_max:
        rows_out = numeric_profile_drift(col, np.concatenate(kept))
        out["row_old"], out["row_new"] = ks_p_value(rows_out.statistic, en), rows_out.p_value
    if n <= args.exact_max:
        from scipy import stats

        if ref_rows is None:
            ref_rows = np.concatenate(list(chunks(kind, n, REF_CHUNK_ROWS, (*seed, 0))))
        out["exact"] = float(stats.ks_2samp(ref_rows, np.concatenate(kept), method="asymp").pvalue)
    return out


def rate(values: list[float], alpha: float) -> str:
    if not values:
        return "—"
    r = float(np.mean(np.asarray(values) <= alpha))
    return f"{r:.3f} ± {math.sqrt(max(r * (1 - r), 1e-12) / len(values)):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1M", "10M", "100M"], choices=list(SIZES))
    parser.add_argument("--runs", nargs="+", type=int, default=[600, 150, 60], help="runs per size (one, or one each)")
    parser.add_argument("--dists", nargs="+", default=["lognormal", "counts", "mixture"])
    parser.add_argument("--reference", choices=["chunks", "fit"], default="chunks")
    parser.add_argument("--shift", type=float, default=0.0, help="batch location shift, in reference sd")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--row-max", type=int, default=10_000_000, help="largest batch also tested as rows")
    parser.add_argument("--exact-max", type=int, default=1_000_000, help="largest size with scipy's exact-data KS")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "sketch_ks")
    args = parser.parse_args()
    runs = args.runs * len(args.sizes) if len(args.runs) == 1 else args.runs
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"reference={args.reference} shift={args.shift} sd alpha={args.alpha} dists={args.dists}")
    head = "| rows a side | runs | ε ref (median) | ε batch (median) | row path old | row path new | summary path old "
    print(head + "| summary path new | exact data | s / run |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, count in zip(args.sizes, runs, strict=True):
        n = SIZES[size]
        results: list[dict[str, float]] = []
        began = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(count):
                kind = args.dists[run % len(args.dists)]
                results.append({**one_run(kind, n, run, args, Path(tmp)), "run": run, "dist": kind})  # type: ignore[dict-item]
        seconds = (time.perf_counter() - began) / count
        name = f"{size}_{args.reference}_shift{args.shift:g}.json"
        (args.out / name).write_text(json.dumps(results))

        def col(key: str, results: list[dict[str, float]] = results) -> list[float]:
            return [r[key] for r in results if key in r]

        print(
            f"| {size} | {count} | {np.median(col('eps_ref')):.2g} | {np.median(col('eps_cur')):.2g} "
            f"| {rate(col('row_old'), args.alpha)} | {rate(col('row_new'), args.alpha)} "
            f"| {rate(col('summary_old'), args.alpha)} | {rate(col('summary_new'), args.alpha)} "
            f"| {rate(col('exact'), args.alpha)} | {seconds:.1f} |",
            flush=True,
        )
        for kind in args.dists:
            sub = [r for r in results if r["dist"] == kind]
            print(
                f"|   {kind} | {len(sub)} | | | {rate([r['row_old'] for r in sub if 'row_old' in r], args.alpha)} "
                f"| {rate([r['row_new'] for r in sub if 'row_new' in r], args.alpha)} "
                f"| {rate([r['summary_old'] for r in sub], args.alpha)} "
                f"| {rate([r['summary_new'] for r in sub], args.alpha)} "
                f"| {rate([r['exact'] for r in sub if 'exact' in r], args.alpha)} | |",
                flush=True,
            )


if __name__ == "__main__":
    main()
