"""A rejected challenger loses its alias, whether or not it still had one; a registry that cannot be reached raises."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException

from alignment_drift.integrations.mlflow import registry
from alignment_drift.integrations.mlflow.store import client, experiment_id
from alignment_drift.pipeline.promotion import apply_approval
from alignment_drift.settings import Settings

REJECT = {"chosen_options": ["Reject"], "params_input": {"comment": "not now"}, "responded_by_user": {"name": "ana"}}


@pytest.fixture
def world(content_spec: Any, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Settings, str]:
    """A spec whose model has champion 1 and challenger 2, and the retrain run of version 2."""
    settings = Settings.from_env()
    spec = content_spec.model_copy(update={"model": f"promotion_{request.node.name}"})
    mlflow_client = client(settings)
    mlflow_client.create_registered_model(spec.model)
    for _ in range(2):
        mlflow_client.create_model_version(spec.model, source=(tmp_path / "model").as_uri())
    mlflow_client.set_registered_model_alias(spec.model, "champion", "1")
    mlflow_client.set_registered_model_alias(spec.model, "challenger", "2")
    run_id = mlflow_client.create_run(experiment_id(settings, spec.model)).info.run_id
    return spec, settings, run_id


def _decided() -> dict[str, Any]:
    return {"decision": "awaiting_approval", "version": "2", "previous_champion": "1", "reasons": []}


def _aliases(settings: Settings, model: str) -> dict[str, str]:
    return {alias: str(version) for alias, version in client(settings).get_registered_model(model).aliases.items()}


@pytest.mark.parametrize("challenger_still_set", [True, False], ids=["challenger-set", "challenger-already-gone"])
def test_a_rejection_drops_the_challenger_alias(world: tuple[Any, Settings, str], challenger_still_set: bool) -> None:
    spec, settings, run_id = world
    if not challenger_still_set:
        registry.drop_alias(settings, spec.model, "challenger")
    out = apply_approval(spec, settings, _decided(), REJECT, run_id=run_id)
    assert (out["decision"], out["approval"], out["decided_by"]) == ("rejected", "rejected", "ana")
    assert _aliases(settings, spec.model) == {"champion": "1"}
    assert client(settings).get_run(run_id).data.tags["gate_decision"] == "rejected"


def test_a_rejection_against_an_unreachable_registry_raises(
    world: tuple[Any, Settings, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, settings, run_id = world
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    down = dataclasses.replace(settings, tracking_uri=f"http://127.0.0.1:{port}", artifact_root="")
    with pytest.raises(MlflowException, match=r"API request to http://127\.0\.0\.1"):
        apply_approval(spec, down, _decided(), REJECT, run_id=run_id)
    assert _aliases(settings, spec.model) == {"champion": "1", "challenger": "2"}
