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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from alignment_drift.core.policy import Prepared, RuntimePolicy

if TYPE_CHECKING:
    pass

__all__ = [
    "DOCUMENT_SCHEMA",
    "MAX_ROWS",
    "PolicyModel",
    "Scores",
    "directory_sha256",
    "infer_task",
    "policy_model_name",
    "score_rows",
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
