"""The command line: exit codes 0 / 2 and messages that name the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alignment_drift.cli import main


def test_valid_spec(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", str(root / "specs" / "content_safety.yaml")]) == 0
    assert "ok" in capsys.readouterr().out


def test_invalid_spec_exits_2_naming_the_field(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["drift"]["alpha"] = 7
    bad = tmp_path / "content_safety.yaml"
    bad.write_text(yaml.safe_dump(data))
    assert main(["spec", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "drift.alpha" in err and "Got 7" in err


def test_json_output_carries_a_schema(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", str(root / "specs" / "content_safety.yaml"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == "alignment-drift/spec-validation@1"
    assert out["specs"][0]["model"] == "content_safety"


def test_unknown_demo_scenario_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--scenario", "chaos"]) == 2
    assert "unknown scenario 'chaos'" in capsys.readouterr().err


def test_installed_console_script_runs() -> None:
    script = Path(sys.executable).with_name("alignment-drift")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("alignment-drift ")
