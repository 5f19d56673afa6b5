"""``alignment-drift gate`` and the rollback and review verbs, on the session's MLflow store and real models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignment_drift.cli import main
from tests.integrations.mlflow.registered import unique_model


@pytest.fixture(scope="module")
def shop(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A spec file of its own; v1 (target-trained, gated), v2 (proxy-trained, made champion without the gate)."""
    import yaml

    from alignment_drift.core.spec import load_spec
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.demo.run import deploy_platform_update, prepare_data
    from alignment_drift.demo.simulate import FEATURES, ContentPlatform, PlatformUpdate
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.settings import Settings

    model = unique_model("cli_gate")
    raw = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    raw["model"] = model
    raw["source"]["path"] = f"{model}/predictions/{{date}}.parquet"
    raw["reference"].update(training_data=f"{model}/training.parquet", audit_set=f"{model}/audit.parquet")
    folder = tmp_path_factory.mktemp("cli-gate")
    (folder / f"{model}.yaml").write_text(yaml.safe_dump(raw))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(folder / "data"))
        settings = Settings.from_env(root)
        spec = load_spec(folder / f"{model}.yaml")
        platform = ContentPlatform("stable", seed=7, rows_per_night=300, start_date=spec.start_date)
        prepare_data(settings, spec, platform)
        target = PlatformUpdate(0, "target", platform.training_data(), "target", FEATURES)
        v1 = deploy_platform_update(settings, spec, target)
        registry.set_version_tags(settings, model, v1, {"gate": "passed", "approval": "automatic"})
        proxy = PlatformUpdate(1, "engagement_finetune", platform.training_data(), "proxy", FEATURES)
        v2 = deploy_platform_update(settings, spec, proxy)
        same = fit_pipeline(platform.training_data(), spec.columns, spec.retraining.training)
        yield {"model": model, "spec": folder / f"{model}.yaml", "v1": v1, "v2": v2, "settings": settings,
               "folder": folder, "pipeline": same}  # fmt: skip


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["gate", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_proxy_trained_version_is_rejected_against_the_last_gated_version(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.pipeline.gate import objective_fingerprint

    code, doc = _json([str(shop["spec"]), "--challenger", f"models:/{shop['model']}/{shop['v2']}"], capsys)
    assert code == 1 and doc["schema"] == "alignment-drift/gate@1" and doc["decision"] == "reject"
    assert doc["against"] == [{"role": "last_gated", "version": shop["v1"], "label": f"v{shop['v1']}"}]
    assert doc["objective_fingerprint"] == objective_fingerprint(load_spec(shop["spec"]))
    assert doc["margin"] == 0.02 and doc["audit_rows"] == 3000
    recall = next(b for b in doc["benchmarks"] if b["benchmark"] == "audit_unsafe_recall")
    (comparison,) = recall["comparisons"]
    assert comparison["outcome"] == "fail" and comparison["ci_high"] < -0.02
    assert recall["floor"]["outcome"] == "fail" and any("audit_unsafe_recall" in r for r in doc["reasons"])


def test_a_version_as_good_as_the_last_gated_one_is_promoted_against_both(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow
    import mlflow.sklearn

    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.registry import SKOPS_TRUSTED

    mlflow.set_tracking_uri(shop["settings"].tracking_uri)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(shop["pipeline"], name="model", skops_trusted_types=SKOPS_TRUSTED)
    uri = f"runs:/{run.info.run_id}/model"
    code, doc = _json([str(shop["spec"]), "--challenger", uri], capsys)
    assert code == 0 and doc["decision"] == "promote", doc["reasons"]
    assert doc["challenger"] == {"uri": uri, "version": None}
    assert [(a["role"], a["version"]) for a in doc["against"]] == [("last_gated", shop["v1"]), ("champion", shop["v2"])]
    assert registry.champion(shop["settings"], shop["model"]).version == shop["v2"]  # it decides; it moves nothing

    code = main(["gate", str(shop["spec"]), "--challenger", uri, "--against", f"models:/{shop['model']}@champion"])
    table = capsys.readouterr().out
    assert code == 0 and "-> PROMOTE" in table and f"reference v{shop['v2']}" in table
    assert "(warning: does not block)" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--challenger", "s3://bucket/model.pkl"], "must be one of models:/", id="malformed-uri"),
        pytest.param(["--challenger", "models:/{model}/99"], "Cannot load", id="unknown-version"),
        pytest.param(["--challenger", "models:/{model}@nope"], "has no alias 'nope'", id="unknown-alias"),
        pytest.param(
            ["--challenger", "models:/{model}/1", "--against", "runs:/../model"], "must be one of", id="bad-against"
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    args = [a.replace("{model}", shop["model"]) for a in args]
    assert main(["gate", str(shop["spec"]), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_spec_with_the_old_gate_tolerance_is_refused(
    shop: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    raw = yaml.safe_load(shop["spec"].read_text())
    raw["retraining"]["gate_tolerance"] = raw["retraining"].pop("gate_margin")
    path = tmp_path / f"{shop['model']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["gate", str(path), "--challenger", f"models:/{shop['model']}/1"]) == 2
    assert "replaced by retraining.gate_margin" in capsys.readouterr().err


def test_rollback_refuses_the_ungated_version_and_forcing_it_warns(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from alignment_drift.integrations.mlflow import registry

    model, settings = shop["model"], shop["settings"]
    assert main(["rollback", model, "--reason", "v2 is proxy-trained", "--to", shop["v1"]]) == 0
    assert registry.champion(settings, model).version == shop["v1"]
    capsys.readouterr()
    assert main(["rollback", model, "--reason", "undo"]) == 2  # previous is the ungated v2
    err = capsys.readouterr().err
    assert "never passed the gate" in err and "--force" in err
    assert main(["rollback", model, "--reason", "the owner insists", "--force", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "WARNING: forced rollback" in captured.err and json.loads(captured.out)["forced"] is True
    assert registry.champion(settings, model).version == shop["v2"]


def test_review_needs_an_open_review(shop: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", shop["model"], shop["v2"], "--approve", "--reason", "fine"]) == 2
    assert "has no open review" in capsys.readouterr().err
