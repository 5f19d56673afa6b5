"""An owner's own preprocessing step, importable as a package (as a team's would be): a quantile clipper."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class Winsorizer(TransformerMixin, BaseEstimator):
    """Clip every column to its [quantile, 1 - quantile] range learnt at fit."""

    def __init__(self, quantile: float = 0.01) -> None:
        self.quantile = quantile

    def fit(self, x: Any, y: Any = None) -> Winsorizer:
        values = np.asarray(x, dtype=float)
        self.low_ = np.nanquantile(values, self.quantile, axis=0)
        self.high_ = np.nanquantile(values, 1.0 - self.quantile, axis=0)
        self.n_features_in_ = values.shape[1]
        return self

    def transform(self, x: Any) -> np.ndarray:
        return np.clip(np.asarray(x, dtype=float), self.low_, self.high_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(input_features if input_features is not None else [], dtype=object)


def content_classifier(max_iter: int = 60, learning_rate: float = 0.1) -> Any:
    """A training entrypoint (``tests.byom.custom_steps:content_classifier``): an unfitted HGB Pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from alignment_drift.demo.simulate import CATEGORICAL_FEATURES, NUMERIC_FEATURES

    features = ColumnTransformer(
        [
            ("clip", Winsorizer(), list(NUMERIC_FEATURES)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORICAL_FEATURES)),
        ]
    )
    model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate, random_state=0)
    return Pipeline([("features", features), ("classifier", model)])


def wine_forest(n_estimators: int = 60, min_samples_leaf: int = 1) -> Any:
    """A training entrypoint (``tests.byom.custom_steps:wine_forest``): an unfitted RandomForest for the cultivars."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, random_state=0)


def diabetes_ridge(alpha: float = 0.1, quantile: float = 0.02) -> Any:
    """A training entrypoint (``tests.byom.custom_steps:diabetes_ridge``): the owner's Ridge Pipeline, unfitted.

    The continuous measurements are clipped by the owner's :class:`Winsorizer`; ``sex`` passes through.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    continuous = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    features = ColumnTransformer([("clip", Winsorizer(quantile), continuous), ("sex", "passthrough", ["sex"])])
    return Pipeline([("features", features), ("regressor", Ridge(alpha=alpha))])


def fitted_classifier() -> Any:
    """A wrong entrypoint: returns an already fitted estimator."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit([[0.0], [1.0]], [0, 1])


def not_an_estimator() -> Any:
    """A wrong entrypoint: returns something without fit."""
    return {"model": "nope"}
