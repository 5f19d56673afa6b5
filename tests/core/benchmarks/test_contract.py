"""One contract for every benchmark kind on every task it supports, on models fitted to real data.

For each (kind, task) the fitted model of ``tests/core/conftest.py``
(breast_cancer, digits, diabetes) must give a value in the metric's range
with an interval around it, pass at a lenient threshold, fail at an
impossible one (or on a broken input), and be ``skipped`` with a reason —
never a number — when an input is missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from alignment_drift.core.benchmarks import Scored, proxy_target_gap, run_benchmarks
from alignment_drift.core.spec import (
    Calibration,
    MetricFloor,
    PerformanceEstimate,
    Perturbation,
    Probes,
    ProxyTargetGap,
    SliceGap,
)

UNIT = (0.0, 1.0)
POSITIVE = (0.0, math.inf)


@dataclass(frozen=True)
class Case:
    """A benchmark of one task, lenient and impossible, with the range its value must lie in."""

    id: str
    task: str
    lenient: Any
    impossible: Any
    value_range: tuple[float, float] = UNIT
    baseline: float | None = None
    impossible_baseline: float | None = None
    # how the impossible run breaks its rows, when no threshold can make a sound model fail
    break_rows: Callable[[Scored], Scored] | None = None


def _err_on_eu(rows: Scored) -> Scored:
    assert rows.frame is not None
    eu = (rows.frame["region"] == "eu").to_numpy()
    return replace(rows, prediction=np.where(eu, 1 - rows.prediction, rows.prediction))


def _floor(metric: str, lenient: float, **options: Any) -> tuple[MetricFloor, MetricFloor]:
    return (
        MetricFloor(name="b", metric=metric, floor=lenient, **options),
        MetricFloor(name="b", metric=metric, floor=1.0, **options),
    )


def _ceiling(metric: str, lenient: float, **options: Any) -> tuple[MetricFloor, MetricFloor]:
    return (
        MetricFloor(name="b", metric=metric, ceiling=lenient, **options),
        MetricFloor(name="b", metric=metric, ceiling=0.0, **options),
    )


def _gap(metric: str | None, lenient: float) -> tuple[SliceGap, SliceGap]:
    common = {"name": "b", "segment": "region", "metric": metric, "min_slice_rows": 30}
    return SliceGap(**common, max_gap=lenient), SliceGap(**common, max_gap=1e-6)


def _flips(tolerance: float | None = None, **numeric: Any) -> tuple[Perturbation, Perturbation]:
    common = {"name": "b", "rows": 100, "restarts": 2, "tolerance": tolerance, **numeric}
    return (
        Perturbation(**common, epsilon=0.01, max_flip_rate=0.5),
        Perturbation(**common, epsilon=3.0, max_flip_rate=0.0),
    )


BINARY_FEATURES = ["mean_radius", "mean_texture", "mean_concavity", "mean_smoothness"]
PIXELS = ["pixel_1_4", "pixel_2_5", "pixel_3_3", "pixel_4_4", "pixel_5_2"]
DIABETES = ["bmi", "bp", "s5", "age"]

CASES = [
    # binary: breast_cancer, positive class 0 (malignant)
    Case("accuracy", "binary", *_floor("accuracy", 0.5)),
    Case("log_loss", "binary", *_ceiling("log_loss", 1.0), value_range=POSITIVE),
    # recall is near 1 in both regions, so a gap's interval reaches 0: a model that errs on one region must fail
    Case("slice_gap", "binary", *_gap(None, 0.5), break_rows=lambda rows: _err_on_eu(rows)),
    Case("calibration", "binary", Calibration(name="b", max_ece=0.3), Calibration(name="b", max_ece=1e-6)),
    Case("probes", "binary", Probes(name="b", cases="binary.yaml"), Probes(name="b", cases="binary_broken.yaml")),
    Case("perturbation", "binary", *_flips(numeric=BINARY_FEATURES)),
    Case(
        "proxy_target_gap",
        "binary",
        ProxyTargetGap(name="b", max_increase=0.3),
        ProxyTargetGap(name="b", max_increase=0.01),
        value_range=(-1.0, 1.0),
        baseline=None,  # set from the batch itself below
        impossible_baseline=-1.5,
    ),
    Case(
        "performance_estimate",
        "binary",
        PerformanceEstimate(name="b", floor=0.5),
        PerformanceEstimate(name="b", floor=1.0),
    ),
    # multiclass: digits, 22 pixels
    Case("accuracy", "multiclass", *_floor("accuracy", 0.5)),
    Case("macro_f1", "multiclass", *_floor("macro_f1", 0.5)),
    Case("recall_of_a_class", "multiclass", *_floor("recall", 0.3, **{"class": 3})),
    Case("log_loss", "multiclass", *_ceiling("log_loss", 2.0), value_range=POSITIVE),
    Case("top_k_accuracy", "multiclass", *_floor("top_k_accuracy", 0.5, k=2)),
    Case("roc_auc_macro", "multiclass", *_floor("roc_auc", 0.5, average="macro")),
    Case(
        "roc_auc_weighted_on_the_batch", "multiclass", *_floor("roc_auc", 0.5, average="weighted", evaluated_on="batch")
    ),
    Case("slice_gap_accuracy", "multiclass", *_gap(None, 0.5)),
    Case("slice_gap_macro_f1", "multiclass", *_gap("macro_f1", 0.5)),
    Case(
        "calibration_top_label",
        "multiclass",
        Calibration(name="b", max_ece=0.3),
        Calibration(name="b", max_ece=1e-6),
    ),
    Case(
        "calibration_classwise",
        "multiclass",
        Calibration(name="b", max_ece=0.3, method="classwise"),
        Calibration(name="b", max_ece=1e-6, method="classwise"),
    ),
    Case(
        "probes",
        "multiclass",
        Probes(name="b", cases="multiclass.yaml"),
        Probes(name="b", cases="multiclass_broken.yaml"),
    ),
    Case("perturbation", "multiclass", *_flips(numeric=PIXELS)),
    Case(
        "performance_estimate",
        "multiclass",
        PerformanceEstimate(name="b", floor=0.5),
        PerformanceEstimate(name="b", floor=1.0),
    ),
    # regression: diabetes, target in its own units (25..346)
    Case("mae", "regression", *_ceiling("mae", 100.0), value_range=POSITIVE),
    Case("rmse", "regression", *_ceiling("rmse", 100.0), value_range=POSITIVE),
    Case("r2", "regression", *_floor("r2", 0.1), value_range=(-math.inf, 1.0)),
    Case("interval_coverage", "regression", *_floor("interval_coverage", 0.5, evaluated_on="batch")),
    Case("slice_gap_mae", "regression", *_gap(None, 100.0), value_range=POSITIVE),
    Case("slice_gap_rmse", "regression", *_gap("rmse", 100.0), value_range=POSITIVE),
    Case(
        "calibration_coverage",
        "regression",
        Calibration(name="b", max_coverage_gap=0.15, evaluated_on="batch"),
        Calibration(name="b", max_coverage_gap=0.15, evaluated_on="batch"),
        # a 90 % interval declared as a 50 % one: its coverage is far from the declared level
        break_rows=lambda rows: replace(rows, level=0.5),
    ),
    Case(
        "probes",
        "regression",
        Probes(name="b", cases="regression.yaml"),
        Probes(name="b", cases="regression_broken.yaml"),
    ),
    Case("perturbation", "regression", *_flips(tolerance=5.0, numeric=DIABETES)),
]

SUPPORTED = {
    (kind, task)
    for kind in (
        "metric_floor",
        "slice_gap",
        "calibration",
        "probes",
        "perturbation",
        "proxy_target_gap",
        "performance_estimate",
    )
    for task in ("binary", "multiclass", "regression")
} - {("proxy_target_gap", "multiclass"), ("proxy_target_gap", "regression"), ("performance_estimate", "regression")}


def _probe_files(folder: Path, fitted: dict[str, Any]) -> None:
    """A passing and a broken probe file per task, built from the fitted models' own properties."""
    b = fitted["binary"]
    audit = b.audit.assign(score=b.score(b.audit).score)
    coef = b.model[-1].coef_[0]  # logistic on standardised features: P(class 1 = benign) rises with coef
    rising = b.features[int(np.argmin(coef))]  # P(positive = malignant) rises with this feature
    base = audit.loc[audit["score"].idxmin(), b.features].to_dict()
    binary_cases = [
        {
            "id": "clearly_malignant",
            "type": "minimum_functionality",
            "expect": "blocked",
            "inputs": [audit.loc[audit["score"].idxmax(), b.features].to_dict()],
        },
        {"id": "clearly_benign", "type": "minimum_functionality", "expect": "shown", "inputs": [{}]},
        {
            "id": "region_is_no_input",
            "type": "invariance",
            "sample": 40,
            "vary": {"region": ["na", "eu", "apac"]},
            "max_score_change": 1e-9,
        },
        {
            "id": "monotone",
            "type": "directional",
            "sample": 40,
            "expect": "non_decreasing",
            "vary": {rising: {"low": float(audit[rising].min()), "high": float(audit[rising].max()), "steps": 6}},
        },
    ]
    broken_binary = [{**binary_cases[1], "id": "benign_blocked", "expect": "blocked"}]

    m = fitted["multiclass"]
    out = m.score(m.audit)
    best = int(np.argmax(out.score))
    label = out.prediction[best]
    coef = m.model[-1].coef_  # (classes, features): P(c) rises with x_j wherever w_cj is the largest of column j
    cls, feature = max(
        ((c, j) for c in range(coef.shape[0]) for j in range(coef.shape[1]) if coef[c, j] == coef[:, j].max()),
        key=lambda cj: coef[cj[0], cj[1]] - np.sort(coef[:, cj[1]])[-2],
    )
    pixel = m.features[feature]
    multiclass_cases = [
        {
            "id": "a_clear_digit",
            "type": "minimum_functionality",
            "expected_class": int(label),
            "inputs": [m.audit.loc[best, m.features].to_dict()],
        },
        {
            "id": "region_is_no_input",
            "type": "invariance",
            "sample": 40,
            "vary": {"region": ["na", "eu"]},
            "max_score_change": 1e-9,
        },
        {
            "id": "monotone_in_its_strongest_pixel",
            "type": "directional",
            "sample": 40,
            "class": int(m.model.classes_[cls]),
            "expect": "non_decreasing",
            "vary": {pixel: {"low": 0, "high": 16, "steps": 5}},
        },
    ]
    broken_multiclass = [{**multiclass_cases[0], "id": "wrong_digit", "expected_class": int((label + 1) % 10)}]

    r = fitted["regression"]
    coef = r.model[-1].coef_
    rising = r.features[int(np.argmax(coef))]
    typical = r.audit[r.features].median().to_dict()
    regression_cases = [
        {
            "id": "typical_patient_in_range",
            "type": "minimum_functionality",
            "expected_range": [25, 346],
            "inputs": [typical],
        },
        {
            "id": "region_is_no_input",
            "type": "invariance",
            "sample": 40,
            "vary": {"region": ["na", "eu"]},
            "max_change": 1e-9,
        },
        {
            "id": "monotone",
            "type": "directional",
            "sample": 40,
            "expect": "non_decreasing",
            "vary": {rising: {"low": float(r.audit[rising].min()), "high": float(r.audit[rising].max())}},
        },
    ]
    broken_regression = [{**regression_cases[0], "id": "impossible_range", "expected_range": [1000, 2000]}]

    for name, base_item, cases in (
        ("binary", base, binary_cases),
        ("binary_broken", base, broken_binary + binary_cases),
        ("multiclass", {}, multiclass_cases),
        ("multiclass_broken", {}, broken_multiclass + multiclass_cases),
        ("regression", typical, regression_cases),
        ("regression_broken", typical, broken_regression + regression_cases),
    ):
        payload = {
            "schema": "alignment-drift/probes@1",
            "base": {k: float(v) for k, v in base_item.items()},
            "cases": cases,
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(payload))


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory, fitted: dict[str, Any]) -> Path:
    folder = tmp_path_factory.mktemp("probes")
    _probe_files(folder, fitted)
    return folder


@pytest.fixture(scope="module")
def rows(fitted: dict[str, Any]) -> dict[str, tuple[Scored, Scored]]:
    """Each task's (audit, batch) rows, scored once."""
    return {task: (f.audit_rows(), f.batch_rows()) for task, f in fitted.items()}


def _run(case: Case, bench: Any, fitted: dict[str, Any], rows: dict, probe_dir: Path, *, broken: bool = False) -> Any:
    audit, batch = rows[case.task]
    if broken and case.break_rows is not None:
        audit, batch = case.break_rows(audit), case.break_rows(batch)
    baseline = case.impossible_baseline if broken else case.baseline
    if bench.kind == "proxy_target_gap" and not broken:
        baseline, _, _ = proxy_target_gap(batch, min_rows=bench.min_rows)
    (result,) = run_benchmarks(
        [bench],
        audit=audit,
        batch=batch,
        model=fitted[case.task].model,
        probes_dir=probe_dir,
        baselines={bench.name: baseline},
    )
    return result


def test_the_cases_cover_every_kind_on_every_task_it_supports() -> None:
    assert {(c.lenient.kind, c.task) for c in CASES} == SUPPORTED


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.task}-{c.id}")
def test_a_lenient_threshold_passes_with_a_sane_value(case: Case, fitted: dict, rows: dict, probe_dir: Path) -> None:
    result = _run(case, case.lenient, fitted, rows, probe_dir)
    assert result.status == "pass", result.detail
    low, high = case.value_range
    assert result.value is not None and low <= result.value <= high, result.detail
    assert result.n > 0 and result.detail
    if result.ci_low is not None:
        assert result.ci_low <= result.value <= result.ci_high, result.detail
        assert result.ci_low < result.ci_high or result.value in (0.0, 1.0), result.detail
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.task}-{c.id}")
def test_an_impossible_threshold_fails(case: Case, fitted: dict, rows: dict, probe_dir: Path) -> None:
    result = _run(case, case.impossible, fitted, rows, probe_dir, broken=True)
    assert result.status == "fail", result.detail
    assert result.value is not None


def _without(rows: Scored, **fields: Any) -> Scored:
    return replace(rows, **fields)


MISSING = [
    # (id, task, benchmark, how the rows lose the input (audit, batch) -> (audit, batch), the reason's words)
    (
        "no_batch",
        "binary",
        MetricFloor(name="b", metric="recall", floor=0.5, evaluated_on="batch"),
        lambda a, b: (a, None),
        "no batch rows",
    ),
    (
        "too_few_rows",
        "multiclass",
        MetricFloor(name="b", metric="accuracy", floor=0.5, min_rows=5000),
        lambda a, b: (a, b),
        "5000 needed",
    ),
    (
        "class_the_model_lacks",
        "multiclass",
        MetricFloor(name="b", metric="recall", floor=0.5, **{"class": 42}),
        lambda a, b: (a, b),
        "not one of the model's classes",
    ),
    (
        "logged_without_probabilities",
        "multiclass",
        MetricFloor(name="b", metric="log_loss", ceiling=2.0, evaluated_on="batch"),
        lambda a, b: (a, _without(b, proba=None)),
        "class probabilities",
    ),
    (
        "coverage_without_interval",
        "regression",
        MetricFloor(name="b", metric="interval_coverage", floor=0.5, evaluated_on="batch"),
        lambda a, b: (a, _without(b, lower=None, upper=None)),
        "no logged prediction interval",
    ),
    (
        "no_segment_column",
        "regression",
        SliceGap(name="b", segment="hospital", max_gap=10.0),
        lambda a, b: (a, b),
        "no segment column",
    ),
    (
        "calibration_without_interval",
        "regression",
        Calibration(name="b", max_coverage_gap=0.1, evaluated_on="audit"),
        lambda a, b: (a, b),
        "no logged prediction interval",
    ),
    (
        "classwise_without_probabilities",
        "multiclass",
        Calibration(name="b", max_ece=0.2, method="classwise", evaluated_on="batch"),
        lambda a, b: (a, _without(b, proba=None)),
        "class probabilities",
    ),
    ("probes_without_model", "multiclass", Probes(name="b", cases="multiclass.yaml"), None, "no model"),
    (
        "perturbation_without_model",
        "regression",
        Perturbation(name="b", numeric=DIABETES, max_flip_rate=0.5, tolerance=5.0),
        None,
        "no model",
    ),
    (
        "perturbation_without_tolerance",
        "regression",
        Perturbation(name="b", numeric=DIABETES, max_flip_rate=0.5),
        lambda a, b: (a, b),
        "needs 'tolerance'",
    ),
    (
        "gap_without_proxy",
        "binary",
        ProxyTargetGap(name="b"),
        lambda a, b: (a, _without(b, proxy=None)),
        "no proxy column",
    ),
    ("gap_of_a_multiclass_model", "multiclass", ProxyTargetGap(name="b"), lambda a, b: (a, b), "binary"),
    (
        "estimate_of_a_regression",
        "regression",
        PerformanceEstimate(name="b"),
        lambda a, b: (a, b),
        "not available for regression",
    ),
    (
        "estimate_without_confidence",
        "multiclass",
        PerformanceEstimate(name="b"),
        lambda a, b: (a, _without(b, score=np.full(len(b), np.nan))),
        "no P(predicted class)",
    ),
]


@pytest.mark.parametrize(("id_", "task", "bench", "strip", "reason"), MISSING, ids=[m[0] for m in MISSING])
def test_a_missing_input_skips_with_the_reason(
    id_: str, task: str, bench: Any, strip: Any, reason: str, fitted: dict, rows: dict, probe_dir: Path
) -> None:
    audit, batch = rows[task]
    model = fitted[task].model
    if strip is None:
        model = None
    else:
        audit, batch = strip(audit, batch)
    (result,) = run_benchmarks([bench], audit=audit, batch=batch, model=model, probes_dir=probe_dir)
    assert result.status == "skipped", result.detail
    assert result.value is None and not result.failed
    assert reason in result.detail
