"""Speed and memory of our drift engine against Evidently, NannyML and alibi-detect, in one invocation.

For each size n (``--sizes``, default 10k 100k 1M rows), it generates a seeded
reference and current frame of n rows each (20 numeric + 5 categorical columns,
``bench/datagen.py``; the current frame has +0.2 std on x05 and x06 and the two
most frequent categories of c1 swapped), writes them as parquet, fits our
reference profile once (outside any timing) and saves it, then runs every tool
``--repeats`` times (default 3), each run in a fresh subprocess
(``bench/peer_runner.py``; peers with their own venv's python, from
``bench/peers.py``), the tools interleaved repeat by repeat so that background
load hits them alike. It prints Markdown tables of the medians.

Tools: ``ours (profile)`` = ``DriftDetector(saved profile).test(current)``
(our production path: the profile is fitted at registration); ``ours (raw)`` =
``DriftDetector(reference frame)`` (profiles it) + ``test``; ``evidently`` =
``Report([DataDriftPreset()]).run``; ``evidently (stats only)`` = Evidently's
default per-column tests without the Report's widgets; ``nannyml`` =
``UnivariateDriftCalculator`` fit + calculate (current = one chunk);
``alibi-detect`` = ``TabularDrift`` + ``predict``. What is timed and what is
excluded: see ``peer_runner.py`` (statistics only; I/O, imports and a 500-row
warm-up excluded).

A tool that fails or exceeds ``--peer-timeout`` seconds (default 600) in a run
is recorded as such, and is not run again at that or any larger size.

Usage::

    python bench/speed.py                          # 10k 100k 1M, 3 repeats
    python bench/speed.py --sizes 10k 100k --repeats 1 --peer-timeout 120
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import datagen  # noqa: E402
import peers  # noqa: E402

from alignment_drift.core.drift.profile import ReferenceProfile  # noqa: E402

MB = 1024 * 1024
#: label -> (runner tool, environment: "ours" or a peer name, uses our saved profile)
TOOLS = {
    "ours (profile)": ("ours", "ours", True),
    "ours (raw)": ("ours", "ours", False),
    "evidently": ("evidently", "evidently", False),
    "evidently (stats only)": ("evidently_stats", "evidently", False),
    "nannyml": ("nannyml", "nannyml", False),
    "alibi-detect": ("alibi-detect", "alibi-detect", False),
}


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "km" else text) * mult)


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def run_job(python: Path | str, job: dict, timeout: float) -> dict:
    """Run peer_runner.py on ``job`` with ``python``; never raises."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(job, fh)
        path = fh.name
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [str(python), str(BENCH / "peer_runner.py"), path],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(BENCH),
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s", "timeout": True}
    finally:
        os.unlink(path)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        return {"ok": False, "error": f"exit {done.returncode}: {' | '.join(tail)}"}
    out = json.loads(lines[-1])
    out["wall_s"] = wall
    return out


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def fmt_cols(cols: list[str] | None) -> str:
    if cols is None:
        return "-"
    if not cols:
        return "none"
    if len(cols) > 6:
        return f"{len(cols)}: {','.join(cols[:4])},…"
    return ",".join(cols)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["10k", "100k", "1M"], help="rows per side (default 10k 100k 1M)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool and size; the median is reported")
    parser.add_argument("--peer-timeout", type=float, default=600.0, help="seconds per run before giving up")
    parser.add_argument("--tools", nargs="+", choices=list(TOOLS), default=list(TOOLS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "speed", help="data and raw JSON")
    parser.add_argument("--report-only", action="store_true", help="re-print the tables of OUT/speed.json")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()  # the runner works in bench/
    if args.report_only:
        print_tables(json.loads((args.out / "speed.json").read_text()), args)
        return 0
    sizes = [parse_size(s) for s in args.sizes]
    args.out.mkdir(parents=True, exist_ok=True)
    columns = {"numeric": datagen.NUMERIC, "categorical": datagen.CATEGORICAL}

    pythons: dict[str, Path | str] = {"ours": sys.executable}
    install_errors: dict[str, str] = {}
    for env in sorted({env for _, env, _ in (TOOLS[t] for t in args.tools)} - {"ours"}):
        try:
            peers.ensure(env)
            pythons[env] = peers.python_of(env)
        except Exception as error:
            install_errors[env] = f"install failed: {error}"

    header = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB",
        "python": platform.python_version(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
        "peers": {env: (peers.installed(env) or {}) for env in pythons if env != "ours"},
    }
    raw: dict = {"header": header, "sizes": {}}
    given_up: dict[str, str] = {}  # tool -> reason (timeout / failure at a smaller size)

    for n in sizes:
        tag = human(n)
        print(f"[speed] {tag}: generating data", file=sys.stderr, flush=True)
        ref = datagen.generate(n, args.seed, with_label=False)
        std = {c: float(ref[c].std()) for c in datagen.NUMERIC}
        cur = datagen.speed_current(n, args.seed + 1, std)
        ref_path, cur_path, prof_path = (args.out / f"{k}_{tag}.parquet" for k in ("ref", "cur", "profile"))
        ref.to_parquet(ref_path)
        cur.to_parquet(cur_path)
        t = time.perf_counter()
        profile = ReferenceProfile.fit(ref, **columns)
        fit_s = time.perf_counter() - t
        profile.save(prof_path)
        del ref, cur, profile
        batch_bytes = int(pd.read_parquet(cur_path).memory_usage(deep=True).sum())
        info = {
            "n": n,
            "batch_bytes": batch_bytes,
            "profile_fit_s": fit_s,
            "profile_file_bytes": prof_path.stat().st_size,
            "runs": {label: [] for label in args.tools},
        }

        base_job = {"mode": "speed", "reference": str(ref_path), "current": str(cur_path), **columns}
        # tracemalloc run of ours (profile): Python-heap peak of the test, not timed
        tm = run_job(sys.executable, {**base_job, "tool": "ours", "profile": str(prof_path), "tracemalloc": True}, 600)
        info["ours_tracemalloc"] = tm
        for rep in range(args.repeats):
            for label in args.tools:
                tool, env, uses_profile = TOOLS[label]
                if env in install_errors:
                    info["runs"][label].append({"ok": False, "error": install_errors[env]})
                    continue
                if label in given_up:
                    info["runs"][label].append({"ok": False, "error": given_up[label], "skipped": True})
                    continue
                job = {**base_job, "tool": tool, "variant": label, "profile": str(prof_path) if uses_profile else None}
                load = loadavg()
                print(f"[speed] {tag} repeat {rep + 1}: {label} (load {load:.1f})", file=sys.stderr, flush=True)
                out = run_job(pythons[env], job, args.peer_timeout)
                out["loadavg_before"] = load
                info["runs"][label].append(out)
                if not out.get("ok"):
                    reason = "timed out" if out.get("timeout") else "failed"
                    given_up[label] = f"not run: {reason} at {tag}"
                    print(f"[speed]   {label}: {out.get('error')}", file=sys.stderr, flush=True)
        raw["sizes"][tag] = info
        (args.out / "speed.json").write_text(json.dumps(raw, indent=1, default=str))

    print_tables(raw, args)
    return 0


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def print_tables(raw: dict, args) -> None:
    h = raw["header"]
    print(
        f"Speed benchmark, {h['date']}; {h['machine']}; Python {h['python']}; "
        f"OPENBLAS_CORETYPE={h['OPENBLAS_CORETYPE']}, OPENBLAS_L2_SIZE={h['OPENBLAS_L2_SIZE']} (left as found)."
    )
    if h["peers"]:
        print(
            "Peers: "
            + "; ".join(
                f"{k} {v.get(k)} (numpy {v.get('numpy')}, pandas {v.get('pandas')})" for k, v in h["peers"].items()
            )
            + "."
        )
    repeats = max((len(runs) for info in raw["sizes"].values() for runs in info["runs"].values()), default=0)
    print(
        f"Reference and current: n rows each, 20 numeric + 5 categorical columns; {repeats} runs per cell "
        "(fresh process each), median shown. Time = statistics only (see bench/README.md).\n"
    )
    print(
        "| size | tool | median s | min s | median CPU s | × ours (profile) | × ours (raw) | peak RSS MB | "
        "working set MB | (batch + working set) / batch | flagged | runs ok | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for tag, info in raw["sizes"].items():
        med = {}
        for label, runs in info["runs"].items():
            ok = [r for r in runs if r.get("ok")]
            med[label] = _median([r.get("seconds") for r in ok])
        for label, runs in info["runs"].items():
            ok = [r for r in runs if r.get("ok")]
            if not ok:
                err = runs[0].get("error", "no run") if runs else "no run"
                print(f"| {tag} | {label} | {err} | | | | | | | | | 0/{len(runs)} | |")
                continue
            s = med[label]

            def ratio(base: str, s: float = s, med: dict = med) -> str:
                return f"{s / med[base]:.1f}×" if med.get(base) else "-"

            peak = _median([r.get("peak_during") for r in ok])
            work = _median([r["peak_during"] - r["rss_before"] for r in ok])
            batch = _median([r.get("batch_bytes") for r in ok])
            rel = f"{(batch + work) / batch:.2f}" if batch else "-"
            flagged = fmt_cols(ok[-1].get("flagged"))
            loads = _median([r.get("loadavg_before") for r in ok])
            fastest = min(r["seconds"] for r in ok)
            cpu = _median([r.get("cpu_s") for r in ok])
            cpu_cell = f"{cpu:.3f}" if cpu is not None else "-"
            print(
                f"| {tag} | {label} | {s:.3f} | {fastest:.3f} | {cpu_cell} | {ratio('ours (profile)')} | "
                f"{ratio('ours (raw)')} | "
                f"{peak / MB:.0f} | {work / MB:.0f} | {rel} | {flagged} | {len(ok)}/{len(runs)} | {loads:.1f} |"
            )

    print(
        "\nOur memory during `test` (ours (profile), fresh process; medians). Batch = the current frame as "
        "our process holds it, `df.memory_usage(deep=True).sum()`.\n"
    )
    print(
        "| size | batch MB | RSS after imports MB | RSS before test MB | peak RSS during test MB | "
        "test working set MB (peak − before) | (batch + working set) / batch | "
        "tracemalloc peak / batch | profile load s | profile fit s (once) | profile file KB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for tag, info in raw["sizes"].items():
        ok = [r for r in info["runs"].get("ours (profile)", []) if r.get("ok")]
        if not ok:
            continue
        batch = info["batch_bytes"]
        imp = _median([r["rss_after_import"] for r in ok])
        before = _median([r["rss_before"] for r in ok])
        peak = _median([r["peak_during"] for r in ok])
        work = _median([r["peak_during"] - r["rss_before"] for r in ok])
        load_s = _median([r.get("load_s") for r in ok])
        tm = info.get("ours_tracemalloc", {}).get("tracemalloc_peak")
        tm_rel = f"{tm / batch:.2f}" if tm else "-"
        print(
            f"| {tag} | {batch / MB:.1f} | {imp / MB:.0f} | {before / MB:.0f} | {peak / MB:.0f} | {work / MB:.0f} | "
            f"{(batch + work) / batch:.2f} | {tm_rel} | {load_s:.3f} | "
            f"{info['profile_fit_s']:.2f} | {info['profile_file_bytes'] / 1024:.0f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
