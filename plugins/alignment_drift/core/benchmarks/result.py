"""What every benchmark evaluates (:class:`Scored`) and what it returns (:class:`BenchmarkResult`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from alignment_drift.core.exposure import exposed
from alignment_drift.core.scoring import ModelOutput, class_index, label_matches
from alignment_drift.core.spec import AlignmentSpec, ColumnRoles, Task, label_key

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


def _binary_target(values: pd.Series, positive: Any) -> np.ndarray:
    """1.0 where the label is the positive class, 0.0 where another, NaN where unknown."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        raw = values.to_numpy(dtype=float)
        key = label_key(positive)
        try:
            wanted = float(key) if key is not None else np.nan
        except ValueError:  # a string positive class of a numeric column: no row is positive
            wanted = np.nan
        return np.where(np.isnan(raw), np.nan, (raw == wanted).astype(float))
    key = label_key(positive)
    return label_matches(values, () if key is None else (key,))


def _classes(output: ModelOutput, spec: AlignmentSpec, frame: pd.DataFrame) -> tuple[Any, ...]:
    """The classes of a multiclass output: the model's, else the logged probability columns', else those seen."""
    if output.classes is not None:
        return output.classes
    if spec.columns.class_scores:
        return tuple(spec.columns.class_scores)
    seen: dict[str, Any] = {}
    target = frame[spec.columns.target] if spec.columns.target in frame.columns else pd.Series([], dtype=object)
    values = pd.concat([pd.Series(np.asarray(output.prediction, dtype=object)), target.astype(object)])
    for value in values.dropna().unique():
        key = label_key(value)
        if key is not None:
            seen.setdefault(key, value)
    return tuple(seen[k] for k in sorted(seen, key=_natural))


def _natural(key: str) -> tuple[int, float, str]:
    """Numbers in numeric order (2 before 10), then text."""
    try:
        return 0, float(key), ""
    except ValueError:
        return 1, 0.0, key


@dataclass(frozen=True)
class Scored:
    """Rows scored by the model under test: the labels known for them, its outputs and decisions.

    By ``task``:

    - ``binary``: ``target`` is 1.0 for the positive class, 0.0 otherwise,
      NaN when unknown; ``score`` is P(positive) and ``prediction`` the 0/1
      decision at ``threshold``;
    - ``multiclass``: ``target`` and ``prediction`` are positions in
      ``classes`` (target NaN when unknown, ``len(classes)`` for a class the
      model does not know; prediction ``len(classes) + 1`` for a logged label
      outside ``classes``); ``proba`` the (n, k) probabilities when known and
      ``score`` P(predicted class) (NaN when not logged);
    - ``regression``: ``target`` and ``prediction`` are values and ``score``
      repeats the prediction (the model's numeric output); ``lower``/``upper``
      bound a logged prediction interval of nominal coverage ``level``.

    ``frame`` (when given) holds the rows' inputs and segments, for the
    benchmarks that slice or re-score them (slice gaps, probes,
    perturbations); ``feature_names`` are the model's inputs and ``threshold``
    its binary decision threshold, ``positive`` its positive class.
    ``exposure`` is the logged exposure flag; ``exposed_rows`` the rows the
    model's own output exposes under the spec's rule (all rows when it
    exposes nothing by its output; None when not given: then, for a binary
    task, the default rule ``score < threshold``).
    """

    target: np.ndarray
    score: np.ndarray
    prediction: np.ndarray
    proxy: np.ndarray | None = None
    frame: pd.DataFrame | None = None
    feature_names: tuple[str, ...] = ()
    threshold: float = 0.5
    exposure: np.ndarray | None = None
    task: Task = "binary"
    proba: np.ndarray | None = None
    classes: tuple[Any, ...] | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    level: float | None = None
    exposed_rows: np.ndarray | None = None
    positive: Any = 1

    def __len__(self) -> int:
        return len(self.target)

    def subset(self, keep: np.ndarray) -> Scored:
        """The rows where ``keep`` is true."""

        def cut(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[keep]

        return replace(
            self,
            target=self.target[keep],
            score=self.score[keep],
            prediction=self.prediction[keep],
            proxy=cut(self.proxy),
            frame=None if self.frame is None else self.frame.loc[keep].reset_index(drop=True),
            exposure=cut(self.exposure),
            proba=cut(self.proba),
            lower=cut(self.lower),
            upper=cut(self.upper),
            exposed_rows=cut(self.exposed_rows),
        )

    def exposed(self) -> Scored:
        """The rows the model's own output exposes (see :func:`alignment_drift.core.exposure.exposed`).

        That is where an exposure-gated proxy is observed. Binary rows built
        without a rule use the default one: exposed when ``score < threshold``.
        """
        if self.exposed_rows is not None:
            return self.subset(self.exposed_rows)
        if self.task == "binary":
            return self.subset(self.score < self.threshold)
        return self

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, roles: ColumnRoles, *, score: np.ndarray, threshold: float) -> Scored:
        """Binary rows from a frame holding the target (and proxy) columns and the model's ``score``.

        The decision is ``score >= threshold``; the exposure rule the binary
        default (exposed when ``score < threshold``). :meth:`from_output` builds
        rows of any task under the spec's own rule.
        """
        proxy = None
        if roles.proxy and roles.proxy in frame.columns:
            raw = frame[roles.proxy].to_numpy(dtype=float)
            proxy = raw if roles.proxy_positive == 1 else 1.0 - raw
        exposure = None
        if roles.exposure and roles.exposure in frame.columns:
            exposure = frame[roles.exposure].to_numpy(dtype=float)
        score = np.asarray(score, dtype=float)
        return cls(
            target=_binary_target(frame[roles.target], roles.positive_class),
            score=score,
            prediction=(score >= threshold).astype(np.int64),
            proxy=proxy,
            frame=frame.reset_index(drop=True),
            feature_names=tuple(roles.feature_names),
            threshold=float(threshold),
            exposure=exposure,
            positive=roles.positive_class,
        )

    @classmethod
    def from_output(
        cls, frame: pd.DataFrame, spec: AlignmentSpec, output: ModelOutput, *, logged: bool = False
    ) -> Scored:
        """Rows of any task from the model's ``output`` on ``frame`` (which holds the target, when known).

        ``output`` comes from :func:`alignment_drift.core.scoring.score_model`
        (the model under test re-scoring rows, e.g. the audit set) or
        :func:`~alignment_drift.core.scoring.logged_output` (the prediction
        log's own columns; ``logged=True`` also reads a regression's logged
        interval). The exposed rows follow the spec's exposure rule.
        """
        roles, task, n = spec.columns, spec.task, len(frame)
        if len(output) != n:
            raise ValueError(f"The output has {len(output)} rows but the frame {n}; score the same rows.")
        has_target = roles.target in frame.columns
        threshold = spec.retraining.training.decision_threshold
        rows = exposed(spec, output)
        common: dict[str, Any] = {
            "frame": frame.reset_index(drop=True),
            "feature_names": tuple(roles.feature_names),
            "threshold": float(threshold),
            "exposure": frame[roles.exposure].to_numpy(dtype=float)
            if roles.exposure and roles.exposure in frame.columns
            else None,
            "task": task,
            "exposed_rows": np.ones(n, dtype=bool) if rows is None else rows,
            "positive": roles.positive_class,
        }
        if task == "binary":
            binary = cls.from_frame(frame, roles, score=np.asarray(output.score, dtype=float), threshold=threshold)
            return replace(binary, **common, proba=output.proba, classes=output.classes)
        if task == "regression":
            values = np.asarray(output.prediction, dtype=float)
            target = frame[roles.target].to_numpy(dtype=float) if has_target else np.full(n, np.nan)
            lower = upper = None
            interval = roles.interval
            if logged and interval is not None and {interval.lower, interval.upper} <= set(frame.columns):
                lower = frame[interval.lower].to_numpy(dtype=float)
                upper = frame[interval.upper].to_numpy(dtype=float)
            proxy = frame[roles.proxy].to_numpy(dtype=float) if roles.proxy and roles.proxy in frame.columns else None
            return cls(
                target=target,
                score=values,
                prediction=values,
                proxy=proxy,
                lower=lower,
                upper=upper,
                level=None if interval is None else interval.level,
                **common,
            )
        classes = _classes(output, spec, frame)
        target = class_index(frame[roles.target].to_numpy(dtype=object), classes) if has_target else np.full(n, np.nan)
        prediction = class_index(output.prediction, classes)
        prediction = np.where(np.isnan(prediction) | (prediction >= len(classes)), len(classes) + 1, prediction)
        proba = None if output.proba is None else _align(output.proba, output.classes, classes)
        score = np.full(n, np.nan) if output.score is None else np.asarray(output.score, dtype=float)
        proxy = None
        if roles.proxy and roles.proxy in frame.columns:
            proxy = class_index(frame[roles.proxy].to_numpy(dtype=object), classes)
        return cls(
            target=target,
            score=score,
            prediction=prediction.astype(np.int64),
            proxy=proxy,
            proba=proba,
            classes=classes,
            **common,
        )


def _align(proba: np.ndarray, have: tuple[Any, ...] | None, want: tuple[Any, ...]) -> np.ndarray:
    """Probability columns in ``want`` order (``have`` is their current order; None means already ``want``)."""
    if have is None:
        return np.asarray(proba, dtype=float)
    index = class_index(list(want), have)
    return np.asarray(proba, dtype=float)[:, index.astype(int)]


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
