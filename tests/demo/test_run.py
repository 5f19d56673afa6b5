"""The demo refuses a spec it cannot feed: it writes each night's prediction log to a file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from alignment_drift.demo.run import run_demo

ROOT = Path(__file__).resolve().parents[2]


def test_a_spec_whose_source_is_not_files_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_log_levels: None
) -> None:
    spec = yaml.safe_load((ROOT / "specs" / "content_safety.yaml").read_text())
    spec["source"] = {"kind": "sql", "conn_id": "logs", "query": "SELECT * FROM p WHERE ts >= :start AND ts < :end"}
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "content_safety.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(tmp_path / "specs"))

    with pytest.raises(ValueError, match=r"'source' must be kind 'files'\. Got 'sql' instead"):
        run_demo(nights=1, out=io.StringIO())
