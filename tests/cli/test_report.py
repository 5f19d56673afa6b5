"""The report at the record step and from the command line: ``check`` writes it, ``report`` rebuilds it.

A model of its own (``cli_report``, a copy of the demo's spec) gets a
champion trained with the retrain pipeline's steps; each ``check`` runs the
DAG's steps in-process on the session's MLflow store, and the record step
logs ``report.html`` with the check run, writes it to the night's evidence
folder and beside the incident. ``alignment-drift drift --format html`` is
exercised on files of its own.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest
import yaml

from alignment_drift.cli import main

MODEL = "cli_report"
HOSTILE = "<script>alert(1)</script>"


@dataclass
class Setup:
    spec_path: Path
    spec: Any
    settings: Any
    platform: Any
    model: Any
    version: str

    def night_path(self, day: dt.date) -> Path:
        return self.settings.data_dir / MODEL / "predictions" / f"{day:%Y-%m-%d}.parquet"

    def serve(self, night: int) -> tuple[dt.date, pd.DataFrame]:
        from alignment_drift.demo.simulate.content import night_start

        log = self.platform.night(night, self.model, model_version=self.version)
        day = night_start(self.spec.start_date, night).date()
        path = self.night_path(day)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)
        return day, log

    def run_id(self, day: dt.date) -> str:
        from alignment_drift.integrations.mlflow.checks import find_check_run

        run_id = find_check_run(self.settings, MODEL, f"{day}T00:00:00+00:00")
        assert run_id is not None
        return run_id

    def artifact(self, day: dt.date, name: str, tmp: Path) -> Path:
        from alignment_drift.integrations.mlflow.store import client

        return Path(client(self.settings).download_artifacts(self.run_id(day), name, str(tmp)))

    def evidence_report(self, day: dt.date) -> Path:
        found = sorted((self.settings.data_dir / "_checks" / MODEL).glob(f"{day}*/report.html"))
        assert len(found) == 1, found
        return found[0]


@pytest.fixture(scope="module")
def setup(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.demo.run import prepare_data
    from alignment_drift.demo.simulate import ContentPlatform
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.pipeline import retrain
    from alignment_drift.settings import Settings

    tmp = tmp_path_factory.mktemp("cli-report")
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["model"] = MODEL
    data["source"]["path"] = f"{MODEL}/predictions/{{date}}.parquet"
    data["reference"].update(training_data=f"{MODEL}/training.parquet", audit_set=f"{MODEL}/audit.parquet")
    spec_path = tmp / f"{MODEL}.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(tmp / "data"))
        env.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp / "incidents"))
        env.setenv("ALIGNMENT_DRIFT_GX_DATA_DOCS", "1")  # as a user has it (the other tests turn them off)
        settings = Settings.from_env(root)
        spec = load_spec(spec_path)
        platform = ContentPlatform("stable", seed=31, rows_per_night=600, start_date=spec.start_date)
        prepare_data(settings, spec, platform)
        key = f"{MODEL}/initial"
        assembled = retrain.assemble(spec, settings, as_of=night_start(spec.start_date, 1), key=key)
        trained = retrain.train(spec, settings, assembled, key=key, reason="initial champion", tags={})
        decided = retrain.decide_promotion(spec, settings, trained, retrain.gate(spec, settings, trained))
        assert decided["decision"] == "promoted", decided
        version = registry.champion(settings, MODEL).version
        model = registry.load_model(settings, MODEL, version)
        yield Setup(spec_path, spec, settings, platform, model, version)


@pytest.fixture(scope="module")
def nights(setup: Setup) -> list[dt.date]:
    """Two recorded nights (checked through the command, as the DAG's steps)."""
    days = []
    for night in (1, 2):
        day, _ = setup.serve(night)
        assert main(["check", str(setup.spec_path), "--date", f"{day}", "--format", "json"]) == 0
        days.append(day)
    return days


def test_the_record_step_logs_the_report_and_writes_it_to_the_evidence_folder(
    setup: Setup, nights: list[dt.date], tmp_path: Path
) -> None:
    from alignment_drift.integrations.reports.sections import verdict_sentence

    day = nights[-1]
    check = json.loads(setup.artifact(day, "check.json", tmp_path).read_text())
    logged = setup.artifact(day, "report.html", tmp_path).read_text()
    assert html.escape(verdict_sentence(check), quote=False) in logged
    assert "Trends over the last 2 night(s)" in logged
    dists = json.loads(setup.artifact(day, "report/distributions.json", tmp_path).read_text())
    assert dists["schema"] == "alignment-drift/report-distributions@1"
    assert set(dists["columns"]) == {c["name"] for c in check["drift"]["columns"]} | {"score", "prediction"}
    assert dists["n_current"] == check["source"]["rows"] and dists["columns"]["toxicity"]["current"]
    assert setup.evidence_report(day).read_text() == logged


def _data_docs(setup: Setup, day: dt.date) -> dict[str, str]:
    """The night's GX Data Docs pages logged with its check run, by artifact path."""
    import tempfile

    from alignment_drift.integrations.mlflow.store import client

    mlflow_client, run_id, pages = client(setup.settings), setup.run_id(day), {}
    folders = ["validation/data_docs"]
    with tempfile.TemporaryDirectory() as tmp:
        while folders:
            for entry in mlflow_client.list_artifacts(run_id, folders.pop()):
                if entry.is_dir:
                    folders.append(entry.path)
                else:
                    pages[entry.path] = Path(mlflow_client.download_artifacts(run_id, entry.path, tmp)).read_text()
    return pages


def _text(page: str) -> str:
    """A Data Docs page as the words a reader sees (tags dropped, spaces collapsed)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_check_run_has_the_nights_gx_data_docs_and_the_report_links_them(
    setup: Setup, nights: list[dt.date], tmp_path: Path
) -> None:
    from alignment_drift.integrations.gx import load_suite

    day = nights[-1]
    suite = load_suite(setup.settings.expectations_dir / f"{setup.spec.expectations}.json")
    pages = _data_docs(setup, day)
    assert all(p.endswith((".html", ".css")) for p in pages) and "validation/data_docs/index.html" in pages
    (validation,) = [t for p, t in pages.items() if p.startswith("validation/data_docs/validations/")]
    index = pages["validation/data_docs/index.html"]
    assert suite["name"] in index and suite["name"] in validation and f"{day}" in index
    assert "Status: Succeeded" in _text(validation)
    assert "score Status Expectation Observed Value values must never be null." in _text(validation)
    evidence = setup.evidence_report(day).parent
    on_disk = evidence / "validation" / "data_docs" / "index.html"
    assert on_disk.read_text() == index  # the same relative path beside the report on disk and in the run
    for report in (setup.artifact(day, "report.html", tmp_path).read_text(), setup.evidence_report(day).read_text()):
        assert 'id="data-docs-link" href="validation/data_docs/index.html"' in report
        assert f"runs:/{setup.run_id(day)}/validation/data_docs/index.html" in report


def test_a_quarantined_nights_data_docs_show_the_failed_expectation(setup: Setup, nights: list[dt.date]) -> None:
    day, log = setup.serve(4)
    broken = log.copy()
    broken.loc[1:20, "prediction_id"] = broken.loc[0, "prediction_id"]
    broken.to_parquet(setup.night_path(day), index=False)
    assert main(["check", str(setup.spec_path), "--date", f"{day}", "--format", "json"]) == 0
    (validation,) = [t for p, t in _data_docs(setup, day).items() if "/validations/" in p]
    shown = _text(validation)
    assert "Status: Failed" in shown
    failed = shown[shown.index("prediction_id Status Expectation") :]
    assert re.match(r"prediction_id Status Expectation Observed Value .*?values must be unique\. 21 unexpected", failed)


def test_a_quarantined_night_has_its_report_beside_the_incident(
    setup: Setup, nights: list[dt.date], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    day, log = setup.serve(3)
    broken = log.copy()
    broken.loc[1:20, "prediction_id"] = broken.loc[0, "prediction_id"]
    broken.to_parquet(setup.night_path(day), index=False)
    from alignment_drift.integrations.incident_store import get_incident

    assert main(["check", str(setup.spec_path), "--date", f"{day}", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "quarantined" and result["incident"]["state"] == "open"
    incident = get_incident(setup.settings, result["incident"]["id"])
    assert incident.kind == "quarantine"
    (occurrence,) = [o for o in incident.occurrences if o.interval_start.startswith(f"{day}")]
    assert occurrence.report_path == result["report"]
    page = Path(result["report"]).read_text()
    assert "was quarantined and not evaluated" in page and "prediction_id" in page
    assert setup.artifact(day, "report.html", tmp_path).read_text() == page
    night = json.loads(setup.artifact(day, "incident.json", tmp_path).read_text())
    assert night["links"]["report_path"] == result["report"]


def test_a_report_that_fails_never_loses_the_check(
    setup: Setup, nights: list[dt.date], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    day = nights[0]
    target = setup.evidence_report(day)
    target.unlink()
    target.mkdir()  # the report cannot be written there
    try:
        with caplog.at_level(logging.ERROR, logger="alignment_drift.pipeline.steps.record"):
            assert main(["check", str(setup.spec_path), "--date", f"{day}", "--format", "json"]) == 0
    finally:
        target.rmdir()
    assert "could not be built; the check is recorded in MLflow run" in caplog.text
    check = json.loads(setup.artifact(day, "check.json", tmp_path).read_text())
    assert check["data_interval"]["start"].startswith(f"{day}") and check["verdict"]


def test_report_rebuilds_a_night_from_mlflow(
    setup: Setup, nights: list[dt.date], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    day = nights[-1]
    output = tmp_path / "out" / "night.html"
    assert main(["report", str(setup.spec_path), "--date", f"{day}", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {output} (") and "bytes)" in out
    page = output.read_text()
    logged = setup.artifact(day, "report.html", tmp_path / "logged").read_text()

    def stored(text: str) -> str:  # what the check run keeps: all but the trends (the nights may be rerun since)
        return text.split('<section id="trends">')[0]

    assert stored(page) == stored(logged) and 'id="benchmark-table"' in page
    assert main(["report", str(setup.spec_path), "--date", f"{day}", "--output", "-", "--nights", "1"]) == 0
    streamed = capsys.readouterr().out
    assert streamed.startswith("<!doctype html>") and "Trends over the last 1 night(s)" in streamed


def test_report_without_stored_distributions_reads_the_batch_again(
    setup: Setup, nights: list[dt.date], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from alignment_drift.integrations.mlflow.store import client

    day = nights[0]
    run = client(setup.settings).get_run(setup.run_id(day))
    stored = Path(unquote(urlparse(run.info.artifact_uri).path)) / "report" / "distributions.json"
    stored.unlink()  # a run recorded before reports existed
    output = tmp_path / "again.html"
    assert main(["report", str(setup.spec_path), "--date", f"{day}", "--output", str(output)]) == 0
    assert "could not be read again" not in output.read_text() and output.read_text().count("data:image/svg+xml") >= 9
    batch = setup.night_path(day)
    saved = tmp_path / "saved.parquet"
    shutil.copy(batch, saved)
    pd.read_parquet(batch).head(100).to_parquet(batch, index=False)  # the batch changed since the check
    try:
        assert main(["report", str(setup.spec_path), "--date", f"{day}", "--output", str(output)]) == 0
    finally:
        shutil.copy(saved, batch)
    page = output.read_text()
    assert "changed since the check (its sha256 differs)" in page and "the charts show the reference side only" in page
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2031-01-01"], "no check of 'cli_report' is recorded for 2031-01-01"),
        (["--date", "2026-13-01"], "--date must be a calendar date"),
        (["--date", "2026-01-01", "--output", "{tmp}"], "is a folder. Fix: give a file path"),
    ],
    ids=["no-check-that-night", "bad-date", "output-is-a-folder"],
)
def test_report_bad_input_exits_2_naming_the_fix(
    setup: Setup, nights: list[dt.date], capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list, message: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["report", str(setup.spec_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alignment-drift report: ") and message in err
    if "no check" in message:
        assert "Fix: run `alignment-drift check" in err


def test_report_of_an_invalid_spec_exits_2(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["drift"]["alpha"] = 7
    bad = tmp_path / "content_safety.yaml"
    bad.write_text(yaml.safe_dump(data))
    assert main(["report", str(bad), "--date", "2026-01-01"]) == 2
    assert "drift.alpha" in capsys.readouterr().err


@pytest.fixture
def drift_files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 3000
    reference = pd.DataFrame({HOSTILE: rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(list("xyz"), n)})
    current = reference.assign(**{HOSTILE: reference[HOSTILE] + 0.7, "c": np.where(rng.random(n) < 0.3, "<b>w", "x")})
    paths = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    reference.to_parquet(paths[0])
    current.to_parquet(paths[1])
    return paths


def test_drift_format_html_writes_the_drift_only_report(
    drift_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "drift.html"
    reference, current = drift_files
    code = main(["drift", str(reference), str(current), "--format", "html", "--output", str(output)])
    assert code == 0
    page = output.read_text()
    assert page.startswith("<!doctype html>") and HOSTILE not in page and "<b>w" not in page
    assert f"<code>{html.escape(HOSTILE)}</code>" in page and "Drift in 2 of 3 columns" in page
    assert page.count('src="data:image/svg+xml;base64,') == 3 and 'id="benchmark-table"' not in page
    assert main(["drift", str(reference), str(current), "--format", "html", "--fail-on-drift"]) == 1
    assert capsys.readouterr().out.startswith("<!doctype html>")


def test_drift_format_html_bad_input_exits_2(
    drift_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    reference, _ = drift_files
    assert main(["drift", str(reference), str(reference.with_name("missing.parquet")), "--format", "html"]) == 2
    assert capsys.readouterr().err.startswith("alignment-drift drift: ")
