"""Sequential trend detectors over one nightly signal: a robust self-starting scan, tabular CUSUM and Page-Hinkley.

A per-night threshold misses drift that moves a little every night, such as an
audit-set recall that falls 0.005 a night. :class:`TrendDetector` accumulates
the evidence over nights instead. It keeps no state: :meth:`TrendDetector.run`
recomputes everything from the full history, so a rerun of a night gives the
same answer.

After an alarm the detector starts again: the next night opens a new warm-up
and the baseline is re-estimated from it. A lasting change therefore raises one
alarm night (and more only if the signal keeps moving after the new warm-up),
never an alarm that stays on for every later night.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from alignment_drift.core.drift.trend_scan import scan_segment

TrendMethod = Literal["robust_scan", "cusum", "page_hinkley"]
TrendDirection = Literal["increase", "decrease", "both"]
TREND_METHODS: tuple[TrendMethod, ...] = get_args(TrendMethod)
TREND_DIRECTIONS: tuple[TrendDirection, ...] = get_args(TrendDirection)
#: Default ``threshold`` per method (``robust_scan``: when both sides are watched; see :func:`default_threshold`).
#: CUSUM and Page-Hinkley: at most 5% of drift-free N(0, 1) series of 7 warm-up + 23 monitored nights
#: raise any alarm (bench/trend_far.py). ``robust_scan``: at most 1 false alarm per 100 nights on
#: autocorrelated, heavy-tailed and skewed bounded histories (tests/core/drift/test_trend_calibration.py).
DEFAULT_THRESHOLDS: dict[str, float] = {"robust_scan": 3.1, "cusum": 22.0, "page_hinkley": 12.0}
#: ``robust_scan``'s default threshold when one side is watched (a z-score: one tail instead of two).
ONE_SIDED_SCAN_THRESHOLD = 2.85
#: Default ``warmup`` per method: ``robust_scan`` estimates a spread and an autocorrelation from it.
DEFAULT_WARMUP: dict[str, int] = {"robust_scan": 10, "cusum": 7, "page_hinkley": 7}
_NAMES = {"robust_scan": "Robust scan", "cusum": "CUSUM", "page_hinkley": "Page-Hinkley"}
_Z_CAP = 1e12  # keeps the sums finite however large (value - mean) / min_std gets


def default_threshold(method: TrendMethod, direction: TrendDirection) -> float:
    """The threshold used when none is given: ``DEFAULT_THRESHOLDS[method]``, one-sided scans 2.85."""
    if method == "robust_scan" and direction != "both":
        return ONE_SIDED_SCAN_THRESHOLD
    return DEFAULT_THRESHOLDS[method]


@dataclass(frozen=True)
class TrendResult:
    """Outcome of :meth:`TrendDetector.run` on one nightly history.

    ``n`` counts the non-missing values used. ``alarm`` says whether the last
    night is an alarm night; ``alarm_indices`` lists every alarm night of the
    history (indices in the input series) and ``first_alarm_index`` is the first
    of them. Each alarm restarts the detector: ``segment_start`` is the index of
    the first value of the current baseline (0 until the first alarm).

    ``statistic`` is the current segment's statistic after the last value (for
    ``"both"``, the larger side): baseline-std units for CUSUM and Page-Hinkley,
    a z-score for ``robust_scan``. ``baseline_mean`` and ``baseline_std`` are the
    current warm-up's mean and std (``robust_scan``: median and scaled MAD);
    ``phi`` is the AR(1) coefficient ``robust_scan`` allowed for (None for the
    others). While the current segment warms up, the baselines are None and the
    statistic is 0.0.
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
    alarm_indices: tuple[int, ...] = ()
    segment_start: int = 0
    phi: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (plain Python scalars, no NaN)."""
        out = asdict(self)
        out["alarm_indices"] = list(self.alarm_indices)
        return out


@dataclass(frozen=True)
class _Segment:
    """One baseline segment: its statistic path from the first monitored value, and its first alarm."""

    mean: float
    std: float
    path: np.ndarray
    alarm: int | None  # position in the segment
    side: str
    note: str = ""
    phi: float | None = None


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

    The first ``warmup`` non-missing values of a segment give its baseline.
    Every later value is judged against it, and the first value whose statistic
    exceeds ``threshold`` is an alarm night; the segment ends there and the next
    value opens a new one (a new warm-up), so alarms are nights, not a state.

    * ``"robust_scan"`` (default): a self-starting scan
      (:mod:`~alignment_drift.core.drift.trend_scan`). Values are standardised
      by the warm-up's median and MAD and clipped at 3 of those units; each
      night, the last ``m`` nights (``m`` up to ``max_window``) are compared with
      all earlier nights of the segment, as a step (their mean) and as a ramp
      (weights 1..m), each divided by its standard error under an AR(1) model
      fitted on those earlier nights and turned into a z-score through Student's
      t. The statistic is the largest z-score. Built for real nightly signals:
      autocorrelated, heavy-tailed, skewed or bounded.
    * ``"cusum"``: Page's tabular CUSUM on ``z = (x - mean) / std`` with the
      warm-up's mean and std (ddof=1): ``S+ = max(0, S+ + z - slack)`` and
      ``S- = max(0, S- - z - slack)``.
    * ``"page_hinkley"``: the same two sums over ``d = z - zbar`` instead of
      ``z``, where ``zbar`` is the running mean of the segment's standardised
      values so far, warm-up included.

    CUSUM and Page-Hinkley assume independent N(0, 1)-like nights around a
    baseline that a short warm-up estimates exactly: on real histories they
    raise false alarms (see bench/README.md, "Trend detection on real series").

    Parameters
    ----------
    method : {"robust_scan", "cusum", "page_hinkley"}, default="robust_scan"
        Statistic.
    direction : {"increase", "decrease", "both"}, default="both"
        Side(s) that can raise an alarm. ``"both"`` reports the larger side.
    warmup : int or None, default=None
        Number of values, an int >= 2 (``robust_scan``: >= 3), that open each
        segment and estimate its baseline. None uses ``DEFAULT_WARMUP[method]``:
        10 for ``robust_scan``, 7 for CUSUM and Page-Hinkley.
    threshold : float or None, default=None
        Alarm level, > 0. None uses :func:`default_threshold`: for
        ``robust_scan`` a z-score of 3.1 with both sides watched and 2.85 with
        one, which keep false alarms at or below 1 per 100 stationary nights on
        AR(1) histories with ``phi`` up to 0.6, Student-t(3) noise and skewed
        rates in [0, 1] (tests/core/drift/test_trend_calibration.py); for CUSUM
        22.0 and Page-Hinkley 12.0 (baseline-std units), which keep the chance of
        any alarm over 7 warm-up + 23 monitored N(0, 1) nights below 5%
        (bench/trend_far.py).
    slack : float, default=0.25
        CUSUM and Page-Hinkley: allowance ``k`` in baseline-std units, >= 0,
        subtracted every night. Not used by ``robust_scan``.
    min_std : float, default=1e-6
        Floor on the baseline spread, in the signal's own units, > 0. A perfectly
        constant warm-up has spread 0, which would make any later change
        infinite (and no change at all 0/0). With the floor, such a change is
        finite but huge and alarms at once. Raise ``min_std`` to the smallest
        change that matters, if rounding noise alone should not alarm.
    max_window : int, default=15
        ``robust_scan``: the longest run of recent nights compared with the
        earlier ones, an int >= 1.

    Notes
    -----
    Missing nights (None, NaN, pandas.NA, +/-inf) are skipped. They count
    neither towards the warm-up nor towards ``n``, but the indices in the result
    still refer to the input series. Until a segment has ``warmup + 1`` values,
    it cannot alarm.

    Pass the history since the last re-baselining (the reference's promotion,
    the last resolved incident), not all of it: the monitor does.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(4)
    >>> warm = 0.90 + 0.01 * rng.standard_normal(14)  # an audit-set recall, std 0.01
    >>> falling = 0.90 - 0.002 * np.arange(1, 31) + 0.01 * rng.standard_normal(30)  # 0.2 std a night
    >>> result = TrendDetector(direction="decrease").run(np.r_[warm, falling])
    >>> result.alarm_indices  # the 8th falling night; the fall goes on, so again after a new warm-up
    (21, 42)
    >>> TrendDetector().run(warm[:5]).detail
    'Warming up: 6 more nights with a value needed (have 5, need 10 warm-up + 1).'
    """

    def __init__(
        self,
        *,
        method: TrendMethod = "robust_scan",
        direction: TrendDirection = "both",
        warmup: int | None = None,
        threshold: float | None = None,
        slack: float = 0.25,
        min_std: float = 1e-6,
        max_window: int = 15,
    ) -> None:
        _check_option("method", method, TREND_METHODS)
        _check_option("direction", direction, TREND_DIRECTIONS)
        warmup = DEFAULT_WARMUP[method] if warmup is None else warmup
        _check_number("warmup", warmup, 3 if method == "robust_scan" else 2, strict=False, integer=True)
        if threshold is not None:
            _check_number("threshold", threshold, 0, strict=True)
        _check_number("slack", slack, 0, strict=False)
        _check_number("min_std", min_std, 0, strict=True)
        _check_number("max_window", max_window, 1, strict=False, integer=True)
        self.method = method
        self.direction = direction
        self.warmup = int(warmup)
        self.threshold = float(default_threshold(method, direction) if threshold is None else threshold)
        self.slack = float(slack)
        self.min_std = float(min_std)
        self.max_window = int(max_window)

    def run(self, values: Sequence[float | None] | np.ndarray | pd.Series) -> TrendResult:
        """Compute the statistic over the whole nightly history, restarting after every alarm.

        Parameters
        ----------
        values : sequence of float or None, shape (n_nights,)
            The full history, oldest first. Missing nights are skipped.

        Returns
        -------
        TrendResult
            The alarm nights, and the current segment's statistic after the last value.

        Raises
        ------
        TypeError
            If ``values`` holds something other than real numbers or None.
        ValueError
            If ``values`` is not 1-D.
        """
        x = _as_series(values)
        kept = np.flatnonzero(np.isfinite(x))
        v, w = x[kept], self.warmup
        alarms: list[int] = []
        start = 0  # position in v of the current segment's first value
        while v.size - start > w:
            segment = self._segment(v[start:])
            if segment.alarm is None or start + segment.alarm == v.size - 1:
                break
            alarms.append(start + segment.alarm)
            start += segment.alarm + 1
        else:
            return self._warming_up(x, kept, v.size - start, alarms, start)
        if segment.alarm is not None:
            alarms.append(start + segment.alarm)
        return self._summary(x, kept, v.size, alarms, start, segment)

    def _segment(self, v: np.ndarray) -> _Segment:
        """The segment's statistic path (one value per monitored night) and its first alarm."""
        w, h = self.warmup, self.threshold
        if self.method == "robust_scan":
            scan = scan_segment(
                v,
                warmup=w,
                threshold=h,
                direction=self.direction,
                max_window=self.max_window,
                clip=3.0,
                phi_max=0.8,
                min_std=self.min_std,
            )
            note = f" (a {scan.shape} over the last {scan.window} night{'s' * (scan.window > 1)})"
            return _Segment(scan.center, scan.scale, scan.statistic, scan.alarm, scan.side, note, scan.phi)
        mean, std = float(v[:w].mean()), max(float(v[:w].std(ddof=1)), self.min_std)
        size = min(v.size, w + 64)
        while True:  # on longer and longer prefixes (the sums are causal): a segment that alarms early costs little
            z = np.clip((v[w:size] - mean) / std, -_Z_CAP, _Z_CAP)
            if self.method == "page_hinkley":
                # The warm-up's standardised values sum to 0, so only the monitored ones enter the running sum.
                z = z - np.cumsum(z) / np.arange(w + 1, size + 1)
            sides = {"increase": _lindley(z - self.slack), "decrease": _lindley(-z - self.slack)}
            path = np.maximum(*sides.values()) if self.direction == "both" else sides[self.direction]
            hits = np.flatnonzero(path > h)
            if hits.size or size == v.size:
                break
            size = min(v.size, w + 2 * (size - w))
        if hits.size:
            path = path[: hits[0] + 1]
        at = path.size - 1
        side = self.direction
        if side == "both":
            side = "increase" if sides["increase"][at] >= sides["decrease"][at] else "decrease"
        return _Segment(mean, std, path, int(w + hits[0]) if hits.size else None, side)

    def _warming_up(self, x: np.ndarray, kept: np.ndarray, have: int, alarms: list[int], start: int) -> TrendResult:
        w = self.warmup
        more = w + 1 - have
        after = f" after the alarm at index {int(kept[alarms[-1]])}" if alarms else ""
        detail = (
            f"Warming up{after}: {more} more night{'s' * (more > 1)} with a value needed "
            f"(have {have}, need {w} warm-up + 1)."
        )
        return self._result(x, kept, alarms, start, None, 0.0, detail)

    def _summary(
        self, x: np.ndarray, kept: np.ndarray, n: int, alarms: list[int], start: int, segment: _Segment
    ) -> TrendResult:
        h, statistic = self.threshold, float(segment.path[-1])
        which = f"the {segment.side} side" + (" (the larger)" if self.direction == "both" else "")
        units = "" if self.method == "robust_scan" else " baseline std"
        earlier = [int(kept[a]) for a in alarms if a < n - 1]
        restarted = ""
        if earlier:
            listed = ", ".join(map(str, earlier[-5:])) + (", ..." if len(earlier) > 5 else "")
            restarted = f"; restarted after {len(earlier)} earlier alarm{'s' * (len(earlier) > 1)} (index {listed})"
        what = "median +/- MAD" if self.method == "robust_scan" else "mean +/- std"
        phi = "" if segment.phi is None else f", AR(1) phi {segment.phi:.2f}"
        skipped = x.size - n
        missing = f"; {skipped} missing night{'s' * (skipped > 1)} skipped" if skipped else ""
        detail = (
            f"{_NAMES[self.method]}: {which} is at {statistic:.3g}{units}{segment.note}, "
            f"{'above' if statistic > h else 'not above'} the threshold {h:g}; baseline ({what}) "
            f"{segment.mean:.4g} +/- {segment.std:.3g} from the {self.warmup} values from index "
            f"{int(kept[start])}{phi}{restarted}{missing}."
        )
        return self._result(x, kept, alarms, start, segment, statistic, detail)

    def _result(
        self,
        x: np.ndarray,
        kept: np.ndarray,
        alarms: list[int],
        start: int,
        segment: _Segment | None,
        statistic: float,
        detail: str,
    ) -> TrendResult:
        indices = tuple(int(kept[a]) for a in alarms)
        last = kept.size - 1
        return TrendResult(
            method=self.method,
            direction=self.direction,
            n=int(kept.size),
            warmup=self.warmup,
            baseline_mean=None if segment is None else segment.mean,
            baseline_std=None if segment is None else segment.std,
            statistic=statistic,
            threshold=self.threshold,
            alarm=bool(alarms) and alarms[-1] == last,
            first_alarm_index=indices[0] if indices else None,
            detail=detail,
            alarm_indices=indices,
            segment_start=int(kept[start]) if start < kept.size else int(x.size),
            phi=None if segment is None else segment.phi,
        )
