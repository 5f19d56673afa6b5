"""Many models: one night for N monitored models through the monitor's pipeline steps; wall time and peak memory.

Each model is a copy of the demo spec under its own name (its own MLflow
experiment, registered model and history). Setup — the simulated data and a
first champion per model, trained, gated and promoted by the retrain steps —
is timed apart. The night then runs every model's monitor steps in the DAG's
order (pull, validate, partitions, profile_partition, drift, benchmarks,
trend, verdict, record) in one process, as one pool slot would run them one
after the other; with a pool of P slots on C cores the night takes about
``total / min(P, C)``. Everything lives in a throw-away folder (SQLite MLflow
store), deleted afterwards.

    .venv/bin/python bench/many_models.py            # 100 models
    .venv/bin/python bench/many_models.py --models 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from nightly import store_env  # noqa: E402  (the same throw-away store as the nightly benchmark)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100, help="number of monitored models (default 100)")
    parser.add_argument("--rows", type=int, default=1500, help="rows per model per night")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alignment-drift-many-"))
    os.environ.update(store_env(work))
    sys.path.insert(0, str(ROOT / "plugins"))
    import logging

    logging.disable(logging.WARNING)
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import promotion, retrain
    from alignment_drift.pipeline.check import run_check
    from alignment_drift.settings import Settings

    try:
        settings = Settings.from_env(ROOT)
        base = load_spec(settings.specs_dir / "content_safety.yaml")
        platform = ContentPlatform("stable", seed=11, rows_per_night=args.rows, start_date=base.start_date)
        prepare_data(settings, base, platform)
        specs = [base.model_copy(update={"model": f"model_{i:03d}"}) for i in range(args.models)]
        start = night_start(base.start_date, 1)
        end = start + dt.timedelta(days=1)

        began = time.perf_counter()
        for spec in specs:
            key = f"{spec.model}/bootstrap"
            assembled = retrain.assemble(spec, settings, as_of=start, key=key)
            trained = retrain.train(spec, settings, assembled, key=key, reason="initial champion", tags={})
            decided = promotion.decide_promotion(spec, settings, trained, retrain.gate(spec, settings, trained))
            assert decided["decision"] == "promoted", decided
        setup = time.perf_counter() - began

        champion = registry.champion(settings, specs[0].model)
        model = registry.load_model(settings, specs[0].model, champion.version)
        log = platform.night(1, model, model_version=champion.version)
        path = settings.resolve_data(
            base.source.path.format(date=f"{start:%Y-%m-%d}", model=base.model, start="", end="")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)

        verdicts: dict[str, int] = {}
        per_model: list[float] = []
        began = time.perf_counter()
        for spec in specs:
            t0 = time.perf_counter()
            checked = run_check(spec, settings, start=start, end=end, dag_id=spec.monitor_dag_id, run_id="bench")
            verdict = checked.recorded.verdict
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            per_model.append(time.perf_counter() - t0)
        night = time.perf_counter() - began
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        per_model.sort()
        print(f"models {args.models}, {args.rows} rows each; setup (first champions) {setup:.0f} s")
        print("| models | night wall s | s per model (median / max) | peak RSS MB | verdicts |")
        print("|---|---|---|---|---|")
        print(
            f"| {args.models} | {night:.0f} | {per_model[len(per_model) // 2]:.1f} / {per_model[-1]:.1f} "
            f"| {peak:.0f} | {verdicts} |"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
