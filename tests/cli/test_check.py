"""``alignment-drift check`` and ``release-quarantine`` on a real champion, MLflow store and data root.

A model of its own (``cli_check``, a copy of the demo's spec) gets a champion
trained with the retrain pipeline's steps, so the end-to-end DAG tests keep
theirs. Each check runs the DAG's steps in-process and records the night in the
session's MLflow store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from alignment_drift.cli import main
from tests.cli.conftest import Setup, trained

MODEL = "cli_check"


@pytest.fixture(scope="module")
def setup(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with trained(root, tmp_path_factory.mktemp("cli-check"), MODEL) as ready:
        yield ready


def _check(setup: Setup, day: dt.date, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict, str]:
    code = main(["check", str(setup.spec_path), "--date", f"{day}", "--format", "json", *extra])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def test_a_good_night_is_checked_recorded_and_printed(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    day, _ = setup.serve(1)
    code, result, _ = _check(setup, day, capsys, "--fail-on", "misaligned")
    assert code == 0
    assert result["schema"] == "alignment-drift/check-result@1"
    assert result["model"] == MODEL and result["verdict"] in ("aligned", "watch")
    assert result["data_interval"] == {"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-02T00:00:00+00:00"}
    assert result["quarantine"] is None and isinstance(result["reasons"], list)
    assert result["source"]["sha256"] == hashlib.sha256(setup.night_path(day).read_bytes()).hexdigest()
    assert result["model_version"] == setup.version and result["mlflow_run_id"]
    assert {b["name"] for b in result["benchmarks"]} >= {"audit_unsafe_recall", "audit_roc_auc"}


def test_the_table_format_reads_like_a_report() -> None:
    from alignment_drift.cli.check import table

    result = {
        "model": MODEL,
        "data_interval": {"start": "2026-01-02T00:00:00+00:00", "end": "2026-01-03T00:00:00+00:00"},
        "verdict": "quarantined",
        "reasons": ["batch quarantined: the batch is empty"],
        "warnings": ["w1"],
        "attribution": [],
        "benchmarks": [{"name": "audit_roc_auc", "status": "skipped", "value": None, "threshold": 0.9}],
        "source": {"uri": "file:///x.parquet", "rows": 0, "sha256": "ab"},
        "drift": None,
        "quarantine": {"path": "/q/cli_check/2026-01-02", "sha256": "ab", "bytes": 0},
        "mlflow_run_id": "r1",
        "retrain_due": False,
        "retrain_request": "none",
    }
    text = table(result)
    for expected in (
        "verdict     quarantined",
        "reason      batch quarantined",
        "warning     w1",
        "quarantine  /q/cli_check/2026-01-02 (sha256 ab",
        "mlflow run  r1",
    ):
        assert expected in text
    assert "retrain     request" not in text
    pending = table({**result, "retrain_due": True, "retrain_request": "pending"})
    assert "request pending: the next monitor run emits it" in pending


def test_a_quarantined_night_fails_on_request_then_is_released_and_passes(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    day, log = setup.serve(2)
    broken = log.copy()
    broken.loc[1:20, "prediction_id"] = broken.loc[0, "prediction_id"]
    broken.to_parquet(setup.night_path(day), index=False)
    original = setup.night_path(day).read_bytes()

    code, result, _ = _check(setup, day, capsys)
    assert code == 0 and result["verdict"] == "quarantined"
    assert any("unique" in r for r in result["reasons"])
    quarantine = result["quarantine"]
    assert quarantine["sha256"] == hashlib.sha256(original).hexdigest() and quarantine["matches_pull"] is True
    assert (Path(quarantine["path"]) / setup.night_path(day).name).read_bytes() == original
    for fail_on in ("drifting", "misaligned", "quarantined"):
        assert _check(setup, day, capsys, "--fail-on", fail_on)[0] == 1
    assert main(["check", str(setup.spec_path), "--date", f"{day}"]) == 0  # the table; the same MLflow run
    assert f"quarantine  {quarantine['path']}" in capsys.readouterr().out

    still_broken = tmp_path / "still.parquet"
    broken.head(50).to_parquet(still_broken, index=False)
    args = ["release-quarantine", MODEL, "--date", f"{day}", "--spec", str(setup.spec_path), "--reason", "dedup"]
    assert main([*args, "--batch", str(still_broken)]) == 2
    assert "would be quarantined again" in capsys.readouterr().err

    fixed = tmp_path / "fixed.parquet"
    log.to_parquet(fixed, index=False)
    assert main([*args, "--batch", str(fixed)]) == 0
    out = capsys.readouterr().out
    assert f"airflow tasks clear alignment_monitor__{MODEL}" in out and "alignment-drift check" in out
    assert setup.night_path(day).read_bytes() == fixed.read_bytes()
    manifest = json.loads((Path(quarantine["path"]) / "manifest.json").read_text())
    assert manifest["status"] == "released"
    (release,) = manifest["releases"]
    assert release["reason"] == "dedup" and release["released_by"] and release["released_at"]
    assert release["sha256"] == hashlib.sha256(fixed.read_bytes()).hexdigest() and release["unchanged"] is False
    assert manifest["sha256"] == quarantine["sha256"]  # what was quarantined stays recorded, and kept

    assert main([*args, "--batch", str(fixed)]) == 2  # nothing quarantined any more
    assert "released" in capsys.readouterr().err
    code, result, _ = _check(setup, day, capsys, "--fail-on", "quarantined")
    assert code == 0 and result["verdict"] != "quarantined"


def test_release_without_a_quarantine_exits_2(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["release-quarantine", MODEL, "--date", "2031-01-01", "--spec", str(setup.spec_path), "--reason", "x"]
    assert main(args) == 2
    assert "Nothing is quarantined" in capsys.readouterr().err


def test_batch_checks_a_file_elsewhere(setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from alignment_drift.demo.simulate.content import night_start

    log = setup.platform.night(3, setup.model, model_version=setup.version)
    candidate = tmp_path / "candidate.csv"
    log.to_csv(candidate, index=False)
    day = night_start(setup.spec.start_date, 3).date()
    code, result, _ = _check(setup, day, capsys, "--batch", str(candidate))
    assert code == 0 and result["verdict"] in ("aligned", "watch"), result["reasons"]
    assert result["source"]["uri"] == candidate.as_uri() and result["source"]["rows"] == len(log)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--date", "2026-13-01"], "YYYY-MM-DD", id="bad-date"),
        pytest.param(["--date", "2026-01-01", "--batch", "/nonexistent/x.parquet"], "does not exist", id="no-batch"),
    ],
)
def test_bad_input_exits_2_naming_the_fix(
    setup: Setup, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["check", str(setup.spec_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Fix:" in err


def test_a_missing_spec_and_a_model_without_champion_exit_2(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["check", str(tmp_path / "nope.yaml"), "--date", "2026-01-01"]) == 2
    assert "no such alignment spec" in capsys.readouterr().err
    data = yaml.safe_load(setup.spec_path.read_text())
    data["model"] = "cli_check_untrained"
    other = tmp_path / "cli_check_untrained.yaml"
    other.write_text(yaml.safe_dump(data))
    batch = tmp_path / "night.parquet"
    setup.platform.night(1, setup.model, model_version="9").to_parquet(batch)
    assert main(["check", str(other), "--date", "2026-01-01", "--batch", str(batch)]) == 2
    assert "version 9 of 'cli_check_untrained', which is not registered" in capsys.readouterr().err
    del data["columns"]["model_version"]  # the deployed version is then the champion, and there is none
    other.write_text(yaml.safe_dump(data))
    assert main(["check", str(other), "--date", "2026-01-01", "--batch", str(batch)]) == 2
    assert "no champion" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["abc", "1' OR '1'='1"], ids=["letters", "sql-injection"])
def test_a_batch_naming_no_version_number_exits_2_naming_the_column(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path, version: str
) -> None:
    day, log = setup.log(4)
    log["model_version"] = version
    batch = tmp_path / "night.parquet"
    log.to_parquet(batch, index=False)
    before = batch.read_bytes()
    assert main(["check", str(setup.spec_path), "--date", f"{day}", "--batch", str(batch)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"version {version!r}" in err and "not a version number" in err and "model_version column" in err
    assert batch.read_bytes() == before


def test_a_spec_that_is_not_utf8_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "latin.yaml"
    spec.write_bytes("model: caf\xe9\n".encode("latin-1"))
    assert main(["check", str(spec), "--date", "2026-01-01"]) == 2
    err = capsys.readouterr().err
    assert "latin.yaml: not UTF-8 text" in err and "Fix: save it as UTF-8" in err
    assert err.count("\n") == 1  # one line, no traceback
