"""``alignment-drift profile`` and ``alignment-drift drift``: inputs, outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignment_drift.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("drift-cli")
    rng = np.random.default_rng(0)
    n = 4000
    reference = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(list("xyz"), n), "k": rng.integers(0, 3, n)}
    )
    same = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(list("xyz"), n), "k": rng.integers(0, 3, n)}
    )
    shifted = same.assign(a=same["a"] + 0.5, c=np.where(rng.random(n) < 0.3, "w", same["c"]))
    parts = root / "reference_parts"
    parts.mkdir()
    for i in range(4):
        reference.iloc[i * 1000 : (i + 1) * 1000].to_parquet(parts / f"part-{i}.parquet")
    paths = {
        "parts": parts,
        "reference": root / "reference.parquet",
        "same": root / "same.csv",
        "shifted": root / "shifted.parquet",
        "root": root,
    }
    reference.to_parquet(paths["reference"])
    same.to_csv(paths["same"], index=False)
    shifted.to_parquet(paths["shifted"])
    return paths


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_profile_from_partitions_then_drift_against_it(data: dict[str, Path], capsys) -> None:
    profile = data["root"] / "ref.profile.parquet"
    assert main(["profile", str(data["parts"]), "-o", str(profile), "--categorical", "k"]) == 0
    assert profile.exists()
    assert main(["drift", str(profile), str(data["shifted"]), "--format", "json"]) == 0
    out = _json(capsys)
    assert out["schema"] == "alignment-drift/drift@1"
    assert out["drift"] is True and out["n_reference"] == 4000 and out["n_current"] == 4000
    by_name = {c["name"]: c for c in out["columns"]}
    assert by_name["a"]["drift"] and by_name["c"]["drift"] and not by_name["b"]["drift"]
    assert by_name["c"]["unseen_categories"] == ["w"]
    assert by_name["k"]["kind"] == "categorical"
    for field in (
        "name",
        "kind",
        "test",
        "statistic",
        "p_value",
        "p_adjusted",
        "effect",
        "effect_metric",
        "effect_floor",
        "drift",
        "missing_rate_reference",
        "missing_rate_current",
        "unseen_categories",
    ):
        assert field in by_name["a"]
    assert out["elapsed_seconds"] >= 0
    # the joint tests run from the profile's reservoir (all 4,000 rows: fewer than the default 10,000)
    assert set(out["multivariate"]) == {"domain_classifier", "mmd"}
    assert out["multivariate"]["mmd"]["reference"] == "profile reservoir (4000 of 4000 rows)"


def test_no_drift_exits_zero_even_with_fail_on_drift(data: dict[str, Path], capsys) -> None:
    assert main(["drift", str(data["reference"]), str(data["same"]), "--fail-on-drift", "--format", "json"]) == 0
    out = _json(capsys)
    assert out["drift"] is False
    assert set(out["multivariate"]) == {"domain_classifier", "mmd"}


def test_drift_with_fail_on_drift_exits_one_and_writes_the_file(data: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code = main(
        [
            "drift",
            str(data["reference"]),
            str(data["shifted"]),
            "--fail-on-drift",
            "--format",
            "json",
            "--output",
            str(target),
            "--multivariate",
            "off",
        ]
    )
    assert code == 1
    assert json.loads(target.read_text())["drift"] is True


def test_table_format_lists_the_drifted_columns_first(data: dict[str, Path], capsys) -> None:
    assert (
        main(["drift", str(data["reference"]), str(data["shifted"]), "--columns", "a,b", "--multivariate", "off"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("drift: YES")
    assert lines[2].startswith("a ") and lines[2].rstrip().endswith("DRIFT")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["drift", "{root}/missing.parquet", "{same}"], "no such file", id="missing-reference"),
        pytest.param(["drift", "{reference}", "{same}", "--columns", "zz"], "not in the data", id="unknown-column"),
        pytest.param(
            ["drift", "{reference}", "{same}", "--alpha", "2"], "'alpha' parameter must be in", id="bad-alpha"
        ),
        pytest.param(["profile", "{root}/empty_dir", "-o", "{root}/p.parquet"], "no .parquet files", id="empty-folder"),
    ],
)
def test_bad_input_exits_two_with_a_message(data: dict[str, Path], capsys, argv: list[str], message: str) -> None:
    (data["root"] / "empty_dir").mkdir(exist_ok=True)
    args = [a.format(**{k: str(v) for k, v in data.items()}) for a in argv]
    assert main(args) == 2
    assert message in capsys.readouterr().err
