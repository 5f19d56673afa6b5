"""The joint tests' per-night redraw of the reference subsample: deterministic per seed, fresh across seeds."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from alignment_drift.core.drift.multivariate import DomainClassifierDrift, MMDDrift

DETECTORS = [
    pytest.param(DomainClassifierDrift, {"max_rows": 300}, id="domain_classifier"),
    pytest.param(MMDDrift, {"max_rows": 300, "permutations": 49}, id="mmd"),
]


@pytest.fixture(autouse=True, scope="module")
def _one_openmp_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": rng.lognormal(size=n),
            "b": np.where(rng.random(n) < 0.05, np.nan, rng.standard_t(3, n)),
            "c": rng.choice(["x", "y", "rare"], n, p=[0.6, 0.39, 0.01]),
        }
    )


@pytest.mark.parametrize(("detector", "options"), DETECTORS)
def test_a_seed_gives_one_result_and_other_seeds_redraw_the_reference(detector: type, options: dict) -> None:
    rng = np.random.default_rng(1)
    reference, batch = _frame(rng, 5000), _frame(rng, 250)
    model = detector(reference, numeric=["a", "b"], categorical=["c"], **options)
    assert model.test(batch, seed=7) == model.test(batch, seed=7)
    fixed = model.test(batch)
    assert model.test(batch) == fixed  # no seed: the one draw made at construction, as before
    statistics = {model.test(batch, seed=s).statistic for s in range(5)}
    assert len(statistics) == 5, statistics  # five nights, five reference draws
    reference["a"] += 100.0  # the detector keeps its own rows; later edits do not leak into a redraw
    assert model.test(batch, seed=7) == detector(
        reference.assign(a=reference["a"] - 100.0), numeric=["a", "b"], categorical=["c"], **options
    ).test(batch, seed=7)


@pytest.mark.parametrize(("detector", "options"), DETECTORS)
@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "3"])
def test_a_bad_seed_is_refused_with_the_allowed_range(detector: type, options: dict, seed: object) -> None:
    rng = np.random.default_rng(2)
    model = detector(_frame(rng, 100), numeric=["a"], **options)
    with pytest.raises(ValueError, match=r"The 'seed' parameter must be an int in \[0, 4294967295\]"):
        model.test(_frame(rng, 50), seed=seed)


@pytest.mark.parametrize(("detector", "options"), DETECTORS)
def test_a_reference_within_max_rows_is_used_whole_whatever_the_seed(detector: type, options: dict) -> None:
    rng = np.random.default_rng(3)
    reference, batch = _frame(rng, 200), _frame(rng, 200)
    model = detector(reference, numeric=["a", "b"], categorical=["c"], **options)
    assert {model.test(batch, seed=s).n_reference for s in range(3)} == {200}
