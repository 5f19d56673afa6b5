"""The ``robust_scan`` trend statistic: a self-starting scan for a step or a ramp against a growing baseline.

The statistic of one monitored night compares the last ``m`` nights (``m`` = 1 ..
``max_window``) with every earlier night since the warm-up began (the
*reference*), two ways:

* a **step**: the mean of the last ``m`` nights against the reference mean;
* a **ramp**: the last ``m`` nights weighted 1, 2, ..., ``m`` (a drift that started
  ``m`` nights ago and grows by the same amount every night) against the reference mean.

Each difference is divided by its standard error under a stationary AR(1) model
fitted on the reference, so it reads as a t-statistic; it is turned into a
z-score through Student's t with ``n_reference - 1`` degrees of freedom (a short
reference gives a wide margin), and the night's statistic is the largest z-score
over ``m``, the two shapes and the side(s) watched.

Robust to what real nightly signals do:

* **heavy tails and skew**: every value is standardised by the median and the
  MAD (scaled to a normal sd) of the warm-up and clipped at ``+/- clip`` of those
  units before anything is summed, so a single wild night counts as ``clip``;
* **autocorrelation**: the AR(1) coefficient ``phi`` of the reference (lag-1
  autocorrelation, bias-corrected by ``(1 + 3 phi) / n``, clipped to
  ``[0, phi_max]``) inflates the variance of every mean and weighted sum;
* **a short warm-up**: the reference grows every night, so its mean and spread
  get better as the nights pass, and the t-to-z step pays for the early ones.

Everything is computed from cumulative sums, ``max_window`` values per night, in
blocks of nights, stopping at the first night over the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri, stdtr

__all__ = ["ScanSegment", "robust_scale", "scan_segment"]

_BLOCK = 2048  # nights evaluated at once: bounds the (nights, max_window) arrays
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
    u = np.clip((values - center) / scale, -clip, clip)
    n = u.size
    s1 = np.concatenate(([0.0], np.cumsum(u)))
    s2 = np.concatenate(([0.0], np.cumsum(u * u)))
    lag = np.concatenate(([0.0, 0.0], np.cumsum(u[1:] * u[:-1])))
    weighted = np.concatenate(([0.0], np.cumsum(np.arange(n) * u)))
    windows = np.arange(1, max_window + 1, dtype=float)[None, :]
    signs = {"increase": (1.0,), "decrease": (-1.0,), "both": (1.0, -1.0)}[direction]
    labels = [(shape, "increase" if sign > 0 else "decrease") for shape in ("step", "ramp") for sign in signs]
    pieces: list[np.ndarray] = []
    for lo in range(warmup, n, _BLOCK):
        t = np.arange(lo, min(lo + _BLOCK, n))[:, None]
        end = t + 1 - windows.astype(int)  # the reference is [0, end); the window [end, t]
        valid = end >= warmup
        e = np.where(valid, end, warmup)
        nr = e.astype(float)
        ref_sum = s1[e]
        mean = ref_sum / nr
        var = np.maximum((s2[e] - nr * mean**2) / (nr - 1), _VAR_FLOOR)
        # lag-1 autocovariance of the reference around its mean, then the bias-corrected AR(1) coefficient
        cov = (lag[e] - mean * (2 * ref_sum - u[0] - u[e - 1]) + (nr - 1) * mean**2) / nr
        r1 = cov / var * (nr - 1) / nr
        phi = np.clip(r1 + (1 + 3 * r1) / nr, 0.0, phi_max)
        ref_var = var * _mean_variance_factor(nr, phi) / nr  # variance of the reference mean
        win_sum = s1[t + 1] - s1[e]
        step = (win_sum / windows - mean) / np.sqrt(var * _mean_variance_factor(windows, phi) / windows + ref_var)
        w1, w2 = windows * (windows + 1) / 2, windows * (windows + 1) * (2 * windows + 1) / 6
        ramp_sum = (weighted[t + 1] - weighted[e]) - (e - 1) * win_sum  # sum of j * u over the window, j = 1..m
        long_run = (1 + phi) / (1 - phi)
        ramp = (ramp_sum - w1 * mean) / np.sqrt(var * w2 * long_run + w1**2 * ref_var)
        signed = [sign * z for z in (step, ramp) for sign in signs]
        # t with n_reference - 1 degrees of freedom -> z (through the upper tail, exact far out)
        z = np.where(valid[None], -ndtri(stdtr(nr - 1, -np.stack(signed))), -np.inf)  # (pieces, nights, windows)
        best = z.max(axis=(0, 2))
        pieces.append(best)
        hits = np.flatnonzero(best > threshold)
        row = int(hits[0]) if hits.size else best.size - 1
        if hits.size or lo + _BLOCK >= n:
            piece, window = np.unravel_index(int(np.argmax(z[:, row, :])), (z.shape[0], z.shape[2]))
            statistic = np.concatenate(pieces)
            at = int(t[row, 0]) if hits.size else None
            if at is not None:
                statistic = statistic[: at - warmup + 1]
            shape, side = labels[piece]
            return ScanSegment(center, scale, statistic, at, side, shape, int(window) + 1, float(phi[row, window]))
    raise AssertionError("unreachable: the segment has more than warmup values")
