"""Sequential trend detectors over one nightly signal: tabular CUSUM and Page-Hinkley.

A per-night threshold misses drift that moves a little every night, such as an
audit-set recall that falls 0.005 a night. :class:`TrendDetector` accumulates
the evidence over nights instead. It keeps no state: :meth:`TrendDetector.run`
recomputes everything from the full history in O(n) vectorised steps, so a
rerun of a night gives the same answer.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

TrendMethod = Literal["cusum", "page_hinkley"]
TrendDirection = Literal["increase", "decrease", "both"]
TREND_METHODS: tuple[TrendMethod, ...] = get_args(TrendMethod)
TREND_DIRECTIONS: tuple[TrendDirection, ...] = get_args(TrendDirection)
#: Default ``threshold`` per method. Each was calibrated with bench/trend_far.py so that, with the other
#: defaults, at most 5% of drift-free N(0, 1) series of 7 warm-up + 23 monitored nights raise any alarm.
DEFAULT_THRESHOLDS: dict[str, float] = {"cusum": 22.0, "page_hinkley": 12.0}
_NAMES = {"cusum": "CUSUM", "page_hinkley": "Page-Hinkley"}
_Z_CAP = 1e12  # keeps the sums finite however large (value - mean) / min_std gets


@dataclass(frozen=True)
class TrendResult:
    """Outcome of :meth:`TrendDetector.run` on one nightly history.

    ``n`` counts the non-missing values used. ``statistic`` is the cumulative
    statistic after the last value, in baseline-std units (for ``"both"``, the
    larger side). ``alarm`` says whether it exceeds ``threshold`` now;
    ``first_alarm_index`` is the index in the input series of the first value
    at which it did (the statistic is never reset, so the two can differ).
    While warming up, the baselines are None and the statistic is 0.0.
    """

    method: TrendMethod
    direction: TrendDirection
    n: int
    warmup: int
    baseline_mean: float | None
    baseline_std: float | None
    statistic: float
    threshold: float
    alarm: bool
    first_alarm_index: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (plain Python scalars, no NaN)."""
        return asdict(self)


def _lindley(steps: np.ndarray) -> np.ndarray:
    """``S_t = max(0, S_{t-1} + steps_t)`` from ``S_0 = 0``, as ``C_t - min(C_0..C_t)`` with ``C`` the cumsum."""
    c = np.concatenate(([0.0], np.cumsum(steps)))
    return (c - np.minimum.accumulate(c))[1:]


def _as_series(values: object) -> np.ndarray:
    """The values as a 1-D float array, with None and pandas.NA as NaN."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        arr = values.astype(float)
    else:  # a str would pass as a 1-D sequence of characters: wrap it so that it is rejected as a value
        arr = np.asarray([values] if isinstance(values, (str, bytes)) else values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"The 'values' parameter must be 1-D. Got an array of shape {arr.shape} instead.")
    if arr.dtype == object:
        if not all(v is None or v is pd.NA or isinstance(v, numbers.Real) for v in arr):
            raise TypeError(
                "The 'values' parameter must be a sequence of real numbers (None or NaN for a missing night). "
                f"Got {values!r} instead."
            )
        arr = np.array([np.nan if v is None or v is pd.NA else v for v in arr], dtype=float)
    return arr


def _check_number(name: str, value: object, low: float, *, strict: bool, integer: bool = False) -> None:
    kind = (numbers.Integral if integer else numbers.Real, "an int" if integer else "a finite real number")
    rule = f"{'>' if strict else '>='} {low:g}"
    if not isinstance(value, kind[0]) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"The '{name}' parameter must be {kind[1]} {rule}. Got {value!r} instead.")
    if value < low or (strict and value == low):
        raise ValueError(f"The '{name}' parameter must be {rule}. Got {value!r} instead.")


def _check_option(name: str, value: object, options: tuple[str, ...]) -> None:
    if value not in options:
        listed = "{" + ", ".join(repr(o) for o in options) + "}"
        raise ValueError(f"The '{name}' parameter must be one of {listed}. Got {value!r} instead.")


class TrendDetector:
    """Detect a gradual or sudden shift in a nightly signal, against a warm-up baseline.

    The first ``warmup`` non-missing values give the baseline mean and
    standard deviation (ddof=1). Every later value is standardised,
    ``z = (x - mean) / std``, and accumulated:

    * ``"cusum"``: Page's tabular CUSUM, ``S+ = max(0, S+ + z - slack)`` and
      ``S- = max(0, S- - z - slack)``.
    * ``"page_hinkley"``: the same two sums over ``d = z - zbar`` instead of
      ``z``, where ``zbar`` is the running mean of all standardised values so
      far, warm-up included. Page-Hinkley follows a slowly moving level: it
      suits gradual drift, and a lasting step it misses early is absorbed.

    ``S+`` watches for an increase, ``S-`` for a decrease. The statistic never
    resets after an alarm.

    Parameters
    ----------
    method : {"cusum", "page_hinkley"}, default="cusum"
        Cumulative statistic.
    direction : {"increase", "decrease", "both"}, default="both"
        Side(s) that can raise an alarm. ``"both"`` reports the larger side.
    warmup : int, default=7
        Number of values, an int >= 2, that estimate the baseline.
    threshold : float or None, default=None
        Alarm level ``h`` in baseline-std units, > 0. None uses
        ``DEFAULT_THRESHOLDS[method]``: 22.0 for CUSUM, 12.0 for Page-Hinkley.
        With the other defaults, at most 5% of drift-free series (7 warm-up
        + 23 monitored N(0, 1) nights) raise any alarm: 0.039 for CUSUM and
        0.034 for Page-Hinkley on 20 000 series (bench/trend_far.py). These
        levels are far above the textbook ``h = 5`` (0.57 false alarms here)
        because a 7-value baseline is itself noisy, and its error adds up
        night after night. For another warm-up or slack, recalibrate with
        bench/trend_far.py.
    slack : float, default=0.25
        Allowance ``k`` in baseline-std units, >= 0, subtracted every night:
        a level within ``slack`` of the baseline mean does not build up.
    min_std : float, default=1e-6
        Floor on the baseline std, in the signal's own units, > 0. A perfectly
        constant warm-up has std 0, which would make any later change infinite
        (and no change at all 0/0). With the floor, such a change is finite but
        huge and alarms at once. Raise ``min_std`` to the smallest change that
        matters, if rounding noise alone should not alarm.

    Notes
    -----
    Missing nights (None, NaN, pandas.NA, +/-inf) are skipped. They count
    neither towards the warm-up nor towards ``n``, but ``first_alarm_index``
    still indexes the input series. Until there are ``warmup + 1`` values,
    nothing is computed.

    The baseline is never updated, and the false-alarm probability grows with
    the number of monitored nights. Pass the history since the last
    re-baselining (a model deployment, an acknowledged alarm), not all of it.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(4)
    >>> warm = 0.90 + 0.01 * rng.standard_normal(7)  # an audit-set recall, std 0.01
    >>> falling = 0.90 - 0.002 * np.arange(1, 31) + 0.01 * rng.standard_normal(30)  # 0.2 std a night
    >>> result = TrendDetector(direction="decrease").run(np.r_[warm, falling])
    >>> result.alarm, result.first_alarm_index
    (True, 23)
    >>> TrendDetector().run(warm[:5]).detail
    'Warming up: 3 more nights with a value needed (have 5, need 7 warm-up + 1).'
    """

    def __init__(
        self,
        *,
        method: TrendMethod = "cusum",
        direction: TrendDirection = "both",
        warmup: int = 7,
        threshold: float | None = None,
        slack: float = 0.25,
        min_std: float = 1e-6,
    ) -> None:
        _check_option("method", method, TREND_METHODS)
        _check_option("direction", direction, TREND_DIRECTIONS)
        _check_number("warmup", warmup, 2, strict=False, integer=True)
        if threshold is not None:
            _check_number("threshold", threshold, 0, strict=True)
        _check_number("slack", slack, 0, strict=False)
        _check_number("min_std", min_std, 0, strict=True)
        self.method = method
        self.direction = direction
        self.warmup = int(warmup)
        self.threshold = float(DEFAULT_THRESHOLDS[method] if threshold is None else threshold)
        self.slack = float(slack)
        self.min_std = float(min_std)

    def run(self, values: Sequence[float | None] | np.ndarray | pd.Series) -> TrendResult:
        """Compute the statistic over the whole nightly history.

        Parameters
        ----------
        values : sequence of float or None, shape (n_nights,)
            The full history, oldest first. Missing nights are skipped.

        Returns
        -------
        TrendResult
            The statistic after the last value, and the first alarm.

        Raises
        ------
        TypeError
            If ``values`` holds something other than real numbers or None.
        ValueError
            If ``values`` is not 1-D.
        """
        x = _as_series(values)
        kept = np.flatnonzero(np.isfinite(x))
        v, w, h = x[kept], self.warmup, self.threshold
        if v.size <= w:
            more = w + 1 - v.size
            detail = (
                f"Warming up: {more} more night{'s' * (more > 1)} with a value needed "
                f"(have {v.size}, need {w} warm-up + 1)."
            )
            return self._result(v.size, None, None, 0.0, None, detail)

        mean, std = float(v[:w].mean()), max(float(v[:w].std(ddof=1)), self.min_std)
        z = np.clip((v[w:] - mean) / std, -_Z_CAP, _Z_CAP)
        if self.method == "page_hinkley":
            # The warm-up's standardised values sum to 0, so only the monitored ones enter the running sum.
            z = z - np.cumsum(z) / np.arange(w + 1, v.size + 1)
        sides = {"increase": _lindley(z - self.slack), "decrease": _lindley(-z - self.slack)}
        if self.direction == "both":
            side = "increase" if sides["increase"][-1] >= sides["decrease"][-1] else "decrease"
            path = np.maximum(sides["increase"], sides["decrease"])
        else:
            side, path = self.direction, sides[self.direction]
        hits = np.flatnonzero(path > h)
        first = int(kept[w + hits[0]]) if hits.size else None
        statistic = float(path[-1])

        which = f"the {side} side" + (" (the larger)" if self.direction == "both" else "")
        since = f", first exceeded at index {first}" if first is not None else ""
        skipped = x.size - v.size
        missing = f"; {skipped} missing night{'s' * (skipped > 1)} skipped" if skipped else ""
        detail = (
            f"{_NAMES[self.method]}: {which} is at {statistic:.3g} baseline std, "
            f"{'above' if statistic > h else 'not above'} the threshold {h:g}{since}; "
            f"baseline {mean:.4g} +/- {std:.3g} from the first {w} values{missing}."
        )
        return self._result(v.size, mean, std, statistic, first, detail)

    def _result(
        self, n: int, mean: float | None, std: float | None, statistic: float, first: int | None, detail: str
    ) -> TrendResult:
        return TrendResult(
            method=self.method,
            direction=self.direction,
            n=int(n),
            warmup=self.warmup,
            baseline_mean=mean,
            baseline_std=std,
            statistic=statistic,
            threshold=self.threshold,
            alarm=statistic > self.threshold,
            first_alarm_index=first,
            detail=detail,
        )
