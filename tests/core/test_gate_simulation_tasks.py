"""The gate's error rates for multiclass and regression models, measured like the binary ones.

Worlds from :mod:`alignment_drift.demo.simulate.task_challengers` (a
census-like population: occupation among 8 imbalanced classes; income in
dollars, heavy-tailed). Each trial draws an audit set and runs the gate's rule
(spec margin 0.02: 0.02 of accuracy; for ``mae`` 2 % of the reference's
error), 500 paired replicates at 95 %.

Claims, as for binary models (``m`` = margin): a challenger truly worse by
``2m`` is promoted in at most 5 % of audit sets (upper 95 % Clopper-Pearson
bound); an equally good one is rejected as worse in at most 2.5 % and is
sometimes promoted; a clearly better one is mostly promoted.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from tests.core.test_gate_simulation import upper_bound

from alignment_drift.demo.simulate.task_challengers import BENCHMARKS, TaskWorld, gate_trials

MARGIN = 0.02
TRIALS = 200


@pytest.fixture(scope="module")
def worlds() -> dict[str, TaskWorld]:
    return {kind: TaskWorld.build(kind, population=60_000, train_rows=3_000, seed=0) for kind in BENCHMARKS}


def run_trials(world: TaskWorld, *, difference: float, n: int, trials: int, seed: int) -> Counter[str]:
    return gate_trials(world, difference=difference, n=n, trials=trials, seed=seed, margin=MARGIN)


# worse: accuracy lower by 2m; the regression's MAE higher by 2m (relative)
WORSE = {"multiclass": -2 * MARGIN, "regression": 2 * MARGIN}


def test_the_worlds_have_the_differences_they_claim(worlds: dict[str, TaskWorld]) -> None:
    multi, reg = worlds["multiclass"], worlds["regression"]
    assert len(np.unique(multi.y)) == 8 and np.bincount(multi.y).max() / len(multi.y) < 0.4
    champion_accuracy = (multi.champion == multi.y).mean()
    for difference in (-0.04, 0.0, 0.02):
        accuracy = (multi.challenger_for(difference) == multi.y).mean()
        assert accuracy - champion_accuracy == pytest.approx(difference, abs=1 / len(multi.y))
    assert (multi.challenger_for(0.0) != multi.champion).mean() > 0.1  # a different model, not a copy
    assert np.mean(reg.y) > 2 * np.median(reg.y) * 0.6 and reg.y.max() > 10 * np.median(reg.y)  # heavy right tail
    champion_mae = np.abs(reg.champion - reg.y).mean()
    assert np.abs(reg.challenger_for(0.04) - reg.y).mean() == pytest.approx(1.04 * champion_mae, rel=1e-9)


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_a_challenger_worse_by_twice_the_margin_is_almost_never_promoted(worlds: dict, kind: str) -> None:
    decisions = run_trials(worlds[kind], difference=WORSE[kind], n=3000, trials=TRIALS, seed=1)
    assert upper_bound(decisions["promote"], TRIALS) <= 0.05, decisions
    assert decisions["reject"] > 0, decisions


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_an_equally_good_challenger_is_rarely_rejected_and_sometimes_promoted(worlds: dict, kind: str) -> None:
    decisions = run_trials(worlds[kind], difference=0.0, n=3000, trials=TRIALS, seed=2)
    assert decisions["reject"] / TRIALS <= 0.025, decisions
    assert decisions["promote"] / TRIALS >= 0.05, decisions


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_a_better_challenger_is_mostly_promoted(worlds: dict, kind: str) -> None:
    decisions = run_trials(worlds[kind], difference=-WORSE[kind], n=3000, trials=TRIALS, seed=3)
    assert decisions["promote"] / TRIALS >= 0.8, decisions
    assert decisions["reject"] == 0, decisions
