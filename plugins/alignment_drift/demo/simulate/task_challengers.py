"""Multiclass and regression challengers at a known true difference, for the gate's error rates.

The census-like population of :mod:`.challengers` gives two more tasks:

- **multiclass**: a person's occupation (8 imbalanced classes) from the other
  features; the champion is a multinomial logistic regression, the base
  challenger a gradient-boosting classifier fitted on other rows;
- **regression**: annual income (log-normal, heavy right tail, in dollars) from
  the features; the champion is a ridge regression on the log scale, the base
  challenger gradient boosting.

A challenger at a known difference is derived from the base challenger:

- multiclass accuracy: rows the base challenger gets right are switched to
  their second most probable class (or rows it gets wrong to the truth) until
  its **population** accuracy is the champion's plus the difference, exactly
  (to one row in the population);
- regression MAE: the challenger's errors are the base challenger's scaled by
  ``λ``, so its population MAE is exactly the champion's times ``1 + r``
  (``r`` the relative difference; the gate's margin for ``mae`` is relative).

Examples
--------
>>> world = TaskWorld.build("regression", population=10_000, train_rows=2_000, seed=1)
>>> pred = world.challenger_for(0.04)
>>> round(float(np.abs(pred - world.y).mean() / np.abs(world.champion - world.y).mean()), 3)
1.04
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from alignment_drift.core.benchmarks.result import Scored
from alignment_drift.core.spec import MetricFloor
from alignment_drift.demo.simulate.challengers import CATEGORICAL, NUMERIC, census_population

__all__ = ["BENCHMARKS", "TaskWorld", "gate_trials"]

Kind = Literal["multiclass", "regression"]


def _pipeline(numeric: list[str], categorical: list[str], estimator: object) -> Pipeline:
    pre = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ]
    )
    return Pipeline([("features", pre), ("model", estimator)])


@dataclass(frozen=True)
class TaskWorld:
    """A population's truth and both models' outputs on every row of it.

    Multiclass: ``y`` and ``champion`` are class positions, ``proba`` the base
    challenger's (n, k) probabilities. Regression: values in dollars, ``base``
    the base challenger's predictions.
    """

    kind: Kind
    y: np.ndarray = field(repr=False)
    champion: np.ndarray = field(repr=False)
    base: np.ndarray = field(repr=False)
    proba: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def build(cls, kind: Kind, *, population: int = 100_000, train_rows: int = 4_000, seed: int = 0) -> TaskWorld:
        """Generate the population, fit both models on disjoint samples, score everybody (one thread)."""
        if kind not in ("multiclass", "regression"):
            raise ValueError(f"The 'kind' parameter must be 'multiclass' or 'regression'. Got {kind!r} instead.")
        with threadpool_limits(limits=1):
            return cls._build(kind, population, train_rows, seed)

    @classmethod
    def _build(cls, kind: Kind, population: int, train_rows: int, seed: int) -> TaskWorld:
        frame = census_population(population, seed=seed)
        rng = np.random.default_rng(seed + 1)
        order = rng.permutation(len(frame))
        first, second = order[:train_rows], order[train_rows : 2 * train_rows]
        if kind == "multiclass":
            categorical = [c for c in CATEGORICAL if c != "occupation"]
            numeric = [*NUMERIC, "income_high"]
            x = frame[numeric + categorical]
            y = frame["occupation"].astype("category").cat.codes.to_numpy(np.int64)
            champion = _pipeline(numeric, categorical, LogisticRegression(max_iter=3000))
            challenger = _pipeline(numeric, categorical, HistGradientBoostingClassifier(max_iter=120, random_state=0))
            champion.fit(x.iloc[first], y[first])
            challenger.fit(x.iloc[second], y[second])
            return cls(kind, y, champion.predict(x), challenger.predict(x), challenger.predict_proba(x))
        numeric, categorical = list(NUMERIC), list(CATEGORICAL)
        x = frame[numeric + categorical]
        noise = rng.normal(0.0, 0.45, len(frame))
        signal = 0.07 * (frame["education_years"] - 12) + 0.012 * (frame["hours_per_week"] - 40)
        signal += 0.25 * frame["occupation"].isin(["professional", "managerial"]) + 0.6 * frame["income_high"]
        income = np.round(np.exp(10.3 + signal.to_numpy() + noise), 0)
        champion = _pipeline(numeric, categorical, Ridge(alpha=1.0)).fit(x.iloc[first], np.log(income[first]))
        challenger = _pipeline(numeric, categorical, HistGradientBoostingRegressor(max_iter=120, random_state=0))
        challenger.fit(x.iloc[second], income[second])
        return cls(kind, income, np.exp(champion.predict(x)), challenger.predict(x))

    def challenger_for(self, difference: float, *, seed: int = 0) -> np.ndarray:
        """The challenger's outputs on every row at ``difference`` from the champion (see the module doc).

        Multiclass: class positions, accuracy ``champion + difference``.
        Regression: predictions, MAE ``champion * (1 + difference)``.
        """
        if self.kind == "regression":
            target = float(np.abs(self.champion - self.y).mean()) * (1.0 + difference)
            scale = target / float(np.abs(self.base - self.y).mean())
            return self.y + scale * (self.base - self.y)
        assert self.proba is not None
        rng = np.random.default_rng(seed)
        prediction = self.base.copy()
        wanted = round((float((self.champion == self.y).mean()) + difference) * len(self.y))
        right = prediction == self.y
        change = wanted - int(right.sum())
        if change < 0:  # make rows it gets right wrong: their second most probable class
            rows = rng.choice(np.flatnonzero(right), size=-change, replace=False)
            prediction[rows] = np.argsort(self.proba[rows], axis=1)[:, -2].astype(
                prediction.dtype
            )  # never the truth: the first one is
        elif change > 0:  # make rows it gets wrong right
            rows = rng.choice(np.flatnonzero(~right), size=change, replace=False)
            prediction[rows] = self.y[rows]
        return prediction

    def audit(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Row indices of one audit set of ``n`` rows drawn from the population."""
        return rng.choice(len(self.y), size=n, replace=False)


def _benchmarks() -> dict[str, MetricFloor]:
    return {
        "multiclass": MetricFloor.model_validate({"name": "audit_accuracy", "metric": "accuracy", "floor": 0.05}),
        "regression": MetricFloor.model_validate({"name": "audit_mae", "metric": "mae", "ceiling": 1e9}),
    }


BENCHMARKS = _benchmarks()
"""The benchmark judged per task (thresholds far away: only the paired comparison decides)."""


def _scored(world: TaskWorld, rows: np.ndarray, output: np.ndarray) -> Scored:
    y = world.y[rows].astype(float)
    if world.kind == "regression":
        return Scored(y, output[rows], output[rows], task="regression")
    classes = tuple(range(int(world.y.max()) + 1))
    return Scored(y, np.full(len(rows), np.nan), output[rows], task="multiclass", classes=classes)


def gate_trials(
    world: TaskWorld, *, difference: float, n: int, trials: int, seed: int, margin: float = 0.02
) -> Counter[str]:
    """The gate's decisions over ``trials`` audit sets of ``n`` rows for a challenger at ``difference``.

    The same rule as the retrain DAG (:func:`alignment_drift.core.gate.judge_challenger`,
    500 paired replicates, 95 %), on the task's benchmark of :data:`BENCHMARKS`.
    """
    from alignment_drift.core.benchmarks.metric_floor import evaluate_metric_floor
    from alignment_drift.core.gate import GateReference, judge_challenger

    bench = BENCHMARKS[world.kind]
    output = world.challenger_for(difference, seed=seed)
    rng = np.random.default_rng(seed)
    decisions: Counter[str] = Counter()
    with threadpool_limits(limits=1, user_api="blas"):  # matrix-vector products: threads only contend
        for _ in range(trials):
            rows = world.audit(n, rng)
            mine, theirs = _scored(world, rows, output), _scored(world, rows, world.champion)
            decision = judge_challenger(
                [bench],
                challenger=mine,
                results=[evaluate_metric_floor(bench, mine, None)],
                references=[GateReference("champion", "1", theirs)],
                margin=margin,
            )
            decisions[decision.decision] += 1
    return decisions
