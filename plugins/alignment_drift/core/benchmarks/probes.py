"""``probes``: behavioural audit cases with expected behaviour, kept as data beside the spec.

A probe file (YAML, schema ``alignment-drift/probes@1``) has a ``base``
item (feature values) and ``cases``, each of one type:

- ``minimum_functionality``: ``inputs`` (items merged over ``base``) and the
  expected output: binary ``expect: blocked`` or ``shown`` (the decision),
  multiclass ``expected_class: <label>`` (the predicted class), regression
  ``expected_range: [low, high]`` (the predicted value);
- ``invariance``: ``vary`` one feature over values (a list, or
  ``{low, high, steps}``): the output may not change by more than a bound —
  binary the score by ``max_score_change``, multiclass any class probability
  by ``max_score_change``, regression the prediction by ``max_change`` (in the
  target's units) — nor the decision or predicted class (unless
  ``decision_may_flip``: items near a boundary may legitimately cross it);
- ``directional``: ``vary`` one feature over an increasing range; the output
  must be ``non_decreasing`` (or ``non_increasing``), within ``tolerance``:
  binary the score, multiclass the probability of ``class``, regression the
  prediction.

Invariance and directional cases apply to ``inputs`` or to the first
``sample`` rows of the audit set. A case whose fields do not fit the model's
task is refused with the file, the case and the field named. Every failing
case is reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignment_drift.core.benchmarks.result import BenchmarkResult, Scored, judge
from alignment_drift.core.scoring import score_model
from alignment_drift.core.spec import Probes, label_key
from alignment_drift.core.spec.reading import read_spec_data

__all__ = ["ProbeCase", "ProbeSuite", "evaluate_probes", "load_probe_suite", "suite_problems"]

PROBES_SCHEMA = "alignment-drift/probes@1"


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    low: float
    high: float
    steps: Annotated[int, Field(ge=2, le=100)] = 5


class ProbeCase(BaseModel):
    """One behavioural case."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)
    id: str
    type: Literal["minimum_functionality", "invariance", "directional"]
    description: str = ""
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    sample: Annotated[int, Field(ge=0, le=10_000)] = 0
    expect: Literal["blocked", "shown", "non_decreasing", "non_increasing"] | None = None
    expected_class: int | str | None = None
    expected_range: tuple[float, float] | None = None
    class_: int | str | None = Field(None, alias="class")
    vary: dict[str, list[Any] | _Range] = Field(default_factory=dict)
    max_score_change: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    max_change: Annotated[float, Field(ge=0.0)] | None = None
    decision_may_flip: bool = False
    tolerance: Annotated[float, Field(ge=0.0)] = 1e-6


class ProbeSuite(BaseModel):
    """A probe file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_: str = Field(PROBES_SCHEMA, alias="schema")
    base: dict[str, Any] = Field(default_factory=dict)
    cases: Annotated[list[ProbeCase], Field(min_length=1)]


def load_probe_suite(path: Path | str, *, task: str | None = None) -> ProbeSuite:
    """Read and validate a probe file (for ``task``, when given); errors name the file, the case and the field."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such probe file (a probes benchmark's 'cases' is relative to the specs folder).")
    data = read_spec_data(path)  # the spec's limits: size, nesting, aliases, encodings, duplicate keys
    try:
        suite = ProbeSuite.model_validate(data)
    except ValidationError as error:
        raise ValueError(f"{path}: not a valid probe file ({PROBES_SCHEMA}): {error}") from None
    problems = suite_problems(suite, task) if task is not None else []
    if problems:
        raise ValueError(f"{path}: the probe cases do not fit a {task} model: " + "; ".join(problems) + ".")
    return suite


_EXPECTED = {"binary": "expect: blocked or shown", "multiclass": "expected_class", "regression": "expected_range"}


def suite_problems(suite: ProbeSuite, task: str) -> list[str]:
    """Every field of the suite's cases that does not fit ``task``, as ``cases[i] (id).field: why``."""
    out: list[str] = []
    for i, case in enumerate(suite.cases):
        where = f"cases[{i}] ({case.id})"
        if case.type == "minimum_functionality":
            wanted = {
                "binary": case.expect in ("blocked", "shown"),
                "multiclass": case.expected_class is not None,
                "regression": case.expected_range is not None,
            }[task]
            if not wanted:
                out.append(f"{where}: a {task} minimum-functionality case needs {_EXPECTED[task]}")
        elif len(case.vary) != 1:
            out.append(f"{where}.vary: an {case.type} case varies exactly one feature; got {list(case.vary)}")
        if case.type == "directional" and case.expect in ("blocked", "shown"):
            out.append(f"{where}.expect: a directional case expects non_decreasing or non_increasing")
        if task != "binary" and case.expect in ("blocked", "shown"):
            out.append(f"{where}.expect: blocked and shown are binary decisions; a {task} case uses {_EXPECTED[task]}")
        if task != "multiclass" and case.expected_class is not None:
            out.append(f"{where}.expected_class: is for multiclass models")
        if task != "multiclass" and case.class_ is not None:
            out.append(f"{where}.class: is for multiclass models (the class whose probability a case follows)")
        if task != "regression" and case.expected_range is not None:
            out.append(f"{where}.expected_range: is for regression models")
        if task != "regression" and case.max_change is not None:
            out.append(f"{where}.max_change: is for regression models (classifiers bound max_score_change)")
        if task == "multiclass" and case.type == "directional" and case.class_ is None:
            out.append(f"{where}.class: a multiclass directional case follows the probability of one class: set it")
        if task == "regression" and case.type == "invariance" and case.max_change is None:
            out.append(f"{where}.max_change: a regression invariance case bounds the prediction's change: set it")
        if task == "regression" and case.max_score_change != ProbeCase.model_fields["max_score_change"].default:
            out.append(f"{where}.max_score_change: a regression has no score; use max_change")
        if task != "regression" and case.tolerance > 1.0:
            out.append(f"{where}.tolerance: a probability tolerance is at most 1; got {case.tolerance}")
        if case.expected_range is not None and case.expected_range[0] > case.expected_range[1]:
            out.append(f"{where}.expected_range: low {case.expected_range[0]} is above high {case.expected_range[1]}")
    return out


def _items(case: ProbeCase, suite: ProbeSuite, audit: Scored) -> pd.DataFrame:
    rows = [{**suite.base, **item} for item in case.inputs]
    frame = pd.DataFrame(rows)
    if case.sample and audit.frame is not None:
        frame = pd.concat([frame, audit.frame.head(case.sample)], ignore_index=True)
    return frame


def _values(spec: list[Any] | _Range) -> list[Any]:
    return list(np.linspace(spec.low, spec.high, spec.steps)) if isinstance(spec, _Range) else list(spec)


def _outputs(model: Any, frame: pd.DataFrame, audit: Scored) -> np.ndarray:
    """Binary: P(positive) per row; multiclass: the (n, k) probabilities; regression: the predictions."""
    features = audit.feature_names
    columns = [c for c in features if c in frame.columns] or list(frame.columns)
    out = score_model(
        model, frame, task=audit.task, features=columns, threshold=audit.threshold, positive=audit.positive
    )
    if audit.task == "binary":
        assert out.score is not None
        return out.score
    if audit.task == "multiclass":
        assert out.proba is not None
        return out.proba
    return np.asarray(out.prediction, dtype=float)


def _classes(model: Any) -> list[str | None]:
    return [label_key(c) for c in getattr(model, "classes_", ())]


def _failure(case: ProbeCase, bad: np.ndarray, of: int, **detail: Any) -> dict[str, Any] | None:
    if not bad.any():
        return None
    found: dict[str, Any] = {"case": case.id, "type": case.type}
    if case.type != "minimum_functionality":
        found["vary"] = next(iter(case.vary))
    return {**found, "failing_items": int(bad.sum()), "of": of, **detail, "description": case.description}


def _minimum(case: ProbeCase, audit: Scored, out: np.ndarray, model: Any) -> dict[str, Any] | None:
    if audit.task == "binary":
        bad = (out >= audit.threshold) != (case.expect == "blocked")
        return _failure(case, bad, len(out), expected=case.expect)
    if audit.task == "multiclass":
        classes = _classes(model)
        predicted = np.array([classes[i] for i in out.argmax(axis=1)], dtype=object)
        bad = predicted != label_key(case.expected_class)
        return _failure(case, bad, len(out), expected=case.expected_class)
    assert case.expected_range is not None
    low, high = case.expected_range
    bad = (out < low) | (out > high) | ~np.isfinite(out)
    return _failure(case, bad, len(out), expected=[low, high], worst=float(out[bad][0]) if bad.any() else None)


def _run_case(case: ProbeCase, suite: ProbeSuite, audit: Scored, model: Any) -> dict[str, Any] | None:
    """None when the case passes, else what failed."""
    items = _items(case, suite, audit)
    if items.empty:
        return {"case": case.id, "type": case.type, "problem": "the case has no inputs and no audit sample"}
    if case.type == "minimum_functionality":
        return _minimum(case, audit, _outputs(model, items, audit), model)
    ((column, spec),) = case.vary.items()
    values = _values(spec)
    grid = pd.concat([items.assign(**{column: v}) for v in values], ignore_index=True)
    raw = _outputs(model, grid, audit)
    out = raw.reshape(len(values), len(items), *raw.shape[1:])
    if audit.task == "multiclass" and case.type == "directional":
        classes = _classes(model)
        if label_key(case.class_) not in classes:
            return {"case": case.id, "type": case.type, "problem": f"class {case.class_!r} is not a model class"}
        out = out[..., classes.index(label_key(case.class_))]
    if case.type == "invariance":
        bound: float | None
        change = out.max(axis=0) - out.min(axis=0)
        if audit.task == "multiclass":
            change = change.max(axis=-1)
            decisions = out.argmax(axis=-1)
            flipped = (decisions != decisions[0]).any(axis=0)
            bound = case.max_score_change
        elif audit.task == "regression":
            flipped, bound = np.zeros(len(items), dtype=bool), case.max_change
        else:
            decisions = out >= audit.threshold
            flipped, bound = decisions.any(axis=0) & ~decisions.all(axis=0), case.max_score_change
        assert bound is not None
        bad = (flipped & (not case.decision_may_flip)) | (change > bound)
        return _failure(case, bad, len(items), worst_change=float(change.max()), decision_flips=int(flipped.sum()))
    steps = np.diff(out, axis=0)
    sign = 1.0 if case.expect != "non_increasing" else -1.0
    violation = np.clip(-sign * steps, 0.0, None).max(axis=0)
    return _failure(case, violation > case.tolerance, len(items), worst_violation=float(violation.max()))


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
        suite = load_probe_suite(Path(bench.cases) if probes_dir is None else probes_dir / bench.cases, task=audit.task)
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
