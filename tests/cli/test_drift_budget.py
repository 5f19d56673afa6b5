"""``alignment-drift drift``: one alpha budget over the column and joint tests, and timings that say what they cover."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alignment_drift.cli import main
from tests.realistic_data import CATEGORICAL, realistic_frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("drift-budget")
    rng = np.random.default_rng(11)
    paths = {"reference": root / "reference.parquet", "current": root / "current.parquet"}
    realistic_frame(2_000, rng).to_parquet(paths["reference"])
    realistic_frame(400, rng).to_parquet(paths["current"])
    profile = root / "reference.profile.parquet"
    assert main(["profile", str(paths["reference"]), "-o", str(profile), "--categorical", ",".join(CATEGORICAL)]) == 0
    paths["profile"] = profile
    bare = root / "reference.bare.parquet"  # a profile without reference rows (as written before reservoirs)
    argv = ["profile", str(paths["reference"]), "-o", str(bare), "--reservoir-rows", "0"]
    assert main([*argv, "--categorical", ",".join(CATEGORICAL)]) == 0
    paths["bare_profile"] = bare
    return paths


def _drift(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["drift", *argv, "--format", "json", "--categorical", ",".join(CATEGORICAL)]) == 0
    return json.loads(capsys.readouterr().out)


def test_raw_mode_splits_alpha_between_the_columns_and_each_joint_test(files: dict[str, Path], capsys: Any) -> None:
    out = _drift(capsys, str(files["reference"]), str(files["current"]), "--alpha", "0.04")
    assert out["alpha_budget"] == {
        "alpha": 0.04,
        "method": "bonferroni",
        "families": {"inputs": 0.02, "joint": 0.02},
        "joint_tests": {"domain_classifier": 0.01, "mmd": 0.01},
    }
    assert out["alpha"] == 0.02  # the level the columns' adjusted p-values are compared with
    assert {name: test["alpha"] for name, test in out["multivariate"].items()} == {
        "domain_classifier": 0.01,
        "mmd": 0.01,
    }


@pytest.mark.parametrize(
    ("extra", "skipped"),
    [
        pytest.param(["--multivariate", "off"], "--multivariate off", id="raw-joint-off"),
        pytest.param([], "carries no reference rows", id="profile-without-reservoir"),
    ],
)
def test_without_joint_tests_the_columns_get_the_whole_alpha(
    files: dict[str, Path], capsys: Any, extra: list[str], skipped: str
) -> None:
    reference = files["reference"] if extra else files["bare_profile"]
    out = _drift(capsys, str(reference), str(files["current"]), *extra)
    assert out["alpha_budget"]["families"] == {"inputs": 0.05} and out["alpha_budget"]["joint_tests"] == {}
    assert out["alpha"] == 0.05
    assert skipped in out["multivariate"]["skipped"]


def test_a_profile_with_a_reservoir_gets_the_same_budget_as_raw_data(files: dict[str, Path], capsys: Any) -> None:
    out = _drift(capsys, str(files["profile"]), str(files["current"]))
    assert out["alpha_budget"]["families"] == {"inputs": 0.025, "joint": 0.025}
    assert {name: test["alpha"] for name, test in out["multivariate"].items()} == {
        "domain_classifier": 0.0125,
        "mmd": 0.0125,
    }


def test_timings_cover_reading_fitting_columns_and_joint_tests(files: dict[str, Path], capsys: Any) -> None:
    raw = _drift(capsys, str(files["reference"]), str(files["current"]))
    assert set(raw["timings"]) == {"read", "fit_reference", "columns", "joint"}
    assert all(raw["timings"][part] > 0 for part in raw["timings"])
    # elapsed_seconds is the whole test: every part, plus a little bookkeeping
    assert sum(raw["timings"].values()) <= raw["elapsed_seconds"] <= sum(raw["timings"].values()) + 0.5
    saved = _drift(capsys, str(files["profile"]), str(files["current"]))  # joint tests on its reservoir
    assert saved["timings"]["fit_reference"] == 0.0 and saved["timings"]["joint"] > 0
    assert saved["timings"]["read"] > 0 and saved["timings"]["columns"] > 0
    bare = _drift(capsys, str(files["bare_profile"]), str(files["current"]))
    assert bare["timings"]["fit_reference"] == 0.0 and bare["timings"]["joint"] == 0.0


def test_columns_state_their_missing_rate_test_and_whether_it_counted(files: dict[str, Path], capsys: Any) -> None:
    out = _drift(capsys, str(files["profile"]), str(files["current"]))
    assert out["family_size"] == sum(c["in_family"] + c["missing_in_family"] for c in out["columns"])
    for column in out["columns"]:
        assert column["missing_test"] == "fisher_exact"
        assert column["missing_in_family"] or "left out of the correction family" in column["missing_note"]


def test_the_table_states_the_budget(files: dict[str, Path], capsys: Any) -> None:
    capsys.readouterr()
    assert main(["drift", str(files["reference"]), str(files["current"]), "--categorical", ",".join(CATEGORICAL)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "alpha 0.05 (inputs 0.025, joint 0.025, domain_classifier 0.0125, mmd 0.0125; columns bh)" in first


@pytest.mark.slow
def test_raw_mode_no_shift_false_alarm_rate_is_at_most_alpha(tmp_path: Path, capsys: Any) -> None:
    """Columns and joint tests together, on realistic data (0.5 % missing), reference 1,000 rows, batches of 100.

    Before the budget, each of the three families ran at the full alpha. Measured: 0.030 of 200 runs (the first
    120 run here, about 100 s).
    """
    rng = np.random.default_rng(21)
    reps, alpha, flagged = 120, 0.05, 0
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    for _ in range(reps):
        realistic_frame(1_000, rng).to_parquet(reference)
        realistic_frame(100, rng).to_parquet(current)
        flagged += _drift(capsys, str(reference), str(current))["drift"]
    bound = alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)  # 3 Monte-Carlo standard errors: 0.110
    print(f"raw mode, n=100: {flagged / reps:.4f} (bound {bound:.4f})")
    assert flagged / reps <= bound
