"""The chi-square test of homogeneity at small expected counts: asymptotic p-values against ours, with no shift.

A small batch against a large reference, one categorical column whose rarest level has an expected count
below 5 in the batch: the situation of issue 15's category swap at n = 100 (``health`` of the RAND table: levels
at 54.6 / 36.2 / 7.7 / 1.5 %, reference 10,000 rows). With no shift, the script draws both sides from the same
distribution and reports how often a p-value falls at or below each level, as a multiple of the level:

* ``asymptotic``: the chi-square distribution with k - 1 degrees of freedom (``scipy.stats.chi2_contingency``,
  what alibi-detect's ``TabularDrift`` uses for a categorical column), vectorised over ``--draws`` tables;
* ``ours``: :func:`alignment_drift.core.drift.univariate.categorical_drift` (the Monte-Carlo p-value with the
  margins fixed whenever an expected count is below 5), on ``--ours`` of those tables (it is slower).

The levels are those a 7-column check compares one column's p-value with: 0.05 / 7 (Bonferroni at 0.05, as
alibi-detect) and 0.025 / 7 (the column family's share of ``alignment-drift drift``'s budget).

Usage::

    .venv/bin/python bench/chi2_small_counts.py                 # ~4 min on 2 cores
    .venv/bin/python bench/chi2_small_counts.py --sizes 100 --ours 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd
from scipy import stats

from alignment_drift.core.drift.univariate import categorical_drift

PROBS = np.array([0.546, 0.362, 0.077, 0.015])
LEVELS = ["excellent", "good", "fair", "poor"]


def asymptotic_p(reference: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Pearson chi-square p-values of many 2 x k tables at once (rows: reference counts, batch counts)."""
    total = reference + batch
    n_ref, n_cur = reference.sum(axis=1, keepdims=True), batch.sum(axis=1, keepdims=True)
    grand = n_ref + n_cur
    e_ref, e_cur = total * n_ref / grand, total * n_cur / grand
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(total > 0, (reference - e_ref) ** 2 / e_ref + (batch - e_cur) ** 2 / e_cur, 0.0)
    dof = (total > 0).sum(axis=1) - 1
    return stats.chi2.sf(terms.sum(axis=1), dof)


def _rates(p: np.ndarray, levels: tuple[float, ...]) -> str:
    """Each level's rejection rate as a multiple of the level, with its Monte-Carlo standard error."""
    return " | ".join(f"{np.mean(p <= a) / a:.2f}× ± {np.sqrt(a * (1 - a) / p.size) / a:.2f}" for a in levels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500], help="batch rows")
    parser.add_argument("--reference", type=int, default=10_000, help="reference rows (default 10000)")
    parser.add_argument("--draws", type=int, default=200_000, help="tables for the asymptotic p-value")
    parser.add_argument(
        "--ours", type=int, default=20_000, help="tables for our p-value, the first of --draws (default 20000)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    levels = (0.05, 0.05 / 7, 0.025 / 7)
    rng = np.random.default_rng(args.seed)
    print(
        f"Chi-square at small counts, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, "
        f"{platform.machine()}; Python {platform.python_version()}; levels {PROBS.tolist()}, reference "
        f"{args.reference:,} rows, no shift.\n"
    )
    head = " | ".join(f"rate / {a:.3g}" for a in levels)
    print(f"| batch rows | smallest expected count | p-value | tables | {head} |")
    print("|---|---|---|---|" + "---|" * len(levels))
    for n in args.sizes:
        reference = rng.multinomial(args.reference, PROBS, size=args.draws)
        batch = rng.multinomial(n, PROBS, size=args.draws)
        p = asymptotic_p(reference, batch)
        print(f"| {n:,} | {n * PROBS.min():.1f} | asymptotic | {args.draws:,} | {_rates(p, levels)} |", flush=True)
        ours = []
        for ref_counts, cur_counts in zip(reference[: args.ours], batch[: args.ours], strict=True):
            ref_col = pd.Series(np.repeat(LEVELS, ref_counts))
            cur_col = pd.Series(np.repeat(LEVELS, cur_counts))
            ours.append(categorical_drift(ref_col, cur_col).p_value)
        print(
            f"| {n:,} | {n * PROBS.min():.1f} | ours | {len(ours):,} | {_rates(np.asarray(ours), levels)} |", flush=True
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
