"""Seeded synthetic tabular data for the benchmarks: 20 numeric + 5 categorical columns and a label.

Rows are independent draws of one generating process:

* three latent factors ``F`` (standard normal) and per-column noise give the
  numeric columns their correlations;
* ``x00``–``x07``: Gaussian (different means and scales);
  ``x08``–``x11``: log-normal (skewed, heavy right tail);
  ``x12``–``x14``: exponential-like (``exp`` of a factor, clipped at 0 below);
  ``x15``–``x17``: integer counts (Poisson, ties);
  ``x18``–``x19``: uniform on [0, 1) (bounded);
* ``c0``–``c4``: categorical (strings) with 3, 5, 10, 20 and 50 levels, Zipf-like
  frequencies; ``c0`` and ``c1`` depend on a latent factor;
* ``label``: Bernoulli with ``logit = -1 + 1.2·x00_z + 0.8·F0 + 0.5·[c0 == 'a']``,
  about 39 % positive (used by the prior-shift / knock-out shift only; it is not
  one of the tested columns).

``shift`` applies one of the power protocol's shifts to a current frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC = [f"x{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
LEVELS = (3, 5, 10, 20, 50)

#: columns each shift touches (documented in the README)
NOISE_COLUMNS = ["x00", "x01", "x02", "x03", "x04"]
SUBSET_COLUMNS = ["x05", "x06", "x07"]
MISSING_COLUMNS = ["x08", "x12", "x15"]
SWAP_COLUMN = "c1"

SHIFTS = (
    "none",
    "gauss_noise_10",
    "gauss_noise_50",
    "gauss_noise_100",
    "knockout",
    "category_swap",
    "missing_20",
    "subset_shift",
)


def _zipf(k: int) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1) ** 1.1
    return p / p.sum()


def _categorical(rng: np.random.Generator, n: int, k: int, tilt: np.ndarray | None) -> np.ndarray:
    """Category index per row; ``tilt`` (per row) moves mass towards low indices."""
    base = np.cumsum(_zipf(k))
    u = rng.random(n)
    if tilt is not None:
        # a monotone warp of the uniform keeps the marginal Zipf-like but correlates it with the factor
        u = u ** np.exp(0.25 * np.clip(tilt, -3, 3))
    return np.minimum(np.searchsorted(base, u, side="right"), k - 1)


def _names(k: int) -> np.ndarray:
    letters = "abcdefghijklmnopqrstuvwxyz"
    names = [letters[i] if i < 26 else f"{letters[i // 26 - 1]}{letters[i % 26]}" for i in range(k)]
    return np.array(names, dtype=object)


def generate(n: int, seed: int, *, with_label: bool = True) -> pd.DataFrame:
    """``n`` rows of the generating process, seeded."""
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n, 3))
    noise = rng.standard_normal((n, 20))
    load = np.zeros((20, 3))
    load[:, 0] = np.linspace(0.8, 0.0, 20)
    load[:, 1] = np.tile([0.5, -0.3, 0.0, 0.2], 5)
    load[:, 2] = np.where(np.arange(20) % 3 == 0, 0.4, 0.0)
    z = (f @ load.T + noise) / np.sqrt(1.0 + (load**2).sum(axis=1))  # each column ~ N(0, 1)
    cols: dict[str, np.ndarray] = {}
    means = np.array([0.0, 5.0, -3.0, 100.0, 0.0, 10.0, 1.0, -20.0])
    scales = np.array([1.0, 2.0, 0.5, 15.0, 3.0, 1.0, 0.1, 4.0])
    for i in range(8):
        cols[NUMERIC[i]] = means[i] + scales[i] * z[:, i]
    for i in range(8, 12):
        cols[NUMERIC[i]] = np.exp(0.6 * z[:, i] + (i - 8) * 0.5)
    for i in range(12, 15):
        cols[NUMERIC[i]] = np.maximum(np.exp(z[:, i]) - 0.3, 0.0)
    for i in range(15, 18):
        lam = np.exp(1.0 + 0.3 * z[:, i] + (i - 15) * 0.7)
        cols[NUMERIC[i]] = rng.poisson(lam).astype(np.float64)
    for i in range(18, 20):
        from scipy.special import ndtr

        cols[NUMERIC[i]] = ndtr(z[:, i])
    cats = {}
    for j, k in enumerate(LEVELS):
        tilt = f[:, j] if j < 2 else None
        cats[CATEGORICAL[j]] = _categorical(rng, n, k, tilt)
    frame = pd.DataFrame(cols)
    for j, k in enumerate(LEVELS):
        frame[CATEGORICAL[j]] = pd.Series(_names(k)[cats[CATEGORICAL[j]]], dtype=object)
    if with_label:
        logit = -1.0 + 1.2 * z[:, 0] + 0.8 * f[:, 0] + 0.5 * (cats["c0"] == 0)
        frame["label"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    return frame


def shift(frame: pd.DataFrame, kind: str, seed: int, reference_std: dict[str, float]) -> pd.DataFrame:
    """Apply shift ``kind`` (one of :data:`SHIFTS`) to a copy of ``frame`` (row order is random already).

    * ``gauss_noise_P``: on P % of rows, add N(0, std) to each of :data:`NOISE_COLUMNS`
      (std = the feature's reference std: Failing Loudly's "large" noise, std 1 of a standardised feature);
    * ``knockout``: drop 50 % of the rows with ``label == 1`` (prior shift; the label is not tested);
    * ``category_swap``: swap the two most frequent categories of :data:`SWAP_COLUMN`
      (Jensen–Shannon distance about 0.26 from the reference);
    * ``missing_20``: set 20 % of rows to NaN in each of :data:`MISSING_COLUMNS` (independently);
    * ``subset_shift``: add 0.5 reference std to :data:`SUBSET_COLUMNS` (3 of 20 numeric);
    * ``none``: unchanged.
    """
    rng = np.random.default_rng(seed)
    out = frame.copy()
    n = len(out)
    if kind == "none":
        return out
    if kind.startswith("gauss_noise_"):
        share = int(kind.rsplit("_", 1)[1]) / 100.0
        rows = rng.random(n) < share
        for c in NOISE_COLUMNS:
            values = out[c].to_numpy(dtype=float, copy=True)
            values[rows] += rng.normal(0.0, reference_std[c], rows.sum())
            out[c] = values
        return out
    if kind == "knockout":
        drop = (out["label"].to_numpy() == 1) & (rng.random(n) < 0.5)
        return out.loc[~drop].reset_index(drop=True)
    if kind == "category_swap":
        values = out[SWAP_COLUMN].to_numpy(dtype=object, copy=True)
        a, b = _names(LEVELS[CATEGORICAL.index(SWAP_COLUMN)])[:2]
        is_a, is_b = values == a, values == b
        values[is_a], values[is_b] = b, a
        out[SWAP_COLUMN] = pd.Series(values, dtype=object, index=out.index)
        return out
    if kind == "missing_20":
        for c in MISSING_COLUMNS:
            values = out[c].to_numpy(dtype=float, copy=True)
            values[rng.random(n) < 0.2] = np.nan
            out[c] = values
        return out
    if kind == "subset_shift":
        for c in SUBSET_COLUMNS:
            out[c] = out[c].to_numpy(dtype=float) + 0.5 * reference_std[c]
        return out
    raise ValueError(f"unknown shift {kind!r}; expected one of {SHIFTS}")


def speed_current(n: int, seed: int, reference_std: dict[str, float]) -> pd.DataFrame:
    """The speed benchmark's current batch: a fresh draw with a small shift in a few columns.

    +0.2 std on x05 and x06, and the two most frequent categories of c1 swapped (so
    every tool has something to find, and most columns are unchanged).
    """
    frame = generate(n, seed, with_label=False)
    for c in ("x05", "x06"):
        frame[c] = frame[c] + 0.2 * reference_std[c]
    return shift(frame, "category_swap", seed + 1, reference_std)
