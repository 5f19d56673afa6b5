"""Trend detection on real annotated change-point series: F1 (+/- 5 nights), false alarms per 100 quiet nights.

Data: 25 series of the Turing Change Point Dataset (TCPD), shipped in
``bench/data/tcpd/series.json`` (sources and licences in ``bench/data/tcpd/README.md``);
nothing is downloaded. Every observation is taken as one night.

Ground truth: TCPD has 4-5 annotators per series. A change counts when at least
half of the series' annotators marked a point within 5 nights of each other
(single-linkage clusters of their points); it sits at the cluster's median.
That gives 53 changes over 7,940 nights.

Each detector runs **as the monitor runs it**: every night, on the history up
to that night (``run(values[: t + 1])``), from the first night of the series
(the history since a promotion), direction "both" (the series have no bad
side). A *detection* is a night whose answer is an alarm when the night before
was not. Scores, pooled over all series:

* a detection within 5 nights of a change (either side) finds it (each change
  found at most once, by the nearest detection); precision = found / detections,
  recall = found / changes, F1 their harmonic mean;
* false alarms per 100 stationary nights: detections more than 5 nights from
  every point any annotator marked, per 100 such nights.

Detectors: ours at their defaults (``robust_scan``; CUSUM and Page-Hinkley, which
now restart after an alarm), CUSUM and Page-Hinkley as released before this
change (the statistic never reset, so an alarm stayed on; re-implemented below,
same formulas and defaults), and river's ADWIN and PageHinkley at their defaults
on the raw values, in their own venv (``bench/peers.py --only river``; skipped
with a note when it cannot be made).

``--synthetic`` prints the calibration table instead (false alarms per 100
stationary nights and the delay of a 0.1 sd/night drift, on simulated
histories), and the bound no detector can beat on the drift.

Usage::

    python bench/trend_real.py                # the real-series table (~2 min)
    python bench/trend_real.py --per-series   # and one line per series
    python bench/trend_real.py --sensitivity  # and robust_scan's warm-up, threshold and window varied
    python bench/trend_real.py --synthetic    # the simulated calibration table (~1 min)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data" / "tcpd" / "series.json"
MARGIN = 5
Detections = dict[str, list[int]]

RIVER_WORKER = r"""
import json, sys
from river.drift import ADWIN, PageHinkley
data = json.load(sys.stdin)
out = {}
for peer, make in (("ADWIN", ADWIN), ("PageHinkley", PageHinkley)):
    out[peer] = {}
    for name, values in data.items():
        detector, found = make(), []
        for night, value in enumerate(values):
            if value is None:
                continue
            detector.update(value)
            if detector.drift_detected:  # river resets the detector itself
                found.append(night)
        out[peer][name] = found
print(json.dumps(out))
"""


def load() -> dict[str, dict]:
    return json.loads(DATA.read_text())["series"]


def consensus(annotations: dict[str, list[int]]) -> list[int]:
    """The changes at least half the annotators marked within ``MARGIN`` nights of each other (cluster medians)."""
    points = sorted((p, who) for who, marked in annotations.items() for p in marked)
    clusters: list[list[tuple[int, str]]] = []
    for point, who in points:
        if clusters and point - clusters[-1][-1][0] <= MARGIN:
            clusters[-1].append((point, who))
        else:
            clusters.append([(point, who)])
    return [int(np.median([p for p, _ in c])) for c in clusters if 2 * len({w for _, w in c}) >= len(annotations)]


def score(series: dict[str, dict], found: Detections) -> tuple[dict[str, float], dict[str, tuple[int, ...]]]:
    """Pooled counts and scores, and per series (found, changes, detections, false alarms, stationary nights)."""
    totals = np.zeros(5, dtype=int)
    per_series = {}
    for name, s in series.items():
        changes, detections = consensus(s["annotations"]), found[name]
        marked = sorted({p for points in s["annotations"].values() for p in points})
        used: set[int] = set()
        hits = 0
        for change in changes:
            near = [d for d in detections if abs(d - change) <= MARGIN and d not in used]
            if near:
                used.add(min(near, key=lambda d: abs(d - change)))
                hits += 1
        quiet = [i for i in range(len(s["values"])) if all(abs(i - m) > MARGIN for m in marked)]
        false = sum(1 for d in detections if all(abs(d - m) > MARGIN for m in marked))
        row = (hits, len(changes), len(detections), false, len(quiet))
        per_series[name] = row
        totals += row
    hits, changes, detections, false, quiet = (int(v) for v in totals)
    precision = hits / detections if detections else 1.0
    recall = hits / changes
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    summary = {
        "found": hits,
        "changes": changes,
        "detections": detections,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_per_100": 100 * false / quiet,
    }
    return summary, per_series


def as_the_monitor(series: dict[str, dict], alarm_on: Callable[[list], bool]) -> Detections:
    """Alarm onsets when ``alarm_on(history up to the night)`` is asked every night."""
    out = {}
    for name, s in series.items():
        values, before, onsets = s["values"], False, []
        for night in range(len(values)):
            now = alarm_on(values[: night + 1])
            if now and not before:
                onsets.append(night)
            before = now
        out[name] = onsets
    return out


def previous_release(method: str) -> Callable[[list], bool]:
    """The alarm of CUSUM / Page-Hinkley as released before (warm-up 7, slack 0.25, threshold 22 / 12, both sides).

    The statistic never reset: ``alarm`` was ``statistic > threshold`` after the last value, with the
    warm-up's mean and std (ddof=1) as the baseline for the whole history.
    """
    warmup, slack, threshold = 7, 0.25, {"cusum": 22.0, "page_hinkley": 12.0}[method]

    def lindley(steps: np.ndarray) -> np.ndarray:
        c = np.concatenate(([0.0], np.cumsum(steps)))
        return (c - np.minimum.accumulate(c))[1:]

    def alarm(values: list) -> bool:
        x = np.array([np.nan if v is None else v for v in values], dtype=float)
        v = x[np.isfinite(x)]
        if v.size <= warmup:
            return False
        mean, std = v[:warmup].mean(), max(v[:warmup].std(ddof=1), 1e-6)
        z = (v[warmup:] - mean) / std
        if method == "page_hinkley":
            z = z - np.cumsum(z) / np.arange(warmup + 1, v.size + 1)
        return bool(max(lindley(z - slack)[-1], lindley(-z - slack)[-1]) > threshold)

    return alarm


def river_detections(series: dict[str, dict]) -> dict[str, Detections] | str:
    """river's ADWIN and PageHinkley (defaults) in the river venv, or why they could not run."""
    sys.path.insert(0, str(BENCH))
    import peers

    try:
        versions = peers.ensure("river")
    except subprocess.CalledProcessError as error:
        return f"river venv could not be made ({error}); see bench/.venvs/river.log"
    payload = json.dumps({name: s["values"] for name, s in series.items()})
    done = subprocess.run(
        [str(peers.python_of("river")), "-c", RIVER_WORKER], input=payload, capture_output=True, text=True, check=True
    )
    print(f"river {versions['river']} (numpy {versions['numpy']}), in bench/.venvs/river", flush=True)
    result: dict[str, Detections] = json.loads(done.stdout)
    return result


def real_table(args: argparse.Namespace) -> None:
    from alignment_drift.core.drift.trend import TrendDetector

    series = load()
    nights = sum(len(s["values"]) for s in series.values())
    changes = sum(len(consensus(s["annotations"])) for s in series.values())
    print(f"{len(series)} TCPD series, {nights} nights, {changes} consensus changes; margin +/- {MARGIN} nights.\n")
    rows: list[tuple[str, Detections]] = []
    for label, detector in (
        ("ours: robust_scan (new default)", TrendDetector()),
        ("ours: CUSUM, restarting after an alarm", TrendDetector(method="cusum")),
        ("ours: Page-Hinkley, restarting after an alarm", TrendDetector(method="page_hinkley")),
    ):
        rows.append((label, as_the_monitor(series, lambda h, d=detector: d.run(h).alarm)))
    for method, label in (("cusum", "CUSUM"), ("page_hinkley", "Page-Hinkley")):
        rows.append((f"ours before: {label} (never reset)", as_the_monitor(series, previous_release(method))))
    if not args.no_peers:
        peers = river_detections(series)
        if isinstance(peers, str):
            print(peers)
        else:
            rows += [(f"river {name} (defaults, raw values)", found) for name, found in peers.items()]
    print(
        "| detector | changes found | detections | precision | recall | F1 (+/- 5 nights) "
        "| false alarms / 100 stationary nights |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, found in rows:
        s, _ = score(series, found)
        print(
            f"| {label} | {s['found']} / {s['changes']} | {s['detections']} | {s['precision']:.2f} | "
            f"{s['recall']:.2f} | **{s['f1']:.2f}** | {s['false_per_100']:.2f} |",
            flush=True,
        )
    if args.sensitivity:
        print("\nrobust_scan away from its defaults (alarm nights of one run over each series; the same nights as")
        print("asking every night, see test_every_night_of_a_history_gets_the_answer_of_the_whole_run):\n")
        print("| warm-up | threshold | max_window | detections | precision | recall | F1 | false alarms / 100 |")
        print("|---|---|---|---|---|---|---|---|")
        for warmup, threshold, window in [
            (7, None, 15),
            (10, None, 15),
            (14, None, 15),
            (21, None, 15),
            (10, 2.85, 15),
            (10, 3.5, 15),
            (10, None, 7),
            (10, None, 30),
        ]:
            detector = TrendDetector(warmup=warmup, threshold=threshold, max_window=window)
            s, _ = score(series, {n: list(detector.run(v["values"]).alarm_indices) for n, v in series.items()})
            print(
                f"| {warmup} | {detector.threshold:g} | {window} | {s['detections']} | {s['precision']:.2f} | "
                f"{s['recall']:.2f} | {s['f1']:.2f} | {s['false_per_100']:.2f} |"
            )
    if args.per_series:
        print("\nPer series (found / changes, detections, false alarms):\n")
        print("| series | nights | " + " | ".join(label for label, _ in rows) + " |")
        print("|---|---|" + "---|" * len(rows))
        tables = [score(series, found)[1] for _, found in rows]
        for name, s in series.items():
            cells = [f"{t[name][0]}/{t[name][1]}, {t[name][2]}, {t[name][3]}" for t in tables]
            print(f"| {name} | {len(s['values'])} | " + " | ".join(cells) + " |")


# ---- simulated histories (the same families as tests/core/drift/test_trend_calibration.py) ----


def _ar1(rng: np.random.Generator, runs: int, n: int, phi: float, t3: bool = False) -> np.ndarray:
    noise = rng.standard_t(3, (runs, n + 50)) / np.sqrt(3) if t3 else rng.standard_normal((runs, n + 50))
    x = np.empty_like(noise)
    x[:, 0] = noise[:, 0]
    for i in range(1, x.shape[1]):
        x[:, i] = phi * x[:, i - 1] + np.sqrt(1 - phi**2) * noise[:, i]
    return x[:, 50:]


def _rate(rng: np.random.Generator, runs: int, n: int, shift_sd: np.ndarray | float = 0.0) -> np.ndarray:
    sd = np.sqrt(0.05 * 0.95 / 61)
    mean = np.clip(0.05 + sd * np.broadcast_to(shift_sd, (runs, n)), 1e-4, 1 - 1e-4)
    return rng.beta(mean * 60, (1 - mean) * 60)


FAMILIES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "i.i.d. N(0, 1)": lambda rng, runs, n: rng.standard_normal((runs, n)),
    "AR(1), phi 0.3": lambda rng, runs, n: _ar1(rng, runs, n, 0.3),
    "AR(1), phi 0.6": lambda rng, runs, n: _ar1(rng, runs, n, 0.6),
    "Student-t(3)": lambda rng, runs, n: rng.standard_t(3, (runs, n)) / np.sqrt(3),
    "AR(1) 0.6, t(3) innovations": lambda rng, runs, n: _ar1(rng, runs, n, 0.6, t3=True),
    "rate in [0, 1], Beta mean 0.05": lambda rng, runs, n: (_rate(rng, runs, n) - 0.05) / np.sqrt(0.05 * 0.95 / 61),
}


def synthetic_table(args: argparse.Namespace) -> None:
    from alignment_drift.core.drift.trend import DEFAULT_WARMUP, TrendDetector

    runs, warmup = args.runs, DEFAULT_WARMUP["robust_scan"]
    nights = warmup + 300
    print(f"{runs} series per cell, seed {args.seed}; robust_scan at its defaults (warm-up {warmup}, max_window 15).")
    print(f"False alarms: {nights - warmup} monitored nights per series, the detector restarting after each alarm.")
    print("Drift: 30 stable nights after the warm-up, then +0.1 sd a night for 40 nights (direction 'increase').\n")
    print(
        "| history | false alarms / 100 nights, both sides (MC SE) | one side (MC SE) | "
        "drift caught within 10 nights | within 20 | median delay | not within 40 |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, make in FAMILIES.items():
        cells = []
        for direction in ("both", "increase"):
            histories = make(np.random.default_rng(args.seed), runs, nights)
            detector = TrendDetector(direction=direction)  # type: ignore[arg-type]
            rates = np.array([100 * len(detector.run(h).alarm_indices) / (nights - warmup) for h in histories])
            cells.append(f"{rates.mean():.2f} ({rates.std(ddof=1) / np.sqrt(runs):.2f})")
        rng = np.random.default_rng(args.seed + 1)
        start = warmup + 30
        ramp = np.r_[np.zeros(start), 0.1 * np.arange(1, 41)]
        if name.startswith("rate"):
            histories = (_rate(rng, runs, start + 40, shift_sd=ramp) - 0.05) / np.sqrt(0.05 * 0.95 / 61)
        else:
            histories = make(rng, runs, start + 40) + ramp
        detector = TrendDetector(direction="increase")
        delays = np.array(
            [next((i - start + 1 for i in detector.run(h).alarm_indices if i >= start), np.inf) for h in histories]
        )
        cells += [
            f"{np.mean(delays <= 10):.2f}",
            f"{np.mean(delays <= 20):.2f}",
            f"{np.median(delays):g}",
            f"{np.mean(np.isinf(delays)):.2f}",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print("\nCUSUM and Page-Hinkley at their defaults (warm-up 7), restarting after each alarm, both sides:\n")
    print("| history | CUSUM: false alarms / 100 nights | Page-Hinkley |")
    print("|---|---|---|")
    for name, make in FAMILIES.items():
        histories = make(np.random.default_rng(args.seed), runs, nights)
        cells = []
        for method in ("cusum", "page_hinkley"):
            detector = TrendDetector(method=method)  # type: ignore[arg-type]
            count = sum(len(detector.run(h).alarm_indices) for h in histories)
            cells.append(f"{100 * count / (runs * (nights - 7)):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print()
    oracle(args)


def oracle(args: argparse.Namespace) -> None:
    """The same drift against a detector that knows the baseline (mean 0, sd 1), on i.i.d. N(0, 1) nights.

    It scans ramps of every start up to 30 nights back, ``sum_j j x_j / sqrt(sum_j j^2)``, one-sided, at
    thresholds giving about 1 and 0.5 false alarms per 100 nights (counted as up-crossings).
    """
    rng = np.random.default_rng(args.seed)

    def ramp_scan(x: np.ndarray) -> np.ndarray:
        out = np.full(x.shape, -np.inf)
        for m in range(1, 31):
            w = np.arange(1, m + 1, dtype=float)
            windows = np.lib.stride_tricks.sliding_window_view(x, m, axis=1) @ w / np.sqrt(w @ w)
            out[:, m - 1 :] = np.maximum(out[:, m - 1 :], windows)
        return out

    quiet = ramp_scan(rng.standard_normal((args.runs, 500)))
    drift = ramp_scan(rng.standard_normal((args.runs, 40)) + 0.1 * np.arange(1, 41))
    print("The bound: a detector that knows the baseline exactly, i.i.d. N(0, 1), the same drift:\n")
    print("| threshold | false alarms / 100 nights | caught within 10 nights | within 20 | median delay |")
    print("|---|---|---|---|---|")
    for h in (2.6, 2.8, 3.0):
        over = quiet > h
        false = 100 * np.mean(over[:, 1:] & ~over[:, :-1])
        hit = drift > h
        first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, np.inf)
        print(
            f"| {h:g} | {false:.2f} | {np.mean(first <= 10):.2f} | {np.mean(first <= 20):.2f} | {np.median(first):g} |"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Print the Markdown table(s) for the command-line options in ``argv``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-series", action="store_true", help="also one line per series")
    parser.add_argument("--no-peers", action="store_true", help="skip river's detectors")
    parser.add_argument("--sensitivity", action="store_true", help="also robust_scan away from its defaults")
    parser.add_argument("--synthetic", action="store_true", help="the simulated calibration table instead")
    parser.add_argument("--runs", type=int, default=1000, help="simulated series per cell (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated histories (default 0)")
    args = parser.parse_args(argv)
    if args.synthetic:
        synthetic_table(args)
    else:
        real_table(args)


if __name__ == "__main__":
    main()
