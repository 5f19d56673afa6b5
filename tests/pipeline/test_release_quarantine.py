"""``alignment-drift release-quarantine``: what can be released, how, and what is refused (exit 2)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignment_drift.cli import main
from tests.pipeline.conftest import START, Workspace

DAY = f"{START:%Y-%m-%d}"


def _cli_spec(ws: Workspace, spec: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write ``spec`` where the command can read it, and point the command at the workspace's data root."""
    path = ws.tmp / "specs" / f"{spec.model}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    monkeypatch.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(ws.data))
    monkeypatch.delenv("ALIGNMENT_DRIFT_QUARANTINE_DIR", raising=False)
    return path


def _release(spec_path: Path, *extra: str) -> int:
    return main(
        [
            "release-quarantine",
            "content_safety",
            "--date",
            DAY,
            "--spec",
            str(spec_path),
            "--reason",
            "fixed upstream",
            *extra,
        ]
    )


def _manifest(ws: Workspace) -> dict[str, Any]:
    return json.loads((ws.settings.quarantine_dir / "content_safety" / DAY / "manifest.json").read_text())


def _quarantine_duplicates(ws: Workspace) -> bytes:
    broken = ws.log.copy()
    broken.loc[1:5, "prediction_id"] = broken.loc[0, "prediction_id"]
    broken.to_parquet(ws.batch_path(), index=False)
    _, out = ws.run()
    assert out["status"] == "quarantined"
    return ws.batch_path().read_bytes()


def test_a_batch_fixed_in_place_is_released_with_its_new_checksum(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path = _cli_spec(ws, ws.spec, monkeypatch)
    original = _quarantine_duplicates(ws)
    assert _release(spec_path) == 2  # not fixed yet
    assert "would be quarantined again" in capsys.readouterr().err
    assert _manifest(ws)["status"] == "quarantined"

    ws.log.to_parquet(ws.batch_path(), index=False)
    assert _release(spec_path) == 0
    assert "rerun the night" in capsys.readouterr().out
    manifest = _manifest(ws)
    (release,) = manifest["releases"]
    assert release["batch"] == "fixed in place" and release["reason"] == "fixed upstream"
    assert release["sha256"] == hashlib.sha256(ws.batch_path().read_bytes()).hexdigest()
    assert manifest["sha256"] == hashlib.sha256(original).hexdigest()  # the quarantined bytes stay on record
    assert (ws.settings.quarantine_dir / "content_safety" / DAY / ws.batch_path().name).read_bytes() == original
    _, out = ws.run()
    assert out["status"] == "valid"


def test_a_missing_night_needs_the_batch_and_gets_it_written(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path = _cli_spec(ws, ws.spec, monkeypatch)
    _, out = ws.run()
    assert out["status"] == "quarantined" and out["reason"].startswith("no batch")
    assert _release(spec_path) == 2
    assert "no batch" in capsys.readouterr().err
    fixed = ws.tmp / "late.parquet"
    ws.log.to_parquet(fixed, index=False)
    assert _release(spec_path, "--batch", str(fixed)) == 0
    assert ws.batch_path().read_bytes() == fixed.read_bytes()


def test_a_folder_of_partitions_is_replaced_whole(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = ws.with_path("content_safety/predictions/{date}")
    spec_path = _cli_spec(ws, spec, monkeypatch)
    folder = ws.data / "content_safety" / "predictions" / DAY
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").write_bytes(b"not parquet")
    assert ws.run(spec)[1]["status"] == "quarantined"
    fixed = ws.tmp / "fixed"
    fixed.mkdir()
    ws.log.iloc[:200].to_parquet(fixed / "part-0.parquet", index=False)
    ws.log.iloc[200:].to_parquet(fixed / "part-1.parquet", index=False)
    not_a_folder = ws.tmp / "one.parquet"
    ws.log.to_parquet(not_a_folder, index=False)
    assert _release(spec_path, "--batch", str(not_a_folder)) == 2
    assert "not a folder" in capsys.readouterr().err
    assert _release(spec_path, "--batch", str(fixed)) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet", "part-1.parquet"]
    assert ws.run(spec)[1]["status"] == "valid"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param("content_safety/predictions/{date}/part-*.parquet", "glob", id="glob-source"),
        pytest.param("../outside/{date}.parquet", "refused", id="refused-source"),
    ],
)
def test_locations_that_cannot_be_written_are_refused(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], template: str, message: str
) -> None:
    spec = ws.with_path(template)
    spec_path = _cli_spec(ws, spec, monkeypatch)
    assert ws.run(spec)[1]["status"] == "quarantined"
    fixed = ws.tmp / "fixed.parquet"
    ws.log.to_parquet(fixed, index=False)
    assert _release(spec_path, "--batch", str(fixed)) == 2
    assert message in capsys.readouterr().err
    assert _manifest(ws)["status"] == "quarantined"


def test_a_sql_source_is_never_written_back(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alignment_drift.core.spec import SqlSource

    source = SqlSource(conn_id="whatever", query="SELECT * FROM t WHERE ts >= :start AND ts < :end")
    spec = ws.spec.model_copy(update={"source": source})
    spec_path = _cli_spec(ws, spec, monkeypatch)
    _quarantine_duplicates(ws)
    fixed = ws.tmp / "fixed.parquet"
    ws.log.to_parquet(fixed, index=False)
    assert _release(spec_path, "--batch", str(fixed)) == 2
    assert "cannot be written back" in capsys.readouterr().err


def test_bad_arguments_exit_2(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path = _cli_spec(ws, ws.spec, monkeypatch)
    assert _release(spec_path) == 2
    assert "Nothing is quarantined" in capsys.readouterr().err
    _quarantine_duplicates(ws)
    assert main(["release-quarantine", "content_safety", "--date", "01/01/2026", "--reason", "x"]) == 2
    assert main(["release-quarantine", "content_safety", "--date", DAY, "--reason", "  "]) == 2
    assert main(["release-quarantine", "../etc", "--date", DAY, "--reason", "x"]) == 2
    assert _release(spec_path, "--batch", str(ws.tmp / "nope.parquet")) == 2
    err = capsys.readouterr().err
    assert err.count("Fix:") >= 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"data_interval": {"start": "2025-06-01T00:00:00+00:00", "end": "2025-06-02T00:00:00+00:00"}},
            "not the night its folder",
            id="interval-of-another-night",
        ),
        pytest.param(
            {"data_interval": {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"}},
            "not the night its folder",
            id="interval-without-timezone",
        ),
        pytest.param({"data_interval": {"start": "tomorrow"}}, "not the night its folder", id="interval-garbage"),
        pytest.param({"model": "other_model"}, "not its own folder", id="manifest-of-another-model"),
        pytest.param({"interval_start": "2025-06-01"}, "not its own folder", id="manifest-of-another-night"),
    ],
)
def test_a_tampered_manifest_never_decides_where_to_write(
    ws: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, Any],
    message: str,
) -> None:
    spec_path = _cli_spec(ws, ws.spec, monkeypatch)
    _, out = ws.run()  # the night is missing: releasing it writes --batch to the source location
    path = Path(out["quarantine"]["manifest_path"])
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    fixed = ws.tmp / "late.parquet"
    ws.log.to_parquet(fixed, index=False)
    before = sorted(p for p in ws.data.rglob("*") if "quarantine" not in p.parts)
    assert _release(spec_path, "--batch", str(fixed)) == 2
    err = capsys.readouterr().err
    assert message in err and "Fix:" in err and "Traceback" not in err
    assert sorted(p for p in ws.data.rglob("*") if "quarantine" not in p.parts) == before  # nothing written
    assert _manifest(ws)["status"] == "quarantined"


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_pipe_or_device_as_the_fixed_batch_is_refused_unread(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], special: str
) -> None:
    import os

    spec_path = _cli_spec(ws, ws.spec, monkeypatch)
    ws.run()
    if special == "fifo":
        special = str(ws.tmp / "fixed.parquet")
        os.mkfifo(special)  # reading it would block forever: no writer
    assert _release(spec_path, "--batch", special) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err and "Fix:" in err
    assert not ws.batch_path().exists()
