"""The MLflow model registry: versions, their references and baselines, and the aliases.

Alias ``champion`` is the version that serves, ``challenger`` the one under
evaluation, ``previous`` the champion before the last promotion. A version
trained by the retrain DAG carries, in its training run, the reference
(``reference/reference.parquet``: held-out rows scored by that version) and
the benchmark baselines (``reference/baselines.json``) and the reference
profile (``reference/profile.parquet``); its version tag
``reference_run_id`` points at them. A version deployed by other means has
no reference: checks then compare against the registered model's
``baseline_version`` (the last version promoted through the gate, or adopted),
and say so. A version made champion by ``alignment-drift adopt`` (an existing
model, not trained here) gets its reference the same way, in an ``adopt`` run.

Models are saved and loaded through :mod:`alignment_drift.integrations.mlflow.models`
(any scikit-learn estimator or Pipeline; skops where it can, the trust boundary).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.integrations.mlflow.store import client
from alignment_drift.settings import Settings

__all__ = [
    "Reference",
    "VersionInfo",
    "champion",
    "drop_alias",
    "find_versions",
    "load_model",
    "load_reference",
    "log_candidate",
    "log_reference",
    "promote",
    "register_source",
    "set_version_tags",
    "version_info",
]

REFERENCE_FILE = "reference/reference.parquet"
PROFILE_FILE = "reference/profile.parquet"
BASELINES_FILE = "reference/baselines.json"
# numpy.dtype appears in fitted OneHotEncoder state; every other type is scikit-learn's own.
SKOPS_TRUSTED = ["numpy.dtype"]
# How MLflow's stores say a registered model, or an alias of one, is not there (anything else is a failure).
_NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version and what the registry says of it."""

    model: str
    version: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def reference_run_id(self) -> str | None:
        return self.tags.get("reference_run_id")


@dataclass(frozen=True)
class Reference:
    """The reference a check compares against: which version's, its profile, a row sample and its baselines."""

    version: str
    frame: pd.DataFrame
    profile: ReferenceProfile
    baselines: dict[str, float | None]
    decision_threshold: float


def _info(model: str, mv: Any) -> VersionInfo:
    return VersionInfo(model=model, version=str(mv.version), run_id=mv.run_id, tags=dict(mv.tags or {}))


def version_info(settings: Settings, model: str, version: str) -> VersionInfo:
    """The registry's record of one version.

    Raises
    ------
    LookupError
        When the model has no such version.
    """
    from mlflow.exceptions import MlflowException

    try:
        return _info(model, client(settings).get_model_version(model, version))
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise LookupError(f"{model!r} has no version {version} in the MLflow registry.") from None


def champion(settings: Settings, model: str, alias: str = "champion") -> VersionInfo | None:
    """The version under ``alias`` (default ``champion``), or None when the model has none yet.

    None means the registry said so: no such model (``RESOURCE_DOES_NOT_EXIST``) or no such alias
    (MLflow's stores answer ``INVALID_PARAMETER_VALUE``, "alias ... not found"). A registry that cannot
    be asked (server unreachable, credentials refused) raises instead of passing for "no champion".
    """
    from mlflow.exceptions import MlflowException

    try:
        return _info(model, client(settings).get_model_version_by_alias(model, alias))
    except MlflowException as error:
        if error.error_code not in _NOT_FOUND:
            raise
        return None


@lru_cache(maxsize=16)
def _load_model(settings: Settings, model: str, version: str, trusted: tuple[str, ...]) -> Any:
    from alignment_drift.integrations.mlflow.models import load_from_registry

    return load_from_registry(settings, f"models:/{model}/{version}", trusted_types=trusted).model


def _spec_trusted_types(settings: Settings, model: str) -> tuple[str, ...]:
    """``registry.trusted_types`` of the model's spec in the specs folder (none without a valid spec)."""
    from alignment_drift.core.spec import SpecError, load_spec

    path = settings.specs_dir / f"{model}.yaml"
    try:
        return tuple(load_spec(path).registry.trusted_types) if path.is_file() else ()
    except SpecError:
        return ()


def load_model(settings: Settings, model: str, version: str, *, trusted_types: Sequence[str] | None = None) -> Any:
    """The fitted estimator or Pipeline of a version (cached per process: versions are immutable).

    Loaded as its owner saved it, within the trust boundary of
    :mod:`alignment_drift.integrations.mlflow.models`; ``trusted_types`` are the
    spec's ``registry.trusted_types`` (default: read from the model's spec in
    the specs folder).
    """
    client(settings)
    trusted = tuple(trusted_types) if trusted_types is not None else _spec_trusted_types(settings, model)
    return _load_model(settings, model, str(version), trusted)


@lru_cache(maxsize=16)
def _reference(tracking_uri: str, run_id: str) -> tuple[pd.DataFrame, ReferenceProfile, dict[str, Any]]:
    from mlflow import MlflowClient

    mlflow_client = MlflowClient(tracking_uri=tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        frame = pd.read_parquet(mlflow_client.download_artifacts(run_id, REFERENCE_FILE, tmp))
        meta = json.loads(Path(mlflow_client.download_artifacts(run_id, BASELINES_FILE, tmp)).read_text())
        profile = ReferenceProfile.load(mlflow_client.download_artifacts(run_id, PROFILE_FILE, tmp))
    return frame, profile, meta


def load_reference(settings: Settings, model: str, deployed: VersionInfo) -> Reference:
    """The reference for checks of the ``deployed`` version.

    Its own when it was trained through alignment-drift; otherwise that of
    the registered model's ``baseline_version``.

    Raises
    ------
    LookupError
        When neither the version nor the model has a reference (adopt the
        champion with ``alignment-drift adopt``, or train one with the retrain DAG).
    """
    info = deployed
    if info.reference_run_id is None:
        baseline = client(settings).get_registered_model(model).tags.get("baseline_version")
        if baseline is None:
            raise LookupError(
                f"Model {model!r} version {deployed.version} has no reference and the model has no "
                "baseline_version. Adopt the champion (alignment-drift adopt SPEC --model-uri URI) or train one with "
                "the retrain DAG; both record a reference."
            )
        info = version_info(settings, model, baseline)
        if info.reference_run_id is None:
            raise LookupError(f"Baseline version {baseline} of {model!r} has no reference_run_id tag.")
    client(settings)
    frame, profile, meta = _reference(settings.tracking_uri, info.reference_run_id)
    return Reference(
        version=info.version,
        frame=frame,
        profile=profile,
        baselines=dict(meta.get("baselines", {})),
        decision_threshold=float(meta.get("decision_threshold", 0.5)),
    )


def log_reference(
    settings: Settings,
    run_id: str,
    *,
    reference: pd.DataFrame,
    profile: ReferenceProfile,
    baselines: dict[str, float | None],
    decision_threshold: float,
) -> None:
    """Keep a version's reference in ``run_id``: its profile, a row sample and its baselines.

    ``profile`` is what drift is tested against (``reference/profile.parquet``);
    the row sample ``reference`` serves the multivariate tests and inspection
    (``reference/reference.parquet``).
    """
    mlflow_client = client(settings)
    with tempfile.TemporaryDirectory() as tmp:
        ref_path = Path(tmp) / "reference.parquet"
        reference.to_parquet(ref_path, index=False)
        mlflow_client.log_artifact(run_id, str(ref_path), "reference")
        mlflow_client.log_artifact(run_id, str(profile.save(Path(tmp) / "profile.parquet")), "reference")
    mlflow_client.log_dict(run_id, {"baselines": baselines, "decision_threshold": decision_threshold}, BASELINES_FILE)


def log_candidate(
    settings: Settings,
    model: str,
    pipeline: Any,
    *,
    run_id: str,
    input_example: pd.DataFrame,
    reference: pd.DataFrame,
    profile: ReferenceProfile,
    baselines: dict[str, float | None],
    decision_threshold: float,
    tags: dict[str, str],
    trusted_types: Sequence[str] = (),
) -> VersionInfo:
    """Log a trained estimator into ``run_id``, register it as a new version with its reference and baselines.

    Saved with skops when every type it holds is trusted (scikit-learn's,
    numpy's, scipy's and ``trusted_types``), else with cloudpickle; the
    version's tags ``serialization`` and ``serialization_why`` say which and why.
    The new version gets alias ``challenger``; nothing else moves.
    """
    from alignment_drift.integrations.mlflow.models import log_sklearn_model
    from alignment_drift.integrations.mlflow.store import in_run

    mlflow_client = client(settings)
    log_reference(
        settings,
        run_id,
        reference=reference,
        profile=profile,
        baselines=baselines,
        decision_threshold=decision_threshold,
    )
    with in_run(settings, run_id):
        logged, chosen = log_sklearn_model(
            pipeline, registered_model_name=model, input_example=input_example, trusted_types=trusted_types
        )
    version = str(logged.registered_model_version)
    saved = {"serialization": chosen.format, **({"serialization_why": chosen.why[:5000]} if chosen.why else {})}
    set_version_tags(settings, model, version, {"reference_run_id": run_id, **saved, **tags})
    mlflow_client.set_registered_model_alias(model, "challenger", version)
    return version_info(settings, model, version)


def find_versions(settings: Settings, model: str, tag: str, value: str) -> list[VersionInfo]:
    """The versions of ``model`` whose tag ``tag`` equals ``value``, oldest first.

    Only the model's name goes into the registry's search (spec model names are
    validated); the tag is compared here, so no value reaches a filter string.
    """
    from mlflow.exceptions import MlflowException

    mlflow_client = client(settings)
    try:
        mlflow_client.get_registered_model(model)
    except MlflowException:
        return []
    if "'" in model:
        raise ValueError(f"The 'model' parameter may not contain a quote. Got {model!r} instead.")
    found = mlflow_client.search_model_versions(f"name = '{model}'")
    exact = [_info(model, mv) for mv in found if (mv.tags or {}).get(tag) == value]
    return sorted(exact, key=lambda v: int(v.version))


def register_source(settings: Settings, model: str, *, source: str, run_id: str | None, tags: dict[str, str]) -> str:
    """Register the artifacts at ``source`` as a new version of ``model`` (created if needed); returns the version.

    Nothing is copied: the new version points at the artifacts the registry already keeps.
    """
    from mlflow.exceptions import MlflowException

    mlflow_client = client(settings)
    try:
        mlflow_client.get_registered_model(model)
    except MlflowException:
        try:
            mlflow_client.create_registered_model(model)
        except MlflowException:  # created meanwhile by another process
            mlflow_client.get_registered_model(model)
    created = mlflow_client.create_model_version(model, source=source, run_id=run_id, tags=tags)
    return str(created.version)


def set_version_tags(settings: Settings, model: str, version: str, tags: dict[str, str]) -> None:
    """Set tags on a model version."""
    mlflow_client = client(settings)
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(model, version, key, str(value))


def promote(settings: Settings, model: str, version: str, *, reason: str) -> str | None:
    """Make ``version`` the champion; the old champion keeps alias ``previous``. Returns the old champion's version.

    The promoted version becomes the model's ``baseline_version``: its
    reference and baselines are what later checks compare against.
    """
    mlflow_client = client(settings)
    old = champion(settings, model)
    if old is not None and old.version != str(version):
        mlflow_client.set_registered_model_alias(model, "previous", old.version)
    mlflow_client.set_registered_model_alias(model, "champion", str(version))
    mlflow_client.set_registered_model_tag(model, "baseline_version", str(version))
    set_version_tags(settings, model, str(version), {"promotion_reason": reason})
    drop_alias(settings, model, "challenger")
    return None if old is None else old.version


def drop_alias(settings: Settings, model: str, alias: str) -> None:
    """Make sure ``alias`` points at no version of ``model``; an alias already gone is not an error.

    MLflow's own stores (sqlite, PostgreSQL, a tracking server over either) delete a missing alias
    without complaint; a registry that answers ``RESOURCE_DOES_NOT_EXIST`` instead (the alias, or the
    model, is gone) has the outcome asked for too. Every other failure raises: the tracking server
    unreachable, credentials refused, an invalid name. An alias left pointing at a rejected or
    superseded version is not something to pass over in silence.
    """
    from mlflow.exceptions import MlflowException

    try:
        client(settings).delete_registered_model_alias(model, alias)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
