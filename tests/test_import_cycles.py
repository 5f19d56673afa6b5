"""No import cycles between the modules of alignment_drift, counting imports at any depth.

A cycle hidden inside functions still ties two modules into one: neither can be read, tested or
moved without the other, and the first import of either at the wrong moment half-initialises it.
tests/import_graph.py reads the graph from the source; import-linter's contracts (setup.cfg) keep
the layers, this test keeps each layer acyclic.
"""

from __future__ import annotations

from pathlib import Path

from tests.import_graph import import_cycles, import_edges

PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "alignment_drift"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "pkg"


def test_the_graph_resolves_every_form_of_import(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "VALUE = 1\n",
            "a/x.py": "def f():\n    import pkg.b.y\n",
            "a/z.py": "from . import x\nfrom .x import f\nfrom ..b import y\nfrom ..a import VALUE\n",
            "b/__init__.py": "",
            "b/y.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a.x import f\n",
            "b/w.py": "class C:\n    def m(self):\n        from pkg.b import y as _\n        import numpy\n",
        },
    )
    edges = {(e.importer, e.imported) for e in import_edges(package)}
    assert edges == {
        ("pkg.a.x", "pkg.b.y"),  # `import a.b.c` inside a function
        ("pkg.a.z", "pkg.a.x"),  # `from . import x` and `from .x import f`
        ("pkg.a.z", "pkg.b.y"),  # `from ..b import y`: two levels up
        ("pkg.a.z", "pkg.a"),  # `from ..a import VALUE`: a name defined in the package's __init__
        ("pkg.b.y", "pkg.a.x"),  # under TYPE_CHECKING
        ("pkg.b.w", "pkg.b.y"),  # inside a method
    }
    cycles = import_cycles(package)
    assert [c.modules for c in cycles] == [("pkg.a.x", "pkg.b.y")]
    assert "pkg.a.x:2 imports pkg.b.y" in cycles[0].describe()


def test_no_import_cycles() -> None:
    cycles = import_cycles(PACKAGE)
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(f"  {c.describe()}" for c in cycles)
