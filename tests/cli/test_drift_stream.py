"""``alignment-drift drift`` streams CURRENT: the same p-values and flags as testing the whole frame.

The expected results are computed here the way the command did before it
streamed: CURRENT read whole, the column tests on its rows
(``DriftDetector.test``), the joint tests on all its rows with the seed from
their digest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alignment_drift.cli import drift as drift_cli
from alignment_drift.cli import main
from alignment_drift.core.drift import DriftDetector, ReferenceProfile
from alignment_drift.core.drift.budget import alpha_budget
from alignment_drift.core.drift.multivariate import DomainClassifierDrift, MMDDrift
from alignment_drift.core.drift.reservoir import content_digest, seed_from
from tests.realistic_data import CATEGORICAL, NUMERIC, realistic_frame

COLUMN_FIELDS = ("name", "kind", "test", "p_value", "p_adjusted", "effect", "drift", "missing_drift", "note")


def _shifted(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = frame.copy()
    out["n0"] = out["n0"] * 1.3
    out.loc[rng.random(len(out)) < 0.1, "c1"] = "new"
    out.loc[rng.random(len(out)) < 0.05, "n5"] = np.nan  # more missing values
    return out


CASES = [
    pytest.param(1, 3_000, 1_200, "parquet", False, id="no-drift-parquet"),
    pytest.param(2, 3_000, 1_500, "parquet", True, id="shifted-parquet"),
    pytest.param(3, 2_000, 900, "csv", True, id="shifted-csv"),
]


def _expected(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """The whole-frame path: profile of the reference data, tests on CURRENT's rows, joint tests on all rows."""
    budget = alpha_budget(0.05, ["inputs", "joint"])
    profile = ReferenceProfile.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL, reservoir_rows=0)
    detector = DriftDetector(profile, numeric=NUMERIC, categorical=CATEGORICAL, alpha=budget.families["inputs"])
    columns = detector.test(current).to_dict()
    seed = seed_from(content_digest(current, [*NUMERIC, *CATEGORICAL]))
    joint = {
        name: cls(reference, numeric=NUMERIC, categorical=CATEGORICAL, alpha=budget.joint_tests[name])
        .test(current, seed=seed)
        .to_dict()
        for name, cls in (("domain_classifier", DomainClassifierDrift), ("mmd", MMDDrift))
    }
    return {"columns": columns, "joint": joint, "seed": seed}


def _run(capsys: pytest.CaptureFixture[str], reference: Path, current: Path) -> dict[str, Any]:
    capsys.readouterr()
    argv = ["drift", str(reference), str(current), "--format", "json", "--categorical", ",".join(CATEGORICAL)]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _same_columns(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["n_current"] == want["n_current"] and got["drift"] == want["drift"]

    def fields(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: c[k] for k in COLUMN_FIELDS} for c in columns]

    assert fields(got["columns"]) == fields(want["columns"])


@pytest.mark.parametrize(("seed", "n_ref", "n_cur", "kind", "shift"), CASES)
@pytest.mark.parametrize("chunk_rows", [250_000, 400], ids=["one-chunk", "many-chunks"])
def test_streamed_current_gives_the_whole_frame_results(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    n_ref: int,
    n_cur: int,
    kind: str,
    shift: bool,
    chunk_rows: int,
) -> None:
    monkeypatch.setattr(drift_cli, "CHUNK_ROWS", chunk_rows)
    rng = np.random.default_rng(seed)
    reference = realistic_frame(n_ref, rng, missing=0.02)
    current = realistic_frame(n_cur, rng, missing=0.02)
    if shift:
        current = _shifted(current, rng)
    ref_path = tmp_path / "reference.parquet"
    reference.to_parquet(ref_path, index=False)
    cur_path = tmp_path / f"current.{kind}"
    if kind == "csv":
        current.to_csv(cur_path, index=False)
        current = pd.read_csv(cur_path)  # what the whole read saw
    else:
        current.to_parquet(cur_path, index=False, row_group_size=500)

    got = _run(capsys, ref_path, cur_path)
    want = _expected(reference, current)
    _same_columns(got, want["columns"])
    for name, test in want["joint"].items():
        assert got["multivariate"][name]["seed"] == want["seed"]
        assert got["multivariate"][name]["p_value"] == test["p_value"], name
        assert got["multivariate"][name]["drift"] == test["drift"], name
    assert got["drift"] == (want["columns"]["drift"] or any(t["drift"] for t in want["joint"].values()))
    if shift:
        assert got["drift"] is True


def test_a_batch_beyond_the_kept_rows_runs_the_joint_tests_on_a_streamed_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Column tests still equal the whole-frame ones; the joint tests see a bounded uniform sample, seeded by it."""
    monkeypatch.setattr(drift_cli, "CHUNK_ROWS", 500)
    monkeypatch.setattr(drift_cli, "KEEP_ROWS", 1_000)
    monkeypatch.setattr(drift_cli, "JOINT_SAMPLE_ROWS", 600)
    rng = np.random.default_rng(7)
    reference = realistic_frame(3_000, rng, missing=0.02)
    current = _shifted(realistic_frame(4_000, rng, missing=0.02), rng)
    ref_path, cur_path = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    reference.to_parquet(ref_path, index=False)
    current.to_parquet(cur_path, index=False, row_group_size=1_000)

    got = _run(capsys, ref_path, cur_path)
    _same_columns(got, _expected(reference, current)["columns"])
    for test in got["multivariate"].values():
        assert test["n_current"] <= 600
    assert _run(capsys, ref_path, cur_path)["multivariate"] == got["multivariate"]  # the same batch, the same draw


def test_an_empty_current_batch_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    frame = realistic_frame(200, rng)
    ref_path, cur_path = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    frame.to_parquet(ref_path, index=False)
    frame.iloc[:0].to_parquet(cur_path, index=False)
    assert main(["drift", str(ref_path), str(cur_path)]) == 2
    assert "the current batch has no rows" in capsys.readouterr().err


def test_an_unreadable_or_incomplete_current_batch_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not "no rows": a truncated file names the read error; a batch without a tested column names the column."""
    rng = np.random.default_rng(0)
    frame = realistic_frame(300, rng)
    ref_path = tmp_path / "reference.parquet"
    frame.to_parquet(ref_path, index=False)
    full = tmp_path / "full.parquet"
    frame.to_parquet(full, index=False)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert main(["drift", str(ref_path), str(truncated)]) == 2
    err = capsys.readouterr().err
    assert "cannot be read as a table" in err and "no rows" not in err
    partial = tmp_path / "partial.parquet"
    frame.drop(columns=[NUMERIC[0]]).to_parquet(partial, index=False)
    assert main(["drift", str(ref_path), str(partial)]) == 2
    err = capsys.readouterr().err
    assert NUMERIC[0] in err and "no rows" not in err
    assert "Traceback" not in err
