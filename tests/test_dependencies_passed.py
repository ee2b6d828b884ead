"""Dependencies are passed, not fetched: the settings and the vault are read at the edges (views, CLI commands,
the notify worker, the app's wiring, the clients' builders) and handed down to services as arguments; a service
or query module takes the clock as ``now`` instead of reading it.

Read from the source (``ast``), so a new module that reaches for ``current_app.config["QZBG"]`` or ``get_vault()``
fails here with its file and line, until it takes what it needs as arguments or is added below with its reason.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

# The edges: where a request, a command or the worker starts, and where the app is put together.
EDGES = {
    "__init__.py": "create_app: builds the settings and wires everything",
    "*/routes.py": "views",
    "*/api.py": "the JSON API's views",
    "*/cli.py": "CLI commands",
    "admin/*.py": "the /admin views (one module per page group)",
    "review/actions.py": "the report page's action view",
    "review/liaison.py": "the liaison's home view",
    "review/cases.py": "the filed cases' and the 应报未报 ledger's views",
    "health.py": "the health-check views",
    "auth/guard.py": "the staff views' decorator: the session of this request",
    "*/wiring.py": "a package's wiring on the app (hooks and listeners registered by create_app)",
}
# Settings only.
SETTINGS_EDGES = {
    **EDGES,
    "core/ratelimit.py": "the intake views' rate-limit decorator: its limits are settings",
    "notify/worker.py": "the notify worker's entry: builds its channels and runs its jobs with the settings",
    "exports/runner.py": "the export runner's entry (a thread of the notify worker): runs exports with the settings",
    "clients/*.py": "the outside services' builders (get_wechat, get_mailer...), built once from the settings",
}
# The vault only.
VAULT_EDGES = {
    **EDGES,
    "crypto/vault.py": "defines get_vault",
    "crypto/sealed.py": "the models' seal/unseal mixin: passing a vault would ripple through every model",
    "exports/runner.py": "the export runner's entry (a thread of the notify worker): runs exports with the vault",
}
CLOCK_FREE = ("*/service.py", "*/queries.py")


def _modules() -> list[tuple[str, ast.Module]]:
    return [(path.relative_to(APP).as_posix(), ast.parse(path.read_text(encoding="utf-8"), str(path)))
            for path in sorted(APP.rglob("*.py"))]


def _allowed(name: str, patterns: dict[str, str] | tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _called(node: ast.AST, name: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute) and func.attr == name)


def _reads_settings(node: ast.AST) -> bool:
    """``<x>.config["QZBG"]``, ``<x>.config.get("QZBG")`` or ``current_settings()``."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "config":
        return isinstance(node.slice, ast.Constant) and node.slice.value == "QZBG"
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "config"):
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "QZBG"
    return _called(node, "current_settings")


def _reads_clock(node: ast.AST) -> bool:
    """``datetime.now(...)``, ``dt.datetime.now(...)`` (and ``utcnow``/``today`` of either), or ``utcnow()``
    (app.core.dbtypes')."""
    if _called(node, "utcnow"):
        return True
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("now", "utcnow", "today")):
        return False
    owner = node.func.value
    return (isinstance(owner, ast.Name) and owner.id == "datetime") or (
        isinstance(owner, ast.Attribute) and owner.attr == "datetime")


def _offences(check: object, allowed: dict[str, str] | tuple[str, ...]) -> list[str]:
    found = []
    for name, tree in _modules():
        if _allowed(name, allowed):
            continue
        found += [f"app/{name}:{node.lineno}" for node in ast.walk(tree) if check(node)]  # type: ignore[operator]
    return found


def test_only_the_edges_read_the_settings() -> None:
    assert _offences(_reads_settings, SETTINGS_EDGES) == [], "take the settings (or the values needed) as arguments"


def test_only_the_edges_fetch_the_vault() -> None:
    assert _offences(lambda node: _called(node, "get_vault"), VAULT_EDGES) == [], "take a vault: Vault argument"


def test_services_and_queries_take_the_clock_as_now() -> None:
    found = []
    for name, tree in _modules():
        if _allowed(name, CLOCK_FREE):
            found += [f"app/{name}:{node.lineno}" for node in ast.walk(tree) if _reads_clock(node)]
    assert found == [], "take now: datetime from the caller"


def test_the_checks_see_what_they_look_for() -> None:
    """The patterns above catch the forms in use (a check that matches nothing would pass anything)."""
    samples = {
        'current_app.config["QZBG"].training': _reads_settings,
        'app.config.get("QZBG")': _reads_settings,
        "current_settings()": _reads_settings,
        "get_vault().blind_index('phone', q)": lambda node: _called(node, "get_vault"),
        "dt.datetime.now(dt.UTC)": _reads_clock,
        "datetime.now(UTC)": _reads_clock,
        "utcnow()": _reads_clock,
    }
    for source, check in samples.items():
        assert any(check(node) for node in ast.walk(ast.parse(source))), source
    assert not any(_reads_settings(node) for node in ast.walk(ast.parse('app.config["SECRET_KEY"]')))
    assert not any(_reads_clock(node) for node in ast.walk(ast.parse("dt.timedelta(hours=1)")))


def test_every_named_edge_exists() -> None:
    """An edge named by its file (not a pattern) that is gone leaves a stale exception behind."""
    for pattern in {**SETTINGS_EDGES, **VAULT_EDGES}:
        if "*" not in pattern:
            assert (APP / pattern).is_file(), pattern
