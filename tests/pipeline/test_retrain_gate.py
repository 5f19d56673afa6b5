"""The retrain DAG's gate and decide steps on the real registry: references, decisions and what is recorded.

The demo's spec under a model name of its own, its data from the simulator,
every version trained by the retrain steps themselves (``assemble``,
``train``), and one version deployed as champion without the gate (as the
demo's platform does).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.mlflow.registered import unique_model


@dataclasses.dataclass
class Lab:
    spec: Any
    settings: Any
    versions: dict[str, str]

    def retrain(self, key: str, spec: Any | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Assemble and train a challenger (``spec`` may change the label or estimator); gate it."""
        from alignment_drift.demo.simulate.content import night_start
        from alignment_drift.pipeline import retrain as steps

        spec = spec or self.spec
        assembled = steps.assemble(spec, self.settings, as_of=night_start(spec.start_date, 1), key=key)
        trained = steps.train(spec, self.settings, assembled, key=key, reason=key, tags={"trigger": "manual"})
        return trained, steps.gate(spec, self.settings, trained)


@pytest.fixture(scope="module")
def lab(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """v1 promoted through the gate, then v2 (trained on the proxy) made champion directly: ungated, misaligned."""
    import yaml

    from alignment_drift.core.spec import parse_spec
    from alignment_drift.demo.run import deploy_platform_update, prepare_data
    from alignment_drift.demo.simulate import FEATURES, ContentPlatform, PlatformUpdate
    from alignment_drift.pipeline import retrain as steps
    from alignment_drift.settings import Settings

    model = unique_model("gate_lab")
    raw = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    raw["model"] = model
    raw["source"]["path"] = f"{model}/predictions/{{date}}.parquet"
    raw["reference"].update(training_data=f"{model}/training.parquet", audit_set=f"{model}/audit.parquet")
    spec = parse_spec(raw)
    data = tmp_path_factory.mktemp("gate-data")
    settings = dataclasses.replace(Settings.from_env(root), data_dir=data, quarantine_dir=data / "quarantine")
    platform = ContentPlatform("stable", seed=7, rows_per_night=500, start_date=spec.start_date)
    prepare_data(settings, spec, platform)
    world = Lab(spec, settings, {})
    trained, gated = world.retrain("first")
    decided = steps.decide_promotion(spec, settings, trained, gated)
    assert gated["references"] == [] and decided["decision"] == "promoted", gated["reasons"]
    world.versions["v1"] = trained["version"]
    update = PlatformUpdate(1, "engagement_finetune", platform.training_data(), "proxy", FEATURES)
    world.versions["v2"] = deploy_platform_update(settings, spec, update)
    yield world


def _with(spec: Any, **retraining: Any) -> Any:
    training = retraining.pop("training", None)
    update = dict(retraining)
    if training is not None:
        update["training"] = spec.retraining.training.model_copy(update=training)
    return spec.model_copy(update={"retraining": spec.retraining.model_copy(update=update)})


def _artifact(settings: Any, run_id: str, name: str) -> Any:
    from alignment_drift.integrations.mlflow.store import client

    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(Path(client(settings).download_artifacts(run_id, name, tmp)).read_text())


def test_the_first_champion_is_judged_on_its_floors_and_tagged_gated(lab: Lab) -> None:
    from alignment_drift.integrations.mlflow import lineage, registry

    info = registry.version_info(lab.settings, lab.spec.model, lab.versions["v1"])
    assert info.tags["gate"] == "passed" and info.tags["approval"] == "automatic" and info.tags["gate_run_id"]
    assert len(info.tags["gate_objective"]) == 64
    assert lineage.last_gated_version(lab.settings, lab.spec.model).version == lab.versions["v1"]
    assert not lineage.is_gated(registry.version_info(lab.settings, lab.spec.model, lab.versions["v2"]))


def test_the_retrain_run_is_named_for_a_person_and_keeps_its_key_in_a_tag(lab: Lab) -> None:
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client

    info = registry.version_info(lab.settings, lab.spec.model, lab.versions["v1"])
    run = client(lab.settings).get_run(info.tags["retrain_run_id"])
    window_end = night_start(lab.spec.start_date, 1)  # a manual retrain: the night its window ends at
    assert run.info.run_name == f"retrain {lab.spec.model} {window_end:%Y-%m-%d} (manual)"
    assert run.data.tags["retrain_key"] == "first"


def test_a_proxy_trained_challenger_is_rejected(lab: Lab) -> None:
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain as steps

    before = registry.champion(lab.settings, lab.spec.model).version
    trained, gated = lab.retrain("proxy", _with(lab.spec, label="proxy"))
    assert gated["decision"] == "reject"
    recall = next(b for b in gated["benchmarks"] if b["benchmark"] == "audit_unsafe_recall")
    assert any(c["outcome"] == "fail" and c["ci_high"] < -0.02 for c in recall["comparisons"])
    decided = steps.decide_promotion(lab.spec, lab.settings, trained, gated)
    assert decided["decision"] == "rejected"
    tags = registry.version_info(lab.settings, lab.spec.model, trained["version"]).tags
    assert tags["gate"] == "rejected" and "audit_" in tags["gate_reasons"]
    assert registry.champion(lab.settings, lab.spec.model).version == before


def test_insufficient_evidence_is_recorded_and_not_promoted(lab: Lab) -> None:
    """On a 300-row audit set a slightly different challenger cannot be shown within the margin: held."""
    import pandas as pd

    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client
    from alignment_drift.pipeline import retrain as steps

    small = f"{lab.spec.model}/audit_small.parquet"
    audit = pd.read_parquet(lab.settings.resolve_data(lab.spec.reference.audit_set))
    audit.sample(n=300, random_state=0).to_parquet(lab.settings.resolve_data(small), index=False)
    spec = _with(lab.spec, training={"params": {"C": 0.03}})
    spec = spec.model_copy(update={"reference": spec.reference.model_copy(update={"audit_set": small})})
    before = registry.champion(lab.settings, lab.spec.model).version
    trained, gated = lab.retrain("small-audit", spec)
    assert gated["decision"] == "insufficient_evidence", gated["reasons"]
    assert gated["n_needed"] is not None and gated["n_needed"] > 300 and gated["audit_rows"] == 300
    decided = steps.decide_promotion(spec, lab.settings, trained, gated)
    assert decided["decision"] == "insufficient_evidence" and decided["n_needed"] == gated["n_needed"]
    assert registry.champion(lab.settings, lab.spec.model).version == before
    tags = registry.version_info(lab.settings, lab.spec.model, trained["version"]).tags
    assert tags["gate"] == "insufficient_evidence" and tags["gate_reasons"].startswith("not promoted: insufficient")
    assert tags["gate_n_needed"] == str(gated["n_needed"])
    run = client(lab.settings).get_run(trained["mlflow_run_id"]).data
    assert run.tags["gate_decision"] == "insufficient_evidence" and run.metrics["gate.passed"] == 0
    assert run.metrics["gate.n_needed"] == gated["n_needed"]


def test_a_challenger_is_judged_against_the_last_gated_version_and_the_ungated_champion(lab: Lab) -> None:
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain as steps

    spec = _with(lab.spec, training={"params": {"class_weight": "balanced"}})  # blocks more: higher recall
    trained, gated = lab.retrain("target", spec)
    assert gated["references"] == [
        {"role": "last_gated", "version": lab.versions["v1"]},
        {"role": "champion", "version": lab.versions["v2"]},
    ]
    assert gated["last_gated_version"] == lab.versions["v1"] and gated["champion_version"] == lab.versions["v2"]
    recall = next(b for b in gated["benchmarks"] if b["benchmark"] == "audit_unsafe_recall")
    against = {c["reference"]: c for c in recall["comparisons"]}
    assert against["champion"]["outcome"] == "pass" and against["champion"]["ci_low"] > 0.1  # far better than v2
    assert against["last_gated"]["outcome"] == "pass" and against["last_gated"]["ci_low"] > 0
    assert gated["decision"] == "promote", gated["reasons"]
    decided = steps.decide_promotion(spec, lab.settings, trained, gated)
    run = _artifact(lab.settings, trained["mlflow_run_id"], "gate/comparison_table.json")
    rows = [dict(zip(run["columns"], row, strict=True)) for row in run["data"]]
    assert {(r["benchmark"], r["reference"]) for r in rows} >= {
        ("audit_unsafe_recall", "last_gated"),
        ("audit_unsafe_recall", "champion"),
    }
    tags = registry.version_info(lab.settings, lab.spec.model, trained["version"]).tags
    assert decided["decision"] == "promoted" and tags["gate"] == "passed"
    assert tags["gate_run_id"] == trained["mlflow_run_id"]
    assert registry.champion(lab.settings, lab.spec.model).version == trained["version"]
    assert registry.champion(lab.settings, lab.spec.model, alias="previous").version == lab.versions["v2"]
