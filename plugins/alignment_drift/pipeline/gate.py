"""The retraining gate: a challenger may replace the champion only if it is at least as aligned.

Judged on the target, on the fixed audit set:

- every metric floor of the spec must pass (the challenger's point value);
- on every metric benchmark the challenger must not be worse than the champion
  by more than ``retraining.gate_tolerance``, judged by a **paired bootstrap
  on the same audit rows**: each replicate resamples the audit row indices
  once and both models' metric is computed on that same resample; the gate
  rejects when the upper bound of the ``gate_confidence`` interval of
  (challenger - champion) is below ``-gate_tolerance`` (the challenger is
  confidently worse);
- the proxy-target gap of the challenger (on its held-out rows) may not exceed
  the champion's recorded gap by more than the benchmark's ``max_increase``.

The bootstrap is seeded (``training.random_state``) and vectorised: the
resamples are a (replicates x rows) matrix of multinomial counts, and every
metric is a weighted count (ROC AUC by weighted ranks over tied-score groups).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignment_drift.core.spec import AlignmentSpec, ProxyTargetGap
from alignment_drift.settings import Settings

LOWER_IS_BETTER = frozenset({"fpr", "fnr", "mae", "rmse"})
METRICS = frozenset({"recall", "precision", "accuracy", "f1", "roc_auc", "specificity"}) | LOWER_IS_BETTER

__all__ = ["LOWER_IS_BETTER", "METRICS", "PairedDelta", "bootstrap_metric", "judge", "paired_bootstrap", "score_audit"]


@dataclass(frozen=True)
class PairedDelta:
    """(challenger - champion) on the audit set: the point delta and its paired-bootstrap interval."""

    metric: str
    challenger: float | None
    champion: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    replicates: int
    confidence: float

    def regresses(self, tolerance: float) -> bool:
        """Whether the challenger is confidently worse than the champion by more than ``tolerance``.

        Higher-is-better metrics: the interval's upper bound is below
        ``-tolerance``; lower-is-better ones: its lower bound is above ``tolerance``.
        """
        if self.ci_low is None or self.ci_high is None:
            return False
        if self.metric in LOWER_IS_BETTER:
            return self.ci_low > tolerance
        return self.ci_high < -tolerance

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``score`` for each row of ``weights`` (replicates x rows), ties counted half."""
    order = np.argsort(score, kind="mergesort")
    s, pos = score[order], y[order] == 1
    w = weights[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    wp = np.add.reduceat(w * pos, starts, axis=1)
    wn = np.add.reduceat(w * ~pos, starts, axis=1)
    below = np.cumsum(wn, axis=1) - wn
    num = (wp * (below + 0.5 * wn)).sum(axis=1)
    den = wp.sum(axis=1) * wn.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def bootstrap_metric(
    metric: str, y: np.ndarray, score: np.ndarray, prediction: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """A classification metric of the positive class under each row of ``weights``; NaN where undefined.

    ``weights`` of ones (shape ``(1, n)``) gives the plain metric on the rows.
    """
    if metric == "roc_auc":
        return _weighted_auc(y, score, weights)
    if metric in ("mae", "rmse"):
        err = np.abs(score - y) if metric == "mae" else (score - y) ** 2
        mean = (weights @ err) / weights.sum(axis=1)
        return mean if metric == "mae" else np.sqrt(mean)
    pos, hit = y == 1, prediction == 1
    tp = weights @ (pos & hit).astype(float)
    fp = weights @ (~pos & hit).astype(float)
    fn = weights @ (pos & ~hit).astype(float)
    tn = weights @ (~pos & ~hit).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "recall":
            return np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        if metric == "precision":
            return np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        if metric == "specificity":
            return np.where(tn + fp > 0, tn / (tn + fp), np.nan)
        if metric == "f1":
            return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
        if metric == "accuracy":
            return (tp + tn) / (tp + tn + fp + fn)
        if metric == "fpr":
            return np.where(tn + fp > 0, fp / (tn + fp), np.nan)
        if metric == "fnr":
            return np.where(tp + fn > 0, fn / (tp + fn), np.nan)
    raise ValueError(f"The 'metric' parameter must be one of {sorted(METRICS)}. Got {metric!r} instead.")


def paired_bootstrap(
    metric: str,
    y: np.ndarray,
    challenger: tuple[np.ndarray, np.ndarray],
    champion: tuple[np.ndarray, np.ndarray],
    *,
    replicates: int = 500,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDelta:
    """The paired bootstrap of (challenger - champion) for ``metric`` on the same labelled rows.

    Parameters
    ----------
    metric : str
        One of :data:`METRICS` (``fpr``, ``fnr``, ``mae``, ``rmse`` are lower-is-better).
    y : ndarray
        The target of the audit rows (NaN where unknown; those rows are dropped).
    challenger, champion : tuple of ndarray
        Each model's ``(score, prediction)`` on the same rows, in the same order.
    replicates : int
        Bootstrap replicates (each resamples the row indices once, for both models).
    confidence : float
        Two-sided interval level.
    seed : int
        Seed of the resampling.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400).astype(float)
    >>> good = y * 0.6 + rng.random(400) * 0.5
    >>> bad = rng.random(400)
    >>> d = paired_bootstrap("roc_auc", y, (bad, (bad >= .5).astype(int)), (good, (good >= .5).astype(int)))
    >>> d.ci_high < 0
    True
    """
    if metric not in METRICS:
        raise ValueError(f"The 'metric' parameter must be one of {sorted(METRICS)}. Got {metric!r} instead.")
    if replicates < 1:
        raise ValueError(f"The 'replicates' parameter must be >= 1. Got {replicates} instead.")
    if not 0.5 < confidence < 1:
        raise ValueError(f"The 'confidence' parameter must be in (0.5, 1). Got {confidence} instead.")
    known = ~np.isnan(np.asarray(y, dtype=float))
    yk = np.asarray(y, dtype=float)[known].astype(np.int64)
    (s1, p1), (s2, p2) = ((np.asarray(s, float)[known], np.asarray(p)[known]) for s, p in (challenger, champion))
    n = len(yk)
    if n == 0:
        return PairedDelta(metric, None, None, None, None, None, 0, confidence)
    ones = np.ones((1, n))
    point1 = float(bootstrap_metric(metric, yk, s1, p1, ones)[0])
    point2 = float(bootstrap_metric(metric, yk, s2, p2, ones)[0])
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(float)
    diff = bootstrap_metric(metric, yk, s1, p1, weights) - bootstrap_metric(metric, yk, s2, p2, weights)
    diff = diff[np.isfinite(diff)]

    def finite(value: float) -> float | None:
        return value if np.isfinite(value) else None

    alpha = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(diff, [alpha, 1 - alpha])) if len(diff) else (np.nan, np.nan)
    return PairedDelta(
        metric=metric,
        challenger=finite(point1),
        champion=finite(point2),
        delta=finite(point1 - point2),
        ci_low=finite(low),
        ci_high=finite(high),
        replicates=len(diff),
        confidence=confidence,
    )


def score_audit(spec: AlignmentSpec, settings: Settings, model: Any) -> tuple[pd.DataFrame, Any]:
    """The fixed audit set and its rows scored by ``model`` (as the spec's task reads it)."""
    from alignment_drift.core.benchmarks import Scored
    from alignment_drift.core.scoring import score_model

    audit = pd.read_parquet(settings.resolve_data(spec.reference.audit_set))
    output = score_model(
        model,
        audit,
        task=spec.task,
        features=spec.columns.feature_names,
        threshold=spec.retraining.training.decision_threshold,
        positive=spec.columns.positive_class,
    )
    return audit, Scored.from_output(audit, spec, output)


def judge(spec: AlignmentSpec, settings: Settings, trained: dict[str, Any]) -> dict[str, Any]:
    """Judge the challenger ``trained["version"]`` against the spec's floors and the champion.

    Returns
    -------
    dict
        ``passed``, ``reasons``, ``champion_version``, ``challenger_version``,
        ``method`` (the bootstrap's settings) and a ``comparison`` row per
        benchmark: ``benchmark``, ``metric``, ``challenger``, ``champion``,
        ``delta``, ``ci_low``, ``ci_high``, ``floor``, ``floor_status``,
        ``decision`` (``pass`` or ``fail``) and ``why``.
    """
    from alignment_drift.core.benchmarks import run_benchmarks
    from alignment_drift.integrations.mlflow import registry

    policy = spec.retraining
    tolerance = policy.gate_tolerance
    challenger_model = registry.load_model(settings, spec.model, trained["version"])
    _, chall_scored = score_audit(spec, settings, challenger_model)
    # every benchmark that can be judged without a batch: floors, slices, probes, perturbations
    chall = run_benchmarks(
        spec.benchmarks, audit=chall_scored, batch=None, model=challenger_model, probes_dir=settings.specs_dir
    )
    champion = registry.champion(settings, spec.model)
    champ_scored = None
    if champion is not None and champion.version != trained["version"]:
        _, champ_scored = score_audit(spec, settings, registry.load_model(settings, spec.model, champion.version))
    reasons: list[str] = []
    comparison: list[dict[str, Any]] = []
    results = {r.name: r for r in chall}
    for bench in spec.benchmarks:
        result = results[bench.name]
        row: dict[str, Any] = {
            "benchmark": result.name,
            "metric": result.metric,
            "challenger": result.value,
            "champion": None,
            "delta": None,
            "ci_low": None,
            "ci_high": None,
            "floor": result.threshold,
            "floor_status": result.status,
            "decision": "pass",
            "why": "",
        }
        if isinstance(bench, ProxyTargetGap):
            gap = trained["baselines"].get(result.name)
            champion_gap = None if champion is None else _champion_baseline(settings, spec, champion, result.name)
            row.update(
                challenger=gap, champion=champion_gap, floor=None, floor_status="skipped" if gap is None else "pass"
            )
            if gap is not None and champion_gap is not None:
                row["delta"] = gap - champion_gap
                if gap > champion_gap + bench.max_increase:
                    row.update(decision="fail", why=f"gap exceeds the champion's by more than {bench.max_increase}")
        else:
            if result.failed:
                row.update(decision="fail", why=result.detail)
            metric = getattr(bench, "metric", None)
            paired_ok = (
                bench.kind == "metric_floor"
                and getattr(bench, "evaluated_on", "audit") == "audit"
                and metric in METRICS
            )
            if champ_scored is not None and paired_ok and isinstance(metric, str):
                paired = paired_bootstrap(
                    metric,
                    chall_scored.target,
                    (chall_scored.score, chall_scored.prediction),
                    (champ_scored.score, champ_scored.prediction),
                    replicates=policy.gate_replicates,
                    confidence=policy.gate_confidence,
                    seed=policy.training.random_state,
                )
                row.update(champion=paired.champion, delta=paired.delta, ci_low=paired.ci_low, ci_high=paired.ci_high)
                if paired.regresses(tolerance):
                    row.update(
                        decision="fail",
                        why=(f"{row['why']}; " if row["why"] else "")
                        + f"regresses against the champion: {paired.delta:+.3f}, {policy.gate_confidence:.0%} "
                        f"paired interval [{paired.ci_low:+.3f}, {paired.ci_high:+.3f}] beyond tolerance {tolerance}",
                    )
        if row["decision"] == "fail":
            reasons.append(f"{result.name}: {row['why']}")
        comparison.append(row)
    return {
        "passed": not reasons,
        "reasons": reasons,
        "champion_version": None if champion is None else champion.version,
        "challenger_version": trained["version"],
        "method": {
            "kind": "paired_bootstrap",
            "replicates": policy.gate_replicates,
            "confidence": policy.gate_confidence,
            "tolerance": tolerance,
            "seed": policy.training.random_state,
            "judged_on": "target",
        },
        "comparison": comparison,
    }


def _champion_baseline(settings: Settings, spec: AlignmentSpec, champion: Any, name: str) -> float | None:
    from alignment_drift.integrations.mlflow import registry

    try:
        value = registry.load_reference(settings, spec.model, champion).baselines.get(name)
    except LookupError:
        return None
    return None if value is None else float(value)
