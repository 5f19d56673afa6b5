"""Reference profiles: exact when small, provably bounded when compressed, mergeable, saved without pickle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

from alignment_drift.core.drift import DriftDetector
from alignment_drift.core.drift.profile import OTHER, PROFILE_SCHEMA, ReferenceProfile
from alignment_drift.core.drift.profile_tests import ks_statistic, numeric_profile_drift
from alignment_drift.core.drift.sketch import QuantileSummary


def _ecdf_gap(summary: QuantileSummary, data: np.ndarray) -> float:
    """sup |F_summary - F_data| over every data point and summary point (both sides of each step)."""
    data = np.sort(data)
    points = np.concatenate((data, summary.values))
    f_data = np.searchsorted(data, points, side="right") / data.size
    f_data_left = np.searchsorted(data, points, side="left") / data.size
    cum = np.concatenate(([0], np.cumsum(summary.weights))) / summary.n
    f_sum = cum[np.searchsorted(summary.values, points, side="right")]
    f_sum_left = cum[np.searchsorted(summary.values, points, side="left")]
    return float(max(np.max(np.abs(f_sum - f_data)), np.max(np.abs(f_sum_left - f_data_left))))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(np.random.default_rng(0).normal(size=50_000), id="continuous"),
        pytest.param(np.random.default_rng(1).lognormal(size=50_000), id="heavy-tail"),
        pytest.param(np.random.default_rng(2).integers(0, 30, 50_000).astype(float), id="few-atoms"),
        pytest.param(np.concatenate([np.zeros(30_000), np.random.default_rng(3).normal(size=20_000)]), id="big-atom"),
    ],
)
def test_summary_cdf_error_is_within_its_stated_bound(data: np.ndarray) -> None:
    summary = QuantileSummary.fit(data, capacity=256)
    assert summary.n == data.size
    assert len(summary.values) <= 512
    assert _ecdf_gap(summary, data) <= summary.error_bound + 1e-12


def test_a_heavy_atom_is_never_moved_by_compression() -> None:
    """11 % exact zeros followed by continuous values: the CDF at 0 must stay 0.11 (it once read 0)."""
    rng = np.random.default_rng(12)
    data = np.concatenate([np.zeros(11_000), np.abs(rng.normal(size=89_000)) + 1e-4])
    summary = QuantileSummary.fit(data, capacity=4096)
    assert summary.cdf(np.array([0.0]))[0] == pytest.approx(0.11)
    assert summary.error_bound <= 2 / 4096
    assert _ecdf_gap(summary, data) <= summary.error_bound + 1e-12


def test_small_summaries_are_exact_and_recover_the_data() -> None:
    data = np.random.default_rng(4).normal(size=1000)
    summary = QuantileSummary.fit(data, capacity=4096)
    assert summary.exact and summary.error_bound == 0
    np.testing.assert_array_equal(summary.expand(), np.sort(data))


@pytest.mark.parametrize("parts", [2, 7, 40])
def test_merge_of_partitions_equals_fit_of_the_whole_within_the_bound(parts: int) -> None:
    data = np.random.default_rng(parts).normal(size=80_000)
    chunks = np.array_split(data, parts)
    merged = QuantileSummary.merge_all([QuantileSummary.fit(c, capacity=512) for c in chunks], capacity=512)
    whole = QuantileSummary.fit(data, capacity=512)
    assert merged.n == whole.n == data.size
    # both are within their bounds of the data, hence within the sum of bounds of each other
    assert _ecdf_gap(merged, data) <= merged.error_bound + 1e-12
    grid = np.linspace(-4, 4, 2001)
    assert np.max(np.abs(merged.cdf(grid) - whole.cdf(grid))) <= merged.error_bound + whole.error_bound + 1e-12
    assert merged.error_bound <= 2 * (np.ceil(np.log2(parts)) + 1) / 512


def _frame(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "k": rng.integers(0, 5, n),
            "c": rng.choice(["a", "b", "c"], n),
            "m": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        }
    )


def test_profile_merge_counts_and_missing_add_up() -> None:
    a, b = _frame(3000, 1), _frame(5000, 2)
    kwargs = {"numeric": ["x", "k", "m"], "categorical": ["c"]}
    merged = ReferenceProfile.fit(a, **kwargs).merge(ReferenceProfile.fit(b, **kwargs))
    whole = ReferenceProfile.fit(pd.concat([a, b], ignore_index=True), **kwargs)
    assert merged.n_rows == whole.n_rows == 8000
    assert merged.columns["c"].counts == whole.columns["c"].counts
    assert merged.columns["m"].missing == whole.columns["m"].missing
    np.testing.assert_array_equal(merged.columns["k"].summary.expand(), whole.columns["k"].summary.expand())


def test_fit_chunks_streams_and_bounds_the_error() -> None:
    frame = _frame(64_000, 10)
    chunks = [frame.iloc[i : i + 2000] for i in range(0, len(frame), 2000)]
    profile = ReferenceProfile.fit_chunks(chunks, numeric=["x", "k", "m"], categorical=["c"], bins=512)
    whole = ReferenceProfile.fit(frame, numeric=["x", "k", "m"], categorical=["c"], bins=512)
    assert profile.n_rows == 64_000
    assert profile.columns["c"].counts == whole.columns["c"].counts
    x = profile.columns["x"].summary
    assert _ecdf_gap(x, frame["x"].to_numpy()) <= x.error_bound + 1e-12
    assert x.error_bound <= 8 / 512


def test_save_and_load_round_trip_is_plain_parquet_with_json_metadata(tmp_path) -> None:
    profile = ReferenceProfile.fit(_frame(20_000, 5), numeric=["x", "k", "m"], categorical=["c"], bins=512)
    path = profile.save(tmp_path / "profile.parquet")
    table = pq.read_table(path)
    assert table.column_names[:5] == ["column", "kind", "value", "category", "weight"]  # then the reservoir's
    meta = json.loads(table.schema.metadata[b"alignment_drift.profile"])
    assert meta["schema"] == PROFILE_SCHEMA and meta["n_rows"] == 20_000
    loaded = ReferenceProfile.load(path)
    for name, col in profile.columns.items():
        other = loaded.columns[name]
        assert (other.kind, other.n, other.missing, other.counts) == (col.kind, col.n, col.missing, col.counts)
        if col.summary is not None:
            np.testing.assert_array_equal(other.summary.values, col.summary.values)
            np.testing.assert_array_equal(other.summary.weights, col.summary.weights)
            assert other.summary.rank_error == col.summary.rank_error


def test_a_file_whose_rows_are_not_grouped_by_column_loads_the_same(tmp_path) -> None:
    """Rows of one column need not be contiguous: each column's rows are found by name, in file order."""
    import pyarrow as pa

    profile = ReferenceProfile.fit(_frame(20_000, 6), numeric=["x", "k", "m"], categorical=["c"], bins=256)
    path = profile.save(tmp_path / "profile.parquet")
    table = pq.read_table(path)
    summary = table.select(["column", "kind", "value", "category", "weight"])
    names = summary.column("column").to_numpy(zero_copy_only=False)
    rank = np.full(len(names), 2.0)  # the reservoir's padding rows (no column) stay last
    for name in profile.columns:  # each row's place within its own column, from 0 to 1
        rows = np.flatnonzero(names == name)
        rank[rows] = np.arange(len(rows)) / len(rows)
    interleaved = np.argsort(rank, kind="stable")  # the columns' rows dealt like cards, each column's order kept
    assert (names[interleaved][:4] != names[interleaved][0]).any()  # not grouped by column any more
    shuffled = pa.table(
        {
            name: table.column(name).take(pa.array(interleaved)) if name in summary.column_names else table.column(name)
            for name in table.column_names  # the reservoir's columns as they were
        }
    )
    pq.write_table(shuffled.replace_schema_metadata(table.schema.metadata), tmp_path / "interleaved.parquet")
    loaded = ReferenceProfile.load(tmp_path / "interleaved.parquet")
    for name, col in profile.columns.items():
        other = loaded.columns[name]
        assert (other.kind, other.n, other.missing, other.counts) == (col.kind, col.n, col.missing, col.counts)
        assert list(other.counts) == list(col.counts)
        if col.summary is not None:
            np.testing.assert_array_equal(other.summary.values, col.summary.values)
            np.testing.assert_array_equal(other.summary.weights, col.summary.weights)


def test_loading_something_else_says_what_it_is(tmp_path) -> None:
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(plain)
    with pytest.raises(ValueError, match="not an alignment-drift profile"):
        ReferenceProfile.load(plain)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="not a readable profile"):
        ReferenceProfile.load(junk)


def test_rare_categories_fold_into_other_and_current_rare_ones_count_there() -> None:
    rng = np.random.default_rng(6)
    values = np.concatenate([rng.choice(["a", "b"], 9000), [f"rare{i}" for i in range(1000)]])
    profile = ReferenceProfile.fit(pd.DataFrame({"c": values}), categorical=["c"], max_categories=10)
    counts = profile.columns["c"].counts
    assert len(counts) == 10 and counts[OTHER] >= 990
    batch = pd.DataFrame({"c": np.concatenate([rng.choice(["a", "b"], 900), [f"rare{i}" for i in range(100)]])})
    result = DriftDetector(profile, categorical=["c"]).test(batch).columns[0]
    assert result.unseen_categories == ()
    assert not result.drift
    assert "outside the profile's top categories" in result.note


def test_ks_against_a_compressed_profile_is_within_the_bound_of_scipy() -> None:
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=200_000), rng.normal(0.02, 1, 150_000)
    profile = ReferenceProfile.fit(pd.DataFrame({"x": reference}), numeric=["x"], bins=1024)
    column = profile.columns["x"]
    exact = stats.ks_2samp(reference, current, method="asymp")
    ours = numeric_profile_drift(column, current)
    assert abs(ks_statistic(column, np.sort(current)) - exact.statistic) <= column.summary.error_bound + 1e-12
    assert abs(ours.statistic - exact.statistic) <= column.summary.error_bound + 1e-12
    assert ours.p_value == pytest.approx(exact.pvalue, rel=0.5, abs=1e-6)
    assert "within" in ours.note


def test_the_profile_and_the_raw_reference_give_the_same_verdicts() -> None:
    reference, batch = _frame(30_000, 8), _frame(20_000, 9, shift=0.3)
    kwargs = {"numeric": ["x", "k", "m"], "categorical": ["c"]}
    from_frame = DriftDetector(reference, **kwargs).test(batch)
    from_profile = DriftDetector(ReferenceProfile.fit(reference, **kwargs), **kwargs).test(batch)
    assert from_frame.drifted_columns() == from_profile.drifted_columns() == ["x"]
    for a, b in zip(from_frame.columns, from_profile.columns, strict=True):
        assert a.statistic == pytest.approx(b.statistic)


def test_profile_of_the_wrong_kind_is_refused() -> None:
    profile = ReferenceProfile.fit(_frame(100, 1), numeric=["x"], categorical=["c"])
    with pytest.raises(ValueError, match="cannot test column 'c' as numeric: it is profiled as categorical"):
        DriftDetector(profile, numeric=["c"])
    with pytest.raises(ValueError, match="cannot test column 'zz' as numeric: it is absent"):
        DriftDetector(profile, numeric=["zz"])


def test_a_large_frame_summarised_in_threads_equals_the_column_by_column_fit(monkeypatch) -> None:
    """Above ``PARALLEL_MIN_ROWS`` rows the columns and the reservoir are profiled side by side: the same profile."""
    from alignment_drift.core.drift import profile as module

    rng = np.random.default_rng(3)
    n = 60_000
    frame = pd.DataFrame(
        {
            **{f"x{i}": rng.standard_t(3, size=n) * (i + 1) for i in range(6)},
            "ints": rng.integers(0, 50, size=n).astype(float),
            "c": rng.choice(list("abcde"), size=n),
        }
    )
    frame.loc[rng.random(n) < 0.01, "x2"] = np.nan
    numeric = [c for c in frame.columns if c != "c"]
    assert n >= module.PARALLEL_MIN_ROWS
    threaded = ReferenceProfile.fit(frame, numeric=numeric, categorical=["c"], bins=512, reservoir_rows=1_000)
    monkeypatch.setattr(module, "PARALLEL_MIN_ROWS", 10**12)
    serial = ReferenceProfile.fit(frame, numeric=numeric, categorical=["c"], bins=512, reservoir_rows=1_000)
    assert list(threaded.columns) == list(serial.columns) == [*numeric, "c"]
    for name in numeric:
        a, b = threaded.columns[name], serial.columns[name]
        assert (a.n, a.missing) == (b.n, b.missing)
        assert a.summary is not None and b.summary is not None
        np.testing.assert_array_equal(a.summary.values, b.summary.values)
        np.testing.assert_array_equal(a.summary.weights, b.summary.weights)
        assert a.summary.rank_error == b.summary.rank_error
    assert threaded.columns["x2"].missing > 0
    assert threaded.columns["c"].counts == serial.columns["c"].counts
    assert threaded.reservoir is not None and serial.reservoir is not None
    pd.testing.assert_frame_equal(threaded.reservoir.rows, serial.reservoir.rows)
    np.testing.assert_array_equal(threaded.reservoir.keys, serial.reservoir.keys)


def _mixed_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Every column type a batch file brings: what Arrow profiles itself and what it hands to pandas."""
    floats = rng.lognormal(size=n)
    floats[rng.random(n) < 0.05] = np.nan
    floats[:3] = [np.inf, -np.inf, 0.0]
    big = rng.integers(2**60, 2**62, n, dtype=np.uint64)
    words = np.array(["a", "b", "c", "", "nan", "1"], dtype=object)[rng.integers(0, 6, n)]
    words[rng.random(n) < 0.03] = None
    return pd.DataFrame(
        {
            "f": floats,
            "i": rng.integers(-50, 50, n),
            "i_null": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n)), dtype="Int64"),
            "u": big,
            "f32": rng.normal(size=n).astype(np.float32),
            "flag": rng.random(n) < 0.3,
            "when": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
            "s": pd.Series(words, dtype=object),
            "s_dict": pd.Categorical(np.array(["x", "y", "z"])[rng.integers(0, 3, n)]),
            "code": rng.integers(0, 4, n),
            "yes": rng.random(n) < 0.5,
        }
    )


@pytest.mark.parametrize("rows", [500, 60_000], ids=["one-thread", "threads"])
def test_arrow_data_is_profiled_as_the_frame_pandas_reads_from_it(rows: int) -> None:
    """A streamed Parquet chunk stays Arrow (no pandas conversion): every summary, count, category order and
    missing count equal the profile of the frame ``to_pandas`` gives, and the reservoir's rows are those rows
    converted as from that frame (the Arrow chunk draws its own keys: which rows differs)."""
    import pyarrow as pa

    from alignment_drift.core.drift.reservoir import Reservoir

    frame = _mixed_frame(rows, np.random.default_rng(rows)).assign(row=np.arange(rows))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    batch = table.to_batches(max_chunksize=rows)[0]
    numeric = ["f", "i", "i_null", "u", "f32", "flag", "when", "row"]
    categorical = ["s", "s_dict", "code", "yes"]
    kwargs = {"numeric": numeric, "categorical": categorical, "bins": 512, "reservoir_rows": 300}
    want = ReferenceProfile.fit(batch.to_pandas(), **kwargs)
    for arrow in (batch, table):
        got = ReferenceProfile.fit(arrow, **kwargs)
        assert got.n_rows == want.n_rows == rows
        for name, col in want.columns.items():
            other = got.columns[name]
            assert (other.n, other.missing, other.kind) == (col.n, col.missing, col.kind), name
            if col.kind == "numeric":
                assert np.array_equal(other.summary.values, col.summary.values), name
                assert np.array_equal(other.summary.weights, col.summary.weights), name
                assert other.summary.rank_error == col.summary.rank_error, name
            else:
                assert list(other.counts.items()) == list(col.counts.items()), name  # order too
        kept = got.reservoir.rows
        assert len(kept) == 300 and got.reservoir.seen == rows and np.all(np.diff(got.reservoir.keys) > 0)
        ids = kept["row"].to_numpy().astype(int)
        assert len(set(ids)) == 300
        alike = Reservoir.sample(batch.to_pandas().iloc[ids], numeric=numeric, categorical=categorical, capacity=300)
        by_row = alike.rows.set_index("row").loc[kept["row"]].reset_index()[list(kept.columns)]
        pd.testing.assert_frame_equal(kept, by_row)
    assert want.columns["f"].missing > 0 and want.columns["s"].missing > 0 and want.columns["i_null"].missing > 0


def test_an_arrow_text_column_declared_numeric_is_refused_as_from_pandas() -> None:
    import pyarrow as pa

    batch = pa.record_batch({"x": ["1.5", "high", None]})
    with pytest.raises(ValueError, match="declared numeric but cannot be cast"):
        ReferenceProfile.fit(batch, numeric=["x"])
    with pytest.raises(ValueError, match=r"Columns \['y'\] are not in the reference data"):
        ReferenceProfile.fit(batch, numeric=["y"])


def test_a_profile_loaded_without_its_reservoir_has_the_same_statistics(tmp_path) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(size=3_000), "c": rng.choice(["a", "b", "c"], 3_000)})
    path = ReferenceProfile.fit(frame, numeric=["x"], categorical=["c"], bins=256).save(tmp_path / "p.parquet")
    whole, lean = ReferenceProfile.load(path), ReferenceProfile.load(path, reservoir=False)
    assert whole.reservoir is not None and lean.reservoir is None
    assert lean.n_rows == whole.n_rows and lean.columns["c"].counts == whole.columns["c"].counts
    assert np.array_equal(lean.columns["x"].summary.values, whole.columns["x"].summary.values)
    frame.to_parquet(tmp_path / "data.parquet")
    with pytest.raises(ValueError, match="not an alignment-drift profile"):
        ReferenceProfile.load(tmp_path / "data.parquet", reservoir=False)
