"""Registering the runtime policy model ``<model>_policy``: runs where the gate runs, never in the served model.

The served side (the pyfunc :class:`~alignment_drift.integrations.mlflow.policy_model.PolicyModel`)
is :mod:`alignment_drift.integrations.mlflow.policy_model`; this module stages its code and
artifacts, registers a version per (wrapped version, objective, policy), and keeps its ``champion``
alias on the owner's champion.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignment_drift.core.policy import RuntimePolicy
from alignment_drift.core.spec.fingerprint import objective_fingerprint
from alignment_drift.integrations.mlflow.policy_model import (
    DOCUMENT_SCHEMA,
    MODEL_ARTIFACT,
    POLICY_ARTIFACT,
    directory_sha256,
    infer_task,
    policy_model_name,
)

if TYPE_CHECKING:
    from alignment_drift.core.spec import AlignmentSpec
    from alignment_drift.settings import Settings

__all__ = ["PolicyModelVersion", "objective_fingerprint", "register_policy_model", "sync_policy_champion"]


# --- registration (runs where the gate runs, never in the served model) ---------------------------------------------

CODE_FILE = Path(__file__).with_name("policy_model_code.py")
_SERVED_FILES = ("__init__.py", "integrations/__init__.py", "integrations/mlflow/__init__.py")


@dataclass(frozen=True)
class PolicyModelVersion:
    """A registered version of ``<model>_policy`` and the owner's version it wraps."""

    name: str
    version: str
    wraps_model: str
    wraps_version: str
    objective_fingerprint: str
    policy_sha256: str
    task: str
    champion: bool
    reused: bool
    mlflow_run_id: str | None

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "model_uri": self.model_uri}


def _canonical_sha256(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _stage_code(root: Path) -> Path:
    """Copy what the served model imports — ``alignment_drift.core`` and this module — below ``root``."""
    import alignment_drift

    source = Path(alignment_drift.__file__).resolve().parent
    target = root / "alignment_drift"
    shutil.copytree(source / "core", target / "core", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for relative in (*_SERVED_FILES, "integrations/mlflow/policy_model.py"):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target / relative)
    return target


def _requirements() -> list[str]:
    from importlib.metadata import version

    packages = ("mlflow", "scikit-learn", "pandas", "numpy", "skops")
    return [f"{name}=={version(name)}" for name in packages]


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _existing(settings: Settings, name: str, tags: dict[str, str]) -> str | None:
    """The newest version of ``name`` registered with the same wrapped version, objective and policy."""
    from alignment_drift.integrations.mlflow.store import client

    keys = ("wraps_model", "wraps_version", "objective_fingerprint", "policy_sha256")
    found = [
        int(mv.version)
        for mv in client(settings).search_model_versions(f"name='{name}'")
        if all((mv.tags or {}).get(k) == tags[k] for k in keys)
    ]
    return str(max(found)) if found else None


def register_policy_model(
    spec: AlignmentSpec, settings: Settings, version: str, *, task: str | None = None
) -> PolicyModelVersion | None:
    """Register ``<model>_policy``: version ``version`` of the owner's model behind the spec's runtime policy.

    Idempotent: a version wrapping the same owner version under the same
    objective and policy is reused, not registered again. When ``version`` is
    the owner's ``champion``, the policy model's ``champion`` alias moves to it.
    Logged in the model's experiment as a run of kind ``runtime_policy``.

    Parameters
    ----------
    version : str
        The owner's registered version (it needs a reference profile: its own or the baseline version's).
    task : str, optional
        ``binary``, ``multiclass`` or ``regression``; by default the spec's, else inferred from the estimator.

    Returns
    -------
    PolicyModelVersion or None
        None when ``governance.runtime.enabled`` is false.
    """
    import mlflow
    from mlflow.artifacts import download_artifacts

    from alignment_drift.core.policy import support_from_profile
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client, experiment_id, in_run

    runtime = spec.governance.runtime
    if not runtime.enabled:
        return None
    version = str(version)
    owner = registry.version_info(settings, spec.model, version)
    reference = registry.load_reference(settings, spec.model, owner)
    estimator = registry.load_model(settings, spec.model, version)
    task = task or getattr(spec, "task", None) or infer_task(estimator)
    positive = None
    if task == "binary":
        classes = [_scalar(c) for c in estimator.classes_]
        positive = 1 if 1 in classes else classes[-1]
    support = support_from_profile(reference.profile, spec.columns.feature_names, quantiles=runtime.support.quantiles)
    policy = RuntimePolicy.from_spec(
        spec, support, task=task, decision_threshold=reference.decision_threshold, probes_dir=settings.specs_dir
    )
    policy_doc = policy.to_dict()
    name = policy_model_name(spec.model)
    tags = {
        "wraps_model": spec.model,
        "wraps_version": version,
        "objective_fingerprint": objective_fingerprint(spec),
        "policy_sha256": _canonical_sha256(policy_doc),
        "task": task,
        "decision_threshold": str(policy.threshold),
    }
    existing, run_id = _existing(settings, name, tags), None
    if existing is None:
        mlflow.set_tracking_uri(settings.tracking_uri)
        mlflow.set_registry_uri(settings.tracking_uri)
        with tempfile.TemporaryDirectory() as tmp:
            owner_dir = Path(download_artifacts(f"models:/{spec.model}/{version}", dst_path=f"{tmp}/model"))
            wraps = {
                "model": spec.model,
                "version": version,
                "sha256": directory_sha256(owner_dir),
                "positive": positive,
            }
            document = {
                "schema": DOCUMENT_SCHEMA,
                "wraps": wraps,
                "objective_fingerprint": tags["objective_fingerprint"],
                "policy": policy_doc,
                "support": support,
            }
            policy_path = Path(tmp) / "policy.json"
            policy_path.write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
            code = _stage_code(Path(tmp) / "code")
            run_tags = {"kind": "runtime_policy", "model": spec.model, "wraps_version": version}
            created = client(settings).create_run(
                experiment_id(settings, spec.model), run_name=f"runtime policy v{version}", tags=run_tags
            )
            # the fluent API inside that run, whatever experiment or run the process made active before
            with in_run(settings, created.info.run_id) as run:
                run_id = run.info.run_id
                logged = mlflow.pyfunc.log_model(
                    name="policy_model",
                    python_model=str(CODE_FILE),
                    artifacts={MODEL_ARTIFACT: str(owner_dir), POLICY_ARTIFACT: str(policy_path)},
                    code_paths=[str(code)],
                    pip_requirements=_requirements(),
                    # no input signature: the wrapper checks the schema row by row (MLflow's enforcement would
                    # refuse a whole request for one bad value)
                    signature=False,
                    metadata={"alignment_drift": {k: tags[k] for k in ("wraps_model", "wraps_version", "task")}},
                )
                mlflow.log_dict(document, "runtime_policy/policy.json")
        registered = mlflow.register_model(logged.model_uri, name, tags={**tags, "wraps_sha256": wraps["sha256"]})
        existing = str(registered.version)
    champion = _follow_champion(settings, spec.model, version, existing)
    return PolicyModelVersion(
        name=name,
        version=existing,
        wraps_model=spec.model,
        wraps_version=version,
        objective_fingerprint=tags["objective_fingerprint"],
        policy_sha256=tags["policy_sha256"],
        task=task,
        champion=champion,
        reused=run_id is None,
        mlflow_run_id=run_id,
    )


def _follow_champion(settings: Settings, model: str, version: str, policy_version: str) -> bool:
    """Point ``<model>_policy@champion`` at ``policy_version`` when ``version`` is the owner's champion."""
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client

    current = registry.champion(settings, model)
    if current is None or current.version != version:
        return False
    mlflow_client = client(settings)
    name = policy_model_name(model)
    mlflow_client.set_registered_model_alias(name, "champion", policy_version)
    mlflow_client.set_registered_model_tag(name, "champion_wraps_version", version)
    return True


def sync_policy_champion(spec: AlignmentSpec, settings: Settings) -> PolicyModelVersion | None:
    """Make ``<model>_policy@champion`` wrap the owner's current champion (after a rollback, or any alias move).

    Registers the wrapper when the champion has none yet under the current
    spec. When the owner has no champion, or the runtime policy is disabled,
    the policy model's ``champion`` alias is removed: serving by that alias
    then fails loudly rather than serve a version that is no longer champion.
    """
    from mlflow.exceptions import MlflowException

    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.store import client

    current = registry.champion(settings, spec.model)
    result = None if current is None else register_policy_model(spec, settings, current.version)
    if result is None:
        try:
            client(settings).delete_registered_model_alias(policy_model_name(spec.model), "champion")
        except MlflowException:  # no policy model, or no alias: nothing to remove
            pass
    return result
