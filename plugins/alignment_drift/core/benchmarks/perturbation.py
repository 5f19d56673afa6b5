"""``perturbation``: adversarial robustness under bounded perturbations, with a small worst-case search.

For each audit row the search looks, within the box (each numeric feature
moved by at most ``epsilon`` audit standard deviations, clipped to the
audit range; each swappable categorical feature set to any value seen in
the audit set), for the perturbation that pushes the row's output furthest
toward a flip — a binary score toward the other side of the decision
threshold, a multiclass row toward another class (the margin of the best
other class over the predicted one), a regression's prediction away from
its value (a flip: a move beyond ``tolerance``):

1. every single-coordinate move (``±delta`` per numeric feature, every other
   category per swappable feature);
2. a greedy coordinate-wise ascent from the best single move (each coordinate
   in turn set to its best option, the others held);
3. ``restarts`` random corners of the box.

All candidates of a step are scored in one call of the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, judge
from alignment_drift.core.scoring import score_model
from alignment_drift.core.spec import Perturbation

__all__ = ["evaluate_perturbation", "wilson_interval"]


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float | None, float | None]:
    """The Wilson score interval of a proportion.

    Examples
    --------
    >>> low, high = wilson_interval(5, 100, 0.95)
    >>> round(low, 3), round(high, 3)
    (0.022, 0.112)
    """
    if n == 0:
        return None, None
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exactly 0 (1) at no (every) success: rounding must not put a bound above a max_flip_rate of 0
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


class _Output:
    """What the search pushes for the rows' task, and when a row counts as flipped.

    ``push`` maps the outputs of candidate frames to a per-row objective
    (larger is closer to a flip, 0 at the unperturbed rows): binary, the
    score's move toward the other side of the threshold; multiclass, the
    margin of the best other class over the originally predicted one;
    regression, the absolute move of the prediction.
    """

    def __init__(self, model: Any, rows: Scored, columns: list[str], tolerance: float | None) -> None:
        self.model, self.rows, self.columns, self.tolerance = model, rows, columns, tolerance

    def raw(self, stacked: pd.DataFrame) -> np.ndarray:
        out = score_model(
            self.model,
            stacked,
            task=self.rows.task,
            features=self.columns,
            threshold=self.rows.threshold,
            positive=self.rows.positive,
        )
        if self.rows.task == "binary":
            assert out.score is not None
            return out.score
        if self.rows.task == "multiclass":
            assert out.proba is not None
            return out.proba
        return np.asarray(out.prediction, dtype=float)

    def start(self, base: np.ndarray) -> None:
        self.base = base
        if self.rows.task == "binary":
            self.sign = np.where(base >= self.rows.threshold, -1.0, 1.0)  # push blocked rows down, shown rows up
        elif self.rows.task == "multiclass":
            self.label = base.argmax(axis=1)
            self.margin0 = self._margin(base)

    def _margin(self, proba: np.ndarray) -> np.ndarray:
        rows = np.arange(proba.shape[-2])
        own = proba[..., rows, self.label]
        others = proba.copy()
        others[..., rows, self.label] = -np.inf
        return others.max(axis=-1) - own

    def push(self, out: np.ndarray) -> np.ndarray:
        if self.rows.task == "binary":
            return self.sign * (out - self.base)
        if self.rows.task == "multiclass":
            return self._margin(out) - self.margin0
        return np.abs(out - self.base)

    def flipped(self, out: np.ndarray) -> np.ndarray:
        if self.rows.task == "binary":
            t = self.rows.threshold
            return (out >= t) != (self.base >= t)
        if self.rows.task == "multiclass":
            return out.argmax(axis=1) != self.label
        assert self.tolerance is not None
        return np.abs(out - self.base) > self.tolerance

    def change(self, out: np.ndarray) -> tuple[str, np.ndarray]:
        """The evidence's name and each row's change under the worst perturbation found."""
        if self.rows.task == "binary":
            return "score_change", np.abs(out - self.base)
        if self.rows.task == "multiclass":
            rows = np.arange(len(out))
            return "probability_drop", self.base[rows, self.label] - out[rows, self.label]
        return "prediction_change", np.abs(out - self.base)


class _Search:
    """The per-row best perturbation found so far (numeric offsets and categorical values)."""

    def __init__(self, bench: Perturbation, base: pd.DataFrame, output: _Output, audit: pd.DataFrame):
        self.bench, self.base, self.output = bench, base, output
        self.columns = list(base.columns)
        self.delta = {c: bench.epsilon * float(np.nanstd(audit[c].to_numpy(float))) for c in bench.numeric}
        self.range = {c: (float(np.nanmin(audit[c])), float(np.nanmax(audit[c]))) for c in bench.numeric}
        self.categories = {c: sorted(audit[c].dropna().astype(str).unique()) for c in bench.swap}
        self.s0 = self._outputs([base])[0]
        output.start(self.s0)
        self.best = base.copy()
        for column in bench.numeric:  # perturbed values are real numbers, whatever the column's dtype
            self.best[column] = self.best[column].astype(float)
        self.gain = np.zeros(len(base))

    def _outputs(self, frames: list[pd.DataFrame]) -> np.ndarray:
        stacked = pd.concat(frames, ignore_index=True)[self.columns]
        raw = self.output.raw(stacked)
        return raw.reshape(len(frames), len(self.base), *raw.shape[1:])

    def _with(self, start: pd.DataFrame, column: str, option: Any) -> pd.DataFrame:
        frame = start.copy()
        if column in self.delta:
            low, high = self.range[column]
            frame[column] = np.clip(self.base[column].to_numpy(float) + option, low, high)
        else:
            frame[column] = option
        return frame

    def options(self, column: str) -> list[Any]:
        return [-self.delta[column], self.delta[column]] if column in self.delta else list(self.categories[column])

    def offer(self, candidates: list[pd.DataFrame]) -> None:
        if not candidates:
            return
        gains = self.output.push(self._outputs(candidates))
        rows = np.arange(len(self.base))
        pick = gains.argmax(axis=0)
        better = gains[pick, rows] > self.gain
        if better.any():
            for column in (*self.bench.numeric, *self.bench.swap):
                stacked = np.stack([c[column].to_numpy() for c in candidates])
                self.best[column] = np.where(better, stacked[pick, rows], self.best[column].to_numpy())
            self.gain = np.where(better, gains[pick, rows], self.gain)

    def run(self) -> np.ndarray:
        coords = [*self.bench.numeric, *self.bench.swap]
        self.offer([self._with(self.base, c, o) for c in coords for o in self.options(c)])
        for column in coords:
            self.offer([self._with(self.best, column, o) for o in self.options(column)])
        rng = np.random.default_rng(self.bench.seed)
        corners = []
        for _ in range(self.bench.restarts):
            frame = self.base.copy()
            for c in self.bench.numeric:
                frame = self._with(frame, c, rng.choice([-1.0, 1.0], len(frame)) * self.delta[c])
            for c in self.bench.swap:
                frame[c] = rng.choice(np.array(self.categories[c], dtype=object), len(frame))
            corners.append(frame)
        self.offer(corners)
        return self._outputs([self.best])[0]


def evaluate_perturbation(
    bench: Perturbation, audit: Scored, baseline: float | None, *, model: Any | None
) -> BenchmarkResult:
    """Flip rate under the worst perturbation found; fails when its Wilson lower bound exceeds ``max_flip_rate``.

    A flip is a changed decision (binary), a changed predicted class
    (multiclass), or a prediction moved by more than ``tolerance`` (regression).
    """
    value: float | None = None
    ci: tuple[float | None, float | None] = (None, None)
    n, detail = 0, ""
    evidence: dict[str, Any] = {}
    missing = [c for c in (*bench.numeric, *bench.swap) if audit.frame is None or c not in audit.frame.columns]
    if model is None:
        detail = "no model to perturb (baselines are recorded by the monitor from the promoted version)"
    elif missing:
        detail = f"the audit rows have no column(s) {missing}"
    elif audit.task == "regression" and bench.tolerance is None:
        detail = "a regression's perturbation needs 'tolerance' (the change that counts, in the target's units)"
    else:
        assert audit.frame is not None
        features = list(audit.feature_names) or [c for c in audit.frame.columns]
        rows = audit.frame[features].sample(n=min(bench.rows, len(audit.frame)), random_state=bench.seed)
        base = rows.reset_index(drop=True).astype({c: float for c in bench.numeric})
        output = _Output(model, audit, features, bench.tolerance)
        worst = _Search(bench, base, output, audit.frame).run()
        flipped = output.flipped(worst)
        n, flips = len(base), int(flipped.sum())
        value = flips / n
        ci = wilson_interval(flips, n, bench.confidence)
        name, change = output.change(worst)
        evidence = {
            f"worst_{name}": float(change.max()),
            f"mean_{name}": float(change.mean()),
            "flips": flips,
            "epsilon_std": bench.epsilon,
            "numeric": list(bench.numeric),
            "swap": list(bench.swap),
        }
        if bench.tolerance is not None:
            evidence["tolerance"] = bench.tolerance
    status = judge(value, ci, bench.max_flip_rate, "lower_is_better")
    if value is not None:
        name = next(k for k in evidence if k.startswith("worst_"))
        detail = (
            f"flip rate {value:.3f} ({bench.confidence:.0%} CI {ci[0]:.3f}..{ci[1]:.3f}) under perturbations of "
            f"{epsilon_text(bench)}, max {bench.max_flip_rate:.3f}; "
            f"{name.replace('_', ' ')} {evidence[name]:.3f}"
        )
    return BenchmarkResult.of(
        bench,
        metric="flip_rate",
        value=value,
        threshold=bench.max_flip_rate,
        baseline=baseline,
        status=status,
        n=n,
        detail=detail,
        ci_low=ci[0],
        ci_high=ci[1],
        direction="lower_is_better",
        evidence=evidence,
    )


def epsilon_text(bench: Perturbation) -> str:
    parts = [f"{', '.join(bench.numeric)} by {bench.epsilon} sd"] if bench.numeric else []
    parts += [f"swaps of {', '.join(bench.swap)}"] if bench.swap else []
    return " and ".join(parts)
