"""Drift-free tabular data shaped like real feature tables, for the calibration tests of the drift tests.

Not N(0, 1): skewed, heavy-tailed and power-law amounts, small counts with
many ties, zero-inflated and bimodal values, rounded ages, 0/1 flags, and
categorical columns with rare levels (Zipf over 30 levels, a 2 % level, 50
equally likely states); every column has missing values at the given rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC = [f"n{i}" for i in range(12)]
CATEGORICAL = [f"c{i}" for i in range(5)]
_ZIPF = 1.0 / np.arange(1, 31) ** 1.3
_ZIPF /= _ZIPF.sum()


def realistic_frame(n: int, rng: np.random.Generator, *, missing: float = 0.005) -> pd.DataFrame:
    """``n`` rows of the 12 numeric and 5 categorical columns, each value missing with probability ``missing``."""
    values: dict[str, np.ndarray] = {
        "n0": rng.lognormal(0.0, 1.0, n),  # skewed
        "n1": rng.standard_t(2, n),  # heavy-tailed, infinite variance
        "n2": (rng.pareto(1.5, n) + 1.0) * 10.0,  # power law
        "n3": rng.poisson(3.0, n).astype(float),  # small counts, many ties
        "n4": np.where(rng.random(n) < 0.6, 0.0, rng.gamma(2.0, 50.0, n)),  # zero-inflated amounts
        "n5": np.where(rng.random(n) < 0.3, rng.normal(-2.0, 0.5, n), rng.normal(3.0, 1.0, n)),  # bimodal
        "n6": rng.exponential(1.0, n),
        "n7": np.round(rng.normal(40.0, 12.0, n)),  # ages, rounded
        "n8": rng.beta(0.5, 0.5, n),  # U-shaped on [0, 1]
        "n9": rng.integers(0, 2, n).astype(float),  # a 0/1 flag
        "n10": rng.negative_binomial(1, 0.05, n).astype(float),  # overdispersed counts
        "n11": np.exp(rng.standard_t(3, n)),  # log-t: extreme outliers
        "c0": rng.choice([f"z{i}" for i in range(30)], n, p=_ZIPF),  # many rare levels
        "c1": rng.choice(["a", "b", "c"], n, p=[0.7, 0.25, 0.05]),
        "c2": rng.choice(["yes", "no"], n, p=[0.98, 0.02]),  # one rare level
        "c3": rng.choice([f"s{i}" for i in range(50)], n),  # 50 equally likely states
        "c4": rng.choice(["x", "y", "z", "w", "v"], n, p=[0.4, 0.3, 0.2, 0.09, 0.01]),
    }
    frame = pd.DataFrame({k: v.astype(object) if k in CATEGORICAL else v for k, v in values.items()})
    for name in frame.columns:
        frame.loc[rng.random(n) < missing, name] = None if name in CATEGORICAL else np.nan
    return frame
