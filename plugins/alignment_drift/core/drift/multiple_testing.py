"""Multiple-testing corrections for a family of p-values.

One function, :func:`adjust_p_values`, turns raw p-values into adjusted
p-values so that comparing each adjusted value with ``alpha`` controls the
false discovery rate (``"bh"``) or the family-wise error rate (``"holm"``,
``"bonferroni"``) of the whole family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np

CorrectionMethod = Literal["bh", "holm", "bonferroni"]
CORRECTION_METHODS: tuple[str, ...] = get_args(CorrectionMethod)


def adjust_p_values(
    p_values: Sequence[float] | np.ndarray,
    *,
    method: CorrectionMethod = "bh",
) -> np.ndarray:
    """Adjust a family of p-values for multiple testing.

    Parameters
    ----------
    p_values : sequence of float or ndarray of shape (n_tests,)
        Raw p-values in ``[0, 1]``. ``NaN`` marks a test that was not run:
        it stays ``NaN`` in the output and does not count towards the number
        of tests ``m``.
    method : {"bh", "holm", "bonferroni"}, default="bh"
        ``"bh"``: Benjamini-Hochberg step-up (false discovery rate), with
        monotonicity enforced. ``"holm"``: Holm step-down (family-wise error
        rate), with monotonicity enforced. ``"bonferroni"``: ``p * m``.

    Returns
    -------
    ndarray of shape (n_tests,)
        Adjusted p-values, capped at 1, in the input order.

    Raises
    ------
    ValueError
        If ``method`` is unknown, ``p_values`` is not 1-D, or a non-NaN value
        lies outside ``[0, 1]``.

    Examples
    --------
    >>> adjust_p_values([0.01, 0.04, 0.03], method="bonferroni")
    array([0.03, 0.12, 0.09])
    """
    if method not in CORRECTION_METHODS:
        raise ValueError(f"The 'method' parameter must be one of {set(CORRECTION_METHODS)}. Got {method!r} instead.")
    try:
        p = np.asarray(p_values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The 'p_values' parameter must be a sequence of floats. Got {p_values!r} instead.") from exc
    if p.ndim != 1:
        raise ValueError(f"The 'p_values' parameter must be 1-D. Got an array of shape {p.shape} instead.")
    observed = ~np.isnan(p)
    bad = p[observed & ((p < 0.0) | (p > 1.0))]
    if bad.size:
        raise ValueError(
            f"The 'p_values' parameter must contain values in [0, 1] or NaN. Got {float(bad[0])!r} instead."
        )

    adjusted = np.full(p.shape, np.nan)
    q = p[observed]
    m = q.size
    if m == 0:
        return adjusted
    if method == "bonferroni":
        adjusted[observed] = np.minimum(q * m, 1.0)
        return adjusted

    order = np.argsort(q, kind="stable")
    ranks = np.arange(1, m + 1)
    sorted_q = q[order]
    if method == "holm":
        # Step-down: (m - i + 1) * p_(i), non-decreasing in i.
        stepped = np.maximum.accumulate((m - ranks + 1) * sorted_q)
    else:
        # Step-up: m / i * p_(i), non-increasing when read from the largest.
        stepped = np.minimum.accumulate((sorted_q * m / ranks)[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    adjusted[observed] = out
    return adjusted


def tarone_family(min_p_values: Sequence[float] | np.ndarray, alpha: float) -> tuple[np.ndarray, int]:
    """The tests that can reject: Tarone's (1990) family for discrete tests.

    A discrete test (Fisher's exact, a Monte-Carlo p-value) cannot return a
    p-value below its smallest attainable one, fixed by the table's margins.
    Counting such a test in the family only makes the others pay for it.
    ``K`` is the smallest integer with ``#{i : min_p_i <= alpha / K} <= K``;
    the family is the tests with ``min_p_i <= alpha / K``. It is fixed by
    the margins alone, so a correction applied to it controls the
    family-wise error rate (Bonferroni, Holm: Tarone 1990) or the false
    discovery rate (BH: Gilbert 2005) at ``alpha`` as over the full family.

    Parameters
    ----------
    min_p_values : sequence of float
        Each test's smallest attainable p-value (0.0 for a continuous test);
        NaN marks a test that was not run (never in the family).
    alpha : float
        The family's level, in (0, 1).

    Returns
    -------
    in_family : ndarray of bool
    k : int
        Tarone's ``K`` (``alpha / K`` is the bar a test had to reach; at least 1).

    Examples
    --------
    >>> tarone_family([0.0, 0.0, 0.6, 0.004, float("nan")], 0.05)
    (array([ True,  True, False,  True, False]), 3)
    """
    floors = np.asarray(min_p_values, dtype=float)
    run = ~np.isnan(floors)
    ordered = np.sort(floors[run])
    k = 1
    while k < ordered.size and np.searchsorted(ordered, alpha / k, side="right") > k:
        k += 1
    return run & (np.nan_to_num(floors, nan=np.inf) <= alpha / k), k
