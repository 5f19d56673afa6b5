"""``probes``: behavioural audit cases with expected behaviour, kept as data beside the spec.

A probe file (YAML, schema ``alignment-drift/probes@1``) has a ``base``
item (feature values) and ``cases``, each of one type:

- ``minimum_functionality``: ``inputs`` (items merged over ``base``) and
  ``expect`` (``blocked`` or ``shown``): the decision must be the expected one;
- ``invariance``: ``vary`` one feature over values (a list, or
  ``{low, high, steps}``): the score may not change by more than
  ``max_score_change``, nor the decision (unless ``decision_may_flip``:
  items near the threshold may legitimately cross it);
- ``directional``: ``vary`` one feature over an increasing range; the score
  must be ``non_decreasing`` (or ``non_increasing``), within ``tolerance``.

Invariance and directional cases apply to ``inputs`` or to the first
``sample`` rows of the audit set. Every failing case is reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, judge
from alignment_drift.core.spec import Probes

__all__ = ["ProbeCase", "ProbeSuite", "evaluate_probes", "load_probe_suite"]

PROBES_SCHEMA = "alignment-drift/probes@1"


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    low: float
    high: float
    steps: Annotated[int, Field(ge=2, le=100)] = 5


class ProbeCase(BaseModel):
    """One behavioural case."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    type: Literal["minimum_functionality", "invariance", "directional"]
    description: str = ""
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    sample: Annotated[int, Field(ge=0, le=10_000)] = 0
    expect: Literal["blocked", "shown", "non_decreasing", "non_increasing"] | None = None
    vary: dict[str, list[Any] | _Range] = Field(default_factory=dict)
    max_score_change: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    decision_may_flip: bool = False
    tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = 1e-6


class ProbeSuite(BaseModel):
    """A probe file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_: str = Field(PROBES_SCHEMA, alias="schema")
    base: dict[str, Any] = Field(default_factory=dict)
    cases: Annotated[list[ProbeCase], Field(min_length=1)]


def load_probe_suite(path: Path | str) -> ProbeSuite:
    """Read and validate a probe file; errors name the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ProbeSuite.model_validate(data)
    except FileNotFoundError:
        raise ValueError(
            f"{path}: no such probe file (a probes benchmark's 'cases' is relative to the specs folder)."
        ) from None
    except (yaml.YAMLError, ValidationError) as error:
        raise ValueError(f"{path}: not a valid probe file ({PROBES_SCHEMA}): {error}") from None


def _items(case: ProbeCase, suite: ProbeSuite, audit: Scored) -> pd.DataFrame:
    rows = [{**suite.base, **item} for item in case.inputs]
    frame = pd.DataFrame(rows)
    if case.sample and audit.frame is not None:
        frame = pd.concat([frame, audit.frame.head(case.sample)], ignore_index=True)
    return frame


def _values(spec: list[Any] | _Range) -> list[Any]:
    return list(np.linspace(spec.low, spec.high, spec.steps)) if isinstance(spec, _Range) else list(spec)


def _score(model: Any, frame: pd.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    columns = [c for c in features if c in frame.columns] or list(frame.columns)
    return np.asarray(model.predict_proba(frame[columns] if features else frame))[:, 1]


def _run_case(case: ProbeCase, suite: ProbeSuite, audit: Scored, model: Any) -> dict[str, Any] | None:
    """None when the case passes, else what failed."""
    items = _items(case, suite, audit)
    if items.empty:
        return {"case": case.id, "type": case.type, "problem": "the case has no inputs and no audit sample"}
    features = audit.feature_names
    if case.type == "minimum_functionality":
        blocked = _score(model, items, features) >= audit.threshold
        wrong = np.flatnonzero(blocked != (case.expect == "blocked"))
        if len(wrong):
            return {
                "case": case.id,
                "type": case.type,
                "failing_items": len(wrong),
                "of": len(items),
                "expected": case.expect,
                "description": case.description,
            }
        return None
    ((column, spec),) = case.vary.items()
    values = _values(spec)
    grid = pd.concat([items.assign(**{column: v}) for v in values], ignore_index=True)
    scores = _score(model, grid, features).reshape(len(values), len(items))
    if case.type == "invariance":
        change = scores.max(axis=0) - scores.min(axis=0)
        decisions = scores >= audit.threshold
        flipped = decisions.any(axis=0) & ~decisions.all(axis=0)
        bad = (flipped & (not case.decision_may_flip)) | (change > case.max_score_change)
        worst = float(change.max())
        detail = {"worst_score_change": worst, "decision_flips": int(flipped.sum())}
    else:
        steps = np.diff(scores, axis=0)
        sign = 1.0 if case.expect != "non_increasing" else -1.0
        violation = np.clip(-sign * steps, 0.0, None).max(axis=0)
        bad = violation > case.tolerance
        detail = {"worst_violation": float(violation.max())}
    if bad.any():
        return {
            "case": case.id,
            "type": case.type,
            "vary": column,
            "failing_items": int(bad.sum()),
            "of": len(items),
            **detail,
            "description": case.description,
        }
    return None


def evaluate_probes(
    bench: Probes, audit: Scored, baseline: float | None, *, model: Any | None, probes_dir: Path | None
) -> BenchmarkResult:
    """Run every case of the benchmark's probe file against ``model``; value = share of cases passing."""
    value, n, failures, detail = None, 0, [], ""
    if model is None:
        detail = "no model to probe (baselines are recorded by the monitor from the promoted version)"
    elif probes_dir is None and not Path(bench.cases).is_absolute():
        detail = f"no specs folder to resolve the probe file {bench.cases!r}"
    else:
        suite = load_probe_suite(Path(bench.cases) if probes_dir is None else probes_dir / bench.cases)
        failures = [f for f in (_run_case(c, suite, audit, model) for c in suite.cases) if f is not None]
        n = len(suite.cases)
        value = 1.0 - len(failures) / n
    status = judge(value, (None, None), bench.min_pass_rate, "higher_is_better")
    if value is not None:
        failing = "; ".join(f"{f['case']} ({f.get('failing_items', '?')}/{f.get('of', '?')} items)" for f in failures)
        detail = f"{n - len(failures)}/{n} probe cases pass" + (f"; failing: {failing}" if failures else "")
    return BenchmarkResult.of(
        bench,
        metric="pass_rate",
        value=value,
        threshold=bench.min_pass_rate,
        baseline=baseline,
        status=status,
        n=n,
        detail=detail,
        evidence={"failures": failures},
    )
