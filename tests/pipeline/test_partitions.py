"""Big batches: file groups, per-group profiles, and their merge against the single pass over all rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.core.drift import DriftDetector, ReferenceProfile
from alignment_drift.integrations.sources.partitions import plan_groups, read_columns
from alignment_drift.pipeline.night import Group, Interval, Partial, Pulled
from alignment_drift.pipeline.steps import profile

from .conftest import END, NOW, START


def _pulled(path: Path) -> Pulled:
    from alignment_drift.integrations.sources.files import locate_path

    return Pulled.of(locate_path(path, fmt="parquet", read={}), sha256=None, interval=Interval.of(START, END))


def _parts(folder: Path, frame: pd.DataFrame, sizes: list[int]) -> None:
    start = 0
    for i, size in enumerate(sizes):
        path = folder / f"part-{i:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.iloc[start : start + size].to_parquet(path, index=False)
        start += size


@pytest.fixture
def night(ws: Any) -> pd.DataFrame:
    """The valid night, repeated to 2,000 rows with fresh ids (still a valid batch)."""
    frame = pd.concat([ws.log] * 5, ignore_index=True)
    frame[ws.spec.columns.id] = [f"r{i:06d}" for i in range(len(frame))]
    return frame


CASES = [
    pytest.param([100, 100, 100, 100], 250, [[0, 1], [2, 3]], id="pairs-under-the-row-bound"),
    pytest.param([100, 300, 50, 50], 250, [[0], [1], [2, 3]], id="a-file-over-the-bound-stands-alone"),
    pytest.param([100, 100, 100], 10_000, [[0, 1, 2]], id="all-in-one-group"),
    pytest.param([100, 100, 100], 1, [[0], [1], [2]], id="one-file-per-group"),
]


@pytest.mark.parametrize(("sizes", "max_rows", "expected"), CASES)
def test_groups_respect_the_row_bound_in_path_order(
    ws: Any, night: pd.DataFrame, sizes: list[int], max_rows: int, expected: list[list[int]]
) -> None:
    folder = ws.data / "batch"
    _parts(folder, night, sizes)
    groups = plan_groups(_pulled(folder).batch(), max_rows=max_rows)
    assert [[int(f[5:8]) for f in g["files"]] for g in groups] == expected
    assert [g["index"] for g in groups] == list(range(len(groups)))
    for group in groups:
        assert group["rows"] == sum(sizes[int(f[5:8])] for f in group["files"])
        assert group["rows"] <= max_rows or len(group["files"]) == 1
    assert plan_groups(_pulled(folder).batch(), max_rows=max_rows) == groups  # deterministic


def test_groups_respect_the_byte_bound(ws: Any, night: pd.DataFrame) -> None:
    folder = ws.data / "batch"
    _parts(folder, night, [200, 200, 200, 200])
    one = (folder / "part-000.parquet").stat().st_size
    groups = plan_groups(_pulled(folder).batch(), max_bytes=int(one * 2.5))
    assert all(g["bytes"] <= one * 2.5 or len(g["files"]) == 1 for g in groups)
    assert len(groups) == 2


def test_a_single_file_batch_is_one_group(ws: Any, night: pd.DataFrame) -> None:
    path = ws.batch_path()
    night.to_parquet(path, index=False)
    groups = plan_groups(_pulled(path).batch(), max_rows=10)
    assert len(groups) == 1 and groups[0]["rows"] == len(night) and groups[0]["files"] == [path.name]


def test_a_big_single_file_is_cut_into_row_group_slices(ws: Any, night: pd.DataFrame) -> None:
    """A file beyond the row bound is planned as runs of its row groups, each within the bound, in file order."""
    path = ws.batch_path()
    night.to_parquet(path, index=False, row_group_size=300)  # 7 row groups: 6 x 300 + 200
    groups = plan_groups(_pulled(path).batch(), max_rows=700)
    assert [g["row_groups"] for g in groups] == [[0, 2], [2, 4], [4, 6], [6, 7]]
    assert [g["rows"] for g in groups] == [600, 600, 600, 200]
    assert all(g["files"] == [path.name] for g in groups)
    assert sum(g["bytes"] for g in groups) <= path.stat().st_size
    # within the bound it stays one group read whole
    assert [g["row_groups"] for g in plan_groups(_pulled(path).batch(), max_rows=10_000)] == [None]


def test_a_big_file_beside_small_ones_keeps_path_order(ws: Any, night: pd.DataFrame) -> None:
    folder = ws.data / "batch"
    folder.mkdir(parents=True)
    night.iloc[:100].to_parquet(folder / "part-000.parquet", index=False)
    night.iloc[100:1900].to_parquet(folder / "part-001.parquet", index=False, row_group_size=600)
    night.iloc[1900:].to_parquet(folder / "part-002.parquet", index=False)
    groups = plan_groups(_pulled(folder).batch(), max_rows=1000)
    assert [(g["files"], g["row_groups"], g["rows"]) for g in groups] == [
        (["part-000.parquet"], None, 100),
        (["part-001.parquet"], [0, 1], 600),
        (["part-001.parquet"], [1, 2], 600),
        (["part-001.parquet"], [2, 3], 600),
        (["part-002.parquet"], None, 100),
    ]


def test_slices_of_one_file_profile_and_validate_as_the_whole(
    ws: Any, night: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each slice reads only its rows: the merged profile equals the single pass; validation counts each row once."""
    import dataclasses

    from alignment_drift.pipeline.steps import validate

    path = ws.batch_path()
    night.to_parquet(path, index=False, row_group_size=250)
    pulled = _pulled(path)
    partials = _profile_groups(ws, pulled, max_rows=500)
    assert [p.rows for p in partials] == [500] * 4
    merged = profile.merge_partials(partials)
    numeric, categorical = profile.drift_columns(ws.spec)
    single = ReferenceProfile.fit(
        night, numeric=numeric, categorical=categorical, bins=profile.DRIFT_BINS, max_categories=10_000
    )
    assert merged is not None and merged.n_rows == len(night)
    for name, col in single.columns.items():
        got = merged.columns[name]
        assert (got.n, got.missing, got.counts) == (col.n, col.missing, col.counts), name
        if col.summary is not None:
            assert got.summary is not None
            np.testing.assert_array_equal(got.summary.values, col.summary.values)

    settings = dataclasses.replace(ws.settings, group_rows=1000)
    monkeypatch.setattr(validate, "VALIDATE_GROUP_ROWS", 500)
    groups = validate.groups_if_large(settings, pulled, None)
    assert groups is not None and [g["row_groups"] for g in groups] == [[0, 2], [2, 4], [4, 6], [6, 8]]
    good = validate.assess(ws.spec, settings, pulled, now=NOW)
    assert good.reason is None and good.rows == len(night)
    assert good.evidence is not None and good.evidence["partitioned"] == {"groups": 4, "rows": len(night)}


def test_bad_bounds_are_refused(ws: Any, night: pd.DataFrame) -> None:
    path = ws.batch_path()
    night.to_parquet(path, index=False)
    with pytest.raises(ValueError, match=r"'max_rows' parameter must be an int >= 1\. Got 0 instead"):
        plan_groups(_pulled(path).batch(), max_rows=0)


def _profile_groups(ws: Any, pulled: Pulled, max_rows: int) -> list[Partial]:
    return [
        profile.profile_group(ws.spec, ws.settings, pulled, Group(**g))
        for g in plan_groups(pulled.batch(), max_rows=max_rows)
    ]


def _assert_same_exact_profile(merged: ReferenceProfile, single: ReferenceProfile) -> None:
    """Every column of ``merged`` equals ``single``'s: counts, missing, and exact summaries point by point."""
    for name, col in single.columns.items():
        got = merged.columns[name]
        assert (got.n, got.missing, got.counts) == (col.n, col.missing, col.counts), name
        if col.summary is not None:
            assert got.summary is not None and got.summary.exact
            np.testing.assert_array_equal(got.summary.values, col.summary.values)
            np.testing.assert_array_equal(got.summary.weights, col.summary.weights)


def test_merged_partials_equal_the_single_pass_exactly_while_summaries_are_exact(ws: Any, night: pd.DataFrame) -> None:
    folder = ws.data / "batch"
    _parts(folder, night, [300, 500, 200, 700, 300])
    partials = _profile_groups(ws, _pulled(folder), max_rows=600)
    assert len(partials) == 5 and sum(p.rows for p in partials) == len(night)
    merged = profile.merge_partials(reversed(partials))  # order of arrival does not matter
    numeric, categorical = profile.drift_columns(ws.spec)
    single = ReferenceProfile.fit(
        night, numeric=numeric, categorical=categorical, bins=profile.DRIFT_BINS, max_categories=10_000
    )
    assert merged is not None and merged.n_rows == single.n_rows
    _assert_same_exact_profile(merged, single)

    # and the drift tests on the merged profile equal the tests on the rows
    roles = ws.spec.columns
    reference = ReferenceProfile.fit(ws.log, numeric=numeric, categorical=categorical)
    detector = DriftDetector(reference, numeric=[*roles.numeric, roles.score], categorical=roles.categorical)
    assert detector.test_profile(merged).to_dict() == detector.test(night).to_dict()


def test_merged_partials_stay_within_the_stated_bound_when_compressed(
    ws: Any, night: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile, "DRIFT_BINS", 64)  # force compressed summaries on 2,000 rows
    folder = ws.data / "batch"
    _parts(folder, night, [400] * 5)
    merged = profile.merge_partials(_profile_groups(ws, _pulled(folder), max_rows=400))
    assert merged is not None
    for name in ("toxicity", "score"):
        summary = merged.columns[name].summary
        assert summary is not None and not summary.exact
        data = np.sort(night[name].to_numpy(float))
        grid = np.unique(np.concatenate([data, summary.values]))
        exact_cdf = np.searchsorted(data, grid, side="right") / data.size
        assert np.max(np.abs(summary.cdf(grid) - exact_cdf)) <= summary.error_bound + 1e-12

    reference = ReferenceProfile.fit(ws.log, numeric=["toxicity"])
    detector = DriftDetector(reference, numeric=["toxicity"])
    exact = detector.test(night).columns[0]
    approx = detector.test_profile(merged).columns[0]
    bound = merged.columns["toxicity"].summary.error_bound  # type: ignore[union-attr]
    assert abs(approx.statistic - exact.statistic) <= bound + 1e-12
    assert "summary bounds" in approx.note


def test_a_group_profiled_chunk_by_chunk_equals_the_single_pass_while_summaries_are_exact(
    ws: Any, night: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile, "PROFILE_CHUNK_ROWS", 300)  # 2,000 rows of one file: 7 chunks, read ahead
    path = ws.data / "night.parquet"
    night.to_parquet(path, index=False)
    (partial,) = _profile_groups(ws, _pulled(path), max_rows=10_000)
    merged = profile.merge_partials([partial])
    numeric, categorical = profile.drift_columns(ws.spec)
    single = ReferenceProfile.fit(
        night, numeric=numeric, categorical=categorical, bins=profile.DRIFT_BINS, max_categories=10_000
    )
    assert merged is not None and merged.n_rows == single.n_rows == len(night)
    _assert_same_exact_profile(merged, single)


def test_sampling_in_small_chunks_draws_the_same_seeded_sample(
    ws: Any, night: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignment_drift.integrations.sources import partitions

    path = ws.data / "night.parquet"
    night.to_parquet(path, index=False)
    batch = _pulled(path).batch()
    large, rows = read_columns(batch, ["score", "toxicity"], max_rows=400, seed=3)
    monkeypatch.setattr(partitions, "SAMPLE_READ_ROWS", 7)  # 286 chunks: one random stream across them
    small, again = read_columns(batch, ["score", "toxicity"], max_rows=400, seed=3)
    assert rows == again == len(night) and 250 < len(small) < 550
    pd.testing.assert_frame_equal(small, large)


def test_a_skipped_group_profiles_nothing(ws: Any) -> None:
    pulled = _pulled(ws.data / "missing.parquet")
    skipped = profile.profile_group(ws.spec, ws.settings, pulled, Group(index=0, skip=True))
    assert skipped == Partial(index=0, skipped=True)
    assert profile.merge_partials([skipped]) is None


def test_a_quarantined_night_plans_one_skipped_group(ws: Any) -> None:
    from alignment_drift.pipeline.night import Validation

    pulled = _pulled(ws.data / "missing.parquet")
    planned = profile.plan(ws.settings, pulled, Validation(status="quarantined", reason="no batch"))
    assert planned == [Group(index=0, skip=True)]


def test_read_columns_samples_a_large_batch_uniformly(ws: Any, night: pd.DataFrame) -> None:
    folder = ws.data / "batch"
    _parts(folder, night, [500] * 4)
    frame, rows = read_columns(_pulled(folder).batch(), ["score", "toxicity"], max_rows=400, seed=1)
    assert rows == len(night) and list(frame.columns) == ["score", "toxicity"]
    assert 250 < len(frame) < 550
    whole, _ = read_columns(_pulled(folder).batch(), ["score"])
    np.testing.assert_array_equal(whole["score"].to_numpy(), night["score"].to_numpy())


def test_a_multi_group_batch_is_validated_group_by_group(
    ws: Any, night: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each group through the suite, counts combined; a broken row in one group quarantines the batch."""
    import dataclasses

    from alignment_drift.pipeline.steps import validate

    settings = dataclasses.replace(ws.settings, group_rows=1000)
    monkeypatch.setattr(validate, "VALIDATE_GROUP_ROWS", 500)
    folder = ws.data / "batch"
    _parts(folder, night, [500] * 4)
    pulled = _pulled(folder)
    assert validate.groups_if_large(settings, pulled, None) is not None
    good = validate.assess(ws.spec, settings, pulled, now=NOW)
    assert good.reason is None and good.rows == len(night)
    assert good.evidence is not None and good.evidence["partitioned"] == {"groups": 4, "rows": len(night)}

    broken = night.copy()
    broken.loc[1700, "toxicity"] = 7.0  # out of [0, 1], in the last group only
    _parts(folder, broken, [500] * 4)
    bad = validate.assess(ws.spec, settings, _pulled(folder), now=NOW)
    assert bad.reason is not None and "toxicity" in bad.reason


@pytest.mark.parametrize("docs", [True, False])
def test_a_nights_data_docs_are_built_unless_turned_off(ws: Any, docs: bool) -> None:
    """The validate step renders the night's GX Data Docs in its evidence folder; switched off, the result stands."""
    import dataclasses

    from alignment_drift.integrations.evidence import evidence_dir
    from alignment_drift.integrations.gx_docs import DATA_DOCS
    from tests.pipeline.conftest import END, START

    ws.log.to_parquet(ws.batch_path(), index=False)
    ws.settings = dataclasses.replace(ws.settings, data_docs=docs)
    _, validation = ws.run()
    assert validation["status"] == "valid"
    index = evidence_dir(ws.settings, ws.spec.model, START, END) / DATA_DOCS / "index.html"
    assert index.exists() is docs
