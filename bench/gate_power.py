"""How often the retraining gate promotes a challenger, by its true difference from the champion and the audit size.

The world of ``tests/core/test_gate_simulation.py`` (``alignment_drift.demo.simulate.challengers``):
a census-like population, a champion (logistic regression) and a challenger
(gradient boosting on other rows) whose threshold puts its population recall
at the champion's plus a known difference. Each trial draws an audit set and
runs the gate's rule (``alignment_drift.core.gate``: margin ``m``, 500 paired
bootstrap replicates, 95 %); the same trial is also judged by the old rule
(promote unless the whole interval of challenger - champion is below ``-m``).

    .venv/bin/python bench/gate_power.py                 # 400 trials a cell (~10 min on 2 cores)
    .venv/bin/python bench/gate_power.py --trials 100    # quicker

Prints one markdown table per rule: the share of audit sets promoted (and,
for the new rule, held as insufficient evidence / rejected).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from alignment_drift.core.benchmarks.metric_floor import evaluate_metric_floor
from alignment_drift.core.benchmarks.result import Scored
from alignment_drift.core.gate import GateReference, judge_challenger
from alignment_drift.core.spec import MetricFloor
from alignment_drift.demo.simulate.challengers import GateWorld

MULTIPLES = (-3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0)


def cell(world: GateWorld, *, difference: float, n: int, trials: int, margin: float, seed: int) -> dict[str, Counter]:
    """The new rule's decisions and the old rule's promotions over ``trials`` audit sets."""
    threshold = world.threshold_for(difference)
    bench = MetricFloor(name="audit_recall", metric="recall", floor=0.3)
    rng = np.random.default_rng(seed)
    new: Counter[str] = Counter()
    old: Counter[str] = Counter()
    for _ in range(trials):
        rows = world.audit(n, rng)
        y = world.y[rows].astype(float)
        s, r = world.challenger_score[rows], world.champion_score[rows]
        challenger = Scored(y, s, (s >= threshold).astype(np.int64))
        reference = Scored(y, r, (r >= world.champion_threshold).astype(np.int64))
        decision = judge_challenger(
            [bench],
            challenger=challenger,
            results=[evaluate_metric_floor(bench, challenger, None)],
            references=[GateReference("champion", "1", reference)],
            margin=margin,
        )
        new[decision.decision] += 1
        (comparison,) = decision.benchmarks[0].comparisons
        old["promote" if comparison.ci_high >= -margin else "reject"] += 1
    return {"new": new, "old": old}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 3000, 10000])
    parser.add_argument("--margin", type=float, default=0.02)
    parser.add_argument("--population", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    began = time.monotonic()
    world = GateWorld.build(population=args.population, seed=args.seed)
    print(
        f"# gate_power: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f}; population {args.population}, "
        f"prevalence {world.y.mean():.3f}, champion recall {world.champion_recall:.3f}; margin m = {args.margin}, "
        f"{args.trials} trials a cell, 500 paired replicates, 95 %\n"
    )
    results: dict[tuple[float, int], dict[str, Counter]] = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for i, multiple in enumerate(MULTIPLES):
            for n in args.sizes:
                results[multiple, n] = cell(
                    world, difference=multiple * args.margin, n=n, trials=args.trials, margin=args.margin,
                    seed=args.seed + 1000 * i + n,
                )  # fmt: skip
    header = "| true difference | " + " | ".join(f"n = {n}" for n in args.sizes) + " |"
    rule = "|---|" + "---|" * len(args.sizes)
    print("New rule (non-inferiority): promoted / insufficient evidence / rejected\n")
    print(header + "\n" + rule)
    for multiple in MULTIPLES:
        cells = []
        for n in args.sizes:
            c = results[multiple, n]["new"]
            cells.append(
                " / ".join(f"{100 * c[k] / args.trials:.1f}" for k in ("promote", "insufficient_evidence", "reject"))
            )
        print(f"| {multiple:+g} m ({multiple * args.margin:+.3f}) | " + " | ".join(cells) + " |")
    print("\nOld rule (promote unless shown worse by more than m): promoted %\n")
    print(header + "\n" + rule)
    for multiple in MULTIPLES:
        cells = [f"{100 * results[multiple, n]['old']['promote'] / args.trials:.1f}" for n in args.sizes]
        print(f"| {multiple:+g} m ({multiple * args.margin:+.3f}) | " + " | ".join(cells) + " |")
    print(f"\n{time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
