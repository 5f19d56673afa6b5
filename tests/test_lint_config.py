"""The layer checks fail when they should: each forbidden import, injected into a copy of the package.

`lint-imports` runs as CI runs it (``make lint``): the repository's setup.cfg, the package found on
PYTHONPATH, which here is a copy under tmp_path with one forbidden import added. The untouched copy
passes, so a failure is the injected import and nothing else. The cycle checker
(tests/import_graph.py, run on the package by tests/test_import_cycles.py) gets the same treatment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.import_graph import import_cycles

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plugins" / "alignment_drift"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

LAYERS = "Layers: cli > demo > airflow"
CORE_PURE = "core imports no Airflow"
NO_AIRFLOW = "integrations, pipeline, settings and progress do not import Airflow"


@dataclass(frozen=True)
class Injection:
    """Code appended to one module of the copy, and the checks it must break."""

    module: str
    code: str
    broken_contracts: tuple[str, ...] = ()
    new_cycle: tuple[str, ...] = ()
    also: tuple[tuple[str, str], ...] = ()


CASES = {
    "core imports mlflow.tracking": Injection(
        "core/verdict.py",
        "import mlflow.tracking  # noqa\n",
        broken_contracts=(CORE_PURE,),
    ),
    "core imports integrations relatively": Injection(
        "core/verdict.py",
        "from ..integrations import tables  # noqa\n",
        broken_contracts=(LAYERS, CORE_PURE),
    ),
    "core imports integrations as import a.b.c": Injection(
        "core/labels.py",
        "import alignment_drift.integrations.tables  # noqa\n",
        broken_contracts=(LAYERS, CORE_PURE),
    ),
    "integrations imports airflow inside a function": Injection(
        "integrations/tables.py",
        "def _late():\n    from airflow.sdk import Variable\n\n    return Variable\n",
        broken_contracts=(NO_AIRFLOW,),
    ),
    "pipeline imports cli (upward)": Injection(
        "pipeline/retrain.py",
        "def _upward():\n    import alignment_drift.cli.common\n\n    return alignment_drift.cli.common\n",
        broken_contracts=(LAYERS,),
    ),
    "airflow imports demo (upward)": Injection(
        "airflow/factory.py",
        "def _upward():\n    from alignment_drift.demo import run\n\n    return run\n",
        broken_contracts=(LAYERS,),
        # demo.run imports the factory to run its DAGs: the upward import closes a cycle too
        new_cycle=("alignment_drift.airflow.factory", "alignment_drift.demo.run"),
    ),
    "a cycle between two core modules": Injection(
        "core/labels.py",
        "def _round_trip():\n    from . import verdict\n\n    return verdict\n",
        new_cycle=("alignment_drift.core.labels", "alignment_drift.core.verdict"),
        also=(("core/verdict.py", "def _back():\n    from alignment_drift.core import labels\n\n    return labels\n"),),
    ),
}


def _copy(tmp_path: Path) -> Path:
    plugins = tmp_path / "plugins"
    shutil.copytree(PACKAGE, plugins / "alignment_drift", ignore=shutil.ignore_patterns("__pycache__"))
    return plugins


def _inject(plugins: Path, module: str, code: str) -> None:
    path = plugins / "alignment_drift" / module
    assert path.is_file(), f"{module} is gone from the package; point this case at a module that exists"
    path.write_text(path.read_text() + "\n\n" + code)


def _lint_imports(plugins: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.is_file(), f"{LINT_IMPORTS} is missing: install the dev extra (import-linter)"
    env = {**os.environ, "PYTHONPATH": str(plugins)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "setup.cfg"), "--no-cache"],
        cwd=plugins.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _broken(output: str) -> set[str]:
    """The contracts lint-imports reports BROKEN (names are wrapped over lines in its report)."""
    flat = " ".join(output.split())
    return {name for name in (LAYERS, CORE_PURE, NO_AIRFLOW) if _is_broken(flat, name)}


def _is_broken(flat: str, name: str) -> bool:
    at = flat.find(name)
    assert at != -1, f"lint-imports did not report the contract {name!r}:\n{flat}"
    kept, broken = flat.find(" KEPT", at), flat.find(" BROKEN", at)
    return broken != -1 and (kept == -1 or broken < kept)


def test_the_untouched_copy_passes(tmp_path: Path) -> None:
    plugins = _copy(tmp_path)
    result = _lint_imports(plugins)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout
    # the copy has the package's own cycles, which tests/test_import_cycles.py holds at none
    baseline = {c.modules for c in import_cycles(PACKAGE)}
    assert {c.modules for c in import_cycles(plugins / "alignment_drift")} == baseline


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_a_forbidden_import_fails_the_checks(tmp_path: Path, case: Injection) -> None:
    plugins = _copy(tmp_path)
    for module, code in ((case.module, case.code), *case.also):
        _inject(plugins, module, code)

    result = _lint_imports(plugins)
    if case.broken_contracts:
        assert result.returncode != 0, f"lint-imports passed with the injection:\n{result.stdout}"
        assert _broken(result.stdout) == set(case.broken_contracts), result.stdout
    else:
        assert result.returncode == 0, result.stdout + result.stderr

    baseline = {c.modules for c in import_cycles(PACKAGE)}
    new = {c.modules for c in import_cycles(plugins / "alignment_drift")} - baseline
    assert new == ({case.new_cycle} if case.new_cycle else set())
