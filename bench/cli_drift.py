"""The ``alignment-drift drift PROFILE CURRENT`` command against a process that only reads the batch's columns.

Issue 16's goal: ``drift PROFILE CUR`` at 1M rows within 2x the wall time of
a process that only reads the batch's tested columns, and ``alignment-drift
--help`` within 0.15 s. Each is a whole process, as a user runs it
(interpreter start-up and imports included), timed from a launcher:

- **read only**: ``python -c`` that imports pyarrow and reads the 25 tested
  columns of the current file (``pyarrow.parquet.read_table(columns=...)``);
- **drift (profile)**: ``alignment-drift drift ref.profile.parquet cur.parquet --format json``
  (defaults: every column test and, from the profile's 10,000-row reservoir,
  the joint tests);
- **drift (profile, no joint tests)**: the same with ``--multivariate off``;
- **import the joint tests' libraries**: ``python -c`` that only imports pandas, scikit-learn's
  ensembles and ``scipy.stats`` (what the joint tests load), and exits: the floor under the default
  command that no reading or statistic can lower;
- **--help**: ``alignment-drift --help``.

Data: ``bench/datagen.py`` (20 numeric + 5 categorical columns), a reference
and a current frame of ``--rows`` rows each (the current one with
``datagen.speed_current``'s shift), written as Parquet; the profile is written
once by ``alignment-drift profile`` (untimed). The commands run ``--repeats``
times, interleaved; medians, minima and each command's peak RSS are printed
as a Markdown table with the ratio to the read-only process.

Usage::

    .venv/bin/python bench/cli_drift.py                 # 1M rows, 5 repeats (~2 min)
    .venv/bin/python bench/cli_drift.py --rows 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import datagen  # noqa: E402

CLI = [sys.executable, "-m", "alignment_drift.cli"]

LAUNCHER = r"""
import json, os, sys, time
command = sys.argv[1:]
null = os.open(os.devnull, os.O_WRONLY)
began = time.perf_counter()
pid = os.posix_spawn(command[0], command, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - began
print(json.dumps({"seconds": seconds, "max_rss_kb": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}))
"""


def timed(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall seconds and peak RSS of ``command``, spawned by a minimal interpreter (its ``ru_maxrss`` is its own)."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, *command], capture_output=True, text=True, env=env, check=True
    )
    usage = json.loads(done.stdout)
    if usage["code"] not in (0, 1):
        raise SystemExit(f"{' '.join(command[:6])} ... failed ({usage['code']}): {done.stderr[-2000:]}")
    return {"seconds": usage["seconds"], "max_rss_mb": usage["max_rss_kb"] / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the reference and of the batch")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command, interleaved")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alignment-drift-cli-drift-"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    try:
        reference = datagen.generate(args.rows, seed=1, with_label=False)
        std = {c: float(reference[c].std()) for c in datagen.NUMERIC}
        current = datagen.speed_current(args.rows, 2, std)
        ref_path, cur_path, profile = work / "ref.parquet", work / "cur.parquet", work / "ref.profile.parquet"
        reference.to_parquet(ref_path, index=False)
        current.to_parquet(cur_path, index=False)
        del reference, current
        columns = [*datagen.NUMERIC, *datagen.CATEGORICAL]
        categorical = ",".join(datagen.CATEGORICAL)
        subprocess.run(
            [*CLI, "profile", str(ref_path), "-o", str(profile), "--categorical", categorical],
            check=True,
            env=env,
            capture_output=True,
        )
        read_only = (
            f"import sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1], columns={columns!r}); print(t.num_rows)"
        )
        commands = {
            "read only (pyarrow, 25 columns)": [sys.executable, "-c", read_only, str(cur_path)],
            "drift (profile)": [*CLI, "drift", str(profile), str(cur_path), "--format", "json"],
            "drift (profile, no joint tests)": [
                *CLI,
                "drift",
                str(profile),
                str(cur_path),
                "--format",
                "json",
                "--multivariate",
                "off",
            ],
            "import the joint tests' libraries": [
                sys.executable,
                "-c",
                "import pandas, scipy.stats, sklearn.ensemble, sklearn.metrics, sklearn.model_selection",
            ],
            "--help": [*CLI, "--help"],
        }
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, command in commands.items():
                runs[name].append(timed(command, env))
        print(report(runs, args.rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(runs: dict[str, list[dict[str, float]]], rows: int) -> str:
    base = statistics.median(r["seconds"] for r in runs["read only (pyarrow, 25 columns)"])
    lines = [
        f"CLI drift, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, "
        f"{platform.machine()}; Python {platform.python_version()}; {rows:,} rows a side; "
        f"{len(next(iter(runs.values())))} runs each, interleaved; 1-min load average {os.getloadavg()[0]:.1f}.",
        "",
        "| command | median s | min s | × read only | peak RSS MiB (median) |",
        "|---|---|---|---|---|",
    ]
    for name, results in runs.items():
        seconds = [r["seconds"] for r in results]
        median = statistics.median(seconds)
        rss = statistics.median(r["max_rss_mb"] for r in results)
        lines.append(f"| {name} | {median:.2f} | {min(seconds):.2f} | {median / base:.2f}× | {rss:,.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
