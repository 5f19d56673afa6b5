"""Streaming a large reference from partitioned parquet: time and peak memory as the rows grow.

Writes N partitions of 1M rows each (20 numeric + 5 categorical columns, the
generator of ``datagen.py``), then profiles the folder with the real command,
``alignment-drift profile``, which reads it batch by batch and merges the
partial profiles as a balanced tree. Each size runs in a fresh process; its
peak RSS is the child's ``ru_maxrss``. The data are generated, never
committed (``bench/results/`` is git-ignored).

    .venv/bin/python bench/stream.py --partitions 1 5 20
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datagen import generate  # noqa: E402


def write_partitions(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        part = folder / f"part-{i:04d}.parquet"
        if not part.exists():
            generate(1_000_000, 7 + i, with_label=False).to_parquet(part, index=False)


def profile(folder: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `alignment-drift profile` on ``folder``, in a fresh process.

    The child reports its own ``ru_maxrss`` through a tiny wrapper, so sizes never mix.
    """
    wrapper = (
        "import resource, sys; from alignment_drift.cli import main; code = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)"
    )
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", wrapper, "profile", str(folder), "-o", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - began
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[1, 5, 20], help="sizes, in 1M-row partitions")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "stream")
    args = parser.parse_args()
    print("| rows | partitions | seconds | seconds per 1M rows | peak RSS MB |")
    print("|---|---|---|---|---|")
    for count in sorted(args.partitions):
        folder = args.out / f"reference_{count}"
        write_partitions(folder, count)
        seconds, peak = profile(folder, args.out / f"profile_{count}.parquet")
        print(f"| {count}M | {count} | {seconds:.1f} | {seconds / count:.2f} | {peak:.0f} |", flush=True)


if __name__ == "__main__":
    main()
