"""The house layout: a pure core, integrations without Airflow, Airflow at the edge, thin DAG files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "alignment_drift"
# threadpoolctl is scikit-learn's own dependency, used to bound its OpenMP threads
CORE_ALLOWED = {
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "sklearn",
    "threadpoolctl",
    "pydantic",
    "yaml",
    "alignment_drift",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0] if not node.module.startswith("alignment_drift") else node.module)
    return found


def _stdlib(name: str) -> bool:
    import sys

    return name in sys.stdlib_module_names or name == "__future__"


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_imports_only_the_scientific_stack(path: Path) -> None:
    bad = {name for name in _imports(path) if not _stdlib(name) and name.split(".")[0] not in CORE_ALLOWED}
    bad |= {
        name
        for name in _imports(path)
        if name.startswith("alignment_drift.") and not name.startswith("alignment_drift.core")
    }
    assert not bad, (
        f"{path} imports {sorted(bad)}; core/ may use numpy, scipy, pandas, pyarrow, scikit-learn, pydantic only"
    )


@pytest.mark.parametrize(
    "path",
    sorted([*(PACKAGE / "integrations").rglob("*.py"), *(PACKAGE / "pipeline").rglob("*.py"), PACKAGE / "settings.py"]),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_integrations_and_pipeline_do_not_import_airflow(path: Path) -> None:
    names = _imports(path)
    assert "airflow" not in names, f"{path} imports Airflow; only alignment_drift/airflow/ may"
    assert not any(n.startswith("alignment_drift.airflow") for n in names)


def test_dag_files_are_thin() -> None:
    for dag_file in (PACKAGE.parents[1] / "dags").glob("*.py"):
        names = _imports(dag_file) - {"pathlib"}
        assert names <= {"alignment_drift.airflow.factory"}, f"{dag_file} imports {sorted(names)}"
