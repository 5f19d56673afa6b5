"""Big batches: the partition-mapped drift statistics of one night of N rows, time and peak memory per task.

Generates a partitioned Parquet prediction log of N rows (the demo's data
contract; ``--part-rows`` rows per file, written file by file so generation
itself holds one file in memory) under ``bench/results/scale/`` (git-ignored),
then runs the monitor DAG's big-batch steps through the real pipeline
functions, each task in a fresh process as an Airflow worker runs it:

- ``partitions``: :func:`alignment_drift.integrations.sources.partitions.plan_groups` (footers only);
- ``profile_partition`` once per group: :func:`~alignment_drift.pipeline.steps.profile.profile_group`;
- ``drift``: :func:`~alignment_drift.pipeline.steps.profile.merge_partials` and the drift
  tests of every feature and output (``DriftDetector.test_profile``) against a reference profile.

Reports rows, groups, wall seconds and peak RSS (the child's ``ru_maxrss``) per
task and in total. The dataset is deleted afterwards unless ``--keep``.

    .venv/bin/python bench/scale.py --rows 10000000
    .venv/bin/python bench/scale.py            # 100M rows (a few GB of Parquet, deleted afterwards)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CATEGORIES = ["news", "entertainment", "politics", "sports", "lifestyle"]
SOURCES = ["verified", "unverified", "new_account"]
REGIONS = ["na", "eu", "apac", "latam"]


def night_frame(rows: int, seed: int, offset: int, *, shift: float = 0.0):  # type: ignore[no-untyped-def]
    """``rows`` rows of the demo's prediction-log contract (numpy generator; no model needed)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    toxicity = np.clip(rng.beta(2, 5, rows) + shift, 0, 1)
    sensational = rng.beta(2, 3, rows)
    report = rng.exponential(0.05, rows)
    report[rng.random(rows) < 0.02] = np.nan
    logit = 6 * toxicity + 1.5 * sensational - 3.5 + rng.normal(0, 0.5, rows)
    score = 1 / (1 + np.exp(-logit))
    prediction = (score >= 0.5).astype(np.int64)
    shown = 1 - prediction
    start = np.datetime64("2026-01-01T00:00:00")
    return pd.DataFrame(
        {
            "prediction_id": pd.Series(np.arange(offset, offset + rows)).astype(str),
            "timestamp": pd.to_datetime(start + rng.integers(0, 86_400, rows).astype("timedelta64[s]"), utc=True),
            "toxicity": toxicity,
            "sensationalism": sensational,
            "report_rate": report,
            "author_reputation": rng.normal(0.5, 0.3, rows),
            "text_length": rng.integers(1, 5_000, rows),
            "category": pd.Categorical.from_codes(rng.integers(0, 5, rows), CATEGORIES),
            "source_type": pd.Categorical.from_codes(rng.integers(0, 3, rows), SOURCES),
            "region": pd.Categorical.from_codes(rng.integers(0, 4, rows), REGIONS),
            "model_version": "1",
            "score": score,
            "prediction": prediction,
            "shown": shown,
            "engaged": np.where(shown == 1, (rng.random(rows) < 0.3 + 0.4 * sensational).astype(float), np.nan),
            "unsafe": (rng.random(rows) < toxicity).astype(float),
        }
    )


def generate(folder: Path, rows: int, part_rows: int) -> float:
    """Write the batch file by file (reusing files already there); returns seconds spent."""
    began = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    written, index = 0, 0
    while written < rows:
        n = min(part_rows, rows - written)
        path = folder / f"part-{index:05d}.parquet"
        if not path.exists():
            night_frame(n, 1_000 + index, written, shift=0.02).to_parquet(path, index=False)
        written, index = written + n, index + 1
    return time.perf_counter() - began


TASK = r"""
import json, resource, sys, time
began = time.perf_counter()
kind, args = sys.argv[1], json.loads(sys.argv[2])
from alignment_drift.core.spec import load_spec
from alignment_drift.settings import Settings
from alignment_drift.integrations.sources.partitions import plan_groups
from alignment_drift.pipeline.night import Group, Partial, Pulled
from alignment_drift.pipeline.steps import profile
settings = Settings.from_env(args["home"])
spec = load_spec(settings.specs_dir / "content_safety.yaml")
pulled = Pulled.model_validate(args["pulled"])
if kind == "partitions":
    out = plan_groups(pulled.batch())
elif kind == "validate":
    import datetime as dt
    from alignment_drift.pipeline.steps.validate import assess
    result = assess(spec, settings, pulled, now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    out = {"reason": result.reason, "rows": result.rows}
elif kind == "profile_partition":
    out = profile.profile_group(spec, settings, pulled, Group.model_validate(args["group"])).to_xcom()
else:
    from alignment_drift.core.drift import DriftDetector, ReferenceProfile
    batch = profile.merge_partials([Partial.model_validate(p) for p in args["partials"]])
    reference = ReferenceProfile.load(args["reference"])
    roles = spec.columns
    inputs = DriftDetector(reference, numeric=roles.numeric, categorical=roles.categorical).test_profile(batch)
    outputs = DriftDetector(reference, numeric=[roles.score], categorical=[roles.prediction]).test_profile(batch)
    out = {"rows": batch.n_rows, "drifted": inputs.drifted_columns() + outputs.drifted_columns(),
           "bounds": {c.name: c.note for c in inputs.columns if c.note}}
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({"out": out, "seconds": time.perf_counter() - began, "cpu": cpu, "rss_mb": usage.ru_maxrss / 1024}))
"""


def run_task(kind: str, args: dict, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, "-c", TASK, kind, json.dumps(args)], check=True, capture_output=True, text=True, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000, help="rows of the night's batch (default 100M)")
    parser.add_argument("--part-rows", type=int, default=1_000_000, help="rows per Parquet file")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scale")
    parser.add_argument("--keep", action="store_true", help="keep the generated dataset")
    parser.add_argument("--validate", action="store_true", help="also run the validate step (GX, group by group)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "plugins"))
    from alignment_drift.core.drift import ReferenceProfile
    from alignment_drift.integrations.sources.files import locate_path

    work = args.out / f"rows_{args.rows}"
    folder = work / "batch"
    env = {**os.environ, "ALIGNMENT_DRIFT_DATA_DIR": str(work / "data"), "ALIGNMENT_DRIFT_HOME": str(ROOT)}
    try:
        gen_seconds = generate(folder, args.rows, args.part_rows)
        reference = work / "reference_profile.parquet"
        ref = night_frame(1_000_000, 7, 0)
        ReferenceProfile.fit(
            ref,
            numeric=["toxicity", "sensationalism", "report_rate", "author_reputation", "text_length", "score"],
            categorical=["category", "source_type", "prediction"],
        ).save(reference)
        del ref
        from alignment_drift.pipeline.night import Interval, Pulled

        located = locate_path(folder, fmt="parquet", read={"timestamp": "timestamp"})
        interval = Interval(start="2026-01-01T00:00:00+00:00", end="2026-01-02T00:00:00+00:00")
        pulled = Pulled.of(located, sha256=None, interval=interval).to_xcom()
        common = {"home": str(ROOT), "pulled": pulled}
        began = time.perf_counter()
        planned = run_task("partitions", common, env)
        groups = planned["out"]
        profiled = [run_task("profile_partition", {**common, "group": g}, env) for g in groups]
        merged = run_task(
            "drift", {**common, "partials": [p["out"] for p in profiled], "reference": str(reference)}, env
        )
        total = time.perf_counter() - began
        slowest = max(p["seconds"] for p in profiled)
        cpu = planned["cpu"] + sum(p["cpu"] for p in profiled) + merged["cpu"]
        print(f"generated {args.rows:,} rows in {len(groups)} group(s) of <= 5M rows ({gen_seconds:.0f} s)")
        print(
            "| rows | groups | partitions s | profile_partition s (sum / max per task) | drift s | total wall s "
            "| total CPU s |"
        )
        print("|---|---|---|---|---|---|---|")
        print(
            f"| {args.rows / 1e6:g}M | {len(groups)} | {planned['seconds']:.1f} | "
            f"{sum(p['seconds'] for p in profiled):.0f} / {slowest:.1f} | {merged['seconds']:.1f} | {total:.0f} "
            f"| {cpu:.0f} |"
        )
        print(
            f"peak RSS MB: partitions {planned['rss_mb']:.0f}, profile_partition max "
            f"{max(p['rss_mb'] for p in profiled):.0f}, drift {merged['rss_mb']:.0f}"
        )
        print(f"merged rows {merged['out']['rows']:,}; drifted {merged['out']['drifted']}")
        if args.validate:
            checked = run_task("validate", common, env)
            print(
                f"validate: {checked['seconds']:.0f} s wall, {checked['cpu']:.0f} s CPU, peak RSS "
                f"{checked['rss_mb']:.0f} MB, rows {checked['out']['rows']:,}, "
                f"quarantine reason {checked['out']['reason']}"
            )
        print(json.dumps(merged["out"]["bounds"]))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
