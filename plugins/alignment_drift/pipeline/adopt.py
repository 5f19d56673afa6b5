"""Adopt an existing model: make a registered scikit-learn model the champion of a spec, without retraining.

``adopt(spec, settings, uri)``:

1. resolve ``uri`` in the MLflow registry (``models:/<name>/<version>``,
   ``models:/<name>@<alias>``, ``runs:/<run_id>/<path>``: nothing else) and
   load the model within the trust boundary of
   :mod:`alignment_drift.integrations.mlflow.models`;
2. check it fits the spec: a classifier or regressor of the spec's task, taking
   exactly the spec's features, able to score the spec's reference data;
3. when it is not already a version of the spec's registered model, register
   a new version of that model pointing at the same artifacts (nothing is
   copied);
4. fit its reference (held-out rows of ``reference.training_data`` scored by
   it, their profile) and record its benchmark baselines on the audit set,
   exactly as a retrained challenger's (:mod:`alignment_drift.pipeline.reference`),
   in an ``adopt`` run of the model's experiment;
5. make it the champion (the old champion keeps ``previous``), tagged
   ``adopted=true``, ``adopted_from=<uri>``, ``gate=adopted``.

Idempotent: adopting the same model again (the same artifacts in the
registry, through any of the URI forms) finds the version it registered and
its reference, and only makes sure it is champion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from alignment_drift.core.spec import AlignmentSpec, Task
from alignment_drift.settings import Settings

__all__ = ["AdoptError", "AdoptResult", "adopt", "check_compatible"]


class AdoptError(ValueError):
    """A model that cannot be adopted for a spec: the message says why and how to fix it."""


@dataclass(frozen=True)
class AdoptResult:
    """What adopting did: the spec model's version, where it came from, what moved and what was recorded."""

    model: str
    version: str
    adopted_from: str
    source: str
    created: bool
    previous_champion: str | None
    reference_run_id: str
    task: str
    serialization: str
    baselines: dict[str, float | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out


def _describe(task: str | None, classes: tuple[Any, ...] | None) -> str:
    if task == "regression":
        return "a regressor"
    if task is None:
        return "neither a classifier nor a regressor"
    return f"a {task} classifier (classes {list(classes or ())})"


def check_compatible(spec: AlignmentSpec, model: Any, inputs: tuple[str, ...] | None) -> tuple[Task, tuple[Any, ...]]:
    """Check that ``model`` is of the spec's task and takes exactly the spec's features; returns (task, classes).

    Raises
    ------
    AdoptError
        Naming the missing or extra columns, or the task the model performs.
    """
    from alignment_drift.core.scoring import infer_task, label_key

    task = spec.task
    found, classes = infer_task(model)
    if found != task:
        raise AdoptError(
            f"the model is {_describe(found, classes)}, but the spec's task is {task!r}. Fix: adopt a model of the "
            f"spec's task, or write a spec for this model (alignment-drift init --model-uri ...)."
        )
    positive = spec.columns.positive_class
    if task == "binary" and label_key(positive) not in {label_key(c) for c in classes or ()}:
        raise AdoptError(
            f"the model's classes are {list(classes or ())}; the spec's positive class is {positive!r} "
            f"(columns.score is P(target = {positive!r})). Fix: set columns.positive_class to the model's class that "
            "matters (the one a missed case of is costly), or adopt a model that predicts that class."
        )
    features = spec.columns.feature_names
    if inputs is not None:
        missing = [c for c in inputs if c not in features]
        extra = [c for c in features if c not in inputs]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"the model needs columns {missing} that the spec's columns.features does not declare")
            if extra:
                parts.append(f"the spec declares features {extra} that the model does not take")
            raise AdoptError(
                "the model is not compatible with the spec's features: " + "; ".join(parts) + ". Fix: make "
                "columns.features the model's inputs (alignment-drift init writes them from the model's signature)."
            )
    elif (n := getattr(model, "n_features_in_", None)) is not None and int(n) != len(features):
        raise AdoptError(
            f"the model takes {n} inputs but the spec declares {len(features)} features. Fix: make "
            "columns.features the model's inputs, in the order it was trained on."
        )
    return task, tuple(classes or ())


def _read(settings: Settings, relative: str, field_name: str, needed: list[str]) -> pd.DataFrame:
    from alignment_drift.integrations.tables import TableError, read_table

    try:
        path = settings.resolve_data(relative)
        frame = read_table(str(path))
    except (ValueError, TableError) as error:
        raise AdoptError(f"{field_name} {relative!r} cannot be read: {error}") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise AdoptError(f"{field_name} {relative!r} lacks columns {missing}. Fix: include the features and target.")
    if frame.empty:
        raise AdoptError(f"{field_name} {relative!r} has no rows.")
    return frame


def _version_of(settings: Settings, ref: Any) -> str:
    """The registered version an alias points at (a version URI names it already)."""
    from alignment_drift.integrations.mlflow.store import client

    if ref.kind == "alias":
        return str(client(settings).get_model_version_by_alias(ref.name, ref.alias).version)
    return str(ref.version)


def adopt(spec: AlignmentSpec, settings: Settings, uri: str, *, reason: str = "") -> AdoptResult:
    """Make the registered model at ``uri`` the champion of ``spec``, with its reference and baselines.

    Raises
    ------
    AdoptError
        When the URI is not a registry URI or names nothing, the model is not a
        scikit-learn model (or holds untrusted types), is of another task, does
        not take the spec's features, or cannot score the spec's reference data.
    """
    from mlflow.entities import Metric, Param

    from alignment_drift.core.scoring import score_model
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.models import (
        ModelLoadError,
        ModelUriError,
        load_from_registry,
        parse_model_uri,
        registered_source,
    )
    from alignment_drift.integrations.mlflow.store import client, experiment_id
    from alignment_drift.pipeline.reference import split_holdout, version_reference

    try:
        ref = parse_model_uri(uri)
        source, run_id = registered_source(settings, ref)
        resolved = ref.uri if ref.kind == "run" else f"models:/{ref.name}/{_version_of(settings, ref)}"
        loaded = load_from_registry(settings, resolved, trusted_types=spec.registry.trusted_types)
    except (ModelUriError, ModelLoadError) as error:
        raise AdoptError(str(error)) from None
    task, _ = check_compatible(spec, loaded.model, loaded.inputs)
    roles = spec.columns
    needed = [*roles.feature_names, roles.target]
    training = _read(settings, spec.reference.training_data, "reference.training_data", needed)
    _read(settings, spec.reference.audit_set, "reference.audit_set", needed)
    _, held_out = split_holdout(spec, training)
    if held_out.empty:
        raise AdoptError(
            f"reference.training_data has {len(training)} rows and none is held out at reference.holdout_fraction "
            f"{spec.reference.holdout_fraction}. Fix: give more reference rows."
        )
    try:
        score_model(
            loaded.model,
            held_out.head(50),
            task=task,
            features=roles.feature_names,
            threshold=spec.retraining.training.decision_threshold,
            positive=roles.positive_class,
        )
    except Exception as error:
        raise AdoptError(
            f"the model cannot score the spec's reference data ({type(error).__name__}: {error}). Fix: make "
            "columns.features and reference.training_data match the model's inputs and their types."
        ) from None

    if ref.kind != "run" and ref.name == spec.model:
        version, created = str(resolved.rsplit("/", 1)[1]), False
    else:
        earlier = registry.find_versions(settings, spec.model, "adopted_source", source)
        if earlier:
            version, created = earlier[-1].version, False
        else:
            tags = {"adopted": "true", "adopted_from": ref.uri, "adopted_source": source}
            version, created = (
                registry.register_source(settings, spec.model, source=source, run_id=run_id, tags=tags),
                True,
            )

    info = registry.version_info(settings, spec.model, version)
    notes: list[str] = []
    reference_run_id = info.reference_run_id
    baselines: dict[str, float | None]
    if reference_run_id is None:
        mlflow_client = client(settings)
        run = mlflow_client.create_run(
            experiment_id(settings, spec.model),
            run_name=f"adopt {spec.model} v{version}",
            tags={"kind": "adopt", "model": spec.model, "adopted_from": ref.uri, "version": version},
        )
        reference_run_id = run.info.run_id
        made = version_reference(spec, settings, loaded.model, held_out)
        registry.log_reference(
            settings,
            reference_run_id,
            reference=made.frame,
            profile=made.profile,
            baselines=made.baselines,
            decision_threshold=made.decision_threshold,
        )
        mlflow_client.log_batch(
            reference_run_id,
            params=[
                Param("adopted_from", ref.uri),
                Param("adopted_source", source),
                Param("serialization", loaded.format),
                Param("reference_rows", str(len(held_out))),
                Param("task", task),
            ],
            metrics=[Metric(f"baseline.{k}", float(v), 0, 0) for k, v in made.baselines.items() if v is not None],
        )
        mlflow_client.set_terminated(reference_run_id, "FINISHED")
        baselines, notes = dict(made.baselines), list(made.notes)
    else:
        baselines = dict(registry.load_reference(settings, spec.model, info).baselines)
        notes.append(f"version {version} was adopted before: its reference (run {reference_run_id}) is kept")
    registry.set_version_tags(
        settings,
        spec.model,
        version,
        {
            "reference_run_id": reference_run_id,
            "adopted": "true",
            "adopted_from": ref.uri,
            "adopted_source": source,
            "gate": "adopted",
            "deployed_by": "owner (adopted)",
            "serialization": loaded.format,
        },
    )
    current = registry.champion(settings, spec.model)
    previous = None
    if current is None or current.version != version:
        why = f"adopted from {ref.uri}" + (f": {reason}" if reason else "")
        previous = registry.promote(settings, spec.model, version, reason=why[:5000])
    return AdoptResult(
        model=spec.model,
        version=version,
        adopted_from=ref.uri,
        source=source,
        created=created,
        previous_champion=previous,
        reference_run_id=str(reference_run_id),
        task=task,
        serialization=loaded.format,
        baselines=baselines,
        notes=tuple(notes),
    )
