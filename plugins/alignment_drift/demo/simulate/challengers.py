"""Challengers at a known true difference, for measuring the retraining gate's error rates.

A census-like population (income above a threshold, from correlated mixed
features: age, education, occupation, hours, capital gain, marital status,
sex, region) is generated once; a champion (logistic regression) and a base
challenger (gradient boosting, trained on other rows) are fitted on samples
of it. The challenger's decision threshold is then set so that its
**population** recall differs from the champion's by exactly the difference
asked for: a truly worse, equal or better challenger whose rows disagree with
the champion's as real retrained models do. Audit sets are drawn from the
population; the gate judges each one.

Examples
--------
>>> world = GateWorld.build(population=20_000, train_rows=2_000, seed=1)
>>> t = world.threshold_for(-0.04)
>>> round(world.population_recall(world.challenger_score, t) - world.champion_recall, 3)
-0.04
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

__all__ = ["CATEGORICAL", "NUMERIC", "TARGET", "GateWorld", "census_population"]

NUMERIC = ("age", "education_years", "hours_per_week", "capital_gain")
CATEGORICAL = ("education", "occupation", "marital", "sex", "region")
TARGET = "income_high"
_EDUCATION = ("dropout", "high_school", "some_college", "bachelors", "masters", "doctorate")
_EDU_YEARS = (10.0, 12.0, 14.0, 16.0, 18.0, 20.0)
_OCCUPATIONS = ("manual", "service", "clerical", "sales", "technical", "professional", "managerial", "farming")


def census_population(n: int = 200_000, *, seed: int = 0) -> pd.DataFrame:
    """``n`` people with correlated mixed features and the 0/1 target ``income_high`` (about 24 % positive)."""
    if n < 100:
        raise ValueError(f"The 'n' parameter must be >= 100. Got {n} instead.")
    rng = np.random.default_rng(seed)
    age = np.clip(17 + rng.gamma(2.2, 10.0, n), 17, 90)
    # education depends on the cohort: younger people more often went to college
    young = (age < 40).astype(float)
    edu_logits = np.column_stack(
        [
            -0.2 - 0.5 * young,
            np.full(n, 1.0),
            0.4 + 0.3 * young,
            0.1 + 0.4 * young,
            -1.0 + 0.2 * young,
            np.full(n, -2.5),
        ]
    )
    edu = _categorical(rng, edu_logits)
    education_years = np.asarray(_EDU_YEARS)[edu] + rng.normal(0, 0.8, n)
    # occupation depends on education
    e = edu.astype(float)
    flat = np.zeros(n)
    occ_logits = np.column_stack(
        [1.2 - 0.5 * e, 0.8 - 0.3 * e, flat + 0.3, flat + 0.2, 0.35 * e - 0.8, 0.7 * e - 2.0, 0.35 * e - 1.2, -0.4 * e]
    )
    occupation = _categorical(rng, occ_logits)
    managerial = np.isin(occupation, [5, 6]).astype(float)
    hours = np.clip(rng.normal(38 + 6 * managerial - 0.08 * np.maximum(age - 55, 0) * 4, 9), 1, 99)
    gains = rng.random(n) < 0.05 + 0.03 * e
    capital_gain = np.where(gains, np.exp(rng.normal(7.5 + 0.2 * e, 1.1, n)), 0.0)
    married = rng.random(n) < 1 / (1 + np.exp(-(age - 30) / 6)) * 0.7
    marital = np.where(married, "married", np.where(age < 30, "never_married", "divorced"))
    sex = np.where(rng.random(n) < 0.5, "female", "male")
    region = rng.choice(np.array(["north", "south", "east", "west"]), n, p=[0.3, 0.3, 0.2, 0.2])
    signal = (
        0.09 * (age - 17)
        - 0.0011 * (age - 17) ** 2
        + 0.33 * (education_years - 12)
        + 0.035 * (hours - 40)
        + 0.9 * managerial
        + 1.1 * married
        + 0.35 * (sex == "male")
        + 0.00012 * np.minimum(capital_gain, 20_000)
        + 0.2 * (region == "west")
        + 0.4 * married * (education_years > 15)
    )
    z = -6.4 + 1.7 * signal
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return pd.DataFrame(
        {
            "age": age.round(0),
            "education_years": education_years.round(1),
            "hours_per_week": hours.round(0),
            "capital_gain": capital_gain.round(0),
            "education": np.asarray(_EDUCATION, dtype=object)[edu],
            "occupation": np.asarray(_OCCUPATIONS, dtype=object)[occupation],
            "marital": marital,
            "sex": sex,
            "region": region,
            TARGET: y,
        }
    )


def _categorical(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)


def _pipeline(estimator: object) -> Pipeline:
    pre = ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(NUMERIC)),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORICAL)),
        ]
    )
    return Pipeline([("features", pre), ("classifier", estimator)])


@dataclass(frozen=True)
class GateWorld:
    """A population, a champion and a base challenger, each scored on every row of the population."""

    y: np.ndarray = field(repr=False)
    champion_score: np.ndarray = field(repr=False)
    challenger_score: np.ndarray = field(repr=False)
    champion_threshold: float = 0.5

    @classmethod
    def build(cls, *, population: int = 200_000, train_rows: int = 4_000, seed: int = 0) -> GateWorld:
        """Generate the population, fit both models on disjoint samples, score everybody (one thread: small fits)."""
        with threadpool_limits(limits=1):
            return cls._build(population, train_rows, seed)

    @classmethod
    def _build(cls, population: int, train_rows: int, seed: int) -> GateWorld:
        frame = census_population(population, seed=seed)
        rng = np.random.default_rng(seed + 1)
        order = rng.permutation(len(frame))
        first, second = frame.iloc[order[:train_rows]], frame.iloc[order[train_rows : 2 * train_rows]]
        features = [*NUMERIC, *CATEGORICAL]
        champion = _pipeline(LogisticRegression(max_iter=2000)).fit(first[features], first[TARGET])
        challenger = _pipeline(HistGradientBoostingClassifier(max_iter=150, random_state=seed)).fit(
            second[features], second[TARGET]
        )
        x = frame[features]
        return cls(
            y=frame[TARGET].to_numpy(np.int64),
            champion_score=champion.predict_proba(x)[:, 1],
            challenger_score=challenger.predict_proba(x)[:, 1],
        )

    def population_recall(self, score: np.ndarray, threshold: float) -> float:
        positive = self.y == 1
        return float((score[positive] >= threshold).mean())

    @property
    def champion_recall(self) -> float:
        return self.population_recall(self.champion_score, self.champion_threshold)

    def threshold_for(self, difference: float) -> float:
        """The challenger threshold whose population recall is the champion's plus ``difference``."""
        target = self.champion_recall + difference
        if not 0.0 < target < 1.0:
            raise ValueError(
                f"The 'difference' parameter puts the recall at {target:.3f}, outside (0, 1). Got {difference}."
            )
        positives = np.sort(self.challenger_score[self.y == 1])
        # the k-th largest positive score keeps exactly k positives at or above it
        keep = round(target * len(positives))
        return float(positives[len(positives) - keep])

    def audit(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Row indices of one audit set of ``n`` rows drawn from the population."""
        return rng.choice(len(self.y), size=n, replace=False)
