"""The ``robust_scan`` trend statistic: a self-starting scan for a step or a ramp against a growing baseline.

The statistic of one monitored night compares the last ``m`` nights (``m`` = 1 ..
``max_window``) with every earlier night since the warm-up began (the
*reference*), two ways:

* a **step**: the mean of the last ``m`` nights against the reference mean;
* a **ramp**: the last ``m`` nights weighted 1, 2, ..., ``m`` (a drift that started
  ``m`` nights ago and grows by the same amount every night) against the reference mean.

Each difference is divided by its standard error under a stationary AR(1) model
fitted on the reference, with the variance pooled from the reference's and the
window's spread (a two-sample t-statistic), and turned into a z-score through
Student's t with the pooled degrees of freedom (a short reference gives a wide
margin). The night's statistic is the largest z-score over ``m``, the two shapes
and the side(s) watched.

Robust to what real nightly signals do:

* **heavy tails and skew**: every value is standardised by the median and the
  MAD (scaled to a normal sd) of the warm-up and clipped at ``+/- clip`` of those
  units before anything is summed, so a single wild night counts as ``clip``;
* **autocorrelation**: the AR(1) coefficient ``phi`` of the reference (lag-1
  autocorrelation, bias-corrected by ``(1 + 3 phi) / n``, clipped to
  ``[0, phi_max]``) inflates the variance of every mean and weighted sum, and
  corrects the sums of squares, which under autocorrelation understate the
  variance (``E[SS] = sigma^2 (n - n Var(mean) / sigma^2)``);
* **a short warm-up**: the reference grows every night, so its mean and spread
  get better as the nights pass, and the t-to-z step pays for the early ones.

Everything is computed from cumulative sums, ``max_window`` values per night, in
blocks of nights (64, then doubling), stopping at the first night over the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Z_MAX", "ScanSegment", "robust_scale", "scan_segment", "t_to_z"]

_FIRST_BLOCK, _BLOCK = 64, 4096  # nights evaluated at once, doubling: bounds the (nights, max_window) arrays
#: Cap on the statistic, so that a move of thousands of baseline units (after a constant warm-up) stays finite.
Z_MAX = 50.0
_VAR_FLOOR = 1e-12  # in squared baseline units: a constant reference makes any later move huge, not 0/0


@dataclass(frozen=True)
class ScanSegment:
    """One baseline segment scanned up to its first night over the threshold (or its end).

    ``statistic[i]`` is the statistic of the segment's value ``warmup + i``;
    ``alarm`` the position in the segment of the first value over the threshold
    (None: none). At that value, or at the last one when there is no alarm:
    ``side`` is the side with the larger statistic (``"increase"`` or
    ``"decrease"``), ``shape`` the comparison that gave it (``"step"`` or
    ``"ramp"``), ``window`` its ``m`` and ``phi`` the AR(1) coefficient used.
    """

    center: float
    scale: float
    statistic: np.ndarray
    alarm: int | None
    side: str
    shape: str
    window: int
    phi: float


def robust_scale(values: np.ndarray, min_std: float) -> tuple[float, float]:
    """``(median, 1.4826 * MAD)`` of ``values``; the sd (ddof=1) when the MAD is 0, ``min_std`` at the least."""
    center = float(np.median(values))
    scale = 1.4826 * float(np.median(np.abs(values - center)))
    if scale <= 0.0:
        scale = float(values.std(ddof=1))
    return center, max(scale, min_std)


def t_to_z(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """The normal score of a Student-t statistic: Wallace's approximation, monotone in ``t``.

    ``sign(t) * sqrt(df * log(1 + t^2 / df)) * (8 df + 1) / (8 df + 3)``; within
    0.03 of the exact ``Phi^-1(F_t(t; df))`` at 2 <= z <= 4 for df >= 6 (0.05 at df = 3), and
    tens of times cheaper (it runs ``max_window`` times a night).
    """
    return np.sign(t) * np.sqrt(df * np.log1p(t * t / df)) * (8 * df + 1) / (8 * df + 3)


def _mean_variance_factor(k: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """``k * Var(mean of k consecutive AR(1) values) / sigma^2`` (1 when ``phi`` is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = (1 + phi) / (1 - phi) - 2 * phi * (1 - phi**k) / (k * (1 - phi) ** 2)
    return np.where(phi > 1e-12, exact, 1.0)


def scan_segment(
    values: np.ndarray,
    *,
    warmup: int,
    threshold: float,
    direction: str,
    max_window: int,
    clip: float,
    phi_max: float,
    min_std: float,
) -> ScanSegment:
    """Scan one segment (its first ``warmup`` values are the warm-up) up to its first alarm.

    ``values`` must hold more than ``warmup`` finite values; ``direction`` is
    ``"increase"``, ``"decrease"`` or ``"both"``.
    """
    center, scale = robust_scale(values[:warmup], min_std)
    signs = {"increase": (1.0,), "decrease": (-1.0,), "both": (1.0, -1.0)}[direction]
    labels = [(shape, "increase" if sign > 0 else "decrease") for shape in ("step", "ramp") for sign in signs]
    windows = np.arange(1, max_window + 1, dtype=float)[None, :]
    pieces: list[np.ndarray] = []
    n, lo, block = values.size, warmup, _FIRST_BLOCK
    while lo < n:
        # the cumulative sums reach the block's last night only: a segment that alarms early costs little
        hi = min(lo + block, n)
        u = np.clip((values[:hi] - center) / scale, -clip, clip)
        s1 = np.concatenate(([0.0], np.cumsum(u)))
        s2 = np.concatenate(([0.0], np.cumsum(u * u)))
        lag = np.concatenate(([0.0, 0.0], np.cumsum(u[1:] * u[:-1])))
        weighted = np.concatenate(([0.0], np.cumsum(np.arange(hi) * u)))
        t = np.arange(lo, hi)[:, None]
        end = t + 1 - windows.astype(int)  # the reference is [0, end); the window [end, t]
        valid = end >= warmup
        e = np.where(valid, end, warmup)
        nr = e.astype(float)
        ref_sum = s1[e]
        mean = ref_sum / nr
        ref_ss = np.maximum(s2[e] - nr * mean**2, 0.0)
        # lag-1 autocorrelation of the reference around its mean, then the bias-corrected AR(1) coefficient
        cov = (lag[e] - mean * (2 * ref_sum - u[0] - u[e - 1]) + (nr - 1) * mean**2) / nr
        r1 = cov / np.maximum(ref_ss / nr, _VAR_FLOOR)
        phi = np.clip(r1 + (1 + 3 * r1) / nr, 0.0, phi_max)
        ref_factor, win_factor = _mean_variance_factor(nr, phi), _mean_variance_factor(windows, phi)
        win_sum = s1[t + 1] - s1[e]
        win_ss = np.maximum(s2[t + 1] - s2[e] - win_sum**2 / windows, 0.0)
        # the variance pooled from both sides' sums of squares; under AR(1) their expectations are
        # sigma^2 (n - factor(n)) rather than sigma^2 (n - 1), and that sum is the degrees of freedom
        dof = np.maximum(nr - ref_factor + windows - win_factor, 1.0)
        var = np.maximum((ref_ss + win_ss) / dof, _VAR_FLOOR)
        ref_var = var * ref_factor / nr  # variance of the reference mean
        step = (win_sum / windows - mean) / np.sqrt(var * win_factor / windows + ref_var)
        w1, w2 = windows * (windows + 1) / 2, windows * (windows + 1) * (2 * windows + 1) / 6
        ramp_sum = (weighted[t + 1] - weighted[e]) - (e - 1) * win_sum  # sum of j * u over the window, j = 1..m
        long_run = (1 + phi) / (1 - phi)
        ramp = (ramp_sum - w1 * mean) / np.sqrt(var * w2 * long_run + w1**2 * ref_var)
        signed = np.stack([sign * z for z in (step, ramp) for sign in signs])
        z = np.minimum(t_to_z(signed, dof), Z_MAX)
        z = np.where(valid[None], z, -np.inf)  # (pieces, nights, windows)
        best = z.max(axis=(0, 2))
        pieces.append(best)
        hits = np.flatnonzero(best > threshold)
        if hits.size or hi == n:
            row = int(hits[0]) if hits.size else best.size - 1
            piece, window = np.unravel_index(int(np.argmax(z[:, row, :])), (z.shape[0], z.shape[2]))
            statistic = np.concatenate(pieces)
            at = int(t[row, 0]) if hits.size else None
            if at is not None:
                statistic = statistic[: at - warmup + 1]
            shape, side = labels[piece]
            return ScanSegment(center, scale, statistic, at, side, shape, int(window) + 1, float(phi[row, window]))
        lo, block = hi, min(2 * block, _BLOCK)
    raise AssertionError("unreachable: the segment has more than warmup values")
