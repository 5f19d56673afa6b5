"""Nights against one fixed reference: the redrawn joint tests false-alarm at ``alpha``, a fixed draw does not.

The reference is the 10,000-row reservoir of a 40,000-row profile (the rows ``drift PROFILE CURRENT`` tests
from); each night is a fresh drift-free batch of 1,000 rows. The data are not N(0, 1): a right-skewed income tied
to a discrete age, a heavy-tailed balance with 5 % missing, Poisson counts, a 10-level region with levels at
0.5-2 % and 2 % missing, and a 3-level channel.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from alignment_drift.core.drift.multivariate import DomainClassifierDrift, MMDDrift
from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.drift.reservoir import seed_from

NUMERIC, CATEGORICAL = ["income", "age", "balance", "visits"], ["region", "channel"]
ALPHA = 0.05
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def _one_openmp_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def _population(rng: np.random.Generator, n: int) -> pd.DataFrame:
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


@pytest.fixture(scope="module")
def reservoir_rows() -> pd.DataFrame:
    profile = ReferenceProfile.fit(
        _population(np.random.default_rng(12345), 40_000), numeric=NUMERIC, categorical=CATEGORICAL
    )
    assert profile.reservoir is not None and len(profile.reservoir.rows) == 10_000
    return profile.reservoir.rows


def _night(t: int) -> pd.DataFrame:
    return _population(np.random.default_rng([7, t]), 1000)


@pytest.mark.parametrize("detector", [MMDDrift, DomainClassifierDrift], ids=["mmd", "domain_classifier"])
def test_redrawn_each_night_the_false_alarm_rate_is_at_most_alpha(detector: type, reservoir_rows) -> None:
    """100 nights, defaults of ``drift`` (MMD: 1,500 rows a side, 199 permutations; classifier: 5 folds).

    Bound: alpha + 3 binomial standard errors (as in test_multivariate), 0.115. Measured: MMD 10 and the
    classifier 0 alarms in 100 nights (the classifier tests the night's 1,000 rows against all 10,000 reservoir
    rows; it had 1 alarm when it subsampled the reservoir to the batch's size). Conditional on one reference a
    rate can sit a little above alpha (the reference is a finite sample); over 300 nights with 99 permutations
    this reference's MMD rate was 0.060, two other references' 0.033 and 0.027.
    """
    nights = 100
    model = detector(reservoir_rows, numeric=NUMERIC, categorical=CATEGORICAL, alpha=ALPHA)
    alarms = sum(model.test(_night(t), seed=seed_from(f"night {t}")).drift for t in range(nights))
    assert alarms / nights <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / nights), f"{alarms} of {nights} nights"
    print(f"{detector.__name__}: {alarms} false alarms in {nights} nights")


def test_a_fixed_draw_repeats_its_alarms_night_after_night_a_redrawn_one_does_not(reservoir_rows) -> None:
    """Four fixed reference draws against four redrawn ones, on the same 30 nights (MMD, 99 permutations).

    A fixed draw (``test(batch)``, ``random_state`` 0-3) is a property of the model that persists every night:
    some draws sit closer to the nights' data than others, and their p-values rank consistently within nights
    (Friedman test over nights as blocks: p < 0.01; measured 1.6e-05). Four redraw families (``seed`` from the
    night and the family) have no such persistent effect (Friedman p > 0.01; measured 0.9), and their alarms
    stay within alpha + 3 standard errors (measured 4 in 120 tests; the fixed draws 6 in 120).
    """
    nights, draws = 30, 4
    fixed = [
        MMDDrift(reservoir_rows, numeric=NUMERIC, categorical=CATEGORICAL, permutations=99, random_state=r)
        for r in range(draws)
    ]
    redrawn = MMDDrift(reservoir_rows, numeric=NUMERIC, categorical=CATEGORICAL, permutations=99)
    p_fixed, p_redrawn = np.zeros((draws, nights)), np.zeros((draws, nights))
    for t in range(nights):
        batch = _night(t)
        for r in range(draws):
            p_fixed[r, t] = fixed[r].test(batch).p_value
            p_redrawn[r, t] = redrawn.test(batch, seed=seed_from(f"night {t} family {r}")).p_value
    persistent = stats.friedmanchisquare(*p_fixed).pvalue
    fresh = stats.friedmanchisquare(*p_redrawn).pvalue
    summary = (
        f"Friedman p fixed {persistent:.2g}, redrawn {fresh:.2g}; alarms per draw fixed "
        f"{(p_fixed <= ALPHA).sum(axis=1).tolist()}, redrawn {(p_redrawn <= ALPHA).sum(axis=1).tolist()} of {nights}"
    )
    assert persistent < 0.01, summary
    assert fresh > 0.01, summary
    assert (p_redrawn <= ALPHA).mean() <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / p_redrawn.size), summary
    print(summary)
