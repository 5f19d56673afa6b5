"""Aliases in the registry: "not there" is an answer, a registry that cannot be asked is an error.

On the session's real sqlite store, and against a tracking server that is not running (a closed
port on loopback): `drop_alias` and `champion` swallow only what MLflow says when a model or an alias
does not exist, and let every other failure raise.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from alignment_drift.integrations.mlflow import registry
from alignment_drift.integrations.mlflow.store import client
from alignment_drift.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture
def model(settings: Settings, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A registered model with versions 1 and 2: champion 1, challenger 2."""
    name = f"aliases_{request.node.name}".replace("[", "_").replace("]", "").replace("-", "_")
    mlflow_client = client(settings)
    mlflow_client.create_registered_model(name)
    for _ in range(2):
        mlflow_client.create_model_version(name, source=(tmp_path / "model").as_uri())
    mlflow_client.set_registered_model_alias(name, "champion", "1")
    mlflow_client.set_registered_model_alias(name, "challenger", "2")
    return name


def _aliases(settings: Settings, model: str) -> dict[str, str]:
    return {alias: str(version) for alias, version in client(settings).get_registered_model(model).aliases.items()}


@pytest.fixture
def unreachable(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at a tracking server on a loopback port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    return dataclasses.replace(settings, tracking_uri=f"http://127.0.0.1:{port}", artifact_root="")


def test_drop_alias_removes_it_and_only_it(settings: Settings, model: str) -> None:
    registry.drop_alias(settings, model, "challenger")
    assert _aliases(settings, model) == {"champion": "1"}


def test_dropping_an_alias_that_is_not_set_is_not_an_error(settings: Settings, model: str) -> None:
    registry.drop_alias(settings, model, "challenger")
    registry.drop_alias(settings, model, "challenger")  # MLflow's stores: a no-op
    assert _aliases(settings, model) == {"champion": "1"}


def test_dropping_an_alias_of_a_model_that_is_gone_is_not_an_error(settings: Settings) -> None:
    with pytest.raises(MlflowException) as raised:  # what the store answers, and drop_alias accepts
        client(settings).delete_registered_model_alias("aliases_never_registered", "challenger")
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    registry.drop_alias(settings, "aliases_never_registered", "challenger")


def test_dropping_an_alias_with_an_invalid_name_raises(settings: Settings, model: str) -> None:
    with pytest.raises(MlflowException, match="Invalid alias name") as raised:
        registry.drop_alias(settings, model, "not an alias!")
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert _aliases(settings, model) == {"champion": "1", "challenger": "2"}


def test_dropping_an_alias_on_an_unreachable_server_raises(unreachable: Settings) -> None:
    with pytest.raises(MlflowException, match=r"API request to http://127\.0\.0\.1"):
        registry.drop_alias(unreachable, "any_model", "challenger")


def test_champion_is_none_only_when_the_registry_says_so(settings: Settings, model: str) -> None:
    found = registry.champion(settings, model)
    assert found is not None and found.version == "1"
    assert registry.champion(settings, model, alias="previous") is None  # no such alias
    assert registry.champion(settings, "aliases_never_registered") is None  # no such model


def test_champion_on_an_unreachable_server_raises_rather_than_saying_none(unreachable: Settings) -> None:
    with pytest.raises(MlflowException, match=r"API request to http://127\.0\.0\.1"):
        registry.champion(unreachable, "any_model")


def test_promote_moves_the_aliases_with_or_without_a_challenger(settings: Settings, model: str) -> None:
    assert registry.promote(settings, model, "2", reason="passed the gate") == "1"
    assert _aliases(settings, model) == {"champion": "2", "previous": "1"}
    # the challenger alias is already gone: promoting again is still fine
    assert registry.promote(settings, model, "1", reason="rolled forward again") == "2"
    assert _aliases(settings, model) == {"champion": "1", "previous": "2"}
