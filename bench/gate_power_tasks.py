"""How often the retraining gate promotes a multiclass or regression challenger, by true difference and audit size.

The worlds of ``alignment_drift.demo.simulate.task_challengers`` (a
census-like population: occupation among 8 classes judged on accuracy;
income in dollars judged on MAE, whose margin is a share of the reference's
error). Prints, per task, true difference and audit size, the % of audit sets
promoted / held for insufficient evidence / rejected.
"""

from __future__ import annotations

import argparse
import sys
import time

from alignment_drift.demo.simulate.task_challengers import TaskWorld, gate_trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--margin", type=float, default=0.02)
    parser.add_argument("--population", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    began = time.monotonic()
    for kind, worse in (("multiclass", -1.0), ("regression", 1.0)):  # accuracy drops; MAE grows
        world = TaskWorld.build(kind, population=args.population, train_rows=3_000, seed=args.seed)
        unit = "accuracy" if kind == "multiclass" else "relative MAE"
        print(f"\n{kind} ({unit}), % promoted / insufficient evidence / rejected\n")
        print("| true difference | " + " | ".join(f"n = {n}" for n in args.sizes) + " |")
        print("|---|" + "---|" * len(args.sizes))
        for multiple in (2.0, 1.0, 0.0, -2.0):
            difference = worse * multiple * args.margin
            cells = []
            for n in args.sizes:
                got = gate_trials(world, difference=difference, n=n, trials=args.trials, seed=11, margin=args.margin)
                share = [100 * got[d] / args.trials for d in ("promote", "insufficient_evidence", "reject")]
                cells.append(" / ".join(f"{v:.1f}" for v in share))
            label = "worse by" if multiple > 0 else ("better by" if multiple < 0 else "equal")
            print(f"| {label} {abs(multiple):g} m ({difference:+.3f}) | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
