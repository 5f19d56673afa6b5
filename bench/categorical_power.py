"""Which statistic for a categorical column: power of the three at a small batch, and their no-shift rates.

One categorical column, a 10,000-row reference and a batch of ``--n`` rows (100 by default), so that some expected
counts are below 5 and every p-value is the Monte-Carlo one with both margins fixed
(:func:`alignment_drift.core.drift.univariate.categorical_counts_drift`, what every entry point runs). Its three
statistics are power divergences (Cressie and Read 1984): ``cressie_read`` (lambda = 2/3, the default), ``chi2``
(Pearson, lambda = 1) and ``g_test`` (lambda = 0). Their p-values are all valid; the script measures how often each
finds a shift, beside the asymptotic chi-square p-value of Pearson's statistic (``asymptotic``, what alibi-detect's
``TabularDrift`` computes; it overstates significance on sparse tables, see ``chi2_small_counts.py``).

Tables: ``health`` and ``plan`` of the RAND table (``realdata.py``: 54.6 / 36.2 / 7.7 / 1.5 % and 54.5 / 20.1 /
13.1 / 6.9 / 5.3 %), a skewed 8-level column, and 4 levels at 22.5 % with 10 at 1 % (the rare-levels table of
``tests/core/drift/test_exact.py``). Shifts: ``swap`` (the two most frequent levels trade frequencies, where they
differ), ``rare_up``
(4 % of the rows move into the rarest level), ``rare_gone`` (the rarest level disappears), ``rare_pair`` (the mass of
the rare levels concentrates in two of them, 5 % each; the rare-levels table only) and ``dirichlet_k`` (a random
perturbation, Dirichlet with concentration 60 around the reference, seeded). ``none`` is the no-shift rate.

Reported: the share of batches with p at or below 0.025 / 7 (one column of a 7-column check in ``alignment-drift
drift``'s inputs family) and at or below 0.05, per statistic (``--levels`` sets others: 0.05 / 21 is a column of the
monitor's, whose inputs family has alpha / 3). ``--mid-p`` adds ``mid_p``: lambda = 2/3 with a Monte-Carlo mid-p-value
(20,000 tables drawn with both margins fixed, a drawn statistic equal to the observed one counted half), the
less conservative p-value for discrete statistics that issue 15 allows beside exact ones.

Usage::

    .venv/bin/python bench/categorical_power.py                 # 300 batches a cell (~1 min on 2 cores)
    .venv/bin/python bench/categorical_power.py --runs 100 --n 300
    .venv/bin/python bench/categorical_power.py --mid-p --levels 0.00238 0.00357 0.00714 0.05
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

from alignment_drift.core.drift.exact import homogeneity_statistic
from alignment_drift.core.drift.univariate import categorical_counts_drift

TESTS = ("cressie_read", "chi2", "g_test")
LEVELS = (0.025 / 7, 0.05)
MID_P_DRAWS = 20_000
TABLES = {
    "health": [0.546, 0.362, 0.077, 0.015],
    "plan": [0.545, 0.201, 0.131, 0.069, 0.053],
    "skewed_8": [0.40, 0.25, 0.15, 0.08, 0.05, 0.04, 0.02, 0.01],
    "rare_10": [0.225] * 4 + [0.01] * 10,
}


def shifts(name: str, p0: np.ndarray) -> dict[str, np.ndarray]:
    """The shifted batch distributions of one table."""
    out = {"none": p0}
    top = np.argsort(-p0, kind="stable")[:2]
    if p0[top[0]] > p0[top[1]]:  # two equally frequent levels: a swap changes nothing
        swap = p0.copy()
        swap[top] = swap[top[::-1]]
        out["swap"] = swap
    rare = int(np.argmin(p0))
    up = p0.copy()
    up[rare] += 0.04
    out["rare_up"] = up / up.sum()
    gone = p0.copy()
    gone[rare] = 0.0
    out["rare_gone"] = gone / gone.sum()
    if name == "rare_10":
        pair = p0.copy()
        pair[4:] = 0.0
        pair[4:6] = 0.05
        out["rare_pair"] = pair
    rng = np.random.default_rng([7, len(p0)])
    for k in range(2):
        out[f"dirichlet_{k}"] = rng.dirichlet(p0 * 60)
    return out


def mid_p_value(ref: np.ndarray, cur: np.ndarray, rng: np.random.Generator) -> float:
    """Monte-Carlo mid-p-value of the lambda = 2/3 statistic, both margins fixed (ties with the observed count half)."""
    keep = (ref + cur) > 0
    totals, m = (ref + cur)[keep], int(cur.sum())
    float_totals = totals.astype(float)
    observed = float(homogeneity_statistic(cur[keep].astype(float), float_totals, m, "cressie_read"))
    rows = rng.multivariate_hypergeometric(totals, m, size=MID_P_DRAWS).astype(float)
    drawn = homogeneity_statistic(rows, float_totals, m, "cressie_read")
    tol = 1e-9 * max(1.0, abs(observed))
    above, tied = int(np.sum(drawn > observed + tol)), int(np.sum(np.abs(drawn - observed) <= tol))
    return (above + 0.5 * tied + 1.0) / (MID_P_DRAWS + 1.0)


def cell(task: tuple[str, str, int, int, int, tuple[float, ...], bool]) -> dict:
    """One (table, shift) cell: ``runs`` batches, each tested with every statistic."""
    table, shift, n, runs, seed, levels, mid_p = task
    p0 = np.asarray(TABLES[table], dtype=float)
    p0 = p0 / p0.sum()
    pa = shifts(table, p0)[shift]
    rng = np.random.default_rng([seed, list(TABLES).index(table), len(shift), n])
    labels = [f"l{i}" for i in range(p0.size)]
    hits = {t: np.zeros(len(levels), dtype=int) for t in (*TESTS, "asymptotic", *(("mid_p",) if mid_p else ()))}
    for _ in range(runs):
        ref, cur = rng.multinomial(10_000, p0), rng.multinomial(n, pa)
        ref_counts = {lv: int(c) for lv, c in zip(labels, ref, strict=True) if c}
        cur_counts = {lv: int(c) for lv, c in zip(labels, cur, strict=True) if c}
        for test in TESTS:
            p = categorical_counts_drift(ref_counts, cur_counts, test=test).p_value  # type: ignore[arg-type]
            hits[test] += np.array([p <= a for a in levels])
        both = np.array([ref, cur])
        both = both[:, both.sum(axis=0) > 0]
        p = stats.chi2_contingency(both, correction=False).pvalue
        hits["asymptotic"] += np.array([p <= a for a in levels])
        if mid_p:
            p = mid_p_value(ref, cur, rng)
            hits["mid_p"] += np.array([p <= a for a in levels])
    return {"table": table, "shift": shift, "runs": runs, "hits": {k: v.tolist() for k, v in hits.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="batch rows (default 100)")
    parser.add_argument("--runs", type=int, default=300, help="batches a cell (default 300)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--levels", type=float, nargs="+", default=list(LEVELS), help="p-value levels reported")
    parser.add_argument("--mid-p", action="store_true", help="add lambda = 2/3 with a Monte-Carlo mid-p-value")
    args = parser.parse_args()
    started = time.perf_counter()
    tasks = [
        (table, shift, args.n, args.runs, args.seed, tuple(args.levels), args.mid_p)
        for table in TABLES
        for shift in shifts(table, np.asarray(TABLES[table]) / np.sum(TABLES[table]))
    ]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(cell, tasks))
    print(
        f"Categorical statistics at n = {args.n:,} against 10,000 reference rows, {args.runs} batches a cell; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, {platform.machine()}; "
        f"Python {platform.python_version()}; {time.perf_counter() - started:.0f} s.\n"
    )
    cols = [*TESTS, "asymptotic", *(("mid_p",) if args.mid_p else ())]
    for i, level in enumerate(args.levels):
        print(f"Share of batches with p <= {level:.3g}:\n")
        print("| table | shift | " + " | ".join(cols) + " |")
        print("|---|---|" + "---|" * len(cols))
        for r in results:
            shares = [r["hits"][c][i] / r["runs"] for c in cols]
            best = max(shares[: len(TESTS)])
            cells = [f"**{s:.3f}**" if s == best and r["shift"] != "none" else f"{s:.3f}" for s in shares]
            print(f"| {r['table']} | {r['shift']} | " + " | ".join(cells) + " |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
