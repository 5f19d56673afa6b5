"""One night's ``alignment-drift check --batch`` at size for models that are not the demo's.

Three owner models, registered with MLflow itself (skops), each taken on the
way a team does it (``alignment-drift init`` from the model URI and labelled
reference data, then ``alignment-drift adopt``):

- ``binary``: a scaled LogisticRegression Pipeline on scikit-learn's breast
  cancer data, its labels the strings ``"malignant"`` / ``"benign"``;
- ``multiclass``: a RandomForest on the wine data, its labels the cultivars'
  names, with a ``class_in`` exposure rule (the items it labels ``barolo`` are
  the ones shown);
- ``regression``: a Ridge Pipeline on the diabetes data.

The night's log is N rows drawn with replacement from the rows ``init`` kept
for training (numeric measurements with a little jitter), scored by the
champion and written as one Parquet file with the columns the spec names; a
quarter of the rows carry their label. The command runs as a user runs it,
spawned by a minimal launcher (see ``bench/nightly.py``: the parent's pages are
not counted in the child's peak); wall seconds of the whole process and its
``ru_maxrss``. Before it, the check's steps run one by one in another fresh
process, each timed with its peak RSS (``bench/nightly.py``'s stage timer).

    .venv/bin/python bench/byom_nightly.py                     # 1M rows, each model
    .venv/bin/python bench/byom_nightly.py --rows 100000 --tasks multiclass
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "bench"))

from nightly import LAUNCHER, STAGES, store_env  # noqa: E402  (the same launcher, stages and store as the demo's)

DAY = dt.date(2026, 1, 1)
LABELLED = 0.25  # share of the night's rows whose label has arrived


def owner_model(task: str) -> tuple[Any, pd.DataFrame, str]:
    """(fitted model, labelled reference rows it never saw, target column) for ``task``."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "binary":
        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
        y = y.map({0: "malignant", 1: "benign"})
        model: Any = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        target = "diagnosis"
    elif task == "multiclass":
        x, y = load_wine(return_X_y=True, as_frame=True)
        y = y.map({0: "barolo", 1: "grignolino", 2: "barbera"})
        model = RandomForestClassifier(n_estimators=60, random_state=0)
        target = "cultivar"
    else:
        x, y = load_diabetes(return_X_y=True, as_frame=True)
        model = make_pipeline(StandardScaler(), Ridge(alpha=0.1))
        target = "progression"
    x.columns = [c.replace(" ", "_") for c in x.columns]
    keep = np.random.default_rng(0).random(len(x)) < 0.3
    model.fit(x[keep], y[keep])
    return model, x[~keep].assign(**{target: y[~keep].to_numpy()}).reset_index(drop=True), target


#: What each owner reviewed and trusts in their model's skops file (a forest's trees).
TRUSTED = {"multiclass": ["sklearn.tree._tree.Tree"]}


def register(name: str, model: Any, example: pd.DataFrame, trusted: list[str]) -> None:
    import mlflow
    import mlflow.sklearn

    mlflow.set_experiment("owner-team-models")
    with mlflow.start_run(run_name=f"train {name}"):
        mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            input_example=example,
            serialization_format="skops",
            skops_trusted_types=trusted or None,
        )


def cli(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alignment_drift.cli", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(
            f"alignment-drift {args[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )


def adopt_owner(task: str, work: Path, env: dict[str, str]) -> Path:
    """Register the owner's model, ``init`` its spec (exposure reviewed for the multiclass one), ``adopt`` it."""
    model, reference, target = owner_model(task)
    name = f"owner_{task}"
    trusted = TRUSTED.get(task, [])
    register(name, model, reference.drop(columns=[target]).head(5), trusted)
    ref_path = work / f"{name}-reference.parquet"
    reference.to_parquet(ref_path, index=False)
    uri = f"models:/{name}/1"
    cli("init", "--model-uri", uri, "--reference", str(ref_path), "--target", target, "--name", name,
        "--start-date", DAY.isoformat(), "--audit-fraction", "0.5", *[a for t in trusted for a in ("--trust", t)],
        env=env)  # fmt: skip
    spec_path = work / "specs" / f"{name}.yaml"
    if task == "multiclass":
        data = yaml.safe_load(spec_path.read_text())
        data["exposure"] = {"rule": "class_in", "classes": ["barolo"]}
        spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
    cli("adopt", str(spec_path), "--model-uri", uri, env=env)
    return spec_path


def write_batch(spec_path: Path, rows: int, path: Path) -> None:
    """``rows`` log rows: the spec's training rows resampled, jittered, scored by the champion."""
    from alignment_drift.core.scoring import score_model
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.settings import Settings

    spec = load_spec(spec_path)
    settings = Settings.from_env(spec_path.parents[1])
    roles = spec.columns
    rng = np.random.default_rng(rows)
    pool = pd.read_parquet(settings.resolve_data(spec.reference.training_data))
    batch = pool.iloc[rng.integers(0, len(pool), rows)].reset_index(drop=True)
    for column in (f.name for f in roles.features if f.kind == "numeric"):
        values = batch[column]
        if values.nunique() > 10:
            noisy = values + rng.normal(0.0, 0.05 * values.std(), rows)  # within the range the owner has seen
            batch[column] = noisy.clip(pool[column].min(), pool[column].max())
    champion = registry.champion(settings, spec.model)
    assert champion is not None
    model = registry.load_model(settings, spec.model, champion.version)
    out = score_model(
        model,
        batch,
        task=spec.task,
        features=roles.feature_names,
        threshold=spec.retraining.training.decision_threshold,
        positive=roles.positive_class,
    )
    start = pd.Timestamp(DAY, tz="UTC")
    log = pd.DataFrame(
        {
            roles.id: [f"r{i:09d}" for i in range(rows)],
            roles.timestamp: start + pd.to_timedelta(np.sort(rng.integers(0, 86_400, rows)), unit="s"),
        }
    )
    for feature in roles.feature_names:
        log[feature] = batch[feature].to_numpy()
    log[roles.prediction] = out.prediction
    if roles.score:
        log[roles.score] = out.score
    labels = batch[roles.target].astype(object).to_numpy().copy()
    labels[rng.random(rows) >= LABELLED] = None
    log[roles.target] = pd.Series(labels, dtype=batch[roles.target].dtype if spec.task == "regression" else "str")
    log[roles.timestamp] = log[roles.timestamp].astype("datetime64[us, UTC]")
    log.to_parquet(path, index=False)


def run_check(spec_path: Path, batch: Path, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "alignment_drift.cli", "check", str(spec_path), "--date", DAY.isoformat(),
               "--batch", str(batch), "--format", "json"]  # fmt: skip
    out, err = batch.with_suffix(".out"), batch.with_suffix(".err")
    launched = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, str(out), str(err), *command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    usage = json.loads(launched.stdout)
    if usage["code"] not in (0, 1):
        raise SystemExit(f"alignment-drift check failed ({usage['code']}):\n{err.read_text()[-3000:]}")
    result = json.loads(out.read_text())
    return {
        "seconds": usage["seconds"],
        "max_rss_mb": usage["max_rss_kb"] / 1024,
        "verdict": result["verdict"],
        "benchmarks": len(result.get("benchmarks", [])),
        "timings": result.get("timings"),
    }


def run_stages(spec_path: Path, batch: Path, env: dict[str, str]) -> dict[str, Any]:
    """The check's steps one by one in a fresh process (``bench/nightly.py``'s stage timer): seconds, peak MiB."""
    done = subprocess.run(
        [sys.executable, "-c", STAGES, str(spec_path), DAY.isoformat(), str(batch)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the stages' process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1])["stages"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each night's batch")
    parser.add_argument("--tasks", nargs="+", default=["binary", "multiclass", "regression"])
    parser.add_argument("--repeats", type=int, default=1, help="runs of the command per model")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away folder and the batches")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="alignment-drift-byom-"))
    for sub in ("specs", "expectations", "data"):
        (work / sub).mkdir()
    env = {
        **os.environ,
        **store_env(work, home=work),
        "ALIGNMENT_DRIFT_SPECS_DIR": str(work / "specs"),
        "ALIGNMENT_DRIFT_EXPECTATIONS_DIR": str(work / "expectations"),
    }
    os.environ.update(env)
    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    results: dict[str, list[dict[str, Any]]] = {}
    stages: dict[str, dict[str, Any]] = {}
    try:
        for task in args.tasks:
            spec_path = adopt_owner(task, work, env)
            batch = work / f"batch_{task}.parquet"
            write_batch(spec_path, args.rows, batch)
            stages[task] = run_stages(spec_path, batch, env)
            results[task] = [run_check(spec_path, batch, env) for _ in range(args.repeats)]
            print(json.dumps({task: {"stages": stages[task], "command": results[task]}}), flush=True)
            if not args.keep:
                batch.unlink()
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nOwner models' nights, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, "
        f"{platform.machine()}; Python {platform.python_version()}; {args.rows:,} rows a night\n"
    )
    names = list(next(iter(stages.values()))) if stages else []
    print("| stage | " + " | ".join(f"{t} s | {t} peak MiB" for t in stages) + " |")
    print("|---|" + "---|---|" * len(stages))
    for name in names:
        cells = " | ".join(f"{s[name]['seconds']:.1f} | {s[name]['peak_rss_mb']:,.0f}" for s in stages.values())
        print(f"| {name} | {cells} |")
    print()
    print("| model | `check` wall s (each run) | peak RSS MiB | verdict | benchmarks |")
    print("|---|---|---|---|---|")
    for task, runs in results.items():
        seconds = " / ".join(f"{r['seconds']:.1f}" for r in runs)
        peak = max(r["max_rss_mb"] for r in runs)
        print(f"| {task} | {seconds} | {peak:,.0f} | {runs[-1]['verdict']} | {runs[-1]['benchmarks']} |")


if __name__ == "__main__":
    main()
