"""The served policy model: an MLflow pyfunc model wrapping the owner's model with the spec's runtime policy.

Every promoted version ``v`` of registered model ``<model>`` is also
registered as a version of ``<model>_policy`` (:func:`register_policy_model`),
tagged ``wraps_model``, ``wraps_version``, ``objective_fingerprint``,
``policy_sha256``, ``task`` and ``wraps_sha256``; its alias ``champion`` follows the owner's
(:func:`sync_policy_champion`). Serve it with::

    mlflow models serve -m models:/<model>_policy@champion --env-manager local --host 127.0.0.1 --port 5001

``predict`` returns one row per input row: ``prediction``, ``score``
(binary: P(positive); multiclass: the predicted class's probability; absent
for regression), ``policy_action`` (``allow`` | ``review`` | ``block``) and
``policy_reasons``, a JSON array of reason codes *as a string* (JSON serving
needs scalars; ``json.loads`` it). Rows with a wrong-typed value or a missing
required feature are not scored: their ``prediction`` and ``score`` are null.

What the served model loads (its trust boundary): only its own artifacts —
``artifacts/model`` (a byte copy of the owner's registered version, checked
against the SHA-256 recorded at registration before it is deserialised by
``mlflow.sklearn``) and ``artifacts/policy.json`` (the policy document) — and
its own code: this module and ``alignment_drift.core``, copied into the model
(``code_paths``) and loaded as code (models from code), never unpickled. It
imports mlflow, scikit-learn, pandas, numpy and ``alignment_drift.core``
only, so ``--env-manager local`` serves it without the plugin installed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from alignment_drift.core.policy import Prepared, RuntimePolicy

if TYPE_CHECKING:
    from alignment_drift.core.spec import AlignmentSpec
    from alignment_drift.settings import Settings

__all__ = [
    "DOCUMENT_SCHEMA",
    "MAX_ROWS",
    "PolicyModel",
    "PolicyModelVersion",
    "Scores",
    "directory_sha256",
    "infer_task",
    "objective_fingerprint",
    "policy_model_name",
    "register_policy_model",
    "score_rows",
    "sync_policy_champion",
]

DOCUMENT_SCHEMA = "alignment-drift/policy-model@1"
MODEL_ARTIFACT = "model"
POLICY_ARTIFACT = "policy"
MAX_ROWS = 200_000


def policy_model_name(model: str) -> str:
    """The registered model of ``model``'s policy wrapper: ``<model>_policy``."""
    return f"{model}_policy"


def directory_sha256(root: Path) -> str:
    """One SHA-256 over every file below ``root`` (relative path and bytes, in sorted order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Scores:
    """The model's output on some rows, in the shape of the shared scoring interface's ``ModelOutput``.

    Until ``core/scoring.py`` lands, :func:`score_rows` is this wrapper's own
    small version of ``score_model``.
    """

    prediction: np.ndarray
    score: np.ndarray | None
    proba: np.ndarray | None
    classes: tuple[Any, ...] | None


def infer_task(model: Any) -> str:
    """``binary``, ``multiclass`` or ``regression``, from a fitted scikit-learn estimator."""
    from sklearn.base import is_classifier

    if not is_classifier(model):
        return "regression"
    return "binary" if len(model.classes_) == 2 else "multiclass"


def score_rows(model: Any, frame: pd.DataFrame, *, task: str, threshold: float = 0.5, positive: Any = 1) -> Scores:
    """Score ``frame``: binary (0/1 decision at ``threshold`` on P(``positive``)), multiclass or regression."""
    if task == "regression":
        return Scores(np.asarray(model.predict(frame), dtype=np.float64), None, None, None)
    proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
    classes = tuple(model.classes_)
    if task == "binary":
        index = classes.index(positive) if positive in classes else len(classes) - 1
        score = proba[:, index]
        return Scores((score >= threshold).astype(np.int64), score, proba, classes)
    top = proba.argmax(axis=1)
    return Scores(np.asarray(classes, dtype=object)[top], proba.max(axis=1), proba, classes)


def _nullable(values: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """A column of Python scalars with None where a row was not scored (JSON null)."""
    out = np.full(scored.size, None, dtype=object)
    out[scored] = np.asarray(values)[scored].tolist()
    return out


class PolicyModel(PythonModel):
    """The owner's model behind the spec's runtime policy (see the module docstring)."""

    def load_context(self, context: Any) -> None:
        from mlflow.exceptions import MlflowException

        document = json.loads(Path(context.artifacts[POLICY_ARTIFACT]).read_text(encoding="utf-8"))
        if document.get("schema") != DOCUMENT_SCHEMA:
            raise MlflowException(f"policy.json has schema {document.get('schema')!r}; expected {DOCUMENT_SCHEMA!r}.")
        self.policy = RuntimePolicy.from_dict(document["policy"])
        self.positive = document["wraps"]["positive"]
        model_dir = Path(context.artifacts[MODEL_ARTIFACT])
        expected, found = document["wraps"]["sha256"], directory_sha256(model_dir)
        if found != expected:
            raise MlflowException(
                f"The wrapped model's files ({model_dir}) have SHA-256 {found}, not the {expected} recorded when "
                "the policy model was registered; refusing to load them. Re-register the policy model."
            )
        import mlflow.sklearn

        self.model = mlflow.sklearn.load_model(str(model_dir))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Per row: ``prediction``, ``score`` (not regression), ``policy_action``, ``policy_reasons`` (JSON text)."""
        from mlflow.exceptions import MlflowException

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if len(frame) > MAX_ROWS:
            raise MlflowException.invalid_parameter_value(
                f"A request may hold at most {MAX_ROWS} rows; got {len(frame)}. Split it into smaller requests."
            )
        frame = frame.reset_index(drop=True)
        try:
            prepared = self.policy.prepare(frame)
        except ValueError as error:
            raise MlflowException.invalid_parameter_value(str(error)) from None
        output = self._score(prepared)
        decisions = self.policy.apply(frame, output, prepared=prepared)
        scored = prepared.scoreable
        result = {"prediction": _nullable(output.prediction, scored)}
        if output.score is not None:
            result["score"] = _nullable(output.score, scored)
        result["policy_action"] = decisions.actions
        result["policy_reasons"] = decisions.reasons_json()
        return pd.DataFrame(result)

    def _score(self, prepared: Prepared) -> Scores:
        """The model's output on the scoreable rows, spread back over all rows (NaN elsewhere)."""
        n, rows = len(prepared.frame), np.flatnonzero(prepared.scoreable)
        task, policy = self.policy.task, self.policy
        prediction = np.full(n, np.nan) if task == "regression" else np.full(n, None, dtype=object)
        score = None if task == "regression" else np.full(n, np.nan)
        proba = None
        if rows.size:
            part = score_rows(
                self.model, prepared.frame.iloc[rows], task=task, threshold=policy.threshold, positive=self.positive
            )
            prediction[rows] = part.prediction
            if score is not None and part.score is not None:
                score[rows] = part.score
            if part.proba is not None:
                proba = np.full((n, part.proba.shape[1]), np.nan)
                proba[rows] = part.proba
        return Scores(prediction, score, proba, None)


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


def objective_fingerprint(spec: AlignmentSpec) -> str:
    """SHA-256 of the spec's canonical JSON: which objective (and policy) a version was wrapped under."""
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


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
    from alignment_drift.integrations.mlflow.store import experiment_id

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
            with mlflow.start_run(
                experiment_id=experiment_id(settings, spec.model), run_name=f"runtime policy v{version}", tags=run_tags
            ) as run:
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
