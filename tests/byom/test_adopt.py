"""``alignment-drift adopt``: an owner's registered model becomes the champion, with its reference and baselines."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from alignment_drift.cli import main
from tests.byom.conftest import OwnedModel, Project
from tests.byom.helpers import spec_for, write_reference

_SPECS = itertools.count(1)


@pytest.fixture
def binary_spec(owned_models: dict[str, OwnedModel], project: Project, tmp_path: Path) -> Path:
    """``init`` run for the owner's binary model: ``content_hgb_<n>.yaml`` (a registered model of its own) and data."""
    owned = owned_models["binary"]
    reference = write_reference(tmp_path, owned)
    name = f"content_hgb_{next(_SPECS)}"
    args = ["init", "--model-uri", owned.uri, "--reference", str(reference), "--target", "unsafe"]
    assert main([*args, "--name", name]) == 0
    return project.settings.specs_dir / f"{name}.yaml"


def _versions(settings: Any, model: str) -> list[Any]:
    from alignment_drift.integrations.mlflow.store import client

    return client(settings).search_model_versions(f"name = '{model}'")


def _adopt_runs(settings: Any, model: str) -> list[Any]:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    return client(settings).search_runs([experiment_id(settings, model)], filter_string="tags.kind = 'adopt'")


def test_adopting_the_binary_model_makes_it_champion_with_reference_and_baselines(
    owned_models: dict[str, OwnedModel], project: Project, binary_spec: Path, capsys: Any
) -> None:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.models import load_from_registry
    from alignment_drift.pipeline.reference import split_holdout

    owned, settings = owned_models["binary"], project.settings
    spec = load_spec(binary_spec)
    capsys.readouterr()
    assert main(["adopt", str(binary_spec), "--model-uri", owned.uri, "--reason", "our model since 2025"]) == 0
    assert "registered as new version 1" in capsys.readouterr().out
    champion = registry.champion(settings, spec.model)
    assert champion is not None and champion.version == "1"
    tags = champion.tags
    assert tags["adopted"] == "true" and tags["adopted_from"] == owned.uri and tags["gate"] == "adopted"
    assert tags["serialization"] == "skops" and tags["reference_run_id"]
    assert "our model since 2025" in tags["promotion_reason"]
    # the same artifacts, not a copy: the spec's version and the owner's share the registry's source
    from alignment_drift.integrations.mlflow.store import client

    owner_version = client(settings).get_model_version(owned.name, owned.version)
    assert tags["adopted_source"] == owner_version.source
    # the reference: the held-out rows of reference.training_data, scored by the adopted model
    reference = registry.load_reference(settings, spec.model, champion)
    training = __import__("pandas").read_parquet(settings.resolve_data(spec.reference.training_data))
    _, held_out = split_holdout(spec, training)
    assert reference.version == "1" and reference.profile.n_rows == len(held_out)
    assert set(reference.profile.columns) == {*owned.features, "score", "prediction"}
    model = load_from_registry(settings, owned.uri).model
    expected = model.predict_proba(held_out[list(owned.features)])[:, 1]
    np.testing.assert_allclose(reference.frame["score"].to_numpy(), expected[: len(reference.frame)])
    # baselines: every audit benchmark, each passing the thresholds init chose from the same audit set
    floors = {b.name: b for b in spec.benchmarks}
    assert set(reference.baselines) == set(floors)
    assert reference.baselines["audit_roc_auc"] >= floors["audit_roc_auc"].floor
    assert reference.baselines["audit_recall"] >= floors["audit_recall"].floor
    assert reference.baselines["audit_calibration"] <= floors["audit_calibration"].max_ece
    # the champion the monitor loads is the owner's model
    served = registry.load_model(settings, spec.model, "1", trusted_types=())
    np.testing.assert_allclose(served.predict_proba(held_out[list(owned.features)])[:, 1], expected)


def test_adopting_twice_changes_nothing_and_another_model_keeps_the_first_as_previous(
    owned_models: dict[str, OwnedModel], project: Project, binary_spec: Path, capsys: Any
) -> None:
    from alignment_drift.integrations.mlflow import registry

    owned, settings = owned_models["binary"], project.settings
    spec_path, model = binary_spec, binary_spec.stem
    assert main(["adopt", str(spec_path), "--model-uri", owned.uri]) == 0
    first = registry.champion(settings, model)
    runs = len(_adopt_runs(settings, model))
    # again, through the alias form and the run form of the same artifacts
    from alignment_drift.integrations.mlflow.store import client

    client(settings).set_registered_model_alias(owned.name, "prod", owned.version)
    for uri in (owned.uri, f"models:/{owned.name}@prod", owned.run_uri):
        assert main(["adopt", str(spec_path), "--model-uri", uri, "--format", "json"]) == 0
        assert '"created": false' in capsys.readouterr().out
    assert len(_versions(settings, model)) == 1 and len(_adopt_runs(settings, model)) == runs == 1
    assert registry.champion(settings, model).version == first.version
    assert registry.champion(settings, model, alias="previous") is None
    # a second version of the owner's model, adopted: champion; the first keeps "previous"
    retrained = _retrained_owner_version(owned, settings)
    assert main(["adopt", str(spec_path), "--model-uri", f"models:/{owned.name}/{retrained}"]) == 0
    assert registry.champion(settings, model).version == "2"
    assert registry.champion(settings, model, alias="previous").version == first.version
    assert len(_adopt_runs(settings, model)) == 2


def _retrained_owner_version(owned: OwnedModel, settings: Any) -> str:
    import mlflow
    import mlflow.sklearn

    from alignment_drift.integrations.mlflow.models import load_from_registry

    model = load_from_registry(settings, owned.uri).model
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment("owner-team-models")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=owned.name,
            serialization_format="cloudpickle",
            input_example=owned.reference[list(owned.features)].head(3),
        )
    return str(info.registered_model_version)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_adopting_a_multiclass_or_regression_model(owned_models: dict[str, OwnedModel], project: Project, task: str):
    """Version, aliases, tags, the reference profile and every benchmark's baseline on the audit set."""
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline.adopt import adopt
    from alignment_drift.pipeline.reference import split_holdout

    owned, settings = owned_models[task], project.settings
    spec = spec_for(owned, settings, name=f"owned_{task}")
    result = adopt(spec, settings, owned.uri, reason="adopted in a test")
    assert result.created and result.task == task and result.previous_champion is None
    assert result.serialization == ("cloudpickle" if task == "multiclass" else "skops")
    champion = registry.champion(settings, spec.model)
    assert champion.version == result.version and champion.tags["gate"] == "adopted"
    reference = registry.load_reference(settings, spec.model, champion)
    training = __import__("pandas").read_parquet(settings.resolve_data(spec.reference.training_data))
    _, held_out = split_holdout(spec, training)
    assert reference.profile.n_rows == len(held_out)
    loaded = registry.load_model(settings, spec.model, result.version, trusted_types=owned.trusted_types)
    if task == "multiclass":
        # outputs: the predicted class (categorical) and its probability (numeric)
        assert set(reference.profile.columns) == {*owned.features, "score", "prediction"}
        assert reference.profile.columns["prediction"].kind == "categorical"
        expected = loaded.predict(held_out[list(owned.features)])
        np.testing.assert_array_equal(reference.frame["prediction"].to_numpy(), expected[: len(reference.frame)])
    else:
        # outputs: the predicted value (numeric); a regressor has no score
        assert set(reference.profile.columns) == {*owned.features, "prediction"}
        assert reference.profile.columns["prediction"].kind == "numeric"
    # every benchmark's baseline, equal to the model's own metric on the audit set
    audit = __import__("pandas").read_parquet(settings.resolve_data(spec.reference.audit_set))
    predicted, truth = loaded.predict(audit[list(owned.features)]), audit[owned.target].to_numpy()
    assert set(reference.baselines) == {b.name for b in spec.benchmarks}
    if task == "multiclass":
        assert reference.baselines["audit_accuracy"] == pytest.approx(np.mean(predicted == truth))
    else:
        assert reference.baselines["audit_mae"] == pytest.approx(np.mean(np.abs(predicted - truth)))


def _spec_variant(binary_spec: Path, change: Any) -> Path:
    data = yaml.safe_load(binary_spec.read_text())
    change(data)
    binary_spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return binary_spec


@pytest.mark.parametrize(
    ("uri", "change", "message"),
    [
        ("models:/owner_content_hgb/42", None, "was not found in the MLflow registry"),
        ("models:/no_such_model@champion", None, "was not found in the MLflow registry"),
        ("runs:/0123456789abcdef0123456789abcdef/model", None, "was not found in the MLflow registry"),
        ("s3://bucket/model.pkl", None, "Models are loaded only from the MLflow registry"),
        ("data/content_hgb/reference.parquet", None, "Models are loaded only from the MLflow registry"),
        ("models:/owner_pyfunc/1", None, "is not a scikit-learn model"),
        (
            "models:/owner_content_hgb/1",
            lambda d: d["columns"].update(features=[f for f in d["columns"]["features"] if f["name"] != "text_length"]),
            "the model needs columns ['text_length'] that the spec's columns.features does not declare",
        ),
        (
            "models:/owner_content_hgb/1",
            lambda d: d["columns"]["features"].append({"name": "region", "kind": "categorical"}),
            "the spec declares features ['region'] that the model does not take",
        ),
        ("models:/owner_diabetes_ridge/1", None, "the model is a regressor, but the spec's task is 'binary'"),
        ("models:/owner_wine_rf/1", None, "a multiclass classifier (classes [0, 1, 2])"),
        (
            "models:/owner_content_hgb/1",
            lambda d: d["columns"].update(positive_class="spam"),
            "the model's classes are [0, 1]; the spec's positive class is 'spam'",
        ),
    ],
    ids=[
        "unknown-version",
        "unknown-alias",
        "unknown-run",
        "s3-uri",
        "data-path",
        "not-sklearn",
        "missing-column",
        "extra-column",
        "regressor-for-binary",
        "multiclass-for-binary",
        "positive-class-not-a-class",
    ],
)
def test_adopt_refuses_with_a_clear_message_and_exit_2(
    owned_models: dict[str, OwnedModel],
    pyfunc_model: str,
    project: Project,
    binary_spec: Path,
    capsys: Any,
    uri: str,
    change: Any,
    message: str,
) -> None:
    from alignment_drift.integrations.mlflow import registry

    if change is not None:
        _spec_variant(binary_spec, change)
    if "diabetes" in uri:  # the custom step is trusted: the refusal is about the task
        _spec_variant(
            binary_spec, lambda d: d.update(registry={"trusted_types": list(owned_models["regression"].trusted_types)})
        )
    capsys.readouterr()
    assert main(["adopt", str(binary_spec), "--model-uri", uri]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("alignment-drift adopt: cannot adopt")
    assert "Traceback" not in err
    assert registry.champion(project.settings, binary_spec.stem) is None


@pytest.fixture(scope="session")
def pyfunc_model(owned_models: dict[str, OwnedModel]) -> str:
    """A registered model that is not a scikit-learn model (a plain MLflow pyfunc)."""
    import os

    import mlflow
    import mlflow.pyfunc

    class Doubler(mlflow.pyfunc.PythonModel):
        # list[...] hints: MLflow infers the signature from them (a bare Any makes it warn)
        def predict(self, context: Any, model_input: list[float], params: Any = None) -> list[float]:
            return [2 * value for value in model_input]

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment("owner-team-models")
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=Doubler(), registered_model_name="owner_pyfunc")
    return "models:/owner_pyfunc/1"


def test_adopted_models_load_only_the_types_the_spec_trusts(owned_models: dict[str, OwnedModel], project: Project):
    from alignment_drift.integrations.mlflow.models import ModelLoadError, load_from_registry

    owned = owned_models["regression"]
    with pytest.raises(ModelLoadError, match=r"not trusted: \['tests\.byom\.custom_steps\.Winsorizer'\]"):
        load_from_registry(project.settings, owned.uri)  # the artifact's own MLmodel list is not used
    assert load_from_registry(project.settings, owned.uri, trusted_types=owned.trusted_types).format == "skops"


def test_a_binary_model_with_string_labels_is_initialised_adopted_and_checked(
    project: Project, tmp_path: Path, capsys: Any
) -> None:
    """Labels ``"malignant"`` / ``"benign"``: ``init`` names the positive class, ``adopt`` takes it, a night checks."""
    import os

    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from alignment_drift.core.scoring import score_model
    from alignment_drift.core.spec import load_spec
    from alignment_drift.integrations.mlflow import registry

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x.columns = [c.replace(" ", "_") for c in x.columns]
    y = y.map({0: "malignant", 1: "benign"})
    fit = np.random.default_rng(4).random(len(x)) < 0.4
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x[fit], y[fit])
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment("owner-team-models")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="owner_cancer_lr", input_example=x.head(3),
            serialization_format="skops",
        )  # fmt: skip
    uri = f"models:/owner_cancer_lr/{info.registered_model_version}"
    reference = tmp_path / "cancer-reference.parquet"
    x[~fit].assign(diagnosis=y[~fit].to_numpy()).to_parquet(reference, index=False)
    args = ["init", "--model-uri", uri, "--reference", str(reference), "--target", "diagnosis", "--name", "cancer_lr"]
    assert main([*args, "--start-date", "2026-02-01"]) == 0
    spec_path = project.settings.specs_dir / "cancer_lr.yaml"
    spec = load_spec(spec_path)
    # scikit-learn's order: classes_ = ['benign', 'malignant'], predict_proba[:, 1] is P('malignant')
    assert spec.columns.positive_class == "malignant"
    assert main(["adopt", str(spec_path), "--model-uri", uri]) == 0
    champion = registry.champion(project.settings, "cancer_lr")
    assert champion is not None
    baselines = registry.load_reference(project.settings, "cancer_lr", champion).baselines
    assert baselines and all(v is not None for v in baselines.values()), baselines

    # a night of the owner's serving: the training rows scored by the champion, labels logged as strings
    roles = spec.columns
    rows = pd.read_parquet(project.settings.resolve_data(spec.reference.training_data))
    rows = rows.sample(400, replace=True, random_state=0).reset_index(drop=True)
    out = score_model(
        registry.load_model(project.settings, "cancer_lr", champion.version),
        rows,
        task="binary",
        features=roles.feature_names,
        threshold=spec.retraining.training.decision_threshold,
        positive=roles.positive_class,
    )
    log = rows[list(roles.feature_names)].assign(
        **{
            roles.id: [f"p{i:05d}" for i in range(len(rows))],
            roles.timestamp: pd.Timestamp("2026-02-01T08:00:00Z") + pd.to_timedelta(np.arange(len(rows)), unit="s"),
            roles.prediction: out.prediction,
            roles.score: out.score,
            roles.target: rows[roles.target].astype("str").to_numpy(),
        }
    )
    log[roles.timestamp] = log[roles.timestamp].astype("datetime64[us, UTC]")
    batch = tmp_path / "night.parquet"
    log.to_parquet(batch, index=False)
    capsys.readouterr()
    code = main(["check", str(spec_path), "--date", "2026-02-01", "--batch", str(batch), "--format", "json"])
    result = __import__("json").loads(capsys.readouterr().out)
    assert code == 0 and result["verdict"] == "aligned", result["reasons"]
    statuses = {b["name"]: b["status"] for b in result["benchmarks"]}
    assert statuses and set(statuses.values()) == {"pass"}, statuses
