"""Any scikit-learn estimator or Pipeline in and out of the MLflow registry, and the trust boundary around it.

**Where a model may come from.** Only the MLflow registry, through the
tracking server of the settings: ``models:/<name>/<version>``,
``models:/<name>@<alias>`` or ``runs:/<run_id>/<path>``. A local path, a
``file:``, ``s3:`` or ``http(s):`` URI, or any path written in a spec, is
refused (:func:`parse_model_uri`): whoever can write a spec or a data file
must not be able to make a worker deserialize a file of their choosing.

**What may be loaded from it.** The MLflow sklearn flavour says how the
owner saved the model:

- ``skops``: only the types skops trusts by default, the classes defined in
  scikit-learn, numpy and scipy (not their I/O classes, see
  :data:`DENIED`), and the classes the spec names in
  ``registry.trusted_types``. Anything else is refused, naming the types.
  The artifact's own list of trusted types (in its ``MLmodel``) is never
  used: a crafted artifact could list anything.
- ``cloudpickle`` / ``pickle``: loading runs code from the artifact; it is
  done because the owner registered the model in their own registry, and
  refused when ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``.

Code logged with a model (``code_paths``) is never put on ``sys.path``:
custom classes come from packages installed where the DAGs run.

**How a version is saved** (:func:`save_format`): skops when every type it
holds is trusted as above, else cloudpickle (and the version says why);
requirements pin the installed scikit-learn, pandas and numpy.
"""

from __future__ import annotations

import importlib
import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alignment_drift.core.redaction import redact_uri
from alignment_drift.integrations.mlflow.store import client
from alignment_drift.settings import Settings

__all__ = [
    "DENIED",
    "TRUSTED_PACKAGES",
    "LoadedModel",
    "ModelLoadError",
    "ModelRef",
    "ModelUriError",
    "SaveFormat",
    "input_names",
    "load_from_registry",
    "log_sklearn_model",
    "parse_model_uri",
    "registered_source",
    "save_format",
    "trusted_type",
]

log = logging.getLogger(__name__)

#: Packages whose own classes a skops artifact may hold without being declared.
TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")
#: Names in those packages that read or write files (or build code): never trusted implicitly.
DENIED = (
    "numpy.memmap",
    "numpy.lib._datasource",
    "numpy.lib.npyio",
    "numpy.lib._npyio_impl",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.testing",
    "scipy.io",
    "scipy._lib._testutils",
    "sklearn.datasets",
    "sklearn.externals",
    "sklearn.utils._testing",
)
MAX_URI = 1000
_NAME = r"[^/@\t\n\r\f\v'\"`]{1,256}"
_VERSION = re.compile(rf"^models:/(?P<name>{_NAME})/(?P<version>[0-9]{{1,9}})$")
_ALIAS = re.compile(rf"^models:/(?P<name>{_NAME})@(?P<alias>[A-Za-z0-9_-]{{1,255}})$")
_RUN = re.compile(r"^runs:/(?P<run>[A-Za-z0-9]{8,64})/(?P<path>[A-Za-z0-9_.\-/]{1,500})$")


class ModelUriError(ValueError):
    """A model URI that is not one of the registry forms, or that the registry does not know."""


class ModelLoadError(ValueError):
    """A registered model that cannot be (or may not be) loaded as a scikit-learn model."""


@dataclass(frozen=True)
class ModelRef:
    """A parsed model URI: a registered version, an alias of a registered model, or a run's artifact path."""

    uri: str
    kind: Literal["version", "alias", "run"]
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    path: str | None = None


def parse_model_uri(uri: str) -> ModelRef:
    """Parse ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or ``runs:/<run_id>/<path>``.

    Raises
    ------
    ModelUriError
        For anything else (paths, ``file:``, ``s3:``, ``http(s):`` ...), with the allowed forms.

    Examples
    --------
    >>> parse_model_uri("models:/fraud@prod").alias
    'prod'
    >>> parse_model_uri("/tmp/model.pkl")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alignment_drift.integrations.mlflow.models.ModelUriError: The model URI '/tmp/model.pkl' is not ...
    """
    text = str(uri).strip()
    if len(text) > MAX_URI:
        raise ModelUriError(f"The model URI is {len(text)} characters long; at most {MAX_URI} are accepted.")
    if match := _VERSION.match(text):
        return ModelRef(text, "version", name=match["name"], version=match["version"])
    if match := _ALIAS.match(text):
        return ModelRef(text, "alias", name=match["name"], alias=match["alias"])
    match = _RUN.match(text)
    if match and ".." not in match["path"].split("/") and not match["path"].startswith("/"):
        return ModelRef(text, "run", run_id=match["run"], path=match["path"].rstrip("/"))
    raise ModelUriError(
        f"The model URI {text!r} is not one of the registry forms models:/<name>/<version>, "
        "models:/<name>@<alias> or runs:/<run_id>/<path>. Models are loaded only from the MLflow registry, "
        "never from a file path or another URI scheme. Fix: register the model in MLflow and pass its URI."
    )


def registered_source(settings: Settings, ref: ModelRef) -> tuple[str, str | None]:
    """Where the registry keeps the artifacts ``ref`` names (a version's ``source``), and its run id.

    Raises
    ------
    ModelUriError
        When the registered model, version, alias, run or artifact path does not exist.
    """
    from mlflow.exceptions import MlflowException

    mlflow_client = client(settings)
    try:
        if ref.kind == "version":
            mv = mlflow_client.get_model_version(str(ref.name), str(ref.version))
            return str(mv.source), mv.run_id
        if ref.kind == "alias":
            mv = mlflow_client.get_model_version_by_alias(str(ref.name), str(ref.alias))
            return str(mv.source), mv.run_id
        run = mlflow_client.get_run(str(ref.run_id))
    except MlflowException as error:
        raise ModelUriError(
            f"The model URI {ref.uri!r} was not found in the MLflow registry at {redact_uri(settings.tracking_uri)} "
            f"({error.message}). Fix: check the name, version, alias or run id (`mlflow models` / the MLflow UI)."
        ) from None
    path = str(ref.path)
    # MLflow 3 keeps a model logged in a run as a logged model of its own (models:/m-<id>), and lists its files
    # under the run too; a run of MLflow 2 kept them among the run's own artifacts
    logged = mlflow_client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}' AND name = '{path}'",
    )
    if logged:
        return f"models:/{logged[-1].model_id}", run.info.run_id
    if any(a.path == f"{path}/MLmodel" for a in mlflow_client.list_artifacts(run.info.run_id, path)):
        return f"{run.info.artifact_uri.rstrip('/')}/{path}", run.info.run_id
    raise ModelUriError(
        f"The model URI {ref.uri!r} names no model: run {run.info.run_id} has no model logged as {path!r}. "
        "Fix: pass the name the model was logged under (mlflow.sklearn.log_model(..., name=...))."
    )


def _denied(name: str) -> bool:
    return any(name == d or name.startswith(d + ".") for d in DENIED)


def trusted_type(name: str, declared: Sequence[str] = ()) -> bool:
    """Whether a skops artifact may hold the type ``name``.

    Declared (the spec's ``registry.trusted_types``), or a class defined in
    scikit-learn, numpy or scipy that is not one of their I/O classes. Only
    modules of those packages are imported to find out.

    Examples
    --------
    >>> trusted_type("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor")
    True
    >>> trusted_type("numpy.memmap"), trusted_type("builtins.eval"), trusted_type("my.Step", ["my.Step"])
    (False, False, True)
    """
    if name in declared:
        return True
    if name.split(".")[0] not in TRUSTED_PACKAGES or _denied(name):
        return False
    module_name, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        return False
    if not isinstance(found, type):  # functions and other callables could do anything when called
        return False
    home = f"{found.__module__}.{found.__qualname__}"
    return home.split(".")[0] in TRUSTED_PACKAGES and not _denied(home)


@dataclass(frozen=True)
class SaveFormat:
    """How a model is saved: ``skops`` with the types it needs trusted, or ``cloudpickle`` and why."""

    format: Literal["skops", "cloudpickle"]
    skops_trusted_types: tuple[str, ...] = ()
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "skops_trusted_types": list(self.skops_trusted_types), "why": self.why}


def _skops_io() -> Any:
    """``skops.io``, first imported with the known warnings dropped: in an Airflow task its import-time ufunc scan
    warns once for every deprecated name of Airflow's modules (see :data:`..known_warnings.KNOWN`)."""
    from alignment_drift.integrations.known_warnings import known_warnings

    with known_warnings("importing skops"):
        import skops.io  # type: ignore[import-untyped]  # no type information shipped
    return skops.io


def save_format(model: Any, trusted_types: Sequence[str] = ()) -> SaveFormat:
    """skops when it can serialize ``model`` and every type it reports untrusted is trusted; else cloudpickle."""
    skops_io = _skops_io()
    try:
        untrusted = list(skops_io.get_untrusted_types(data=skops_io.dumps(model)))
    except Exception as error:  # skops cannot represent some objects
        return SaveFormat("cloudpickle", why=f"skops cannot serialize it ({type(error).__name__}: {error})")
    refused = [t for t in untrusted if not trusted_type(t, trusted_types)]
    if refused:
        return SaveFormat(
            "cloudpickle",
            why=f"it holds types outside the allow-list: {refused} (declare them in registry.trusted_types to use "
            "skops)",
        )
    return SaveFormat("skops", tuple(untrusted))


def log_sklearn_model(
    model: Any,
    *,
    registered_model_name: str,
    input_example: Any,
    trusted_types: Sequence[str] = (),
    name: str = "model",
) -> tuple[Any, SaveFormat]:
    """Log ``model`` into the active MLflow run and register it; returns MLflow's model info and the format used."""
    import mlflow.sklearn
    import numpy as np
    import pandas as pd

    chosen = save_format(model, trusted_types)
    if chosen.format == "cloudpickle":
        log.warning("Saving %s with cloudpickle: %s", type(model).__name__, chosen.why)
    requirements = [
        *mlflow.sklearn.get_default_pip_requirements(
            include_cloudpickle=chosen.format == "cloudpickle", include_skops=chosen.format == "skops"
        ),
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
    ]
    from alignment_drift.integrations.known_warnings import known_warnings

    with known_warnings(f"logging a version of {registered_model_name}"):
        info = mlflow.sklearn.log_model(
            model,
            name=name,
            registered_model_name=registered_model_name,
            input_example=input_example,
            pip_requirements=requirements,
            serialization_format=chosen.format,
            skops_trusted_types=list(chosen.skops_trusted_types) or None,
        )
    return info, chosen


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded from the registry: the estimator, its inputs, how it was saved and the sklearn it was saved by."""

    model: Any
    inputs: tuple[str, ...] | None
    format: str
    sklearn_version: str | None
    inputs_from: Literal["MLflow signature", "feature_names_in_", "unknown"] = "unknown"


def input_names(mlflow_model: Any, estimator: Any) -> tuple[tuple[str, ...] | None, Any]:
    """The model's input columns and where they come from: its MLflow signature, else ``feature_names_in_``."""
    signature = getattr(mlflow_model, "signature", None)
    if signature is not None and signature.inputs is not None and signature.inputs.has_input_names():
        return tuple(str(n) for n in signature.inputs.input_names()), "MLflow signature"
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return None, "unknown"
    return tuple(str(n) for n in names), "feature_names_in_"


def _load_local(folder: Path, uri: str, trusted_types: Sequence[str]) -> LoadedModel:
    from mlflow.environment_variables import MLFLOW_ALLOW_PICKLE_DESERIALIZATION
    from mlflow.models import Model

    mlflow_model = Model.load(str(folder))
    flavour = mlflow_model.flavors.get("sklearn")
    if flavour is None:
        raise ModelLoadError(
            f"{uri} is not a scikit-learn model: its MLflow flavours are {sorted(mlflow_model.flavors)}. "
            "alignment-drift monitors scikit-learn estimators and Pipelines logged with mlflow.sklearn.log_model."
        )
    fmt = str(flavour.get("serialization_format", "pickle"))
    path = folder / str(flavour["pickled_model"])
    try:
        if fmt == "skops":
            found = list(_skops_io().get_untrusted_types(file=str(path)))
            refused = [t for t in found if not trusted_type(t, trusted_types)]
            if refused:
                raise ModelLoadError(
                    f"{uri} is a skops artifact holding types that are not trusted: {refused}. Only "
                    "scikit-learn's, numpy's and scipy's own classes and the spec's registry.trusted_types are "
                    "loaded. Fix: if you trust these classes, list them under registry.trusted_types in the spec "
                    "(alignment-drift init: --trust TYPE)."
                )
            estimator = _skops_io().load(str(path), trusted=found)
        elif fmt in ("cloudpickle", "pickle"):
            if not MLFLOW_ALLOW_PICKLE_DESERIALIZATION.get():
                raise ModelLoadError(
                    f"{uri} is saved with {fmt}, and MLFLOW_ALLOW_PICKLE_DESERIALIZATION is false. Fix: re-log it "
                    "with skops (mlflow.sklearn.log_model(..., serialization_format='skops')), or allow loading."
                )
            import cloudpickle  # type: ignore[import-untyped]

            with path.open("rb") as handle:
                estimator = cloudpickle.load(handle)
        else:
            raise ModelLoadError(f"{uri} uses the serialization format {fmt!r}, which is not supported.")
    except (ModuleNotFoundError, AttributeError) as error:
        raise ModelLoadError(
            f"{uri} needs code that is not installed here ({type(error).__name__}: {error}). Fix: install the "
            "package of its custom classes where alignment-drift runs (code logged with the model is not used)."
        ) from None
    if not callable(getattr(estimator, "predict", None)):
        raise ModelLoadError(
            f"{uri} holds a {type(estimator).__name__}, which has no predict method: not a scikit-learn model."
        )
    inputs, inputs_from = input_names(mlflow_model, estimator)
    return LoadedModel(estimator, inputs, fmt, flavour.get("sklearn_version"), inputs_from)


def load_from_registry(settings: Settings, uri: str, *, trusted_types: Sequence[str] = ()) -> LoadedModel:
    """Load a scikit-learn model from the MLflow registry, honouring the format it was saved in.

    Parameters
    ----------
    settings : Settings
        Gives the tracking server (or local store) that resolves the URI.
    uri : str
        ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or ``runs:/<run_id>/<path>``.
    trusted_types : sequence of str
        The spec's ``registry.trusted_types``.

    Raises
    ------
    ModelUriError
        When the URI is not a registry URI or names nothing.
    ModelLoadError
        When it is not a scikit-learn model, holds untrusted types, or needs code that is not installed.
    """
    import mlflow
    import mlflow.artifacts

    from alignment_drift.integrations.known_warnings import known_warnings

    ref = parse_model_uri(uri)
    registered_source(settings, ref)  # a clear "not found" before any download
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    # only the named third-party warnings are dropped (one log line says which); any other is passed on as raised
    with known_warnings(f"loading {ref.uri}"), tempfile.TemporaryDirectory(prefix="alignment-drift-model-") as tmp:
        folder = mlflow.artifacts.download_artifacts(
            artifact_uri=ref.uri, dst_path=tmp, tracking_uri=settings.tracking_uri
        )
        return _load_local(Path(folder), ref.uri, trusted_types)
