"""What every benchmark evaluates (:class:`Scored`) and what it returns (:class:`BenchmarkResult`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from alignment_drift.core.spec import ColumnRoles

__all__ = ["BenchmarkResult", "Direction", "Scored", "Status", "finite", "judge"]

Status = Literal["pass", "fail", "skipped", "info"]
Direction = Literal["higher_is_better", "lower_is_better"]


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None when it is None, NaN or infinite (JSON-able, never NaN)."""
    return None if value is None or not math.isfinite(value) else float(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class BenchmarkResult:
    """One safety benchmark evaluated once.

    ``status`` is ``pass``, ``fail``, ``skipped`` (could not be evaluated:
    never a silent pass) or ``info`` (a signal without a threshold).
    ``ci_low``/``ci_high`` bound ``value`` where the kind has an interval;
    ``direction`` says which way is better; ``evidence`` carries the
    kind's details (failing probe cases, per-slice values, the reliability
    table ...), JSON-able.
    """

    name: str
    kind: str
    metric: str
    value: float | None
    threshold: float | None
    baseline: float | None
    delta: float | None
    status: Status
    severity: str
    n: int
    detail: str = ""
    ci_low: float | None = None
    ci_high: float | None = None
    direction: Direction = "higher_is_better"
    on: str = "audit"
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, bench: Any, **fields: Any) -> BenchmarkResult:
        """The result of the spec benchmark ``bench``: its name, kind and severity; delta from value and baseline."""
        value, baseline = fields.get("value"), fields.get("baseline")
        delta = None if value is None or baseline is None else value - baseline
        return cls(name=bench.name, kind=bench.kind, severity=bench.severity, delta=delta, **fields)

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (no NaN), and accepted back by ``BenchmarkResult(**d)``."""
        out = _clean(asdict(self))
        out["evidence"] = _clean(dict(self.evidence))
        return out


@dataclass(frozen=True)
class Scored:
    """Rows scored by the model under test: the labels known for them, its scores and decisions.

    ``frame`` (when given) holds the rows' inputs and segments, for the
    benchmarks that slice or re-score them (slice gaps, probes,
    perturbations); ``feature_names`` are the model's inputs and
    ``threshold`` its blocking threshold.
    """

    target: np.ndarray
    score: np.ndarray
    prediction: np.ndarray
    proxy: np.ndarray | None = None
    frame: pd.DataFrame | None = None
    feature_names: tuple[str, ...] = ()
    threshold: float = 0.5
    exposure: np.ndarray | None = None

    def subset(self, keep: np.ndarray) -> Scored:
        """The rows where ``keep`` is true."""
        return Scored(
            self.target[keep],
            self.score[keep],
            self.prediction[keep],
            None if self.proxy is None else self.proxy[keep],
            None if self.frame is None else self.frame.loc[keep].reset_index(drop=True),
            self.feature_names,
            self.threshold,
            None if self.exposure is None else self.exposure[keep],
        )

    def exposed(self) -> Scored:
        """The rows the model exposes (predicts negative): where an exposure-gated proxy is observed."""
        return self.subset(self.prediction == 0)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, roles: ColumnRoles, *, score: np.ndarray, threshold: float) -> Scored:
        """Build from a frame holding the target (and proxy) columns and the model's ``score``."""
        proxy = None
        if roles.proxy and roles.proxy in frame.columns:
            raw = frame[roles.proxy].to_numpy(dtype=float)
            proxy = raw if roles.proxy_positive == 1 else 1.0 - raw
        exposure = None
        if roles.exposure and roles.exposure in frame.columns:
            exposure = frame[roles.exposure].to_numpy(dtype=float)
        score = np.asarray(score, dtype=float)
        return cls(
            target=frame[roles.target].to_numpy(dtype=float),
            score=score,
            prediction=(score >= threshold).astype(np.int64),
            proxy=proxy,
            frame=frame.reset_index(drop=True),
            feature_names=tuple(roles.feature_names),
            threshold=float(threshold),
            exposure=exposure,
        )


def judge(
    value: float | None,
    bound: tuple[float | None, float | None],
    threshold: float | None,
    direction: Direction,
) -> Status:
    """Pass or fail on the interval's relevant bound (the point value when there is no interval).

    Higher-is-better values fail only when the interval's upper bound is
    below the threshold; lower-is-better values only when its lower bound
    is above it: sampling noise alone never fails a benchmark.
    """
    if value is None:
        return "skipped"
    if threshold is None:
        return "info"
    low, high = bound
    if direction == "higher_is_better":
        return "fail" if (value if high is None else high) < threshold else "pass"
    return "fail" if (value if low is None else low) > threshold else "pass"
