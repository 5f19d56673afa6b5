"""The import graph of a package, read from the source (not by importing it), and its cycles.

Every import statement counts wherever it appears: at module level, inside a function or a class,
under ``if TYPE_CHECKING:``. ``import a.b.c``, ``from a.b import c``, ``from . import c`` and
``from ..b import c`` are all resolved to the module they load. An edge points at the most specific
module of the package that exists: ``from pkg.x import y`` links to ``pkg.x.y`` when that is a module
and to ``pkg.x`` when ``y`` is a name defined in it.

Used by tests/test_import_cycles.py on the package and by tests/test_lint_config.py on a copy of it
with a cycle injected.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImportEdge:
    """One import of ``imported`` by ``importer`` at ``line``."""

    importer: str
    imported: str
    line: int


def module_files(package_dir: Path) -> dict[str, Path]:
    """Map every module of the package rooted at ``package_dir`` to its file."""
    root = package_dir.parent
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    """The dotted names a statement loads: ``a.b.c`` for ``import a.b.c``, ``p.x.y`` for ``from p.x import y``."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        if node.level - 1 > len(package) - 1:
            raise ValueError(f"{module}:{node.lineno}: relative import beyond the top-level package")
        base = package[: len(package) - (node.level - 1)]
        parent = ".".join(base + ([node.module] if node.module else []))
    else:
        parent = node.module or ""
    for alias in node.names:
        yield parent if alias.name == "*" else f"{parent}.{alias.name}"


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The most specific module of the package that ``name`` (a module or a name in one) refers to."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_edges(package_dir: Path) -> list[ImportEdge]:
    """Every import between two modules of the package rooted at ``package_dir``, at any depth."""
    modules = module_files(package_dir)
    edges: list[ImportEdge] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _imported_names(node, module, is_package):
                target = _resolve(name, modules)
                if target is not None and target != module:
                    edges.append(ImportEdge(module, target, node.lineno))
    return edges


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one node, each sorted, in sorted order."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


@dataclass(frozen=True)
class Cycle:
    """A strongly connected set of modules and the imports that tie it together."""

    modules: tuple[str, ...]
    edges: tuple[ImportEdge, ...]

    def describe(self) -> str:
        links = "; ".join(f"{e.importer}:{e.line} imports {e.imported}" for e in self.edges)
        return f"{' <-> '.join(self.modules)} ({links})"


def import_cycles(package_dir: Path) -> list[Cycle]:
    """The import cycles of the package rooted at ``package_dir``, each with the imports that form it."""
    edges = import_edges(package_dir)
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
    cycles = []
    for component in strongly_connected(graph):
        members = set(component)
        inside = sorted(
            {e for e in edges if e.importer in members and e.imported in members},
            key=lambda e: (e.importer, e.line, e.imported),
        )
        cycles.append(Cycle(tuple(component), tuple(inside)))
    return cycles
