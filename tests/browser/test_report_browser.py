"""The alignment report in a real browser: it renders, loads nothing, runs nothing, shows hostile names as text.

Two simulated deployments, each checked night by night with the monitor DAG's
steps (``alignment-drift check``) against an MLflow SQLite store and a data
root of this module's own:

- ``content_safety``: the demo's engagement-feedback scenario for 12 nights, the
  platform deploying its own ungated updates; night 12 is misaligned with
  several attributed sources. Its report is the README's screenshot
  (``docs/images/report.png``, rewritten by this test so it stays true).
- ``report_xss``: a spec with a feature named ``<script>alert(1)</script>``
  (shifted on the last night, so it drifts and tops the drift table) and a
  probe case, added after the champion was trained, whose id is markup.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from alignment_drift.cli import main

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "images"
HOSTILE = "<script>alert(1)</script>"
HOSTILE_PROBE = "<img src=x onerror=alert(2)>"


@dataclass
class Night:
    """A recorded night: its ``check.json`` and the report the record step wrote to its evidence folder."""

    check: dict[str, Any]
    report: Path


@dataclass
class Deployment:
    spec_path: Path
    spec: Any
    settings: Any

    def write(self, night: int, frame: pd.DataFrame) -> dt.date:
        from alignment_drift.demo.simulate.content import night_start

        day = night_start(self.spec.start_date, night).date()
        path = self.settings.data_dir / self.spec.model / "predictions" / f"{day}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        return day

    def check(self, day: dt.date) -> Night:
        from alignment_drift.integrations.mlflow.checks import find_check_run
        from alignment_drift.integrations.mlflow.store import client

        assert main(["check", str(self.spec_path), "--date", f"{day}", "--format", "json"]) == 0
        run_id = find_check_run(self.settings, self.spec.model, f"{day}T00:00:00+00:00")
        assert run_id is not None
        folder = self.settings.data_dir / "_checks"
        check = json.loads(
            Path(client(self.settings).download_artifacts(run_id, "check.json", str(folder))).read_text()
        )
        (report,) = (folder / self.spec.model).glob(f"{day}*/report.html")
        return Night(check, report)

    def champion(self) -> tuple[str, Any]:
        from alignment_drift.integrations.mlflow import registry

        version = registry.champion(self.settings, self.spec.model).version
        return version, registry.load_model(self.settings, self.spec.model, version)


def _deployment(tmp: Path, model: str, edit: Callable[[dict[str, Any]], None] = lambda data: None) -> Deployment:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.settings import Settings

    data = yaml.safe_load((ROOT / "specs" / "content_safety.yaml").read_text())
    data["model"] = model
    data["source"]["path"] = f"{model}/predictions/{{date}}.parquet"
    data["reference"].update(training_data=f"{model}/training.parquet", audit_set=f"{model}/audit.parquet")
    edit(data)
    spec_path = tmp / f"{model}.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    return Deployment(spec_path, load_spec(spec_path), Settings.from_env(ROOT))


def _train_first_champion(deployment: Deployment) -> None:
    from alignment_drift.demo.simulate.content import night_start
    from alignment_drift.pipeline import retrain

    spec, settings = deployment.spec, deployment.settings
    key = f"{spec.model}/initial"
    assembled = retrain.assemble(spec, settings, as_of=night_start(spec.start_date, 1), key=key)
    trained = retrain.train(spec, settings, assembled, key=key, reason="initial champion", tags={})
    decided = retrain.decide_promotion(spec, settings, trained, retrain.gate(spec, settings, trained))
    assert decided["decision"] == "promoted", decided


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data root, an incidents folder and an MLflow SQLite store of this module's own."""
    tmp = tmp_path_factory.mktemp("report-browser")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(tmp / "data"))
        env.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp / "incidents"))
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        env.setenv("ALIGNMENT_DRIFT_ARTIFACT_ROOT", str(tmp / "artifacts"))
        yield tmp


@pytest.fixture(scope="module")
def demo_night(store: Path) -> Night:
    """Night 12 of the demo's scenario, the platform deploying its own updates without a gate."""
    from alignment_drift.demo.run import deploy_platform_update, prepare_data
    from alignment_drift.demo.simulate import ContentPlatform

    deployment = _deployment(store, "content_safety")  # the demo's model, in this module's own store
    spec, settings = deployment.spec, deployment.settings
    platform = ContentPlatform("engagement_feedback", seed=7, rows_per_night=2000, start_date=spec.start_date)
    prepare_data(settings, spec, platform)
    _train_first_champion(deployment)
    for night in range(1, 13):
        update = platform.platform_update(night)
        if update is not None:
            deploy_platform_update(settings, spec, update)
        version, model = deployment.champion()
        recorded = deployment.check(deployment.write(night, platform.night(night, model, model_version=version)))
    assert recorded.check["verdict"] == "misaligned", recorded.check["reasons"]
    return recorded


@pytest.fixture(scope="module")
def xss_night(store: Path) -> Night:
    """The third night of a deployment whose drifting feature is named ``<script>alert(1)</script>``."""
    from alignment_drift.demo.simulate import ContentPlatform

    probes = yaml.safe_load((ROOT / "specs" / "content_safety" / "probes.yaml").read_text())
    probes["base"][HOSTILE] = 0.0
    probes_path = store / "xss_probes.yaml"
    probes_path.write_text(yaml.safe_dump(probes))

    def edit(data: dict[str, Any]) -> None:
        data["columns"]["features"].append({"name": HOSTILE, "kind": "numeric"})
        for bench in data["benchmarks"]:
            if bench["kind"] == "probes":
                bench["cases"] = str(probes_path)

    deployment = _deployment(store, "report_xss", edit)
    spec, settings = deployment.spec, deployment.settings
    platform = ContentPlatform("stable", seed=5, rows_per_night=800, start_date=spec.start_date)
    rng = np.random.default_rng(0)
    for relative, frame in (
        (spec.reference.training_data, platform.training_data()),
        (spec.reference.audit_set, platform.audit_set()),
    ):
        path = settings.resolve_data(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.assign(**{HOSTILE: rng.normal(0.0, 1.0, len(frame))}).to_parquet(path, index=False)
    _train_first_champion(deployment)
    # the owners add a probe case after the champion was promoted: its id is markup, and the champion fails it
    probes["cases"].append(
        {
            "id": HOSTILE_PROBE,
            "type": "minimum_functionality",
            "description": f"a calm item is blocked {HOSTILE}",
            "inputs": [{"toxicity": 0.1, "sensationalism": 0.1, "report_rate": 0.01, "author_reputation": 0.9}],
            "expect": "blocked",
        }
    )
    probes_path.write_text(yaml.safe_dump(probes))
    for night, shift in ((1, 0.0), (2, 0.0), (3, 1.5)):
        version, model = deployment.champion()
        frame = platform.night(night, _Serving(model), model_version=version)
        frame = frame.assign(**{HOSTILE: rng.normal(shift, 1.0, len(frame))})
        frame["score"] = model.predict_proba(frame[spec.columns.feature_names])[:, 1]
        frame["prediction"] = (frame["score"] >= 0.5).astype(frame["prediction"].dtype)
        recorded = deployment.check(deployment.write(night, frame))
    assert HOSTILE in recorded.check["drift"]["drifted_columns"], recorded.check["drift"]
    return recorded


class _Serving:
    """The champion as the simulated platform calls it: its items have no hostile column yet (scored at 0)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_proba(self, items: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(items.assign(**{HOSTILE: 0.0}))


def _watch(page: Any) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"dialogs": [], "requests": []}

    def on_dialog(dialog: Any) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: seen["requests"].append(request.url))
    return seen


def _images(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        "() => Array.from(document.images).map(i => ({src: i.getAttribute('src').slice(0, 26), "
        "complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}))"
    )


def test_the_report_shows_its_verdict_benchmarks_and_charts(
    page: Any, console_errors: list[str], save_screenshot: Callable[..., Path], demo_night: Night
) -> None:
    from alignment_drift.integrations.reports.sections import verdict_sentence

    seen = _watch(page)
    page.goto(demo_night.report.as_uri())
    check = demo_night.check

    sentence = page.locator("#verdict-sentence")
    assert sentence.is_visible() and sentence.inner_text() == verdict_sentence(check)
    assert page.locator("#verdict-badge").inner_text() == "misaligned"

    table = page.locator("#benchmark-table")
    assert table.is_visible()
    assert table.locator("tbody tr").count() == len(check["benchmarks"])
    failing = [b["name"] for b in check["benchmarks"] if b["status"] == "fail"]
    assert failing and table.locator(".status-fail").count() == len(failing)
    assert table.locator("tbody tr").first.locator("td").first.inner_text().startswith(failing[0])

    images = _images(page)
    assert len(images) >= 11  # 7 inputs, score and decision, and the two trend charts
    assert all(i["src"] == "data:image/svg+xml;base64," and i["complete"] and i["width"] == 720 for i in images)
    assert page.locator("#trends img").first.is_visible()

    assert console_errors == []
    assert seen["dialogs"] == []
    assert all(url.startswith(("file://", "data:")) for url in seen["requests"]), seen["requests"]

    page.set_viewport_size({"width": 1280, "height": 2150})  # the top of the page, down to the first chart
    shot = save_screenshot(page, SCREENSHOTS, "report.png", full_page=False)
    assert shot.stat().st_size > 50_000


def test_hostile_names_show_as_text_and_never_run(page: Any, console_errors: list[str], xss_night: Night) -> None:
    seen = _watch(page)
    page.goto(xss_night.report.as_uri())
    page.wait_for_timeout(300)  # time for an injected handler to fire, were there one

    top = page.locator("#drift table.drift-table tbody tr").first.locator("code").first
    assert top.is_visible() and top.inner_text() == HOSTILE
    caption = page.locator("figure.column-chart figcaption code").first
    assert caption.inner_text() == HOSTILE
    probe = page.locator("#failing-probes code", has_text="onerror")
    assert probe.is_visible() and probe.inner_text() == HOSTILE_PROBE

    assert seen["dialogs"] == []
    assert page.evaluate("() => document.querySelectorAll('script').length") == 0
    assert page.evaluate("() => document.querySelectorAll('img:not([src^=\"data:image/svg+xml\"]), svg').length") == 0
    assert all(i["complete"] and i["width"] > 0 for i in _images(page))
    assert console_errors == []
    assert all(url.startswith(("file://", "data:")) for url in seen["requests"]), seen["requests"]
