"""The monitor's joint tests redraw the reference sample each night, from a seed of the data interval."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.pipeline.night import Interval
from alignment_drift.pipeline.steps.drift import _multivariate, night_seed

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ALPHAS = {"domain_classifier": 0.025, "mmd": 0.025}


def _night(day: int) -> Any:
    start = START + dt.timedelta(days=day)
    return SimpleNamespace(interval=Interval.of(start, start + dt.timedelta(days=1)))


def _features(spec: Any, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.lognormal(size=n) for name in spec.columns.numeric})
    for name in spec.columns.categorical:
        frame[name] = rng.choice(["a", "b", "rare"], n, p=[0.6, 0.39, 0.01])
    return frame


def test_the_night_seed_is_the_interval_start_s_hash_stable_across_reruns() -> None:
    seeds = [night_seed(_night(day)) for day in range(30)]
    assert len(set(seeds)) == 30
    assert night_seed(_night(3)) == seeds[3]  # a rerun of a night draws what the first run drew
    naive = SimpleNamespace(interval=Interval(start="2026-01-04T00:00:00", end="2026-01-05T00:00:00"))
    assert night_seed(naive) == seeds[3]  # a naive timestamp is UTC, as the interval's bounds read it


def test_each_night_draws_its_own_reference_sample_and_a_rerun_repeats_it(content_spec: Any) -> None:
    reference, batch = _features(content_spec, 3000, 1), _features(content_spec, 500, 2)
    runs = {day: _multivariate(content_spec, reference, batch, ALPHAS, seed=night_seed(_night(day))) for day in (0, 1)}
    assert runs[0] == _multivariate(content_spec, reference, batch, ALPHAS, seed=night_seed(_night(0)))
    mmd = [runs[day]["mmd"] for day in (0, 1)]
    assert mmd[0]["n_reference"] == mmd[1]["n_reference"] == content_spec.drift.multivariate.mmd_max_rows
    assert mmd[0]["statistic"] != mmd[1]["statistic"]  # another 1,000 of the 3,000 reference rows
    assert runs[0]["domain_classifier"]["statistic"] != runs[1]["domain_classifier"]["statistic"]


def test_a_version_s_reference_profile_carries_a_reservoir_for_the_registry(content_spec: Any, tmp_path) -> None:
    """What adopt and the retrain DAG log as ``reference/profile.parquet``: ``drift PROFILE CURRENT`` can use it."""
    from alignment_drift.core.drift.output import output_columns
    from alignment_drift.core.drift.profile import ReferenceProfile
    from alignment_drift.pipeline.reference import reference_profile

    frame = _features(content_spec, 12_000, 3)
    out_numeric, out_categorical = output_columns(content_spec)
    for name in out_numeric:
        frame[name] = np.random.default_rng(4).random(len(frame))
    for name in out_categorical:
        frame[name] = np.random.default_rng(5).integers(0, 2, len(frame))
    saved = reference_profile(content_spec, frame).save(tmp_path / "profile.parquet")
    kept = ReferenceProfile.load(saved).reservoir
    assert kept is not None and len(kept.rows) == 10_000 and kept.seen == 12_000
    assert set(kept.rows.columns) == {*content_spec.columns.feature_names, *out_numeric, *out_categorical}
