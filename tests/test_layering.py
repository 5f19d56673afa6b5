"""What import-linter's contracts (setup.cfg) do not say: core's third-party allow-list, thin DAG files, small modules.

The layers themselves (core < settings | progress < integrations < pipeline < airflow < demo < cli,
no Airflow below the edge, no MLflow or Great Expectations in core) are import-linter's contracts,
run by ``make lint``; tests/test_lint_config.py shows they fail when they should.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plugins" / "alignment_drift"
#: One idea per module: a module longer than this is split along its seams.
MAX_MODULE_LINES = 400
# threadpoolctl is scikit-learn's own dependency, used to bound its OpenMP threads
CORE_ALLOWED = {"numpy", "scipy", "pandas", "pyarrow", "sklearn", "threadpoolctl", "pydantic", "yaml"}


def _absolute_imports(path: Path) -> set[str]:
    """Every absolute import of a file at any depth, as the full dotted name (``a.b.c``, ``a.b`` of ``from a.b``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _third_party(name: str) -> bool:
    top = name.split(".")[0]
    return top not in sys.stdlib_module_names and top not in {"__future__", "alignment_drift"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_imports_only_the_scientific_stack(path: Path) -> None:
    bad = {name for name in _absolute_imports(path) if _third_party(name) and name.split(".")[0] not in CORE_ALLOWED}
    assert not bad, (
        f"{path} imports {sorted(bad)}; core/ may use {', '.join(sorted(CORE_ALLOWED))} and the standard library only"
    )


def test_dag_files_are_thin() -> None:
    dag_files = sorted((ROOT / "dags").glob("*.py"))
    assert dag_files, "no DAG file in dags/"
    for dag_file in dag_files:
        names = _absolute_imports(dag_file) - {"pathlib"}
        assert names <= {"alignment_drift.airflow.factory"}, (
            f"{dag_file} imports {sorted(names)}; a DAG file imports the factory (and pathlib) only"
        )


def test_modules_are_small() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them along their seams): {long}"
