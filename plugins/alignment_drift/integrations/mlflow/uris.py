"""Model URIs the commands accept: ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``runs:/<run>/<path>``.

Registered versions are resolved and loaded through :mod:`.registry`; a run's
logged model (not registered) is loaded with ``mlflow.sklearn`` from the
same tracking store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from alignment_drift.integrations.mlflow import registry
from alignment_drift.integrations.mlflow.registry import VersionInfo
from alignment_drift.settings import Settings

__all__ = ["ModelRef", "parse_model_uri", "resolve_model_uri"]

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"
_VERSION = re.compile(rf"^models:/(?P<name>{_NAME})/(?P<version>[0-9]{{1,9}})$")
_ALIAS = re.compile(rf"^models:/(?P<name>{_NAME})@(?P<alias>[A-Za-z0-9_\-]{{1,64}})$")
_RUN = re.compile(r"^runs:/(?P<run>[0-9a-fA-F]{8,64})/(?P<path>[A-Za-z0-9_.\-/]{1,256})$")
FORMS = "models:/<name>/<version>, models:/<name>@<alias> or runs:/<run id>/<artifact path>"


@dataclass(frozen=True)
class ModelRef:
    """A model named by a URI: registered (``name``, ``version``) or logged in a run (``run_id``, ``path``)."""

    uri: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    path: str | None = None

    @property
    def label(self) -> str:
        return f"v{self.version}" if self.version else self.uri


def parse_model_uri(uri: str) -> ModelRef:
    """Parse a model URI; ``ValueError`` naming the accepted forms when it is none of them.

    Examples
    --------
    >>> parse_model_uri("models:/content_safety/3").version
    '3'
    >>> parse_model_uri("models:/content_safety@champion").alias
    'champion'
    """
    text = str(uri).strip()
    if match := _VERSION.match(text):
        return ModelRef(text, name=match["name"], version=match["version"])
    if match := _ALIAS.match(text):
        return ModelRef(text, name=match["name"], alias=match["alias"])
    if (match := _RUN.match(text)) and ".." not in match["path"].split("/"):
        return ModelRef(text, run_id=match["run"], path=match["path"])
    raise ValueError(f"The model URI must be one of {FORMS}. Got {text[:300]!r} instead.")


def resolve_model_uri(settings: Settings, uri: str) -> tuple[ModelRef, VersionInfo | None, Any]:
    """Resolve a URI to its registered version (None for a run's model) and load the fitted model.

    Raises
    ------
    ValueError
        When the URI is malformed, or names a model, version, alias or run the store does not have.
    """
    from mlflow.exceptions import MlflowException

    from alignment_drift.core.redaction import redact_uri

    ref = parse_model_uri(uri)
    try:
        if ref.name is not None:
            info = (
                registry.champion(settings, ref.name, alias=ref.alias)
                if ref.alias is not None
                else registry.version_info(settings, ref.name, str(ref.version))
            )
            if info is None:
                raise ValueError(
                    f"Model {ref.name!r} has no alias {ref.alias!r} in {redact_uri(settings.tracking_uri)}."
                )
            ref = ModelRef(ref.uri, name=ref.name, version=info.version, alias=ref.alias)
            return ref, info, registry.load_model(settings, ref.name, info.version)  # type: ignore[arg-type]
        import mlflow
        import mlflow.sklearn

        mlflow.set_tracking_uri(settings.tracking_uri)
        return ref, None, mlflow.sklearn.load_model(ref.uri)
    except (MlflowException, LookupError) as error:
        raise ValueError(
            f"Cannot load {ref.uri!r} from {redact_uri(settings.tracking_uri)}: {str(error)[:500]}"
        ) from None
