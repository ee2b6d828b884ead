"""The import graph of app/, read with ast: every import, also those inside functions and under TYPE_CHECKING.

    .venv/bin/python scripts/import_graph.py            # package graph: edges, cycles (strongly connected components)
    .venv/bin/python scripts/import_graph.py --modules  # the same between modules

A package is the first name under ``app`` (``app.reports.models`` → ``reports``); a module directly in
app/ counts as its own package (``app.errors`` → ``errors``, ``app`` itself → ``app``).
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(APP.rglob("*.py"))}


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(name: str, path: Path, known: Iterable[str]) -> list[str]:
    """Every app module ``name`` imports, once per import statement and name (``from app import models``
    names app.models)."""
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, path.name == "__init__.py", node)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "app" or target.startswith("app."):
                # The longest known module the name starts with (an attribute of a module names the module).
                while target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                found.append(target)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "app"


def module_edges() -> Counter[tuple[str, str]]:
    known = modules()
    edges: Counter[tuple[str, str]] = Counter()
    for name, path in known.items():
        for target in imported_modules(name, path, known):
            if target != name:
                edges[(name, target)] += 1
    return edges


def package_edges(edges: Counter[tuple[str, str]] | None = None) -> Counter[tuple[str, str]]:
    packages: Counter[tuple[str, str]] = Counter()
    for (source, target), count in (edges or module_edges()).items():
        a, b = package_of(source), package_of(target)
        # app/__init__.py (create_app) wires everything together: it is the root, not a package.
        if a != b and "app" not in (a, b):
            packages[(a, b)] += count
    return packages


def strongly_connected(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Tarjan's components with more than one node, each sorted, largest first."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components, key=lambda c: (-len(c), c))


def find_cycle(edges: Iterable[tuple[str, str]], component: list[str]) -> list[str]:
    """One concrete cycle inside a strongly connected component, for a readable failure."""
    inside = set(component)
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        if a in inside and b in inside:
            graph.setdefault(a, []).append(b)
    start = component[0]
    # Breadth-first from start back to start.
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph.get(node, [])):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt not in parents:
                    parents[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return component


def main(argv: list[str]) -> int:
    module_level = "--modules" in argv
    edges = module_edges()
    if not module_level:
        edges = package_edges(edges)
    if "--edges" in argv:
        for (a, b), count in sorted(edges.items()):
            print(f"{a} -> {b} ({count})")
    components = strongly_connected(edges)
    print(f"{len({n for e in edges for n in e})} nodes, {len(edges)} edges, {sum(edges.values())} imports")
    print(f"{len(components)} cycles (strongly connected components):")
    for component in components:
        print(f"  {len(component)}: {' '.join(component)}")
        print(f"     e.g. {' -> '.join(find_cycle(edges, component))}")
    return 1 if components else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
