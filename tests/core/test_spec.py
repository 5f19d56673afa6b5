"""The alignment spec: the demo spec loads, and every kind of mistake names its field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alignment_drift.core.spec import SpecError, load_spec, load_specs, parse_spec


@pytest.fixture
def demo_spec(root: Path) -> dict:
    return yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())


def test_demo_spec_loads(root: Path) -> None:
    spec = load_spec(root / "specs" / "content_safety.yaml")
    assert spec.model == "content_safety"
    assert spec.monitor_dag_id == "alignment_monitor__content_safety"
    assert spec.retrain_dag_id == "alignment_retrain__content_safety"
    assert spec.columns.numeric == ["toxicity", "sensationalism", "report_rate", "author_reputation", "text_length"]
    assert spec.columns.categorical == ["category", "source_type"]
    assert spec.retraining.label == "target"
    assert {b.kind for b in spec.benchmarks} == {
        "metric_floor",
        "slice_gap",
        "calibration",
        "probes",
        "perturbation",
        "proxy_target_gap",
        "performance_estimate",
    }


def test_gate_margin_and_deployment_policies_default(root: Path) -> None:
    spec = load_spec(root / "specs" / "content_safety.yaml")
    assert spec.retraining.gate_margin == 0.02
    assert (spec.governance.on_ungated, spec.governance.on_misaligned) == ("notify", "notify")


def test_every_spec_in_the_folder_loads(root: Path) -> None:
    assert [s.model for s in load_specs(root / "specs")] == ["content_safety"]


def _drop(data: dict, path: str) -> dict:
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    del node[leaf]
    return data


def _set(data: dict, path: str, value: object) -> dict:
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[leaf] = value
    return data


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(lambda d: _drop(d, "model"), r"model: this field is required", id="missing-model"),
        pytest.param(
            lambda d: _drop(d, "columns.target"), r"columns\.target: this field is required", id="missing-target-column"
        ),
        pytest.param(lambda d: _drop(d, "source"), r"source: this field is required", id="missing-source"),
        pytest.param(lambda d: _set(d, "drift.alpha", "often"), r"drift\.alpha: .*Got 'often'", id="alpha-wrong-type"),
        pytest.param(
            lambda d: _set(d, "drift.alpha", 1.5), r"drift\.alpha: .*less than 1.*Got 1\.5", id="alpha-out-of-range"
        ),
        pytest.param(
            lambda d: _set(d, "retraining.cooldown_days", "three"),
            r"retraining\.cooldown_days: .*Got 'three'",
            id="cooldown-wrong-type",
        ),
        pytest.param(
            lambda d: _set(d, "governance.approval", "sometimes"),
            r"governance\.approval: .*'automatic' or 'required'",
            id="approval-not-allowed",
        ),
        pytest.param(
            lambda d: _set(d, "benchmarks", [{"kind": "metric_floor", "name": "x", "metric": "recall", "floor": 2}]),
            r"benchmarks\.0\.metric_floor\.floor: .*Got 2",
            id="floor-above-one",
        ),
        pytest.param(
            lambda d: _set(d, "benchmarks", [{"kind": "vibes", "name": "x"}]),
            r"benchmarks\.0: .*'metric_floor', 'proxy_target_gap'",
            id="unknown-benchmark-kind",
        ),
        pytest.param(lambda d: _set(d, "colums", {}), r"colums: unknown field", id="misspelt-field"),
        pytest.param(lambda d: _set(d, "model", "Content Safety"), r"model: .*lower-case", id="model-name-format"),
        pytest.param(
            lambda d: _set(d, "source", {"kind": "files", "path": "predictions.parquet"}),
            r"source\.files\.path: .*\{date\}",
            id="path-without-date",
        ),
        pytest.param(
            lambda d: (_drop(d["columns"], "proxy"), d)[1],
            r"proxy_target_gap benchmark needs columns\.proxy",
            id="gap-without-proxy",
        ),
        pytest.param(
            lambda d: _set(d, "retraining.gate_tolerance", 0.02),
            r"retraining: .*gate_tolerance was replaced by retraining\.gate_margin.*rename it to gate_margin",
            id="gate-tolerance-renamed",
        ),
        pytest.param(
            lambda d: _set(d, "retraining.gate_margin", 0.9),
            r"retraining\.gate_margin: .*less than or equal to 0\.5.*Got 0\.9",
            id="gate-margin-out-of-range",
        ),
        pytest.param(
            lambda d: _set(d, "governance.on_ungated", "shrug"),
            r"governance\.on_ungated: .*'notify', 'hold' or 'rollback'",
            id="on-ungated-not-allowed",
        ),
        pytest.param(
            lambda d: _set(d, "governance.on_misaligned", "hold"),
            r"governance\.on_misaligned: .*'notify', 'rollback' or 'require_approval'",
            id="on-misaligned-not-allowed",
        ),
    ],
)
def test_spec_errors_name_the_field(demo_spec: dict, mutate, expected: str) -> None:
    with pytest.raises(SpecError, match=expected) as info:
        parse_spec(mutate(demo_spec), path="specs/content_safety.yaml")
    assert str(info.value).startswith("specs/content_safety.yaml: the alignment spec is not valid")


def test_spec_file_problems(tmp_path: Path, demo_spec: dict) -> None:
    with pytest.raises(SpecError, match="no such alignment spec file"):
        load_spec(tmp_path / "nothing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(broken)
    renamed = tmp_path / "other_name.yaml"
    renamed.write_text(yaml.safe_dump(demo_spec))
    with pytest.raises(SpecError, match=r"name the file 'content_safety\.yaml'"):
        load_spec(renamed)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        load_spec(listed)
