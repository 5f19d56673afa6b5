"""The spec's bring-your-own-model fields: training entrypoint, retraining mode, trusted types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alignment_drift.core.spec import SpecError, parse_spec


@pytest.fixture
def demo(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())


def test_defaults_keep_builtin_training(demo: dict[str, Any]) -> None:
    spec = parse_spec(demo)
    assert spec.retraining.mode == "builtin" and spec.retraining.training.entrypoint is None
    assert spec.registry.trusted_types == []


def test_the_new_fields_load(demo: dict[str, Any]) -> None:
    demo["retraining"]["mode"] = "external"
    demo["retraining"]["training"] = {"entrypoint": "my_team.training:build", "params": {"depth": 3}}
    demo["registry"] = {"trusted_types": ["my_team.features.Clipper"]}
    spec = parse_spec(demo)
    assert spec.retraining.mode == "external"
    assert spec.retraining.training.entrypoint == "my_team.training:build"
    assert spec.registry.trusted_types == ["my_team.features.Clipper"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["retraining"].update(mode="sometimes"), r"retraining\.mode: .*'builtin' or 'external'"),
        (
            lambda d: d["retraining"]["training"].update(entrypoint="my_team.training.build"),
            r"retraining\.training\.entrypoint: .*'package\.module:function'",
        ),
        (
            lambda d: d.update(registry={"trusted_types": ["Clipper"]}),
            r"registry\.trusted_types: .*fully qualified class name",
        ),
        (lambda d: d.update(registry={"trusted": []}), r"registry\.trusted: unknown field"),
    ],
    ids=["mode", "entrypoint-form", "trusted-type-form", "unknown-field"],
)
def test_mistakes_name_their_field(demo: dict[str, Any], change: Any, message: str) -> None:
    change(demo)
    with pytest.raises(SpecError, match=message):
        parse_spec(demo)
