"""Airflow sees the package: the plugin through its entry point, the provider metadata with the right name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest


def test_entry_points_are_declared() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="airflow.plugins")}
    assert plugins["alignment_drift"] == "alignment_drift.airflow.plugin:AlignmentDriftPlugin"
    providers = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("alignment_drift")]
    assert len(providers) == 1
    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    assert "alignment-drift" in scripts


def test_provider_package_name_is_the_distribution_name() -> None:
    from alignment_drift.airflow.provider import get_provider_info

    info = get_provider_info()
    assert info["package-name"] == distribution("alignment-drift").metadata["Name"]
    assert info["name"] and info["description"]


def test_provider_info_follows_airflows_schema_and_lists_the_operators() -> None:
    import importlib
    from importlib.resources import files

    import jsonschema

    from alignment_drift.airflow.provider import get_provider_info

    info = get_provider_info()
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)
    integrations = {i["integration-name"] for i in info["integrations"]}
    for entry in info["operators"]:
        assert entry["integration-name"] in integrations
        for module in entry["python-modules"]:
            assert importlib.import_module(module).AlignmentCheckOperator
    # a key Airflow does not know fails the schema (so the check above is not vacuous)
    bad = {**info, "operators": [{"integration-name": "x", "python-modules": "not a list"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_airflow_lists_the_plugin_and_its_macro() -> None:
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "plugins", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("[{")]
    listed = json.loads(line)
    ours = [p for p in listed if p["name"] == "alignment_drift"]
    assert ours, listed
    assert ours[0]["macros"] == ["alignment_drift.airflow.plugin.verdict_badge"]
    assert "EntryPoint(name='alignment_drift'" in ours[0]["source"]
    # the Alignment page: its FastAPI app, and the view that shows it in Airflow's navigation
    (app,) = ours[0]["fastapi_apps"]
    assert app["url_prefix"] == "/alignment" and app["app"] == "fastapi.applications.FastAPI"
    (view,) = ours[0]["external_views"]
    assert view == {
        "name": "Alignment",
        "href": "alignment/",
        "destination": "nav",
        "category": "browse",
        "url_route": "alignment",
    }


def test_verdict_badge_macro() -> None:
    from alignment_drift.airflow.plugin import verdict_badge

    assert verdict_badge("misaligned") == "MISALIGNED"
    assert verdict_badge("aligned") == "OK"
