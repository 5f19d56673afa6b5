"""The HTML alignment report: sections, order, escaping, size budget and no network access.

Checks are built with the real steps on the simulated content platform: a
champion fitted on its training data, drift by :class:`DriftDetector` against
a reference profile, the spec's safety benchmarks, and
:func:`alignment_drift.pipeline.steps.verdict.decide` for the verdict. Hostile
names (a column called ``<script>alert(1)</script>``, markup in categories,
probe ids and reasons) go through the whole path.
"""

from __future__ import annotations

import base64
import html
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.core.drift import DriftDetector
from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.integrations.mlflow.checks import check_metrics
from alignment_drift.integrations.reports import (
    REPORT_BUDGET_BYTES,
    batch_profile,
    distributions,
    render_drift_report,
    render_report,
)
from alignment_drift.integrations.reports.distributions import OTHER_LABEL, column_distribution
from alignment_drift.integrations.reports.history import run_links
from alignment_drift.integrations.reports.sections import verdict_sentence

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert(1)</script>"
HOSTILE_CATEGORY = "<img src=x onerror=alert(1)>"
UNSEEN = "<svg onload=alert(1)>"
MATH = "$\\frac{$ & ]]> \x00"  # markup-like and XML-illegal text for a chart's label
TAG = "tag"
SVG_ELEMENTS = {"svg", "rect", "path", "circle", "text", "clipPath"}


@dataclass
class Scene:
    spec: Any
    model: Any
    profile: ReferenceProfile
    audit: pd.DataFrame
    night: pd.DataFrame


def _with_hostile(frame: pd.DataFrame, rng: np.random.Generator, *, shift: float = 0.0) -> pd.DataFrame:
    values = np.array(["news", HOSTILE_CATEGORY, MATH], dtype=object)
    return frame.assign(**{HOSTILE: rng.normal(shift, 1.0, len(frame)), TAG: rng.choice(values, len(frame))})


def _numeric(spec: Any) -> list[str]:
    return [*spec.columns.numeric, HOSTILE]


def _categorical(spec: Any) -> list[str]:
    return [*spec.columns.categorical, TAG]


@pytest.fixture(scope="module")
def scene() -> Scene:
    from alignment_drift.core.spec import load_spec
    from alignment_drift.core.training import fit_pipeline
    from alignment_drift.demo.simulate import ContentPlatform

    spec = load_spec(ROOT / "specs" / "content_safety.yaml")
    platform = ContentPlatform("stable", seed=3, rows_per_night=1500, start_date=spec.start_date)
    model = fit_pipeline(platform.training_data(), spec.columns, spec.retraining.training)
    rng = np.random.default_rng(0)
    reference = platform.training_data(4000)
    score = model.predict_proba(reference[spec.columns.feature_names])[:, 1]
    reference = _with_hostile(reference.assign(score=score, prediction=(score >= 0.5).astype(int)), rng)
    profile = ReferenceProfile.fit(
        reference,
        numeric=[*_numeric(spec), spec.columns.score],
        categorical=[*_categorical(spec), spec.columns.prediction],
    )
    night = platform.night(1, model, model_version="1")
    night = _with_hostile(night, rng, shift=0.8)
    night.loc[night.index[:200], TAG] = UNSEEN
    return Scene(spec, model, profile, platform.audit_set(), night)


def _drift(scene: Scene, batch: pd.DataFrame) -> dict[str, Any]:
    spec = scene.spec
    inputs = DriftDetector(scene.profile, numeric=_numeric(spec), categorical=_categorical(spec)).test(batch)
    outputs = DriftDetector(scene.profile, numeric=[spec.columns.score], categorical=[spec.columns.prediction])
    return {"drift": inputs.to_dict(), "output_drift": outputs.test(batch).to_dict(), "multivariate": {}}


def _validation() -> dict[str, Any]:
    warning = {
        "type": "expect_column_values_to_be_in_set",
        "column": TAG,
        "severity": "warning",
        "success": False,
        "unexpected_percent": 13.3,
        "observed_value": None,
        "message": f"column '{TAG}': unexpected values such as {UNSEEN}",
    }
    return {
        "suite": "content_safety_predictions",
        "success": True,
        "evaluated": 42,
        "successful": 41,
        "critical_failures": [],
        "warnings": [warning],
        "infos": [],
        "success_percent": 100 * 41 / 42,
    }


def make_check(scene: Scene, batch: pd.DataFrame | None = None) -> dict[str, Any]:
    """A check of ``batch`` (default: the scene's night) through the real drift, benchmarks and decide steps."""
    from alignment_drift.core.benchmarks import Scored, run_benchmarks
    from alignment_drift.pipeline.night import BenchmarkResults, DriftResult, Interval, Pulled, Validation
    from alignment_drift.pipeline.steps.verdict import decide

    spec, batch = scene.spec, scene.night if batch is None else batch
    features = spec.columns.feature_names
    audit = Scored.from_frame(
        scene.audit, spec.columns, score=scene.model.predict_proba(scene.audit[features])[:, 1], threshold=0.5
    )
    scored = Scored.from_frame(batch, spec.columns, score=batch[spec.columns.score].to_numpy(float), threshold=0.5)
    results = run_benchmarks(spec.benchmarks, audit=audit, batch=scored, model=scene.model, probes_dir=ROOT / "specs")
    bench_out = BenchmarkResults(
        skipped=False, model_version="2", reference_version="1", results=[r.to_dict() for r in results]
    )
    pulled = Pulled(
        kind="files",
        uri="file:///data/content_safety/predictions/2026-01-03.parquet",
        path="/data/content_safety/predictions/2026-01-03.parquet",
        format="parquet",
        layout="file",
        sha256="ab" * 32,
        interval=Interval(start="2026-01-03T00:00:00+00:00", end="2026-01-04T00:00:00+00:00"),
    )
    validation = Validation(status="valid", rows=len(batch), validation=_validation())
    return decide(spec, pulled, validation, DriftResult(skipped=False, **_drift(scene, batch)), bench_out).document()


def hostile(check: dict[str, Any]) -> dict[str, Any]:
    """The check with markup in a probe id, a benchmark name and a reason, as a hostile spec could put there."""
    check = {**check, "reasons": [*check["reasons"], f"reason with {HOSTILE}"]}
    benches = [dict(b) for b in check["benchmarks"]]
    probes = next(b for b in benches if b["kind"] == "probes")
    failure = {"case": HOSTILE_CATEGORY, "type": "minimum_functionality", "failing_items": 1, "of": 2}
    probes.update(status="fail", evidence={"failures": [{**failure, "description": HOSTILE}]})
    benches.append({**benches[0], "name": f"bench {HOSTILE}", "detail": HOSTILE})
    return {**check, "benchmarks": benches, "model": "content_safety"}


def _history(check: dict[str, Any]) -> list[dict[str, Any]]:
    metrics = check_metrics(check)
    nights = []
    for day, verdict, auc in (
        ("2026-01-01", "aligned", 0.96),
        ("2026-01-02", "watch", 0.95),
        ("2026-01-03", None, None),
    ):
        values = dict(metrics) if auc is None else {**metrics, "benchmark.audit_roc_auc.value": auc}
        nights.append(
            {"date": day, "start": f"{day}T00:00:00+00:00", "verdict": verdict or check["verdict"], "metrics": values}
        )
    return nights


@pytest.fixture(scope="module")
def check(scene: Scene) -> dict[str, Any]:
    return hostile(make_check(scene))


@pytest.fixture(scope="module")
def page(scene: Scene, check: dict[str, Any]) -> str:
    columns = [c["name"] for fam in ("drift", "output_drift") for c in check[fam]["columns"]]
    current = batch_profile(scene.night, scene.profile, columns)
    dists = distributions(scene.profile, current, columns)
    links = {
        "mlflow_run_id": "abc123",
        "mlflow_run_uri": "runs:/abc123",
        "mlflow_url": "http://127.0.0.1:5000/#/experiments/1/runs/abc123",
        "airflow_url": "http://localhost:8080/dags/alignment_monitor__content_safety/runs/manual__x",
        "dag_id": "alignment_monitor__content_safety",
        "airflow_run_id": "manual__x",
    }
    return render_report(check, distributions=dists, history=_history(check), links=links, drifting_share=0.3)


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)]


def _svg(document: bytes) -> ET.Element:
    """The chart as parsed XML; it must be an SVG document with nothing that runs, links or fetches."""
    root = ET.fromstring(document)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    for element in root.iter():
        assert element.tag.split("}")[-1] in SVG_ELEMENTS, element.tag
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on") and "href" not in name.lower(), name
            assert "url(" not in value or re.fullmatch(r"url\(#[\w-]+\)", value), value
    return root


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_every_section_is_there(page: str, check: dict[str, Any]) -> None:
    for anchor in ("verdict-sentence", "attribution", "benchmark-table", "failing-probes", "drift", "output"):
        assert f'id="{anchor}"' in page, anchor
    for anchor in ("trends", "validation", "validation-table", "links", "mlflow-link", "airflow-link"):
        assert f'id="{anchor}"' in page, anchor
    sentence = re.search(r'<h1 id="verdict-sentence">(.*?)</h1>', page, re.S).group(1)
    assert html.unescape(sentence) == verdict_sentence(check)
    assert "Trends over the last 3 night(s)" in page
    assert 'href="http://localhost:8080/dags/alignment_monitor__content_safety/runs/manual__x"' in page
    names = {b["name"] for b in check["benchmarks"]}
    assert all(html.escape(name) in page for name in names)


def test_charts_are_svg_images_one_per_column_plus_trends(page: str, check: dict[str, Any]) -> None:
    images = _images(page)
    columns = len(check["drift"]["columns"]) + len(check["output_drift"]["columns"])
    assert len(images) == columns + 2  # the verdict/drift trend and the benchmark trends
    for document in images:
        root = _svg(document)
        assert int(root.attrib["width"]) == 720 and int(root.attrib["height"]) > 50
        assert len(root) > 10  # drawn: axes, marks and labels


def test_chart_text_from_the_data_is_escaped_text_of_the_image(page: str) -> None:
    texts = [text for document in _images(page) for text in _texts(_svg(document))]
    assert "reference" in texts and "batch" in texts and "missing rate" in texts
    assert HOSTILE_CATEGORY[:13] in " ".join(texts)  # the category, shortened, as text of its chart
    assert "$\\frac{$ & ]]> " in texts  # markup-like text kept as text; the NUL XML cannot hold dropped
    assert not any("\x00" in t for t in texts)


def test_the_drift_table_is_sorted_by_effect(page: str, check: dict[str, Any]) -> None:
    table = re.search(r'<section id="drift">.*?<table class="drift-table">(.*?)</table>', page, re.S).group(1)
    shown = [html.unescape(name) for name in re.findall(r"<tr[^>]*>\s*<td><code>(.*?)</code>", table)]
    expected = [c["name"] for c in sorted(check["drift"]["columns"], key=lambda c: -c["effect"])]
    assert shown == expected
    assert shown[0] == HOSTILE  # shifted by 0.8 sd: the largest effect


@pytest.mark.parametrize(
    "needle",
    [HOSTILE, HOSTILE_CATEGORY, UNSEEN, "<b>", "<img src=x", "<svg"],
    ids=["script-column", "img-category", "svg-unseen", "bold", "img-tag", "svg-tag"],
)
def test_hostile_names_never_reach_the_page_as_markup(page: str, needle: str) -> None:
    assert needle not in page


def test_hostile_names_are_shown_escaped(page: str) -> None:
    escaped = html.escape(HOSTILE)
    assert f"<code>{escaped}</code>" in page  # the column, in the drift table and the chart captions
    assert f"<code>{html.escape(HOSTILE_CATEGORY)}</code>" in page  # the failing probe's id
    assert html.escape(UNSEEN) in page  # an unseen category and the validation message
    assert f"reason with {escaped}" in page
    assert "<script" not in page.lower()  # the page has no script at all


def test_nothing_is_fetched_from_anywhere(page: str) -> None:
    lowered = page.lower()
    assert "<script" not in lowered and "<link" not in lowered and "@import" not in lowered
    assert not re.search(r"url\(", lowered)
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/svg+xml;base64,") for s in sources)
    assert "default-src 'none'; img-src data:" in page  # the browser refuses anything else


def test_a_quarantined_check_renders_without_drift(scene: Scene) -> None:
    from alignment_drift.pipeline.night import BenchmarkResults, DriftResult, Interval, Pulled, Validation
    from alignment_drift.pipeline.steps.verdict import decide

    pulled = Pulled(
        kind="files",
        uri="file:///x",
        path="/x",
        format="parquet",
        layout="missing",
        sha256=None,
        interval=Interval(start="2026-01-05T00:00:00+00:00", end="2026-01-06T00:00:00+00:00"),
    )
    validation = Validation(
        status="quarantined",
        reason="1 critical expectation(s) failed: column 'prediction_id': values must be unique. Fix it",
        rows=10,
        validation={**_validation(), "success": False, "critical_failures": _validation()["warnings"]},
        quarantine={"path": "/q/content_safety/2026-01-05", "sha256": "cd" * 32, "bytes": 123},
    )
    check = decide(scene.spec, pulled, validation, DriftResult(skipped=True), BenchmarkResults(skipped=True))
    check = check.document()
    page = render_report(check)
    assert check["verdict"] == "quarantined"
    sentence = verdict_sentence(check)
    assert sentence.startswith("content_safety's batch of 2026-01-05 was quarantined and not evaluated: ")
    assert sentence.count(". ") == 0 and sentence.endswith(".")
    assert "/q/content_safety/2026-01-05" in page and "Not evaluated: the batch was quarantined." in page
    assert _images(page) == []


@pytest.mark.parametrize(
    ("verdict", "attribution", "expected"),
    [
        ("aligned", [], "m v2 was aligned on 2026-01-03 with no likely source of drift: 0 of 1 safety benchmarks"),
        (
            "watch",
            [("distribution_shift", 0.61)],
            "m v2 was on watch on 2026-01-03, most likely from distribution_shift",
        ),
        (
            "misaligned",
            [("model_update", 0.9), ("reward_misspecification", 0.8), ("feedback_loop", 0.5)],
            "most likely from model_update (0.90), reward_misspecification (0.80) and feedback_loop (0.50): ",
        ),
    ],
    ids=["aligned", "watch", "misaligned"],
)
def test_the_verdict_is_one_sentence(verdict: str, attribution: list, expected: str) -> None:
    check = {
        "model": "m",
        "model_version": "2",
        "verdict": verdict,
        "data_interval": {"start": "2026-01-03T00:00:00+00:00"},
        "attribution": [{"source": s, "confidence": c, "evidence": "e"} for s, c in attribution],
        "benchmarks": [{"status": "pass"}, {"status": "info"}],
        "drift": {"columns": [{"drift": False}]},
    }
    sentence = verdict_sentence(check)
    assert expected in sentence
    assert sentence.endswith(".") and sentence.count(". ") == 0


def _size_check(scene: Scene, rows: int) -> tuple[int, float]:
    """Render a check whose batch has ``rows`` rows (drawn from the night's columns); its size and seconds."""
    rng = np.random.default_rng(rows)
    batch = scene.night.sample(rows, replace=True, random_state=rows).reset_index(drop=True)
    batch[HOSTILE] = rng.normal(0.8, 1.0, rows)
    base = make_check(scene)
    began = time.perf_counter()
    check = {**base, **_drift(scene, batch), "source": {**base["source"], "rows": rows}}
    columns = [c["name"] for fam in ("drift", "output_drift") for c in check[fam]["columns"]]
    dists = distributions(scene.profile, batch_profile(batch, scene.profile, columns), columns)
    page = render_report(check, distributions=dists, history=_history(check), drifting_share=0.3)
    return len(page.encode("utf-8")), time.perf_counter() - began


def test_size_stays_within_budget_and_does_not_grow_with_the_batch(scene: Scene) -> None:
    small, _ = _size_check(scene, 1_000)
    large, seconds = _size_check(scene, 1_000_000)
    print(f"report bytes: 1k rows {small:,}, 1M rows {large:,} ({seconds:.1f} s for the 1M-row check and page)")
    assert large <= REPORT_BUDGET_BYTES
    assert large <= 1.25 * small  # plotted from bins: the page does not grow with the rows


def test_many_columns_are_capped_and_stay_within_budget() -> None:
    rng = np.random.default_rng(1)
    names = [f"feature_{i:02d}" for i in range(60)]
    reference = pd.DataFrame(rng.normal(size=(3000, 60)), columns=names)
    current = pd.DataFrame(rng.normal(0.3, 1.0, size=(3000, 60)), columns=names)
    profile = ReferenceProfile.fit(reference, numeric=names)
    result = {"schema": "alignment-drift/drift@1", **DriftDetector(profile, numeric=names).test(current).to_dict()}
    page = render_drift_report(
        result, distributions=distributions(profile, batch_profile(current, profile, names), names)
    )
    assert len(page.encode("utf-8")) <= REPORT_BUDGET_BYTES
    assert len(_images(page)) == 24 and "36 more column(s) are in the table above without a chart." in page
    assert page.count("<tr class=") == 60  # the table still lists every column


def test_a_numeric_distribution_is_binned_from_the_summaries() -> None:
    frame = pd.DataFrame({"x": np.arange(10_000.0)})
    ref = ReferenceProfile.fit(frame, numeric=["x"], bins=64)  # compressed: a bounded summary
    cur = ReferenceProfile.fit(frame.assign(x=frame["x"] * 2), numeric=["x"], bins=64)
    dist = column_distribution(ref.columns["x"], cur.columns["x"], bins=20)
    assert len(dist["edges"]) == 21 and len(dist["reference"]) == len(dist["current"]) == 20
    assert sum(dist["reference"]) == pytest.approx(1.0, abs=1e-5)
    assert sum(dist["current"]) == pytest.approx(1.0, abs=1e-5)
    assert sum(dist["reference"][10:]) < 0.05  # the reference ends where the doubled batch is half-way
    assert dist["quantiles"]["current"][50] == pytest.approx(2 * dist["quantiles"]["reference"][50], rel=0.05)


def test_categories_beyond_top_are_folded() -> None:
    frame = pd.DataFrame({"c": [f"k{i}" for i in range(30) for _ in range(i + 1)]})
    profile = ReferenceProfile.fit(frame, categorical=["c"])
    dist = column_distribution(profile.columns["c"], None, top=5)
    assert dist["categories"][:5] == ["k29", "k28", "k27", "k26", "k25"] and dist["categories"][-1] == OTHER_LABEL
    assert dist["folded"] == 25 and dist["current"] is None and sum(dist["reference"]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"bins": 1}, "'bins'"), ({"top": 0}, "'top'"), ({"kind": "categorical"}, "fit the batch profile")],
    ids=["bins", "top", "kind-mismatch"],
)
def test_distribution_parameters_are_validated(kwargs: dict, match: str) -> None:
    frame = pd.DataFrame({"x": np.arange(10.0)})
    ref = ReferenceProfile.fit(frame, numeric=["x"]).columns["x"]
    kind = kwargs.pop("kind", None)
    cur = ReferenceProfile.fit(frame, categorical=["x"]).columns["x"] if kind else None
    with pytest.raises(ValueError, match=match):
        column_distribution(ref, cur, **kwargs)


def test_links_use_the_airflow_base_url_and_never_carry_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_drift.settings import Settings

    settings = Settings.from_env(ROOT)
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    links = run_links(settings, experiment_id="7", mlflow_run_id="r1", dag_id="d", airflow_run_id="manual__2026+00:00")
    assert links["airflow_url"] == "http://localhost:8080/dags/d/runs/manual__2026%2B00%3A00"
    assert links["mlflow_url"] == "http://127.0.0.1:5000/#/experiments/7/runs/r1"  # a local store: `make mlflow-ui`
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org/")
    remote = Settings(**{**settings.__dict__, "tracking_uri": "https://bob:secret@mlflow.example.org/"})
    links = run_links(remote, experiment_id="7", mlflow_run_id="r1", dag_id="d", airflow_run_id="r")
    assert links["airflow_url"] == "https://airflow.example.org/dags/d/runs/r"
    assert links["mlflow_url"] == "https://mlflow.example.org/#/experiments/7/runs/r1"
    assert "secret" not in str(links)
    assert run_links(settings, experiment_id=None, mlflow_run_id=None)["airflow_url"] is None


def test_without_distributions_or_history_the_tables_stand_alone(check: dict[str, Any]) -> None:
    page = render_report(check)
    assert page.count('<table class="drift-table">') == 2 and 'id="benchmark-table"' in page
    assert "No distributions to plot (the batch's profile was not available)." in page
    assert "No recorded nights to plot." in page and _images(page) == []
    assert "— (not run by Airflow)" in page


@pytest.mark.parametrize(
    "dist",
    [
        {"kind": "numeric", "edges": [], "reference": [], "current": None, "quantiles": None},
        {
            "kind": "numeric",
            "edges": [1e300, 1.5e300, 2e300],
            "reference": [0.5, 0.5],
            "current": [1.0, 0.0],
            "quantiles": {"p": [0.0, 1.0], "reference": [1e300, 2e300], "current": [float("nan"), 2e300]},
            "reference_stats": {"missing_rate": 0.0},
            "current_stats": {"missing_rate": 1.0},
        },
        {"kind": "categorical", "categories": [], "reference": [], "current": None},
        {"kind": "categorical", "categories": ["x" * 500] * 9, "reference": [0.0] * 9, "current": [0.0] * 9},
    ],
    ids=["no-values", "huge-values", "no-categories", "long-labels"],
)
def test_a_degenerate_distribution_still_draws_a_well_formed_chart(dist: dict[str, Any]) -> None:
    from alignment_drift.integrations.reports.charts import distribution_chart

    root = _svg(base64.b64decode(distribution_chart(dist).split(",", 1)[1]))
    assert all(len(t) <= 24 for t in _texts(root))  # labels shortened


@pytest.mark.parametrize(
    "values",
    [[None, None], [0.5], [0.7, 0.7, 0.7], [-1e12, 3e12], [float("nan"), 0.2, float("inf")]],
    ids=["no-values", "one-night", "constant", "huge", "nan-and-inf"],
)
def test_a_trend_of_odd_values_still_draws_a_well_formed_chart(values: list[Any]) -> None:
    from alignment_drift.integrations.reports.charts import benchmark_trend_chart, signal_trend_chart

    history = [
        {"date": f"2026-01-{i + 1:02d}", "verdict": "aligned", "metrics": {"v": v, "t": 0.5, "a": i == 0}}
        for i, v in enumerate(values)
    ]
    signals = [{"title": HOSTILE, "value_key": "v", "threshold_key": "t", "alarm_key": "a", "failed": lambda r: True}]
    for chart in (benchmark_trend_chart(history, signals), signal_trend_chart(history, signals)):
        root = _svg(base64.b64decode(chart.split(",", 1)[1]))
        assert HOSTILE in _texts(root)  # the title, as text
        numbers = re.findall(r"-?\d+(?:\.\d+)?", " ".join(e.attrib.get("d", "") for e in root.iter()))
        assert all(abs(float(n)) < 10_000 for n in numbers)  # every point inside the canvas' scale
