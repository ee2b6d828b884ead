"""The packages of app/ depend one way: the import-linter contracts of .importlinter hold, and the import graph
read with ast (imports inside functions and under TYPE_CHECKING included) has no cycle, between packages or
between modules."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _graph_module():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


graph = _graph_module()


def _lint_imports() -> str:
    beside = Path(sys.executable).with_name("lint-imports")
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "lint-imports")


def test_the_import_linter_contracts_hold():
    result = subprocess.run(
        [_lint_imports(), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _cycles(edges) -> list[str]:
    return [" -> ".join(graph.find_cycle(edges, component)) for component in graph.strongly_connected(edges)]


def test_the_package_graph_has_no_cycle():
    edges = graph.package_edges()
    assert not _cycles(edges), "package cycles:\n" + "\n".join(_cycles(edges))


def test_the_module_graph_has_no_cycle():
    edges = graph.module_edges()
    assert not _cycles(edges), "module cycles:\n" + "\n".join(_cycles(edges))


def test_the_graph_counts_imports_inside_functions_and_finds_a_cycle():
    # notify's escalation imports the overdue conditions inside a function.
    assert ("app.notify.events", "app.reports.overdue") in graph.module_edges()
    assert graph.strongly_connected([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert graph.find_cycle([("a", "b"), ("b", "c"), ("c", "a")], ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_no_module_imports_another_modules_private_names():
    """``from app.x import _name`` reaches into another module's insides: make the name public, or move it."""
    offenders = []
    for name, path in graph.modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app") and node.module != name:
                offenders += [f"{name}: from {node.module} import {alias.name}" for alias in node.names
                              if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not offenders, "\n".join(offenders)
