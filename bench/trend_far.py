"""False-alarm probability and detection delay of the trend detectors, by simulation.

Every series is N(0, 1) noise: ``--warmup`` warm-up nights, then monitored nights.
Three scenarios run through :class:`alignment_drift.core.drift.trend.TrendDetector`
(direction "both", default slack, each threshold in turn):

* no drift, ``--nights`` nights in all: the share of series with any alarm is the
  false-alarm probability over the ``nights - warmup`` monitored nights;
* a trend of -0.1 std per night and a step of +1 std, both from the first
  monitored night, over ``--horizon`` monitored nights: the mean delay (monitored
  nights up to and including the first alarm, over the series that alarmed), the
  share that alarmed at all, and the share that alarmed within the
  ``nights - warmup`` window.

The same noise is reused for every method and threshold. Usage::

    python bench/trend_far.py --runs 20000 --nights 30 --seed 0
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from alignment_drift.core.drift.trend import DEFAULT_THRESHOLDS, TREND_METHODS, TrendDetector


def _delays(detector: TrendDetector, series: np.ndarray, warmup: int) -> np.ndarray:
    """Monitored nights up to the first alarm (1 = first monitored night), inf when none."""
    firsts = (detector.run(row).first_alarm_index for row in series)
    return np.array([np.inf if f is None else f - warmup + 1 for f in firsts], dtype=float)


def _delay_cells(delays: np.ndarray, window: int) -> list[str]:
    caught = np.isfinite(delays)
    mean = f"{delays[caught].mean():.1f}" if caught.any() else "-"
    return [f"{mean} ({caught.mean():.0%})", f"{np.mean(delays <= window):.0%}"]


def main(argv: Sequence[str] | None = None) -> None:
    """Print the Markdown table for the command-line options in ``argv``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="simulated series per scenario (default 2000)")
    parser.add_argument(
        "--nights", type=int, default=30, help="nights per drift-free series, warm-up included (default 30)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    parser.add_argument("--warmup", type=int, default=7, help="warm-up nights (default 7)")
    parser.add_argument("--horizon", type=int, default=100, help="monitored nights per drift series (default 100)")
    parser.add_argument(
        "--thresholds", type=float, nargs="+", default=[5.0, 8.0, 12.0, 16.0, 22.0, 28.0], help="besides the default"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.horizon < 1 or args.warmup < 2 or args.nights <= args.warmup:
        parser.error("need --runs >= 1, --horizon >= 1, --warmup >= 2 and --nights > --warmup")

    rng = np.random.default_rng(args.seed)
    window = args.nights - args.warmup
    no_drift = rng.standard_normal((args.runs, args.nights))
    shift = np.r_[np.zeros(args.warmup), np.ones(args.horizon)]
    noise = rng.standard_normal((args.runs, args.warmup + args.horizon))
    trend = noise - 0.1 * np.cumsum(shift)
    step = noise + shift

    print(f"{args.runs} series per cell, warm-up {args.warmup}, direction 'both', seed {args.seed}.")
    print(f"Delays over {args.horizon} monitored nights: mean over the series caught (share caught).\n")
    print(
        f"| method | threshold | false alarms in {window} nights | trend -0.1 std/night: delay | "
        f"caught in {window} | step +1 std: delay | caught in {window} |"
    )
    print("|---|---|---|---|---|---|---|")
    for method in TREND_METHODS:
        default = DEFAULT_THRESHOLDS[method]
        for h in sorted({*args.thresholds, default}):
            detector = TrendDetector(method=method, threshold=h, warmup=args.warmup)
            far = np.mean([detector.run(row).first_alarm_index is not None for row in no_drift])
            cells = [
                method,
                f"{h:g}" + (" (default)" if h == default else ""),
                f"{far:.3f}",
                *_delay_cells(_delays(detector, trend, args.warmup), window),
                *_delay_cells(_delays(detector, step, args.warmup), window),
            ]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
