"""What a check run judged, as MLflow inputs: the night's batch as a dataset, the model version as a logged model.

**The batch** is the run's dataset input (input tag ``mlflow.data.context`` =
``deployment_batch``, and ``validation`` = ``valid`` or ``quarantined``):

- ``name``: ``<model> <night>`` (e.g. ``content_safety 2026-11-04``);
- ``digest``: the first 12 hex digits of the sha256 that ``pull`` took of the
  batch's bytes (its member files in path order). The batch is never read
  again to describe it;
- ``source``: the batch's URI with every credential masked
  (:func:`~alignment_drift.core.redaction.redact_uri`), as MLflow's source of
  its scheme (``local``, ``s3``, ``gs``, ``abfss`` ...);
- ``schema``: its columns and types as validation read them (MLflow's
  ``mlflow_colspec``), absent when no row could be read;
- ``profile``: ``num_rows``, ``sha256``, ``files``, ``bytes``, ``format``, ``layout`` and ``kind``.

A night without a batch (missing, or refused before a byte was read) has no dataset input.

**The judged version**: when the registered version is an MLflow 3 logged
model (its source is ``models:/m-...``), the run takes that logged model as a
model input (:class:`mlflow.entities.LoggedModelInput`), so MLflow's UI
shows the model on the run and the run on the model's page. Every check run
that judged a version also carries the run tags ``model_uri``
(``models:/<model>/<version>``), ``model_id`` (empty for a version that is
not a logged model) and ``model_run_id`` (the run that logged the version).

**Reruns.** MLflow keeps a run's inputs for good: they can be neither changed
nor removed. A rerun that judged the same batch and version logs nothing new
(MLflow merges a dataset of the same name and digest); a rerun that judged
another batch (another digest) or another version gets a new run, as a rerun
whose parameters changed does (:mod:`.nights`), so each check run holds
exactly the batch and the version its record judged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from alignment_drift.core.redaction import redact_uri
from alignment_drift.integrations.mlflow import names

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.data.dataset_source import DatasetSource
    from mlflow.entities import DatasetInput, Run

__all__ = ["CONTEXT", "DIGEST_CHARS", "CheckInputs", "batch_input", "changed", "dataset_source", "log_inputs", "plan"]

_LOG = logging.getLogger(__name__)

#: The dataset context of a check's batch (MLflow's ``mlflow.data.context`` input tag).
CONTEXT = "deployment_batch"
#: Hex digits of the batch's sha256 kept as the dataset digest (MLflow stores at most 36).
DIGEST_CHARS = 12
_CONTEXT_TAG = "mlflow.data.context"
#: fsspec protocols spelled otherwise by MLflow's dataset sources.
_SOURCE_TYPES = {"": "local", "file": "local", "s3a": "s3", "s3n": "s3", "gcs": "gs", "abfs": "abfss", "az": "abfss"}
_LOGGED_MODEL = re.compile(r"^models:/(m-[0-9a-f]{8,64})/?$")


@dataclass(frozen=True)
class CheckInputs:
    """The inputs one check run records: its batch (a dataset input), its version's logged model, and the tags."""

    dataset: DatasetInput | None = None
    model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str | None:
        return None if self.dataset is None else self.dataset.dataset.digest


def dataset_source(uri: str) -> DatasetSource | None:
    """MLflow's dataset source of ``uri`` (a path or URI), by its scheme; None when MLflow has none for it.

    The one source class of the scheme is asked, so MLflow does not have to guess between the classes
    registered for local files (nor warn that it guessed).
    """
    from mlflow.data.dataset_source_registry import get_registered_sources, resolve_dataset_source

    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    wanted = _SOURCE_TYPES.get(scheme, scheme)
    for source_class in get_registered_sources():
        if source_class._get_source_type() == wanted:
            try:
                return resolve_dataset_source(uri, candidate_sources=[source_class])
            except Exception:  # that class refuses the URI's form
                return None
    return None


def _source(uri: str) -> tuple[str, str]:
    """MLflow's source type and source JSON for the batch's (already masked) URI; a plain URI when MLflow has none."""
    source = dataset_source(uri)
    if source is not None:
        return source._get_source_type(), source.to_json()
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    return _SOURCE_TYPES.get(scheme, scheme) or "uri", json.dumps({"uri": uri})


def _schema(columns: list[Mapping[str, Any]]) -> str | None:
    """The columns validation read as MLflow's ``mlflow_colspec`` JSON (None when there are none)."""
    from mlflow.types import ColSpec, DataType, Schema

    specs: list[Any] = []
    for column in columns:
        try:
            kind = DataType[str(column["type"])]
        except KeyError:
            kind = DataType.string
        specs.append(ColSpec(type=kind, name=str(column["name"])))
    return json.dumps({"mlflow_colspec": Schema(specs).to_dict()}) if specs else None


def batch_input(check: Mapping[str, Any]) -> DatasetInput | None:
    """The check's batch as a dataset input, or None when the night had no batch (no sha256 was taken)."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    source = check.get("source") or {}
    sha256, uri = source.get("sha256"), source.get("uri")
    if not sha256 or not uri:
        return None
    masked = redact_uri(str(uri))
    source_type, source_json = _source(masked)
    interval = check["data_interval"]
    profile = {
        "num_rows": source.get("rows"),
        "sha256": sha256,
        **{k: source[k] for k in ("files", "bytes", "format", "layout", "kind") if source.get(k) is not None},
    }
    dataset = Dataset(
        name=f"{check['model']} {names.night_label(interval['start'], interval.get('end'))}",
        digest=str(sha256)[:DIGEST_CHARS],
        source_type=source_type,
        source=source_json,
        schema=_schema(source.get("columns") or []),
        profile=json.dumps(profile),
    )
    validation = "quarantined" if check.get("verdict") == "quarantined" or check.get("quarantine") else "valid"
    return DatasetInput(dataset, tags=[InputTag(_CONTEXT_TAG, CONTEXT), InputTag("validation", validation)])


def _model_id(mlflow_client: MlflowClient, version: Any) -> str | None:
    """The id of the logged model a registered version is, or None (a version registered from other artifacts)."""
    found = getattr(version, "model_id", None)
    if found:
        return str(found)
    match = _LOGGED_MODEL.match(str(version.source or ""))
    return None if match is None else str(mlflow_client.get_logged_model(match[1]).model_id)


def plan(mlflow_client: MlflowClient, check: Mapping[str, Any]) -> CheckInputs:
    """The inputs of the check's run: its batch and, when it judged one, its model version.

    A version the registry cannot give (gone, or a version string it refuses) is not linked, and a
    warning says why: the record is written all the same. A tracking server that is down raises (the
    write is retried, then spooled).
    """
    from mlflow.exceptions import MlflowException

    from alignment_drift.integrations.mlflow.spool import is_transient

    dataset = batch_input(check)
    version = check.get("model_version")
    if not version:
        return CheckInputs(dataset)
    model = str(check["model"])
    tags = {"model_uri": f"models:/{model}/{version}", "model_id": "", "model_run_id": ""}
    try:
        registered = mlflow_client.get_model_version(model, str(version))
        model_id = _model_id(mlflow_client, registered)
    except MlflowException as error:
        if is_transient(error):
            raise
        _LOG.warning(
            "%s version %s is not linked to its check run: the registry cannot give it (%s).",
            model,
            version,
            error.error_code,
        )
        return CheckInputs(dataset, tags=tags)
    tags.update(model_id=model_id or "", model_run_id=registered.run_id or "")
    return CheckInputs(dataset, model_id, tags)


def _logged(run: Run | None) -> tuple[set[str], set[str]]:
    """The batch digests and model ids a run already holds as inputs."""
    if run is None or run.inputs is None:
        return set(), set()
    digests = {
        d.dataset.digest
        for d in run.inputs.dataset_inputs
        if any(t.key == _CONTEXT_TAG and t.value == CONTEXT for t in d.tags)
    }
    return digests, {m.model_id for m in run.inputs.model_inputs or []}


def changed(run: Run, planned: CheckInputs) -> str | None:
    """Why ``run`` cannot take the ``planned`` inputs (it judged another batch or version), or None when it can."""
    digests, models = _logged(run)
    if digests and digests != ({planned.digest} if planned.digest else set()):
        return f"its batch changed (digest {', '.join(sorted(digests))} -> {planned.digest or 'no batch'})"
    if models and models != ({planned.model_id} if planned.model_id else set()):
        return f"it judged another model ({', '.join(sorted(models))} -> {planned.model_id or 'none'})"
    return None


def log_inputs(mlflow_client: MlflowClient, run_id: str, planned: CheckInputs, run: Run | None = None) -> None:
    """Log the planned inputs the run (as read in ``run``) does not hold yet."""
    from mlflow.entities import LoggedModelInput

    from alignment_drift.integrations.mlflow.nights import on_conflict_again

    digests, models = _logged(run)
    datasets = [planned.dataset] if planned.dataset is not None and planned.digest not in digests else []
    linked = [LoggedModelInput(planned.model_id)] if planned.model_id and planned.model_id not in models else []
    if datasets or linked:
        on_conflict_again(lambda: mlflow_client.log_inputs(run_id, datasets=datasets or None, models=linked or None))
