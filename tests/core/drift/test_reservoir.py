"""The reference reservoir a profile carries: uniform, mergeable, deterministic, stored compatibly, bounded in size."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from alignment_drift.core.drift.profile import PROFILE_SCHEMA, ReferenceProfile
from alignment_drift.core.drift.reservoir import RESERVOIR_ROWS, Reservoir, content_digest, seed_from

NUMERIC, CATEGORICAL = ["x", "m"], ["c"]


def _frame(n: int, seed: int) -> pd.DataFrame:
    """Skewed and missing numerics, a categorical with a rare level and missing values."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.lognormal(0, 1, n),
            "m": np.where(rng.random(n) < 0.1, np.nan, rng.standard_t(3, n)),
            "c": np.where(rng.random(n) < 0.05, None, rng.choice(["a", "b", "rare"], n, p=[0.7, 0.29, 0.01])),
        }
    )


def _kept_ids(frame: pd.DataFrame, kept: Reservoir) -> np.ndarray:
    """Which rows of ``frame`` (whose ``x`` values are distinct) the reservoir kept."""
    lookup = pd.Series(np.arange(len(frame)), index=frame["x"].to_numpy())
    return lookup.loc[kept.rows["x"].to_numpy()].to_numpy()


SPLITS = {"whole": [50], "uneven-chunks-merged": [35, 15]}


@pytest.mark.parametrize("arrow", [False, True], ids=["pandas", "arrow"])
@pytest.mark.parametrize("split", list(SPLITS), ids=list(SPLITS))
def test_inclusion_is_uniform_over_seeds_for_one_chunk_and_for_merged_chunks(split: str, arrow: bool) -> None:
    """400 seeds, 50 rows, capacity 10: every row's inclusion count against S * k / N = 80 (chi-square).

    Inclusions without replacement have variance p (1 - p) per seed, not p: the statistic is divided by (1 - p),
    then compared with chi-square(N - 1). For merged chunks the number kept from the first chunk must also follow
    the hypergeometric law of a uniform 10-subset of the whole (chi-square over its likely values).
    """
    frame, capacity, seeds = _frame(50, 1), 10, 400
    bounds = np.cumsum([0, *SPLITS[split]])
    counts, first = np.zeros(len(frame)), np.zeros(capacity + 1)
    for seed in range(seeds):
        options = {"numeric": NUMERIC, "categorical": CATEGORICAL, "capacity": capacity, "random_state": seed}
        chunks = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
        if arrow:  # streamed Parquet chunks: keys seeded from their Arrow buffers
            chunks = [pa.RecordBatch.from_pandas(c, preserve_index=False) for c in chunks]
        parts = [Reservoir.sample(chunk, **options) for chunk in chunks]
        kept = parts[0]
        for part in parts[1:]:
            kept = kept.merge(part)
        ids = _kept_ids(frame, kept)
        assert len(ids) == capacity and len(set(ids)) == capacity and kept.seen == len(frame)
        counts[ids] += 1
        first[np.count_nonzero(ids < bounds[1])] += 1
    p = capacity / len(frame)
    chi2 = float(np.sum((counts - seeds * p) ** 2) / (seeds * p) / (1 - p))
    assert stats.chi2.sf(chi2, len(frame) - 1) > 0.001, chi2
    if len(bounds) > 2:
        law = stats.hypergeom(len(frame), bounds[1], capacity)
        cells = np.arange(capacity + 1)
        expected = seeds * law.pmf(cells)
        big = expected >= 5  # pool the tails into one cell
        observed = np.append(first[big], first[~big].sum())
        expected = np.append(expected[big], seeds - expected[big].sum())
        assert stats.chisquare(observed, expected).pvalue > 0.001, (observed, expected)


def test_the_reservoir_keeps_every_row_when_it_fits_and_converts_like_the_profile() -> None:
    frame = _frame(300, 2).assign(t=pd.date_range("2026-01-01", periods=300, freq="h", tz="UTC"))
    kept = Reservoir.sample(frame, numeric=["x", "m", "t"], categorical=["c"], capacity=1000)
    assert len(kept.rows) == kept.seen == 300 and kept.capacity == 1000
    assert sorted(kept.rows["x"]) == sorted(frame["x"])
    assert kept.rows["t"].min() == pd.Timestamp("2026-01-01", tz="UTC").timestamp()  # seconds, as the tests read it
    assert kept.rows["m"].isna().sum() == frame["m"].isna().sum()
    assert kept.rows["c"].isna().sum() == frame["c"].isna().sum()
    assert set(kept.rows["c"].dropna()) <= {"a", "b", "rare"}


def test_same_seed_same_reservoir_other_seed_other_reservoir_and_merge_commutes() -> None:
    frame = _frame(20_000, 3)
    options = {"numeric": NUMERIC, "categorical": CATEGORICAL, "reservoir_rows": 500}
    chunks = [frame.iloc[i : i + 3000] for i in range(0, len(frame), 3000)]
    one = ReferenceProfile.fit_chunks(chunks, **options).reservoir
    again = ReferenceProfile.fit_chunks(chunks, **options).reservoir
    other = ReferenceProfile.fit_chunks(chunks, **options, random_state=1).reservoir
    assert one is not None and again is not None and other is not None
    pd.testing.assert_frame_equal(one.rows, again.rows)
    np.testing.assert_array_equal(one.keys, again.keys)
    assert len(set(one.rows["x"]) & set(other.rows["x"])) < 100  # about 500 * 500 / 20,000 = 12.5 shared
    a = Reservoir.sample(chunks[0], numeric=NUMERIC, categorical=CATEGORICAL, capacity=500)
    b = Reservoir.sample(chunks[1], numeric=NUMERIC, categorical=CATEGORICAL, capacity=500)
    pd.testing.assert_frame_equal(a.merge(b).rows, b.merge(a).rows)


def test_merge_keeps_the_smaller_capacity_and_a_profile_without_a_reservoir_wins() -> None:
    a, b = _frame(5000, 4), _frame(5000, 5)
    options = {"numeric": NUMERIC, "categorical": CATEGORICAL}
    small = ReferenceProfile.fit(a, **options, reservoir_rows=300)
    large = ReferenceProfile.fit(b, **options, reservoir_rows=1000)
    merged = small.merge(large).reservoir
    assert merged is not None and merged.capacity == 300 and len(merged.rows) == 300 and merged.seen == 10_000
    assert bool(np.all(np.diff(merged.keys) >= 0))
    assert small.merge(ReferenceProfile.fit(b, **options, reservoir_rows=0)).reservoir is None
    with pytest.raises(ValueError, match="different columns"):
        small.reservoir.merge(Reservoir.sample(a, numeric=["x"], capacity=10))  # type: ignore[union-attr]


@pytest.mark.parametrize("rows", [-1, 1_000_001, 2.5, True])
def test_a_bad_reservoir_size_is_refused_before_any_work(rows: object) -> None:
    with pytest.raises(ValueError, match=r"The 'reservoir_rows' parameter must be an int in \[0, 1000000\]"):
        ReferenceProfile.fit(_frame(10, 6), numeric=NUMERIC, reservoir_rows=rows)  # type: ignore[arg-type]


def test_save_and_load_keep_the_reservoir_exactly(tmp_path) -> None:
    profile = ReferenceProfile.fit(_frame(30_000, 7), numeric=NUMERIC, categorical=CATEGORICAL)
    loaded = ReferenceProfile.load(profile.save(tmp_path / "p.parquet"))
    assert profile.reservoir is not None and loaded.reservoir is not None
    assert len(loaded.reservoir.rows) == RESERVOIR_ROWS and loaded.reservoir.seen == 30_000
    pd.testing.assert_frame_equal(loaded.reservoir.rows, profile.reservoir.rows)
    np.testing.assert_array_equal(loaded.reservoir.keys, profile.reservoir.keys)
    assert (loaded.reservoir.numeric, loaded.reservoir.categorical) == (("x", "m"), ("c",))
    # the loaded reservoir merges like the fitted one
    extra = ReferenceProfile.fit(_frame(1000, 8), numeric=NUMERIC, categorical=CATEGORICAL)
    pd.testing.assert_frame_equal(loaded.merge(extra).reservoir.rows, profile.merge(extra).reservoir.rows)  # type: ignore[union-attr]


def _write_profile_without_reservoir(profile: ReferenceProfile, path) -> None:
    """A profile file as written before reservoirs existed: the five summary columns and no reservoir metadata."""
    names, kinds, values, categories, weights = [], [], [], [], []
    meta = {"schema": PROFILE_SCHEMA, "n_rows": profile.n_rows, "bins": profile.bins, "columns": {}}
    meta["max_categories"] = profile.max_categories
    for col in profile.columns.values():
        info = {"kind": col.kind, "n": col.n, "missing": col.missing}
        if col.kind == "numeric":
            k = col.summary.values.size  # type: ignore[union-attr]
            names += [col.name] * k
            kinds += ["numeric"] * k
            values += col.summary.values.tolist()  # type: ignore[union-attr]
            categories += [None] * k
            weights += col.summary.weights.tolist()  # type: ignore[union-attr]
            info["rank_error"] = col.summary.rank_error  # type: ignore[union-attr]
            info["scale"], info["scale_note"] = col.scale()
        else:
            names += [col.name] * len(col.counts)
            kinds += ["categorical"] * len(col.counts)
            values += [None] * len(col.counts)
            categories += list(col.counts)
            weights += list(col.counts.values())
        meta["columns"][col.name] = info
    table = pa.table(
        {
            "column": pa.array(names, pa.string()),
            "kind": pa.array(kinds, pa.string()),
            "value": pa.array(values, pa.float64()),
            "category": pa.array(categories, pa.string()),
            "weight": pa.array(weights, pa.int64()),
        }
    ).replace_schema_metadata({b"alignment_drift.profile": json.dumps(meta).encode()})
    pq.write_table(table, path)


def test_a_profile_file_without_a_reservoir_still_loads_with_none(tmp_path) -> None:
    fitted = ReferenceProfile.fit(_frame(8000, 9), numeric=NUMERIC, categorical=CATEGORICAL, bins=256)
    path = tmp_path / "old.parquet"
    _write_profile_without_reservoir(fitted, path)
    loaded = ReferenceProfile.load(path)
    assert loaded.reservoir is None and loaded.n_rows == 8000
    for name, col in fitted.columns.items():
        assert (loaded.columns[name].n, loaded.columns[name].missing) == (col.n, col.missing)
        assert loaded.columns[name].counts == col.counts
    assert loaded.merge(fitted).reservoir is None  # a merge cannot be uniform without both samples


def test_a_reservoir_adds_a_bounded_number_of_bytes(tmp_path) -> None:
    """10,000 rows of 2 numeric + 1 categorical column: at most 8 bytes a key and a numeric value, plus 10 %."""
    frame = _frame(50_000, 10)
    without = ReferenceProfile.fit(frame, numeric=NUMERIC, categorical=CATEGORICAL, reservoir_rows=0)
    with_rows = ReferenceProfile.fit(frame, numeric=NUMERIC, categorical=CATEGORICAL)
    small = without.save(tmp_path / "without.parquet").stat().st_size
    large = with_rows.save(tmp_path / "with.parquet").stat().st_size
    assert large - small <= 1.1 * 8 * RESERVOIR_ROWS * (1 + len(NUMERIC)) + 20_000, (small, large)


def test_seeds_from_identities_are_stable_and_spread() -> None:
    assert seed_from("2026-01-05T00:00:00+00:00") == seed_from(b"2026-01-05T00:00:00+00:00")
    nights = {seed_from(f"2026-01-{day:02d}T00:00:00+00:00") for day in range(1, 32)}
    assert len(nights) == 31 and all(0 <= s < 2**32 for s in nights)
    frame = _frame(100, 11)
    assert content_digest(frame, ["x", "c"]) == content_digest(frame.copy(), ["x", "c"])
    assert content_digest(frame, ["x", "c"]) != content_digest(frame.assign(x=frame["x"] + 1), ["x", "c"])
    assert content_digest(frame, ["x", "c"]) != content_digest(frame, ["c", "x"])


def test_an_arrow_digest_depends_on_the_values_not_on_chunks_or_slices() -> None:
    """The key seed of an Arrow chunk: the same values give the same digest however they are laid out in
    memory; any changed value, missing flag or column order gives another."""
    from alignment_drift.core.drift.reservoir import arrow_digest

    frame = _frame(400, 3).assign(k=np.arange(400))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = [*NUMERIC, "k", *CATEGORICAL]
    whole = arrow_digest(table, columns)
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=37))
    padded = pd.concat([_frame(10, 4).assign(k=0), frame])
    sliced = pa.Table.from_pandas(padded, preserve_index=False).combine_chunks().to_batches()[0].slice(10)
    assert sliced.column("c").offset == 10
    assert arrow_digest(rechunked, columns) == whole
    assert arrow_digest(sliced, columns) == whole
    assert arrow_digest(pa.Table.from_pandas(padded, preserve_index=False).slice(10), columns) == whole
    assert arrow_digest(table.combine_chunks().to_batches()[0], columns) == whole
    changed = [
        frame.assign(x=frame["x"].where(frame.index != 7, 0.5)),
        frame.assign(c=frame["c"].where(frame.index != 9, "b!")),
        frame.assign(c=frame["c"].where(frame.index != 11, None)),
        frame.assign(k=frame["k"].where(frame.index != 2, 3)),
    ]
    for other in changed:
        assert arrow_digest(pa.Table.from_pandas(other, preserve_index=False), columns) != whole
    assert arrow_digest(table, columns[::-1]) != whole
