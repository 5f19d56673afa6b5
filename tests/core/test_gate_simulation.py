"""The gate's error rates, measured: challengers at a known true difference on a census-like population.

A champion (logistic regression) and a challenger (gradient boosting, fitted
on other rows) are scored on every row of a 50,000-person census-like
population; the challenger's threshold is set so that its population recall
is the champion's plus a known difference (a truly worse, equal or better
model whose decisions disagree with the champion's as a retrained model's
do). Each trial draws an audit set (1,000 rows, or 3,000 as in the demo's
``audit.parquet``) and runs the gate's rule on it (margin 0.02, 500 paired
replicates, 95 %).

Claims (``m`` = margin): a challenger truly worse by ``2m`` is promoted in
at most 5 % of audit sets (upper 95 % Clopper-Pearson bound over the
trials); an equally good one is rejected as worse in at most 2.5 % (alpha/2)
and otherwise promoted or held as ``insufficient_evidence``; a challenger
whose true recall is below its floor is not promoted. The rates printed in
``bench/README.md`` come from ``bench/gate_power.py``, which runs the same world.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import beta
from threadpoolctl import threadpool_limits

from alignment_drift.core.benchmarks.metric_floor import evaluate_metric_floor
from alignment_drift.core.benchmarks.result import Scored
from alignment_drift.core.gate import GateReference, judge_challenger
from alignment_drift.core.spec import MetricFloor
from alignment_drift.demo.simulate.challengers import GateWorld

MARGIN = 0.02
TRIALS = 200


@pytest.fixture(scope="module")
def world() -> GateWorld:
    return GateWorld.build(population=50_000, train_rows=3_000, seed=0)


def run_trials(
    world: GateWorld,
    *,
    difference: float,
    n: int,
    trials: int,
    seed: int,
    floor: float = 0.3,
    against_champion: bool = True,
) -> Counter[str]:
    """The gate's decisions over ``trials`` audit sets of ``n`` rows (floor far below unless given)."""
    threshold = world.threshold_for(difference)
    bench = MetricFloor(name="audit_recall", metric="recall", floor=floor)
    rng = np.random.default_rng(seed)
    decisions: Counter[str] = Counter()
    with threadpool_limits(limits=1, user_api="blas"):  # matrix-vector products: threads only contend
        for _ in range(trials):
            decisions[_one_trial(world, bench, threshold, n, rng, against_champion)] += 1
    return decisions


def _one_trial(
    world: GateWorld, bench: MetricFloor, threshold: float, n: int, rng: np.random.Generator, against_champion: bool
) -> str:
    """One audit set drawn, both models' decisions on it, the gate's decision."""
    rows = world.audit(n, rng)
    y = world.y[rows].astype(float)
    score = world.challenger_score[rows]
    challenger = Scored(y, score, (score >= threshold).astype(np.int64))
    ref_score = world.champion_score[rows]
    reference = Scored(y, ref_score, (ref_score >= world.champion_threshold).astype(np.int64))
    decision = judge_challenger(
        [bench],
        challenger=challenger,
        results=[evaluate_metric_floor(bench, challenger, None)],
        references=[GateReference("champion", "1", reference)] if against_champion else [],
        margin=MARGIN,
    )
    return decision.decision


def upper_bound(count: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate."""
    return 1.0 if count == trials else float(beta.ppf(confidence, count + 1, trials - count))


def test_the_world_has_the_differences_it_claims(world: GateWorld) -> None:
    assert 0.2 < world.y.mean() < 0.3  # census-like prevalence
    for difference in (-3 * MARGIN, -2 * MARGIN, 0.0, MARGIN):
        recall = world.population_recall(world.challenger_score, world.threshold_for(difference))
        assert recall - world.champion_recall == pytest.approx(difference, abs=2e-4)
    # a different model, not a relabelled copy: they disagree on many positives
    same = world.challenger_score >= world.threshold_for(0.0)
    positives = world.y == 1
    assert (same[positives] != (world.champion_score >= 0.5)[positives]).mean() > 0.05


@pytest.mark.parametrize("n", [3000, 1000])
def test_a_challenger_worse_by_twice_the_margin_is_almost_never_promoted(world: GateWorld, n: int) -> None:
    decisions = run_trials(world, difference=-2 * MARGIN, n=n, trials=TRIALS, seed=n)
    assert upper_bound(decisions["promote"], TRIALS) <= 0.05, decisions
    assert decisions["reject"] > 0, decisions  # and it is shown worse in some audit sets


@pytest.mark.parametrize("n", [3000, 1000])
def test_an_equally_good_challenger_is_rarely_rejected_and_sometimes_promoted(world: GateWorld, n: int) -> None:
    decisions = run_trials(world, difference=0.0, n=n, trials=TRIALS, seed=10 + n)
    assert decisions["reject"] / TRIALS <= 0.025, decisions
    assert decisions["promote"] + decisions["insufficient_evidence"] + decisions["reject"] == TRIALS
    assert decisions["promote"] / TRIALS >= 0.05, decisions  # the gate can promote: not "never" by construction


def test_a_better_challenger_is_mostly_promoted_at_the_demo_audit_size(world: GateWorld) -> None:
    decisions = run_trials(world, difference=2 * MARGIN, n=3000, trials=TRIALS, seed=7)
    assert decisions["promote"] / TRIALS >= 0.8, decisions
    assert decisions["reject"] == 0, decisions


def test_a_challenger_below_its_floor_is_not_promoted(world: GateWorld) -> None:
    """Floors are judged on the interval's lower bound: a true recall 0.02 under the floor is not promoted."""
    true_recall = world.champion_recall  # difference 0: the challenger's true recall is the champion's
    decisions = run_trials(
        world, difference=0.0, n=3000, trials=TRIALS, seed=3, floor=true_recall + 0.02, against_champion=False
    )
    assert upper_bound(decisions["promote"], TRIALS) <= 0.05, decisions
    above = run_trials(
        world, difference=0.0, n=3000, trials=TRIALS, seed=4, floor=true_recall - 0.07, against_champion=False
    )
    assert above["promote"] / TRIALS >= 0.9, above


@pytest.mark.slow
@pytest.mark.parametrize("n", [1000, 3000])
def test_at_the_margin_the_promotion_rate_is_near_alpha_over_two(world: GateWorld, n: int) -> None:
    """The size of the test: a challenger exactly ``margin`` worse is promoted in about 2.5 % of audit sets."""
    trials = 1000
    decisions = run_trials(world, difference=-MARGIN, n=n, trials=trials, seed=100 + n)
    assert decisions["promote"] / trials <= 0.05, decisions
    assert decisions["reject"] / trials <= 0.05, decisions
