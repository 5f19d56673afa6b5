"""One broken spec costs only its own model's DAGs: Airflow parses ``dags/`` over three specs, one broken.

The two good models keep all their DAGs in ``alignment_dags.py`` (no import
error there); the broken spec is Airflow's import error of
``alignment_spec_errors.py``, one line naming the file and why.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def _demo(root: Path, name: str) -> str:
    text = (root / "specs" / "content_safety.yaml").read_text()
    return re.sub(r"^model: content_safety$", f"model: {name}", text, flags=re.M)


BOMB = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)
)

BROKEN: dict[str, tuple[Callable[[str], bytes], str]] = {
    "typo": (lambda good: good.replace("schedule:", "schedul:", 1).encode(), r"schedul: unknown field"),
    "alias-bomb": (lambda good: (BOMB + good).encode(), r"once aliases are expanded"),
    "latin-1": (lambda good: good.replace("owner:", "owner: José #", 1).encode("latin-1"), r"not UTF-8"),
    "duplicate-key": (lambda good: (good + "schedule: '@hourly'\n").encode(), r"'schedule' appears twice"),
    "nested-brackets": (lambda good: b"model: " + b"[" * 50_000, r"nested more than"),
    "not-a-mapping": (lambda good: b"- just\n- a list\n", r"must be a YAML mapping"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_spec_costs_only_its_own_dags(
    kind: str, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models import DagBag

    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("model_a", "model_c"):
        (specs / f"{name}.yaml").write_text(_demo(root, name))
    spoil, expected = BROKEN[kind]
    (specs / "model_b.yaml").write_bytes(spoil(_demo(root, "model_b")))
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))

    began = time.perf_counter()
    bag = DagBag(dag_folder=str(root / "dags"))
    assert time.perf_counter() - began < 20

    for model in ("model_a", "model_c"):
        assert {f"alignment_monitor__{model}", f"alignment_retrain__{model}", f"alignment_rollback__{model}"} <= set(
            bag.dag_ids
        )
    assert not [d for d in bag.dag_ids if d.endswith("__model_b")]
    (errored,) = bag.import_errors
    assert errored.endswith("alignment_spec_errors.py"), bag.import_errors
    error = bag.import_errors[errored]
    assert "Traceback" not in error.splitlines()[-1]
    assert len([line for line in error.splitlines() if "model_b.yaml" in line]) == 1, error
    assert re.search(expected, error), error
    assert "model_a" not in error and "model_c" not in error
    assert "1 alignment spec(s) do not load" in error


def test_the_error_file_parses_cleanly_when_every_spec_loads(root: Path) -> None:
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(root / "dags" / "alignment_spec_errors.py"))
    assert bag.import_errors == {} and bag.dag_ids == []


def test_build_dags_skips_a_broken_spec(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_drift.airflow.factory import build_dags, raise_spec_failures
    from alignment_drift.core.spec import SpecError

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "model_a.yaml").write_text(_demo(root, "model_a"))
    (specs / "model_b.yaml").write_text("model: model_b\nmodel: model_b\n")
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(specs))
    assert set(build_dags(root)) == {
        "alignment_monitor__model_a",
        "alignment_retrain__model_a",
        "alignment_rollback__model_a",
    }
    with pytest.raises(SpecError, match=r"model_b\.yaml: the key 'model' appears twice .*lines 1 and 2"):
        raise_spec_failures(root)
    monkeypatch.setenv("ALIGNMENT_DRIFT_SPECS_DIR", str(tmp_path / "missing"))
    raise_spec_failures(root)  # the missing folder is build_dags' import error, not reported twice
    with pytest.raises(SpecError, match="the specs folder does not exist"):
        build_dags(root)


def test_the_error_file_imports_no_heavy_library(root: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, runpy;"
        f"runpy.run_path({str(root / 'dags' / 'alignment_spec_errors.py')!r});"
        "heavy = [m for m in ('mlflow', 'great_expectations', 'sklearn', 'pandas', 'scipy') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1:] in ([], [""]), result.stdout
