"""One night's check at size: wall seconds and peak memory per stage of ``alignment-drift check --batch``.

Trains a demo champion (the retrain pipeline's own steps) into a throw-away
folder (SQLite MLflow store, data root, artifacts; deleted afterwards unless
``--keep``), simulates the demo's first nights with it and resamples their rows
(with replacement, seeded) into one Parquet batch of N rows per size: the
demo's data contract, unique prediction ids, every timestamp moved into night
1's interval (its time of day kept). Every benchmark of the demo spec
``specs/content_safety.yaml`` runs.

Two measurements per size, each in a fresh process:

- **stages**: the steps of :func:`alignment_drift.pipeline.check.run_check`, in
  its order and with its arguments (``pull``; ``validate``; ``drift`` = plan +
  profile of each group + drift; ``benchmarks``; ``trend + verdict``;
  ``record`` + emit), each timed (``perf_counter``) and its peak RSS read as
  ``VmHWM`` after resetting it (``/proc/self/clear_refs`` = 5) at the stage's
  start: the peak resident set while the stage ran, including what earlier
  stages still hold. ``total`` is the sum of the stages (imports excluded).
- **command**: ``alignment-drift check SPEC --date D --batch FILE --format json``
  as a user runs it; wall seconds of the whole process (start-up and imports
  included) and its ``ru_maxrss`` (``os.wait4``).

Above ``BENCHMARK_MAX_ROWS`` (1M) the benchmarks step reads a seeded 1M-row
sample of the batch, so at 10M its row times that sample, not 10M rows.

``--layouts`` says how each batch is written: ``file``, one Parquet file (row
groups of ``--row-group`` rows, so a file beyond the plan's group bound is
profiled in slices of its row groups), ``parts``, a folder of files of
``--part-rows`` rows each; both hold the same rows in the same order.

    .venv/bin/python bench/nightly.py                    # 100k and 1M rows
    .venv/bin/python bench/nightly.py --sizes 100k 1M 10M
    .venv/bin/python bench/nightly.py --sizes 1M --layouts file parts
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "content_safety.yaml"
NIGHTS = 3  # simulated nights whose rows are resampled
ROWS_PER_NIGHT = 20_000

STAGES = r"""
import datetime as dt, json, sys, time
from alignment_drift.cli.check import interval_for
from alignment_drift.core.spec import load_spec
from alignment_drift.pipeline.check import emit_pending
from alignment_drift.pipeline.steps.benchmarks import benchmarks
from alignment_drift.pipeline.steps.drift import drift
from alignment_drift.pipeline.steps.profile import plan, profile_group
from alignment_drift.pipeline.steps.pull import pull_night
from alignment_drift.pipeline.steps.record import record
from alignment_drift.pipeline.steps.trend import trend
from alignment_drift.pipeline.steps.validate import validate
from alignment_drift.pipeline.steps.verdict import decide
from alignment_drift.settings import Settings

spec_path, day, batch = sys.argv[1], dt.date.fromisoformat(sys.argv[2]), sys.argv[3]
spec = load_spec(spec_path)
settings = Settings.from_env()
start, end = interval_for(spec.night_schedule, day)
stages = {}


def peak_mb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def timed(name, step):
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    began = time.perf_counter()
    out = step()
    stages[name] = {"seconds": time.perf_counter() - began, "peak_rss_mb": peak_mb()}
    return out


pulled = timed("pull", lambda: pull_night(spec, settings, start=start, end=end, batch=batch))
validation = timed("validate", lambda: validate(spec, settings, pulled))


def drift_stage():
    groups = plan(settings, pulled, validation)
    partials = [profile_group(spec, settings, pulled, g) for g in groups]
    return drift(spec, settings, pulled, validation, partials)


drifted = timed("drift", drift_stage)
benched = timed("benchmarks", lambda: benchmarks(spec, settings, pulled, validation))
check = timed(
    "trend + verdict",
    lambda: decide(spec, pulled, validation, drifted, benched, trend(spec, settings, pulled, drifted, benched)),
)


def record_stage():
    recorded = record(spec, settings, check, drift=drifted)
    emit_pending(spec, settings, until=end.isoformat())
    return recorded


timed("record", record_stage)
print(json.dumps({"stages": stages, "verdict": check.verdict, "rows": validation.rows}))
"""


def parse_size(text: str) -> int:
    units = {"k": 1_000, "M": 1_000_000}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def setup(work: Path) -> tuple[str, object]:
    """Train the champion into ``work``; return night 1's date and the simulated nights' rows (one frame)."""
    import pandas as pd

    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain
    from alignment_drift.settings import Settings

    settings = Settings.from_env(ROOT)
    spec = load_spec(SPEC)
    simulator = ContentPlatform("stable", seed=11, rows_per_night=ROWS_PER_NIGHT, start_date=spec.start_date)
    prepare_data(settings, spec, simulator)
    first = night_start(spec.start_date, 1)
    key = f"{spec.model}/initial"
    assembled = retrain.assemble(spec, settings, as_of=first, key=key)
    trained = retrain.train(spec, settings, assembled, key=key, reason="initial champion", tags={})
    decided = retrain.decide_promotion(spec, settings, trained, retrain.gate(spec, settings, trained))
    if decided["decision"] != "promoted":
        raise SystemExit(f"the demo champion was not promoted: {decided}")
    version = registry.champion(settings, spec.model).version
    model = registry.load_model(settings, spec.model, version)
    frames = []
    for night in range(1, NIGHTS + 1):
        log = simulator.night(night, model, model_version=version)
        log["timestamp"] = first + (log["timestamp"] - night_start(spec.start_date, night))
        frames.append(log)
    return first.date().isoformat(), pd.concat(frames, ignore_index=True)


def write_batch(  # type: ignore[no-untyped-def]
    nights, rows: int, path: Path, *, layout: str = "file", row_group: int = 1_048_576, part_rows: int = 250_000
) -> None:
    """``rows`` resampled rows as one file at ``path`` (``file``) or a folder of parts at ``path`` (``parts``)."""
    import numpy as np

    rng = np.random.default_rng(rows)
    batch = nights.iloc[rng.integers(0, len(nights), rows)].reset_index(drop=True)
    batch["prediction_id"] = [f"r{i:09d}" for i in range(rows)]
    batch = batch.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if layout == "file":
        batch.to_parquet(path, index=False, row_group_size=row_group)
        return
    path.mkdir(parents=True)
    for i, start in enumerate(range(0, rows, part_rows)):
        batch.iloc[start : start + part_rows].to_parquet(path / f"part-{i:05d}.parquet", index=False)


def store_env(work: Path, home: Path = ROOT) -> dict[str, str]:
    """The environment of a throw-away night in ``work``: data, artifacts and a SQLite MLflow store there."""
    return {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "ALIGNMENT_DRIFT_HOME": str(home),
        "ALIGNMENT_DRIFT_DATA_DIR": str(work / "data"),
        "ALIGNMENT_DRIFT_ARTIFACT_ROOT": str(work / "artifacts"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }


def run_stages(day: str, batch: Path, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, "-c", STAGES, str(SPEC), day, str(batch)], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"the stages' process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


LAUNCHER = r"""
import json, os, sys, time
out, err, command = sys.argv[1], sys.argv[2], sys.argv[3:]
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
files = [(os.POSIX_SPAWN_OPEN, 1, out, flags, 0o644), (os.POSIX_SPAWN_OPEN, 2, err, flags, 0o644)]
began = time.perf_counter()
pid = os.posix_spawn(command[0], command, os.environ, file_actions=files)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - began
print(json.dumps({"seconds": seconds, "max_rss_kb": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}))
"""


def run_command(day: str, batch: Path, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    """The command as a user runs it: its wall time and peak RSS, started from a small launcher process.

    Linux counts the memory of the process that spawns a child in the child's
    ``ru_maxrss`` (the child starts on its parent's pages until it ``exec``s),
    and this script holds the batch it wrote; so a minimal interpreter spawns
    the command and reports its ``wait4`` usage.
    """
    command = [sys.executable, "-m", "alignment_drift.cli", "check", str(SPEC), "--date", day, "--batch", str(batch)]
    out_path, err_path = batch.parent / f"{batch.name}.out", batch.parent / f"{batch.name}.err"
    launched = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, str(out_path), str(err_path), *command, "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
    )
    if launched.returncode != 0:
        raise SystemExit(f"the launcher failed ({launched.returncode}):\n{launched.stderr[-3000:]}")
    usage = json.loads(launched.stdout)
    if usage["code"] not in (0, 1):
        raise SystemExit(f"alignment-drift check failed ({usage['code']}):\n{err_path.read_text()[-3000:]}")
    verdict = json.loads(out_path.read_text())["verdict"]
    return {"seconds": usage["seconds"], "max_rss_mb": usage["max_rss_kb"] / 1024, "verdict": verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100k", "1M"], help="rows of the batch (default 100k 1M)")
    parser.add_argument(
        "--layouts", nargs="+", choices=("file", "parts"), default=["file"], help="one file, a folder of parts"
    )
    parser.add_argument("--row-group", default="1048576", help="rows per row group of the one file (default 1048576)")
    parser.add_argument("--part-rows", default="250k", help="rows per file of a folder of parts (default 250k)")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away folder and its batches")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alignment-drift-nightly-"))
    env = {**os.environ, **store_env(work)}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT / "plugins"))
    import logging

    logging.disable(logging.WARNING)
    try:
        began = time.perf_counter()
        day, nights = setup(work)
        print(f"champion trained, {len(nights):,} simulated rows ({time.perf_counter() - began:.0f} s)", flush=True)
        results = {}
        for size in args.sizes:
            for layout in args.layouts:
                rows, name = parse_size(size), size if args.layouts == ["file"] else f"{size} {layout}"
                batch = work / (f"batch_{size}.parquet" if layout == "file" else f"batch_{size}_parts")
                write_batch(
                    nights,
                    rows,
                    batch,
                    layout=layout,
                    row_group=parse_size(args.row_group),
                    part_rows=parse_size(args.part_rows),
                )
                stages = run_stages(day, batch, env)
                command = run_command(day, batch, env)
                results[name] = {"stages": stages, "command": command, "load": os.getloadavg()[0]}
                print(json.dumps({name: results[name]}), flush=True)
                if not args.keep:  # --keep keeps the batches too, to run the command again by hand
                    shutil.rmtree(batch) if batch.is_dir() else batch.unlink()
        print(report(results, day))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(results: dict, day: str) -> str:  # type: ignore[type-arg]
    sizes = list(results)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        f"Nightly check, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, "
        f"{platform.machine()}, {memory:.0f} GiB; Python {platform.python_version()}; night {day}.",
        "",
        "| stage | " + " | ".join(f"{s} s | {s} peak RSS MiB" for s in sizes) + " |",
        "|---|" + "---|---|" * len(sizes),
    ]
    names = list(next(iter(results.values()))["stages"]["stages"])
    for name in names:
        cells = [results[s]["stages"]["stages"][name] for s in sizes]
        lines.append(f"| {name} | " + " | ".join(f"{c['seconds']:.1f} | {c['peak_rss_mb']:,.0f}" for c in cells) + " |")
    totals = [
        (
            sum(v["seconds"] for v in results[s]["stages"]["stages"].values()),
            max(v["peak_rss_mb"] for v in results[s]["stages"]["stages"].values()),
        )
        for s in sizes
    ]
    lines.append("| **total (stages)** | " + " | ".join(f"**{t:.1f}** | **{m:,.0f}**" for t, m in totals) + " |")
    lines.append(
        "| `alignment-drift check` (whole process) | "
        + " | ".join(
            f"{results[s]['command']['seconds']:.1f} | {results[s]['command']['max_rss_mb']:,.0f}" for s in sizes
        )
        + " |"
    )
    lines.append("")
    lines.append(
        "verdicts: "
        + ", ".join(f"{s}: {results[s]['stages']['verdict']} / {results[s]['command']['verdict']}" for s in sizes)
        + "; 1-min load average after each size: "
        + ", ".join(f"{s}: {results[s]['load']:.1f}" for s in sizes)
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
