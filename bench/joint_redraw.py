"""Joint tests over many nights against ONE reference: a fixed reference draw against a per-night redraw.

The reference is the reservoir (10,000 rows) of a 40,000-row profile; every night is a fresh drift-free batch
(skewed, heavy-tailed, discrete and missing values, a categorical with rare levels: the data of
``tests/core/drift/test_joint_calibration.py``). For each night the script runs MMD with each of ``--draws``
fixed reference draws (``test(batch)`` with ``random_state`` 0, 1, ...: the behaviour before per-night seeds)
and MMD and the domain classifier redrawn from the night's seed (``test(batch, seed=...)``), and prints the
false-alarm rate of each. It also prints the size of the demo spec's reference profile file with and without
its reservoir.

    .venv/bin/python bench/joint_redraw.py                       # 120 nights, 8 fixed draws (~15 min on 2 cores)
    .venv/bin/python bench/joint_redraw.py --nights 40 --draws 4 # quicker
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from alignment_drift.core.drift.multivariate import DomainClassifierDrift, MMDDrift
from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.drift.reservoir import seed_from

NUMERIC, CATEGORICAL = ["income", "age", "balance", "visits"], ["region", "channel"]
ROOT = Path(__file__).resolve().parents[1]


def population(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """The drift-free population (as in tests/core/drift/test_joint_calibration.py)."""
    age = np.round(18 + rng.gamma(3.0, 8.0, n))
    balance = rng.standard_t(3, n) * 1000.0
    balance[rng.random(n) < 0.05] = np.nan
    region = rng.choice(list("ABCDEFGHIJ"), n, p=[0.35, 0.25, 0.15, 0.1, 0.06, 0.04, 0.02, 0.015, 0.01, 0.005])
    return pd.DataFrame(
        {
            "income": np.exp(9.5 + 0.015 * age + rng.normal(0.0, 0.7, n)),
            "age": age,
            "balance": balance,
            "visits": rng.poisson(2.0, n).astype(float),
            "region": np.where(rng.random(n) < 0.02, None, region),
            "channel": rng.choice(["web", "app", "store"], n, p=[0.6, 0.3, 0.1]),
        }
    )


def false_alarms(nights: int, draws: int, permutations: int, reference_seed: int) -> None:
    rows = ReferenceProfile.fit(
        population(np.random.default_rng(reference_seed), 40_000), numeric=NUMERIC, categorical=CATEGORICAL
    ).reservoir.rows  # type: ignore[union-attr]
    common = {"numeric": NUMERIC, "categorical": CATEGORICAL}
    fixed = [MMDDrift(rows, permutations=permutations, random_state=r, **common) for r in range(draws)]
    mmd, classifier = MMDDrift(rows, permutations=permutations, **common), DomainClassifierDrift(rows, **common)
    fixed_alarms, redrawn = np.zeros(draws, dtype=int), np.zeros(2, dtype=int)
    with threadpool_limits(limits=1, user_api="openmp"):
        for night in range(nights):
            batch, seed = population(np.random.default_rng([7, night]), 1000), seed_from(f"night {night}")
            fixed_alarms += [model.test(batch).drift for model in fixed]
            redrawn += [mmd.test(batch, seed=seed).drift, classifier.test(batch, seed=seed).drift]
    error = math.sqrt(0.05 * 0.95 / nights)
    print(
        f"{nights} drift-free nights of 1,000 rows against one 10,000-row reservoir (alpha 0.05, MC s.e. {error:.3f})"
    )
    print("| joint test | reference rows | false-alarm rate |\n|---|---|---|")
    for r, count in enumerate(fixed_alarms):
        print(f"| MMD | one fixed draw (random_state {r}) | {count / nights:.3f} ({count}/{nights}) |")
    for name, count in zip(("MMD", "domain classifier"), redrawn, strict=True):
        print(f"| {name} | redrawn each night | {count / nights:.3f} ({count}/{nights}) |")


def profile_sizes() -> None:
    """The demo spec's reference profile file, with and without its reservoir, at two held-out sizes."""
    from alignment_drift.core.drift.output import output_columns, output_frame
    from alignment_drift.core.scoring import score_model
    from alignment_drift.core.spec import load_spec
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.pipeline.reference import split_holdout

    spec = load_spec(ROOT / "specs" / "content_safety.yaml")
    platform = ContentPlatform("stable", seed=0, start_date=spec.start_date)
    model = fit_pipeline(platform.training_data(), spec.columns, spec.retraining.training)
    out_numeric, out_categorical = output_columns(spec)
    options = {
        "numeric": [*spec.columns.numeric, *out_numeric],
        "categorical": [*spec.columns.categorical, *out_categorical],
        "bins": spec.drift.profile_bins,
        "max_categories": spec.drift.max_categories,
    }
    print("\n| demo reference (held-out rows) | reservoir rows | file without reservoir | file with reservoir |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for training_rows in (6000, 400_000):  # the demo's training data, and a large one
            _, held = split_holdout(spec, platform.training_data(training_rows))
            scored = score_model(
                model,
                held,
                task=spec.task,
                features=spec.columns.feature_names,
                threshold=spec.retraining.training.decision_threshold,
                positive=spec.columns.positive_class,
            )
            for name, column in output_frame(spec, scored).items():
                held[str(name)] = column.to_numpy()
            bare = ReferenceProfile.fit(held, **options, reservoir_rows=0).save(Path(tmp) / "bare.parquet")
            full = ReferenceProfile.fit(held, **options)
            path = full.save(Path(tmp) / "full.parquet")
            kept = len(full.reservoir.rows)  # type: ignore[union-attr]
            print(f"| {len(held):,} | {kept:,} | {bare.stat().st_size:,} B | {path.stat().st_size:,} B |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=120)
    parser.add_argument("--draws", type=int, default=8, help="fixed reference draws to compare")
    parser.add_argument("--permutations", type=int, default=99, help="MMD permutations (drift's default is 199)")
    parser.add_argument("--reference-seed", type=int, default=12345)
    args = parser.parse_args()
    false_alarms(args.nights, args.draws, args.permutations, args.reference_seed)
    profile_sizes()


if __name__ == "__main__":
    main()
