"""Behaviour of the GX validation of a content-safety prediction log."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignment_drift.integrations import gx as gxi

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "expectations" / "content_safety_predictions.json"
COLUMNS = [
    "prediction_id", "timestamp", "toxicity", "sensationalism", "report_rate",
    "author_reputation", "text_length", "category", "source_type", "region",
    "model_version", "score", "prediction", "shown", "engaged", "unsafe",
]  # fmt: skip


def make_batch(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """A valid night of predictions, as the serving layer logs them."""
    rng = np.random.default_rng(seed)
    score = rng.beta(2, 5, n)
    shown = (rng.random(n) < 0.8).astype(int)
    report_rate = rng.exponential(0.02, n)
    report_rate[rng.random(n) < 0.05] = np.nan  # not seen yet: allowed up to 10%
    night = pd.Timestamp("2024-05-01", tz="UTC")
    return pd.DataFrame(
        {
            "prediction_id": [f"p-{seed}-{i:06d}" for i in range(n)],
            "timestamp": night + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "toxicity": rng.beta(2, 5, n),
            "sensationalism": rng.beta(2, 3, n),
            "report_rate": report_rate,
            "author_reputation": np.clip(rng.normal(0.6, 0.3, n), -1.0, 2.0),
            "text_length": rng.integers(1, 5_000, n),
            "category": rng.choice(["news", "entertainment", "politics", "sports", "lifestyle"], n),
            "source_type": rng.choice(["verified", "unverified", "new_account"], n),
            "region": rng.choice(["na", "eu", "apac", "latam"], n),
            "model_version": "content-safety-2024.05.1",
            "score": score,
            "prediction": (score >= 0.5).astype(int),
            "shown": shown,
            "engaged": np.where(shown == 1, rng.integers(0, 2, n), np.nan),
            "unsafe": np.where(rng.random(n) < 0.2, rng.integers(0, 2, n), np.nan),
        }
    )


def _score_above_one(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[:9, "score"] = 1.5
    return df


def _duplicate_id(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[1, "prediction_id"] = df.loc[0, "prediction_id"]
    return df


def _null_timestamps(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[:4, "timestamp"] = pd.NaT
    return df


def _naive_timestamps(df: pd.DataFrame) -> pd.DataFrame:
    df["timestamp"] = df["timestamp"].dt.tz_localize(None)
    return df


def _prediction_two(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[3, "prediction"] = 2
    return df


def _string_in_toxicity(df: pd.DataFrame) -> pd.DataFrame:
    df["toxicity"] = df["toxicity"].astype(object)
    df.loc[5, "toxicity"] = "very toxic"
    return df


def _unknown_category_in_bulk(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[:199, "category"] = "crypto"  # 40% of rows, far over the 5% tolerated
    return df


# id, mutation, column named, severity, summary.success
BAD_BATCHES: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str, str, bool]] = [
    ("score-above-1", _score_above_one, "score", "critical", False),
    ("missing-score-column", lambda d: d.drop(columns="score"), "score", "critical", False),
    ("duplicate-prediction-id", _duplicate_id, "prediction_id", "critical", False),
    ("null-timestamps", _null_timestamps, "timestamp", "critical", False),
    ("tz-naive-timestamps", _naive_timestamps, "timestamp", "critical", False),
    ("prediction-value-2", _prediction_two, "prediction", "critical", False),
    ("string-in-toxicity", _string_in_toxicity, "toxicity", "critical", False),
    ("unknown-category-in-bulk", _unknown_category_in_bulk, "category", "warning", True),
]  # fmt: skip


def test_repo_suite_is_well_formed() -> None:
    suite = gxi.load_suite(SUITE)
    expectations = suite["expectations"]
    assert suite["name"] == "content_safety_predictions"
    assert {e["severity"] for e in expectations} <= set(gxi.SEVERITIES)
    (schema,) = [e for e in expectations if e["type"].startswith("expect_table_col")]
    assert set(schema["kwargs"]["column_set"]) == set(COLUMNS)
    soft = {e["kwargs"]["column"] for e in expectations if e["severity"] != "critical"}
    assert soft == {"category", "region", "engaged"}


def test_valid_batch_passes() -> None:
    summary, full = gxi.validate_dataframe(make_batch(), SUITE)
    assert summary.success, summary.to_dict()
    assert summary.critical_failures == () and summary.warnings == ()
    assert summary.evaluated == summary.successful == len(gxi.load_suite(SUITE)["expectations"])
    assert summary.suite == "content_safety_predictions"
    json.dumps(summary.to_dict(), allow_nan=False)
    json.dumps(full, allow_nan=False)
    assert full["success"] is True and len(full["results"]) == summary.evaluated


@pytest.mark.parametrize(
    ("mutate", "column", "severity", "success"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_BATCHES],
)
def test_bad_batch_fails_with_severity_and_named_column(
    mutate: Callable[[pd.DataFrame], pd.DataFrame],
    column: str,
    severity: str,
    success: bool,
) -> None:
    summary, full = gxi.validate_dataframe(mutate(make_batch()), SUITE)
    assert summary.success is success
    failures = summary.critical_failures if severity == "critical" else summary.warnings
    about_column = [o for o in failures if o.column == column]
    assert about_column, summary.to_dict()
    for outcome in about_column:
        assert outcome.severity == severity and not outcome.success
        assert f"'{column}'" in outcome.message
    if success:
        assert summary.critical_failures == ()
    json.dumps(summary.to_dict(), allow_nan=False)
    json.dumps(full, allow_nan=False)


def test_missing_column_errors_count_as_failures_and_schema_names_it() -> None:
    summary, _ = gxi.validate_dataframe(make_batch().drop(columns="score"), SUITE)
    errored = [o for o in summary.critical_failures if o.column == "score"]
    assert errored and all("could not be evaluated" in o.message for o in errored)
    assert all("'score'" in o.message for o in errored)
    assert any('column "score" in BatchData does not exist' in o.message for o in errored)
    schema = [o for o in summary.critical_failures if o.column is None]
    assert len(schema) == 1 and "missing columns: ['score']" in schema[0].message


def test_unknown_category_reports_share_and_tolerance() -> None:
    summary, _ = gxi.validate_dataframe(_unknown_category_in_bulk(make_batch()), SUITE)
    (warning,) = summary.warnings
    assert warning.unexpected_percent == pytest.approx(40.0)
    assert "40.00% unexpected" in warning.message and "tolerated: 5.00%" in warning.message
    assert "crypto" in warning.message


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SUITE_FILE_ERRORS = [
    ("missing-file", lambda d: d / "nope.json", "does not exist"),
    ("malformed-json", lambda d: _write(d / "bad.json", '{"name": "x",'), "not valid JSON"),
    ("top-level-list", lambda d: _write(d / "list.json", "[]"), "not an object"),
    ("no-expectations", lambda d: _write(d / "e.json", '{"name": "x"}'), "'expectations'"),
    (
        "bad-severity",
        lambda d: _write(
            d / "sev.json",
            json.dumps({"name": "x", "expectations": [
                {"type": "expect_column_to_exist", "kwargs": {"column": "a"},
                 "severity": "fatal"}]}),
        ),
        "severity",
    ),
    (
        "name-with-a-slash",
        lambda d: _write(
            d / "slash.json",
            json.dumps({"name": "../x", "expectations": [
                {"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}),
        ),
        "must not contain '/'",
    ),
    (
        "name-of-a-details-checkpoint",
        lambda d: _write(
            d / "details.json",
            json.dumps({"name": "predictions (details)", "expectations": [
                {"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}),
        ),
        "must not end with ' (details)'",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("make_path", "problem"), [pytest.param(*c[1:], id=c[0]) for c in SUITE_FILE_ERRORS])
def test_suite_file_errors_name_the_file_and_the_fix(
    tmp_path: Path, make_path: Callable[[Path], Path], problem: str
) -> None:
    path = make_path(tmp_path)
    for load in (gxi.load_suite, lambda p: gxi.validate_dataframe(make_batch(5), p)):
        with pytest.raises(gxi.SuiteLoadError) as caught:
            load(path)
        assert str(path) in str(caught.value)
        assert problem in str(caught.value) and "Fix:" in str(caught.value)


def test_non_dataframe_is_rejected() -> None:
    with pytest.raises(TypeError, match="pandas DataFrame"):
        gxi.validate_dataframe(make_batch().to_dict(), SUITE)  # type: ignore[arg-type]


def test_20_batches_reuse_one_context_and_one_loaded_suite() -> None:
    start = time.perf_counter()
    gxi.validate_dataframe(make_batch(seed=100), SUITE)
    first = time.perf_counter() - start
    before = gxi.cache_info()
    start = time.perf_counter()
    for seed in range(20):
        summary, _ = gxi.validate_dataframe(make_batch(seed=seed), SUITE)
        assert summary.success
    twenty = time.perf_counter() - start
    after = gxi.cache_info()
    print(f"first validation {first:.2f}s, next 20 {twenty:.2f}s")
    assert after["context_creations"] == before["context_creations"] == 1
    assert after["suite_loads"] == before["suite_loads"]


def test_edited_suite_is_reloaded_without_a_new_context(tmp_path: Path) -> None:
    path = tmp_path / "suite.json"
    shutil.copyfile(SUITE, path)
    gxi.validate_dataframe(make_batch(), path)
    before = gxi.cache_info()
    suite = json.loads(path.read_text(encoding="utf-8"))
    suite["name"] = "content_safety_predictions_v2"
    _write(path, json.dumps(suite))
    summary, _ = gxi.validate_dataframe(make_batch(), path)
    after = gxi.cache_info()
    assert summary.suite == "content_safety_predictions_v2"
    assert after["suite_loads"] == before["suite_loads"] + 1
    assert after["cached_suites"] == before["cached_suites"]
    assert after["context_creations"] == before["context_creations"]


def test_validation_runs_through_the_suites_checkpoint_and_keeps_no_result() -> None:
    import great_expectations as gx

    gxi.validate_dataframe(make_batch(), SUITE)
    ctx = gxi._get_context()[0]
    name = gxi.load_suite(SUITE)["name"]
    checkpoint = ctx.checkpoints.get(name)
    assert isinstance(checkpoint, gx.Checkpoint) and checkpoint.result_format == "BASIC"
    details = ctx.checkpoints.get(f"{name} (details)")
    assert isinstance(details, gx.Checkpoint) and details.result_format == "SUMMARY"
    (definition,) = checkpoint.validation_definitions
    assert isinstance(definition, gx.ValidationDefinition) and definition.suite.name == name
    assert [d.name for d in details.validation_definitions] == [definition.name]
    summary, full = gxi.validate_dataframe(make_batch(seed=3), SUITE, run_name="2024-05-01")
    assert summary.success and full["meta"]["checkpoint_id"] == checkpoint.id
    assert full["meta"]["run_id"]["run_name"] == "2024-05-01"
    assert ctx.validation_results_store.list_keys() == []  # a long-lived worker does not grow
    assert ctx.list_data_docs_sites().keys() <= {"alignment_drift_night"}  # GX's temporary default site is gone


def test_a_failing_batch_is_reported_in_detail_and_a_passing_one_is_validated_once(tmp_path: Path) -> None:
    """SUMMARY (unexpected counts and row indices) only where something failed; one BASIC run otherwise."""
    gxi.validate_dataframe(make_batch(), SUITE)
    ctx = gxi._get_context()[0]
    name = gxi.load_suite(SUITE)["name"]
    basic, details = ctx.checkpoints.get(name), ctx.checkpoints.get(f"{name} (details)")

    summary, full = gxi.validate_dataframe(make_batch(seed=4), SUITE, data_docs=tmp_path / "ok")
    assert summary.success and full["success"] and full["meta"]["checkpoint_id"] == basic.id
    assert all("partial_unexpected_index_list" not in (r["result"] or {}) for r in full["results"])

    batch = make_batch(seed=4)
    batch.loc[[3, 7, 11], "score"] = 1.5
    summary, full = gxi.validate_dataframe(batch, SUITE, data_docs=tmp_path / "bad")
    assert not summary.success and full["meta"]["checkpoint_id"] == details.id
    (failed,) = [r for r in full["results"] if not r["success"]]
    assert failed["expectation_config"]["kwargs"]["column"] == "score"
    assert failed["result"]["unexpected_count"] == 3
    assert failed["result"]["partial_unexpected_index_list"] == [3, 7, 11]
    assert failed["result"]["partial_unexpected_counts"] == [{"value": 1.5, "count": 3}]
    assert [o.column for o in summary.critical_failures] == ["score"]
    assert ctx.validation_results_store.list_keys() == []
    (page,) = (tmp_path / "bad" / "validations").rglob("*.html")
    cells = re.sub(r"<[^>]+>|\s+", " ", page.read_text(encoding="utf-8"))
    assert re.search(r"Unexpected Value\s+Count\s+1\.5\s+3\b", cells)  # GX's table of counts, not of samples


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "failing"])
def test_the_context_keeps_no_reference_to_the_validated_batch(valid: bool) -> None:
    """A worker's cached GX context must not hold last night's frame (hundreds of MB at 1M rows)."""
    import gc
    import weakref

    batch = make_batch(seed=5)
    if not valid:
        batch.loc[0, "toxicity"] = 7.0  # out of range: a critical failure
    gone = weakref.ref(batch)
    summary, _ = gxi.validate_dataframe(batch, SUITE)
    assert summary.success is valid
    del batch
    gc.collect()
    assert gone() is None, [type(r).__name__ for r in gc.get_referrers(gone())]


def test_data_docs_render_the_failed_expectation_inside_their_folder_only(tmp_path: Path) -> None:
    from alignment_drift.integrations.gx_docs import DATA_DOCS, site_pages

    folder = tmp_path / "night" / "data_docs"
    before = {p for p in tmp_path.rglob("*")}
    summary, _ = gxi.validate_dataframe(_score_above_one(make_batch()), SUITE, data_docs=folder, run_name="2024-05-01")
    assert not summary.success
    written = {p for p in tmp_path.rglob("*")} - before
    assert written and all(p.resolve().is_relative_to(folder.resolve()) for p in written if p != folder.parent)
    pages = site_pages(folder)
    index = pages[f"{DATA_DOCS}/index.html"]
    (validation,) = [text for path, text in pages.items() if path.startswith(f"{DATA_DOCS}/validations/")]
    assert summary.suite in index and summary.suite in validation and "2024-05-01" in index
    shown = _text(validation)
    assert "Status: Failed" in shown
    # the failed expectation (score within [0, 1]) with its 10 unexpected values of 1.5
    failed = shown[shown.index("score Status Expectation") :]
    assert re.match(r"score Status Expectation Observed Value .*? 10 unexpected values found\. 2% of 500 total", failed)
    assert "Unexpected Value Count 1.5 10" in failed
    assert all(p.endswith((".html", ".css")) for p in pages)
    assert sum(len(t) for t in pages.values()) < 1_000_000  # fonts and images are not logged


def test_site_pages_follow_no_link_out_of_the_site(tmp_path: Path) -> None:
    from alignment_drift.integrations.gx_docs import site_pages

    outside = tmp_path / "outside.html"
    outside.write_text("<p>not of the site</p>")
    folder = tmp_path / "data_docs"
    folder.mkdir()
    (folder / "index.html").write_text("<p>index</p>")
    (folder / "stolen.html").symlink_to(outside)
    (folder / "linked").symlink_to(tmp_path, target_is_directory=True)
    assert site_pages(folder) == {"validation/data_docs/index.html": "<p>index</p>"}
    assert site_pages(tmp_path / "missing") == {}


def _text(page: str) -> str:
    """A Data Docs page as the words a reader sees (tags dropped, spaces collapsed)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_hostile_value_in_the_batch_is_shown_escaped_in_the_data_docs(tmp_path: Path) -> None:
    """Values of a prediction log reach the pages (unexpected values): they are text there, never markup."""
    from alignment_drift.integrations.gx_docs import site_pages

    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    batch = make_batch()
    batch.loc[:39, "category"] = hostile  # 8 %, outside the suite's value set: listed among the unexpected values
    folder = tmp_path / "data_docs"
    summary, _ = gxi.validate_dataframe(batch, SUITE, data_docs=folder, run_name="2024-05-01")
    assert not summary.success or summary.warnings, "the hostile category must fail its expectation"
    pages = site_pages(folder)
    validation = "".join(text for path, text in pages.items() if "/validations/" in path)
    assert "alert" in validation, "the unexpected value is shown"
    assert hostile not in validation and "<script>alert" not in validation and "<img src=x" not in validation
