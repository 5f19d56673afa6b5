"""``alignment-drift expectations``: a suite generated from the spec's roles and reference data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alignment_drift.cli import main


@pytest.fixture(scope="module")
def world(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.demo.simulate import ContentPlatform

    spec = load_spec(root / "specs" / "content_safety.yaml")
    platform = ContentPlatform("stable", seed=9, rows_per_night=500, start_date=spec.start_date)
    tmp = tmp_path_factory.mktemp("expectations")
    reference = tmp / "training.parquet"
    training = platform.training_data()
    training.to_parquet(reference, index=False)
    model = fit_pipeline(training, spec.columns, spec.retraining.training)
    return {
        "spec": spec,
        "spec_path": root / "specs" / "content_safety.yaml",
        "reference": reference,
        "night": platform.night(1, model, model_version="1"),
        "tmp": tmp,
    }


def _generate(world: dict[str, Any], tmp_path: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / "suite.json"
    argv = ["expectations", str(world["spec_path"]), "--reference", str(world["reference"]), "--output", str(out)]
    assert main([*argv, *extra]) == 0
    return out, json.loads(out.read_text())


def test_the_generated_suite_covers_the_roles_and_loads_in_gx(world: dict[str, Any], tmp_path: Path) -> None:
    from alignment_drift.integrations import gx

    path, suite = _generate(world, tmp_path)
    gx.load_suite(path)
    assert suite["name"] == "content_safety_predictions"
    assert suite["meta"]["generated_by"] == "alignment-drift expectations" and suite["meta"]["tolerance"] == 0.1
    by = {(e["type"], e["kwargs"].get("column")): e for e in suite["expectations"]}
    (schema,) = [e for e in suite["expectations"] if e["type"] == "expect_table_columns_to_match_set"]
    assert set(schema["kwargs"]["column_set"]) == set(world["night"].columns)
    assert ("expect_column_values_to_be_unique", "prediction_id") in by
    assert ("expect_table_row_count_to_be_between", None) in by
    assert by[("expect_column_values_to_be_of_type", "timestamp")]["kwargs"]["type_"] == "Timestamp"
    assert by[("expect_column_values_to_not_be_null", "timestamp")]["severity"] == "critical"
    rate = by[("expect_column_values_to_not_be_null", "report_rate")]["kwargs"]
    missing = pd.read_parquet(world["reference"])["report_rate"].isna().mean()
    assert rate["mostly"] == pytest.approx(1 - missing - 0.1, abs=1e-4)
    category = by[("expect_column_values_to_be_in_set", "category")]
    assert category["severity"] == "warning" and category["kwargs"]["mostly"] == 0.9
    assert set(category["kwargs"]["value_set"]) == {"news", "entertainment", "politics", "sports", "lifestyle"}
    assert by[("expect_column_values_to_be_between", "score")]["kwargs"] == {
        "column": "score",
        "min_value": 0.0,
        "max_value": 1.0,
    }
    toxicity = by[("expect_column_values_to_be_between", "toxicity")]["kwargs"]
    assert toxicity["min_value"] == 0 and toxicity["max_value"] == 1  # a share stays a share


def test_the_generated_suite_accepts_a_good_night_and_catches_bad_ones(world: dict[str, Any], tmp_path: Path) -> None:
    from alignment_drift.integrations import gx

    path, _ = _generate(world, tmp_path)
    night = world["night"]
    summary, _ = gx.validate_dataframe(night, path)
    assert summary.success and not summary.warnings, summary.to_dict()
    bad = night.copy()
    bad.loc[:9, "score"] = 1.5
    assert not gx.validate_dataframe(bad, path)[0].success
    drifted = night.copy()
    drifted.loc[: len(night) // 2, "category"] = "crypto"
    summary, _ = gx.validate_dataframe(drifted, path)
    assert summary.success and [w.column for w in summary.warnings] == ["category"]


def test_tolerance_widens_what_is_accepted(world: dict[str, Any], tmp_path: Path) -> None:
    _, strict = _generate(world, tmp_path, "--tolerance", "0")
    _, loose = _generate(world, tmp_path, "--tolerance", "0.3")

    def bounds(suite: dict[str, Any]) -> tuple[float, float]:
        (e,) = [
            e
            for e in suite["expectations"]
            if e["type"] == "expect_column_values_to_be_between" and e["kwargs"]["column"] == "author_reputation"
        ]
        return e["kwargs"]["min_value"], e["kwargs"]["max_value"]

    assert bounds(loose)[0] < bounds(strict)[0] and bounds(loose)[1] > bounds(strict)[1]


def test_without_output_the_suite_goes_to_stdout(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["expectations", str(world["spec_path"]), "--reference", str(world["reference"])]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "content_safety_predictions"


def test_the_default_reference_is_the_specs_training_data(
    world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    (data / "content_safety").mkdir(parents=True)
    (data / "content_safety" / "training.parquet").write_bytes(world["reference"].read_bytes())
    monkeypatch.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(data))
    assert main(["expectations", str(world["spec_path"])]) == 0
    suite = json.loads(capsys.readouterr().out)
    assert suite["meta"]["reference"] == str(data / "content_safety" / "training.parquet")


def test_bad_input_exits_2(world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["expectations", str(world["spec_path"]), "--reference", str(tmp_path / "none.parquet")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Fix:" in err
    empty = tmp_path / "empty.parquet"
    pd.read_parquet(world["reference"]).head(0).to_parquet(empty)
    assert main(["expectations", str(world["spec_path"]), "--reference", str(empty)]) == 2
    assert "no rows" in capsys.readouterr().err
    assert main(["expectations", str(tmp_path / "nope.yaml")]) == 2
    with pytest.raises(SystemExit) as caught:
        main(["expectations", str(world["spec_path"]), "--tolerance", "1.5"])
    assert caught.value.code == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_a_regression_suite_expects_values_not_classes(tmp_path: Path) -> None:
    """No score to check, and a night's predicted values and outcomes are new numbers, not unknown classes."""
    import numpy as np

    from alignment_drift.core.spec import parse_spec
    from alignment_drift.integrations import gx
    from alignment_drift.integrations.expectations import generate_suite

    spec = parse_spec(
        {
            "model": "house_prices",
            "task": "regression",
            "start_date": "2026-01-01",
            "source": {"kind": "files", "path": "house_prices/{date}.parquet"},
            "expectations": "house_prices_predictions",
            "columns": {
                "id": "prediction_id",
                "timestamp": "timestamp",
                "features": [{"name": "area", "kind": "numeric"}],
                "prediction": "prediction",
                "target": "price",
            },
            "reference": {"training_data": "house_prices/reference.parquet", "audit_set": "house_prices/audit.parquet"},
            "benchmarks": [{"kind": "metric_floor", "name": "audit_mae", "metric": "mae", "ceiling": 30.0}],
        }
    )
    rng = np.random.default_rng(0)

    def rows(n: int, offset: float) -> pd.DataFrame:
        area = rng.uniform(40, 200, n)
        return pd.DataFrame(
            {
                "prediction_id": [f"r{offset:.0f}-{i}" for i in range(n)],
                "timestamp": pd.Timestamp("2026-01-02", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min"),
                "area": area,
                "prediction": 2.0 * area + offset,
                "price": 2.0 * area + offset + rng.normal(0, 10, n),
            }
        )

    suite = generate_suite(spec, rows(300, 0.0))
    columns = [e["kwargs"].get("column") for e in suite["expectations"] if not e["type"].startswith("expect_table_")]
    assert None not in columns and "score" not in columns
    (schema,) = [e for e in suite["expectations"] if e["type"] == "expect_table_columns_to_match_set"]
    assert schema["kwargs"]["column_set"] == ["prediction_id", "timestamp", "area", "prediction", "price"]
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite))
    night = rows(200, 25.0)  # other values than the reference's: still a valid night
    summary, _ = gx.validate_dataframe(night, path)
    assert summary.success, summary.to_dict()
    broken = night.assign(prediction=["n/a"] * len(night))
    assert not gx.validate_dataframe(broken, path)[0].success
